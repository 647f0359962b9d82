"""Throughput of ladder's model layer against a loopback OpenAI-protocol server.

    python bench/throughput.py [-n 1000] [-c 32] [--latency 0.2] [--memory-n 10000] [--error-rate 0]

A threaded HTTP server on 127.0.0.1 answers every chat completion after a fixed latency L (and,
with --error-rate, a share of them with 503). After a warm-up of both sides, ladder's real model layer (``Chat.structured``:
retries, structured parts, the SQLite cache and call log) drafts N jobs with C in flight, the way
``ladder run`` does (a thread pool). Prints:

- wall time at latency L against the limit ceil(N/C)·L, and their ratio (target ≤ 1.10), beside
  the plain asyncio + AsyncOpenAI loop's ratio in the same conditions (what this machine allows);
- overhead per call at L=0 against a plain asyncio + AsyncOpenAI loop with a semaphore making
  the same calls to the same server (target ratio ≤ 1.2);
- a fully cached rerun of the same N jobs: model calls (must be 0) and its time as a share of
  the first run's (target ≤ 5 %);
- peak memory (RSS) after N and after --memory-n jobs at L=0, to show it does not grow with N
  beyond the results themselves;
- a full ``ladder run`` (load, plan, draft, check, revise, render, write) on a generated workspace
  of at least --run-jobs jobs (the example's segments, cloned), against the same server at latency
  L: wall time, jobs/s and model calls, the plain asyncio + AsyncOpenAI loop making as many calls
  in the same run, and a rerun with unchanged inputs (every reply from the cache);

then one line of JSON with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import random
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import openai  # noqa: E402

from pipeline.files import example_dir
from pipeline.model.chat import Chat  # noqa: E402
from pipeline.model.config import resolve_config
from pipeline.stages.draft import messages, parts_model  # noqa: E402
from pipeline.stages.plan import plan  # noqa: E402
from pipeline.store import Store  # noqa: E402
from pipeline.workspace.load import load_workspace  # noqa: E402
from pipeline.workspace.models import ModelSettings  # noqa: E402

REPLY = json.dumps({"subject": "Lämpö", "preheader": "Ilman lainaa", "body": "Taloyhtiön lämmityskulut pienenevät.",
                    "call_to_action": "Varaa puhelu"}, ensure_ascii=False)


def _reply(raw: bytes) -> str:
    """REPLY, or for a request with a JSON schema (a full run's channels differ) every part of
    that schema filled with a sentence cut to its limit."""
    try:
        fmt = json.loads(raw).get("response_format") or {}
    except ValueError:
        return REPLY
    props = (fmt.get("json_schema", {}).get("schema") or {}).get("properties")
    if not props:
        return REPLY
    text = "Taloyhtiön lämmityskulut pienenevät ilman lainaa, ja hallitus näkee säästön jo ensi talvena."
    return json.dumps({k: text[: v.get("maxLength", len(text))].strip() for k, v in props.items()},
                      ensure_ascii=False)


def _serve(latency: float, error_rate: float, port, count) -> None:
    rng = random.Random(1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # as real servers do: else each reply waits ~40 ms for a delayed ACK

        def log_message(self, *args):
            pass

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with count.get_lock():
                count.value += 1
                fail = rng.random() < error_rate
            if latency:
                time.sleep(latency)
            if fail:
                payload, status = {"error": {"message": "busy"}}, 503
            else:
                payload, status = {
                    "id": "x", "object": "chat.completion", "created": 0, "model": "bench",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": _reply(body)}}],
                    "usage": {"prompt_tokens": 300, "completion_tokens": 40, "total_tokens": 340}}, 200
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    ThreadingHTTPServer.request_queue_size = 1024
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    port.value = httpd.server_address[1]
    httpd.serve_forever()


class Server:
    """A loopback server in its own process (so it does not share the client's GIL) that
    answers after ``latency`` seconds, a share ``error_rate`` of requests with 503; counts requests."""

    def __init__(self, latency: float, error_rate: float = 0.0):
        self._port, self._count = multiprocessing.Value("i", 0), multiprocessing.Value("i", 0)
        self.proc = multiprocessing.Process(target=_serve, args=(latency, error_rate, self._port, self._count),
                                            daemon=True)
        self.proc.start()
        while not self._port.value:
            time.sleep(0.01)

    @property
    def requests(self) -> int:
        return self._count.value

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port.value}/v1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.join()


def requests_for(n: int) -> list[list[dict]]:
    """N distinct draft prompts: the example's board email prompt, numbered."""
    ws, problems = load_workspace(example_dir())
    assert ws is not None, problems
    job = next(j for j in plan(ws).jobs if j.id.endswith("board.email"))
    base = messages(ws, job, "draft.j2")
    return [[base[0], {"role": "user", "content": f"{base[1]['content']}\n(variant {i})"}] for i in range(n)]


def ladder_layer(url: str, prompts: list[list[dict]], concurrency: int, store: Store | None) -> float:
    config = resolve_config(ModelSettings(), {"base_url": url, "model": "bench"}, {})  # the default backoff
    chat = Chat(config, url, store=store, run_id="bench")
    output = parts_model(next(c for c in load_workspace(example_dir())[0].channels if c.id == "email"))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda m: chat.structured(m, output, 512), prompts))
    assert len(results) == len(prompts)
    return time.perf_counter() - started


def plain_asyncio(url: str, prompts: list[list[dict]], concurrency: int) -> float:
    async def go() -> None:
        client = openai.AsyncOpenAI(base_url=url, api_key="x", max_retries=0)
        sem = asyncio.Semaphore(concurrency)

        async def one(m):
            async with sem:
                r = await client.chat.completions.create(model="bench", messages=m, max_tokens=512,
                                                         response_format={"type": "json_object"})
                return json.loads(r.choices[0].message.content)

        await asyncio.gather(*(one(m) for m in prompts))
        await client.close()

    started = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - started


def workspace_of(dest: Path, jobs: int) -> int:
    """The example workspace with its segments cloned until the plan has at least ``jobs`` jobs."""
    import shutil

    import yaml

    src = example_dir()
    for name in ("ladder.yaml", "channels.yaml"):
        shutil.copy(src / name, dest / name)
    for folder in ("segments", "prompts", "templates"):
        shutil.copytree(src / folder, dest / folder)
    originals = [p for p in sorted((dest / "segments").glob("*.yaml")) if p.name != "core.yaml"]
    copy = 0
    while True:
        ws, problems = load_workspace(dest)
        assert ws is not None, problems
        planned = len(plan(ws).jobs)
        if planned >= jobs:
            return planned
        copy += 1
        for p in originals:
            data = yaml.safe_load(p.read_text(encoding="utf-8"))
            data["id"], data["name"] = f"{data['id']}-{copy}", f"{data['name']} ({copy})"  # distinct prompts
            (dest / "segments" / f"{data['id']}.yaml").write_text(yaml.safe_dump(data, allow_unicode=True),
                                                                 encoding="utf-8")


def full_run(jobs: int, concurrency: int, latency: float) -> dict:
    """``ladder run`` end to end on a generated workspace, then the plain loop with as many calls."""
    import subprocess

    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        figures["run_jobs"] = workspace_of(ws, jobs)
        server = Server(latency)
        command = [sys.executable, "-m", "pipeline.cli", "run", "-w", str(ws), "--base-url", server.url,
                   "--model", "bench", "--concurrency", str(concurrency)]
        env = {"PYTHONPATH": str(Path(__file__).resolve().parent.parent), "PATH": "/usr/bin:/bin"}
        for label in ("run", "rerun"):
            before, cpu = server.requests, _children_cpu()
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - started
            assert done.returncode in (0, 1), done.stderr[-2000:]
            figures |= {f"{label}_wall_s": round(wall, 2), f"{label}_model_calls": server.requests - before,
                        f"{label}_cpu_s": round(_children_cpu() - cpu, 2)}
        calls = figures["run_model_calls"]
        figures["run_jobs_per_s"] = round(figures["run_jobs"] / figures["run_wall_s"], 1)
        figures["plain_same_calls_s"] = round(plain_asyncio(server.url, requests_for(calls), concurrency), 2)
        figures["run_ratio_to_plain"] = round(figures["run_wall_s"] / figures["plain_same_calls_s"], 2)
        figures["rerun_share"] = round(figures["rerun_wall_s"] / figures["run_wall_s"], 3)
        server.stop()
    return figures


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: a run's own work."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="jobs")
    ap.add_argument("-c", "--concurrency", type=int, default=32)
    ap.add_argument("--latency", type=float, default=0.2, help="server latency L, seconds")
    ap.add_argument("--memory-n", type=int, default=10_000, help="jobs for the memory figure (0: skip)")
    ap.add_argument("--error-rate", type=float, default=0.0, help="share of replies that are 503s")
    ap.add_argument("--run-jobs", type=int, default=300, help="jobs for the full `ladder run` figure (0: skip)")
    args = ap.parse_args()
    n, c, lat = args.n, args.concurrency, args.latency
    prompts = requests_for(n)
    figures: dict = {"n": n, "concurrency": c, "latency_s": lat}

    with tempfile.TemporaryDirectory() as tmp:
        slow = Server(lat, args.error_rate)
        # warm both sides first (the openai SDK imports and builds its resource types at first use),
        # so neither pays that inside its timing; the warm-up uses no store and other prompts
        warm = [[m[0], {"role": "user", "content": m[1]["content"] + " (warm-up)"}] for m in prompts[:c]]
        ladder_layer(slow.url, warm, c, None)
        plain_asyncio(slow.url, warm, c)
        store = Store(Path(tmp) / "ladder.db")
        before = slow.requests
        wall = ladder_layer(slow.url, prompts, c, store)
        limit = math.ceil(n / c) * lat
        figures |= {"wall_s": round(wall, 3), "limit_s": round(limit, 3), "ratio_to_limit": round(wall / limit, 3),
                    "server_requests": slow.requests - before}
        before = slow.requests
        cached = ladder_layer(slow.url, prompts, c, store)
        figures |= {"cached_calls": slow.requests - before, "cached_share": round(cached / wall, 4)}
        plain = plain_asyncio(slow.url, prompts, c)
        figures |= {"plain_wall_s": round(plain, 3), "plain_ratio_to_limit": round(plain / limit, 3)}
        store.close()
        slow.stop()

    fast = Server(0.0)
    ladder_l0 = min(ladder_layer(fast.url, prompts, c, None) for _ in range(2))
    plain_l0 = min(plain_asyncio(fast.url, prompts, c) for _ in range(2))
    figures |= {"ladder_l0_ms_per_call": round(1000 * ladder_l0 / n, 3),
                "plain_l0_ms_per_call": round(1000 * plain_l0 / n, 3),
                "overhead_ratio": round(ladder_l0 / plain_l0, 3)}
    figures["peak_rss_mb_at_n"] = round(rss_mb(), 1)
    if args.memory_n:
        ladder_layer(fast.url, requests_for(args.memory_n), c, None)
        figures |= {"memory_n": args.memory_n, "peak_rss_mb_at_memory_n": round(rss_mb(), 1)}
    fast.stop()
    if args.run_jobs:
        figures |= full_run(args.run_jobs, c, lat)

    print(f"{n} jobs, {c} in flight, latency {lat * 1000:.0f} ms")
    print(f"  wall {figures['wall_s']} s vs limit ceil(N/C)·L = {figures['limit_s']} s: ratio {figures['ratio_to_limit']} "
          f"(target ≤ 1.10); the plain loop: {figures['plain_wall_s']} s, ratio {figures['plain_ratio_to_limit']}")
    print(f"  cached rerun: {figures['cached_calls']} model calls, {figures['cached_share']:.1%} of the first run's time (target 0, ≤ 5 %)")
    print(f"  at L=0: ladder {figures['ladder_l0_ms_per_call']} ms/call, plain asyncio+openai "
          f"{figures['plain_l0_ms_per_call']} ms/call: ratio {figures['overhead_ratio']} (target ≤ 1.2)")
    print(f"  peak RSS {figures['peak_rss_mb_at_n']} MB after {n} jobs"
          + (f", {figures['peak_rss_mb_at_memory_n']} MB after {args.memory_n}" if args.memory_n else ""))
    if args.run_jobs:
        print(f"  full `ladder run`: {figures['run_jobs']} jobs in {figures['run_wall_s']} s "
              f"({figures['run_jobs_per_s']} jobs/s, {figures['run_model_calls']} model calls, "
              f"{figures['run_cpu_s']} s of CPU); the plain loop makes "
              f"as many calls in {figures['plain_same_calls_s']} s: ratio {figures['run_ratio_to_plain']}")
        print(f"  rerun with unchanged inputs: {figures['rerun_model_calls']} model calls, "
              f"{figures['rerun_wall_s']} s, {figures['rerun_cpu_s']} s of CPU ({figures['rerun_share']:.0%} of the first run: "
              "each job's checked result reused)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
