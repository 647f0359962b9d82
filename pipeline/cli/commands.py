"""The `ladder` command: parses arguments, calls the stages, formats what they return.

One error boundary (``main``): bad input exits 2 with every problem listed, an endpoint that
cannot be reached exits 3, a run whose drafts fail their checks exits 1.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections import Counter
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import click

from pipeline import __version__
from pipeline.errors import Busy, CannotWrite, InvalidWorkspace, ModelUnavailable, Problem, PublishUnavailable
from pipeline.files import atomic_write, workspace_lock, writing
from pipeline.lang import lemma
from pipeline.model.chat import Chat
from pipeline.model.config import resolve_config
from pipeline.review.decisions import for_run, import_sheet, next_run_reviews
from pipeline.review.decisions import record as record_decision
from pipeline.review.export import export
from pipeline.review.publish import publish as push
from pipeline.review.report import compare as rows_of
from pipeline.review.report import compare_html
from pipeline.review.report import report as build
from pipeline.runs import session
from pipeline.runs.artifacts import RunResults, load_run
from pipeline.runs.estimate import estimate
from pipeline.runs.resume import resume_state
from pipeline.runs.runner import preflight, prepare
from pipeline.runs.writer import new_run_id
from pipeline.stages.check import text_context
from pipeline.stages.classify import STEP_KEYS
from pipeline.stages.judge import checked
from pipeline.stages.plan import only
from pipeline.stages.plan import plan as make_plan
from pipeline.store import Store
from pipeline.workspace.load import default_ladder, load_workspace
from pipeline.workspace.models import ModelSettings, Plan, Review, Workspace
from pipeline.workspace.scaffold import scaffold
from pipeline.workspace.settings import effective_settings
from pipeline.workspace.urls import scrub_url, url_problem

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_CANNOT_RUN = 0, 1, 2, 3
WORKSPACE = click.option(
    "-w", "--workspace", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
    show_default=True, help="The campaign folder (ladder.yaml, channels.yaml, segments/).",
)


def log_format() -> str:
    """--log-format of the command running now: kept in click's context, not in a global."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("ladder.log_format", "text") if ctx else "text"


def _url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """An http(s) URL option, refused up front (exit 2, the flag named, the URL not echoed)."""

    if value is not None and (why := url_problem(value)):
        raise InvalidWorkspace([Problem(max(param.opts, key=len), None, "", why)])
    return value


def say(message: str, level: str = "info", event: str = "message", **fields) -> None:
    """A line on stderr: text for people, or with --log-format json one JSON object per line
    (time, level, event, message and the event's fields) for cron mail, journald and CI logs."""
    if log_format() == "json":

        record = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level, "event": event,
                  "message": message, **fields}
        click.echo(json.dumps(record, ensure_ascii=False, default=str), err=True)
    else:
        click.secho(message, fg={"error": "red", "warning": "yellow"}.get(level), err=True)


class LadderGroup(click.Group):
    """The error boundary: user mistakes become messages and exit codes, never tracebacks."""

    def invoke(self, ctx: click.Context):

        try:
            return super().invoke(ctx)
        except InvalidWorkspace as e:
            _print_problems(e.problems)
            ctx.exit(EXIT_BAD_INPUT)
        except CannotWrite as e:
            code = EXIT_CANNOT_RUN if e.disk_at_fault else EXIT_BAD_INPUT
            say(f"error: {e}", "error", "cannot_write", path=str(e.path), exit_code=code)
            ctx.exit(code)
        except (ModelUnavailable, Busy) as e:
            say(f"error: could not run: {e}", "error", "cannot_run", exit_code=EXIT_CANNOT_RUN)
            ctx.exit(EXIT_CANNOT_RUN)
        except KeyboardInterrupt:
            say("interrupted", "warning", "interrupted", exit_code=130)
            ctx.exit(130)


@click.group(cls=LadderGroup)
@click.version_option(__version__, prog_name="ladder")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", envvar="LADDER_LOG_FORMAT",
              show_default=True, help="json: one JSON object per line on stderr, for scheduled runs. "
              "[env: LADDER_LOG_FORMAT]")
def main(log_format: str) -> None:
    """Draft content for every channel × segment in the segment's own words, and check each
    draft against the value-ladder step it should move its readers toward.

    Exit codes: 0 ok, 1 some drafts failed their checks, 2 bad input, 3 could not run (the
    endpoint is down, or another run holds the workspace)."""
    click.get_current_context().meta["ladder.log_format"] = log_format


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        say(str(p), p.level, "problem", file=p.file, line=p.line, path=p.path, problem=p.message)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    say(f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
        "error" if errors else "info", "problems", errors=errors, warnings=warnings)


def _load(root: Path, templates: bool = True) -> tuple[Workspace, Plan, list[Problem]]:
    """The workspace and its plan, or InvalidWorkspace; with ``templates``, every job's prompts
    and layout rendered too (``run`` renders those of the jobs it will run, once it knows them)."""
    ws, problems = load_workspace(root)
    if ws is None:
        raise InvalidWorkspace(problems)
    plan = make_plan(ws)
    template_problems = preflight(ws, plan) if templates else []
    if template_problems:
        raise InvalidWorkspace(problems + template_problems)
    return ws, plan, problems


@main.command()
@WORKSPACE
def validate(workspace: Path) -> None:
    """Check the workspace and report every problem at once (exit 2 on any error)."""
    ws, plan, problems = _load(workspace)
    if problems:
        _print_problems(problems)
    click.echo(
        f"ok: {len(ws.segments)} segments, {len(ws.channels)} channels, "
        f"{len(plan.jobs)} jobs planned ({len(plan.skipped)} combinations skipped)"
    )


@main.command("plan")
@WORKSPACE
@click.option("--json", "as_json", is_flag=True, help="Print the plan (or the estimate) as JSON.")
@click.option("--estimate", is_flag=True, help="Also estimate calls, tokens and cost, before anything is spent.")
@click.option("--base-url", callback=_url, help="The endpoint the run will use. [env: LADDER_BASE_URL]")
@click.option("--model", help="The model the run will use. [env: LADDER_MODEL]")
@click.option("--judge-model", help="The judge model the run will use. [env: LADDER_JUDGE_MODEL]")
@click.option("--batch", is_flag=True, help="Price the run as a Batch API run.")
@click.option("-o", "--outputs", type=click.Path(file_okay=False, path_type=Path),
              help="Where the run's reply cache and call log are. Default: <workspace>/outputs.")
def plan_cmd(workspace: Path, as_json: bool, estimate: bool, base_url, model, judge_model, batch, outputs) -> None:
    """Show the job matrix: segment × channel × target step; with --estimate, what it will cost."""
    ws, plan, _ = _load(workspace)
    if estimate:
        _print_estimate(ws, plan, {"base_url": base_url, "model": model, "judge_model": judge_model},
                        outputs or workspace / "outputs", batch, as_json)
        return
    if as_json:
        click.echo(json.dumps(plan.model_dump(), ensure_ascii=False, indent=2))
        return
    rows = [
        (j.segment, j.channel, j.language, ws.segment(j.segment).role,
         f"{j.step} {ws.ladder[j.step].name['en']}", "not for you" if j.kind == "not_for_you" else "")
        for j in plan.jobs
    ]
    click.echo(_table(("segment", "channel", "lang", "role", "target step", "note"), rows))
    click.echo(f"\n{len(plan.jobs)} jobs")
    if plan.skipped:
        click.echo(f"\nskipped ({len(plan.skipped)}):")
        for s in plan.skipped:
            click.echo(f"  {s.segment} × {s.channel}: {s.reason}")


def _print_estimate(ws: Workspace, plan: Plan, flags: dict, runs_dir: Path, batch: bool, as_json: bool) -> None:

    config = resolve_config(ws.config.model, flags)
    db = Store.path_in(runs_dir)
    if db.is_file():
        with Store(db) as store:
            est = estimate(ws, plan, config, store, batch=batch)
    else:
        est = estimate(ws, plan, config, None, batch=batch)
    if as_json:
        click.echo(json.dumps(est, ensure_ascii=False, indent=2))
        return

    def block(title: str, part: dict) -> None:
        price = part["price"]
        click.echo(f"{title}: " + (f"${price['input_per_1m']} in / ${price['output_per_1m']} out per 1M tokens"
                                   + (f", batch × {price['batch_discount']}" if price["batch_discount"] else "")
                                   if price else "no price (add it under model.prices in ladder.yaml)"))
        rows = [(name.replace("_", " "), f"{f['calls']:,}", f"{f['prompt_tokens']:,}", f"{f['completion_tokens']:,}",
                 "-" if f["cost_usd"] is None else f"${f['cost_usd']:.4f}")
                for name, f in ((k, part[k]) for k in ("at_least", "expected", "at_most"))]
        click.echo(_table(("", "calls", "prompt tokens", "completion tokens", "cost"), rows))

    click.echo(f"{est['jobs']} jobs on {est['model']} at {est['endpoint']}; "
               f"{est['cached_first_drafts']} first drafts already in the reply cache (no cost)\n")
    block(est["model"], est)
    if "judge" in est:
        click.echo()
        block(f"judge {est['judge']['model']}", est["judge"])
    b = est["basis"]
    click.echo(f"\nbasis: {b['calls']} earlier calls in the call log: {b['chars_per_token']} characters a token, "
               f"{b['completion_per_call']} completion tokens a call, {b['calls_per_job']} calls a job"
               if b["source"] == "call log" else
               "\nbasis: no earlier calls of this model in the call log; assumed 4 characters a token, "
               f"half of max_tokens a reply, {b['calls_per_job']} calls a job")


def _table(header: tuple[str, ...], rows: list[tuple]) -> str:
    cells = [tuple(map(str, r)) for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@main.command()
@WORKSPACE
@click.option("--base-url", callback=_url,
              help="OpenAI-compatible endpoint. [env: LADDER_BASE_URL] Default: the embedded model.")
@click.option("--model", help="Model name at the endpoint. [env: LADDER_MODEL]")
@click.option("--gguf", type=click.Path(dir_okay=False), help="A GGUF file for the embedded model. [env: LADDER_GGUF]")
@click.option("--temperature", type=float, help="Sampling temperature (0 for deterministic runs). [env: LADDER_TEMPERATURE]")
@click.option("--seed", type=int, help="Sampling seed, where the endpoint supports one. [env: LADDER_SEED]")
@click.option("--revise-rounds", type=click.IntRange(0, 10), help="Revision rounds for failing drafts (default 2).")
@click.option("--judge-model", help="Also judge each draft's ladder step with this model at the same endpoint. "
              "[env: LADDER_JUDGE_MODEL]")
@click.option("--concurrency", type=click.IntRange(1, 256), help="Requests in flight at once (default 4; "
              "the embedded model: 1). [env: LADDER_CONCURRENCY]")
@click.option("--rpm", "requests_per_minute", type=click.IntRange(1), help="Client-side requests-per-minute limit. [env: LADDER_RPM]")
@click.option("--tpm", "tokens_per_minute", type=click.IntRange(1), help="Client-side tokens-per-minute limit. [env: LADDER_TPM]")
@click.option("--max-tokens-total", type=click.IntRange(1), help="Stop before the run spends more tokens; "
              "what is done is kept, the rest is marked skipped (--resume finishes it). [env: LADDER_MAX_TOKENS_TOTAL]")
@click.option("--max-cost", type=click.FloatRange(0, min_open=True), help="Stop before the run spends more "
              "than this many USD, at the price table's prices. [env: LADDER_MAX_COST]")
@click.option("--batch", is_flag=True, help="Send the calls through the Batch API (file upload, "
              "batch, poll, download) at about half the price; rounds of batches until every job is done. "
              "--resume picks up a submitted batch.")
@click.option("--batch-poll", type=click.FloatRange(0), help="Seconds between polls of a batch (default 30). "
              "[env: LADDER_BATCH_POLL]")
@click.option("--no-cache", "cache", flag_value="off", help="Neither read nor write the reply cache.")
@click.option("--refresh", "cache", flag_value="refresh", help="Ask the model again and overwrite cached replies.")
@click.option("--resume", "resume", is_flag=False, flag_value="latest", default=None, metavar="[RUN_ID]",
              help="Finish an interrupted run (the latest, or RUN_ID) without redoing its finished jobs.")
@click.option("--segment", "segments", multiple=True, help="Only these segments (repeatable).")
@click.option("--channel", "channels", multiple=True, help="Only these channels (repeatable).")
@click.option("-o", "--outputs", type=click.Path(file_okay=False, path_type=Path),
              help="Where run folders go. Default: <workspace>/outputs.")
def run(workspace: Path, base_url, model, gguf, temperature, seed, revise_rounds, judge_model, concurrency,
        requests_per_minute, tokens_per_minute, max_tokens_total, max_cost, batch, batch_poll, cache, resume, segments,
        channels, outputs) -> None:
    """Draft, check, revise and render every planned job into outputs/<run-id>/."""
    ws, plan, warnings = _load(workspace, templates=False)
    plan = only(plan, segments, channels)
    if revise_rounds is not None:
        ws = ws.model_copy(update={"config": ws.config.model_copy(update={"revise_rounds": revise_rounds})})
    flags = {"base_url": base_url, "model": model, "gguf": gguf, "temperature": temperature, "seed": seed,
             "judge_model": judge_model, "concurrency": concurrency, "requests_per_minute": requests_per_minute,
             "tokens_per_minute": tokens_per_minute, "max_tokens_total": max_tokens_total, "max_cost": max_cost,
             "batch": batch or None}
    runs_dir = outputs or workspace / "outputs"
    done: dict = {}
    if resume:
        run_id, plan, done, earlier = resume_state(runs_dir, resume, ws)
        flags = {**earlier, **{k: v for k, v in flags.items() if v is not None}}
        say(f"resuming {run_id}: {len(done)} of {len(plan.jobs)} jobs already finished", event="resume",
            run_id=run_id, finished=len(done), jobs=len(plan.jobs))
    else:
        run_id = new_run_id()
    config = resolve_config(ws.config.model, flags)

    batch_poll = effective_settings(ws.config.model, {"batch_poll": batch_poll}).batch_poll
    batch = bool(flags.get("batch"))
    if problems := config.problems(batch):
        raise InvalidWorkspace(problems)
    out_dir = runs_dir / run_id
    arguments = {k: v for k, v in {**flags, "segments": list(segments), "channels": list(channels),
                                   "revise_rounds": revise_rounds}.items() if v not in (None, [])}
    if arguments.get("base_url"):  # recorded in manifest.json: no credentials, no query string

        arguments["base_url"] = scrub_url(arguments["base_url"])

    # before the lock, like every check of the inputs: a broken template leaves nothing behind, not
    # even outputs/. Read unlocked, a run still being written offers only its finished jobs for
    # reuse, and this run then stops at the lock anyway.
    reviews = _reviews(runs_dir, plan)
    prepared = prepare(ws, plan, runs_dir, run_id, config, config.judge() if config.judge_model else None,
                       done, reviews, reuse=not batch and (cache or "use") == "use")
    if template_problems := preflight(ws, plan, skip=done, reused=prepared.reused):
        raise InvalidWorkspace(warnings + template_problems)
    with workspace_lock(runs_dir, "run"), _sigterm_interrupts():
        _run_locked(ws, plan, config, runs_dir, run_id, out_dir, resume, done, arguments, cache, batch, batch_poll,
                    reviews, prepared)


@contextmanager
def _sigterm_interrupts():
    """While a run runs, SIGTERM (systemd stopping it, a killed cron job) interrupts it like
    Ctrl-C, so run_results.json marks the unfinished jobs; the previous handler comes back after."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread (an embedding application's worker): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_locked(ws, plan, config, runs_dir, run_id, out_dir, resume, done, arguments, cache, batch, batch_poll,
                reviews, prepared):
    _note_lemma_backend(ws)
    say(f"run {run_id}: {len(plan.jobs)} jobs", event="start", run_id=run_id, jobs=len(plan.jobs))
    if config.embedded:
        say(f"model: embedded {config.model} (llama-cpp-python on loopback)", event="model", model=config.model)
    else:
        say(f"model: {config.model} at {config.public()['endpoint']}", event="model", model=config.model,
            endpoint=config.public()["endpoint"])
    with session.endpoint(config) as (base, health), _progress(len(plan.jobs) - len(done)) as on_job:
        results = session.run(ws, plan, config, out_dir, base, arguments=arguments, health=health,
                              resume=bool(resume), done=done, reviews=reviews, prepared=prepared,
                              cache=cache or "use", batch=batch, batch_poll=batch_poll, on_job=on_job,
                              on_batch=lambda m: say(f"\n{m}" if log_format() == "text" else m, event="batch"))
    _print_summary(results, out_dir)
    s = results.summary
    sys.exit(EXIT_OK if s["passed"] == s["jobs"] else EXIT_FAILED)


@contextmanager
def _progress(total: int):
    """An ``on_job`` callback: a progress bar for people, a ``job`` event per job in JSON logs."""
    if log_format() == "json":
        def event(r) -> None:
            score = r.best.check.score if r.best and r.best.check else None
            say(f"{r.job.id}: {r.status}", "info", "job", job_id=r.job.id, status=r.status, score=score,
                tokens=r.usage.total_tokens, note=r.note)

        yield event
        return
    with click.progressbar(length=total, label="drafting", file=sys.stderr, show_pos=True,
                           item_show_func=lambda r: r.job.id if r else None) as bar:
        yield lambda r: bar.update(1, r)


def _reviews(runs_dir: Path, plan: Plan) -> dict[str, Review]:
    """Reviewers' decisions for this run to act on, said in a line."""
    reviews = next_run_reviews(runs_dir, plan)
    if reviews:
        counts = Counter(r.decision for r in reviews.values())
        say("reviews: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
            + " (approved drafts are kept, 'changes' revised with the comment, rejected drafted afresh)",
            event="reviews", **counts)
    return reviews


def _note_lemma_backend(ws: Workspace) -> None:

    if any(s.language == "fi" for s in ws.segments) and lemma.backend("fi") != "voikko":
        say(f"note: Finnish terms are matched with a suffix fallback ({lemma.fallback_reason()}); "
            "for full Finnish lemmas install Voikko: apt-get install libvoikko1 voikko-fi", "warning", "lemma_fallback")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def _print_summary(results: RunResults, out_dir: Path) -> None:
    s = results.summary
    if log_format() == "json":  # stdout: one JSON object a scheduler can read
        click.echo(json.dumps({"run_id": results.run_id, "status": results.status, "outputs": str(out_dir),
                               "summary": s, "metrics": getattr(results, "metrics", None)}, ensure_ascii=False))
        say(f"run {results.run_id} done: {s['passed']} of {s['jobs']} passed", event="done", **s)
        return
    rows = [(r.segment, r.channel, r.step, r.status, r.score if r.score is not None else "-",
             r.attempts, r.usage.total_tokens) for r in results.results]
    click.echo(_table(("segment", "channel", "step", "status", "score", "attempts", "tokens"), rows))
    tokens = s["prompt_tokens"] + s["completion_tokens"]
    click.echo(
        f"\n{s['jobs']} jobs: {s['passed']} passed, {s['failed']} failed, {s['errors']} errors, "
        + (f"{s['skipped']} skipped, " if s.get("skipped") else "") +
        f"{s['revised']} revised · {tokens} tokens ({s['prompt_tokens']} prompt, {s['completion_tokens']} completion)"
        + (f" · ${s['cost_usd']:.4f}" if s.get("cost_usd") else "") + " · "
        f"{s['seconds']:.1f} s"
    )
    if s.get("skipped"):
        say(f"{s['skipped']} jobs skipped at the cap: `ladder run --resume {results.run_id}` "
            "with a higher cap finishes them", "warning", "skipped", skipped=s["skipped"])
    click.echo(f"outputs: {out_dir}")


@main.command("check")
@click.argument("files", nargs=-1, required=True, metavar="FILE... | RUN")
@click.option("--step", type=click.IntRange(1, 5), help="The target step: gives a pass/fail verdict and findings.")
@click.option("--segment", help="Check against this segment's vocabulary, tone, role and the core statement "
              "(needs a workspace). A segment outside the target is checked as a 'not for you' piece.")
@click.option("--channel", help="Check as a piece for this channel: its parts and limits, its call to action "
              "and its figures (needs a workspace). A FILE holding a JSON object of parts gives the parts.")
@click.option("--language", type=click.Choice(["en", "fi", "auto"]), default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per input, one per line.")
@click.option("--judge-model", help="Also judge the ladder step with this model. [env: LADDER_JUDGE_MODEL]")
@click.option("--base-url", callback=_url, help="The judge's OpenAI-compatible endpoint. [env: LADDER_BASE_URL] "
              "Default: the embedded model.")
@WORKSPACE
def check_cmd(files, step, segment, channel, language, as_json, judge_model, base_url, workspace: Path) -> None:
    """Read any text's value-ladder step, with evidence; with --step, judge it (FILE... or - for stdin).

    RUN (a run id, latest or latest~N of the workspace) re-checks every draft of that run in its
    job's whole context, with today's rules and levels, and shows what changed.

    Exit 0 when every input passes, 1 when any fails, 2 on bad input."""


    if len(files) == 1 and _run_ref(files[0], workspace):
        _recheck_run(files[0], workspace, as_json)

    seg, ws, chan = None, None, None
    if segment or channel or (judge_model and (workspace / "ladder.yaml").is_file()):
        ws, problems = load_workspace(workspace)
        if ws is None:
            raise InvalidWorkspace(problems)
    if segment:
        seg = next((s for s in ws.segments if s.id == segment), None)
        if seg is None:
            raise InvalidWorkspace([Problem("--segment", None, "", f"unknown segment '{segment}' (known: "
                                            f"{', '.join(s.id for s in ws.segments)})")])
    if channel:
        chan = next((c for c in ws.channels if c.id == channel), None)
        if chan is None:
            raise InvalidWorkspace([Problem("--channel", None, "", f"unknown channel '{channel}' (known: "
                                            f"{', '.join(c.id for c in ws.channels)})")])
    texts, problems = [], []
    for name in files:
        shown = "<stdin>" if name == "-" else name
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
            body = data.decode("utf-8")
        except UnicodeDecodeError as e:
            problems.append(Problem(shown, data.count(b"\n", 0, e.start) + 1, "",
                                    f"not UTF-8 text ({e.reason} at byte {e.start})"))
            continue
        except OSError as e:
            problems.append(Problem(shown, None, "", f"cannot read: {e.strerror or e}"))
            continue
        if not body.strip():
            problems.append(Problem(shown, None, "", "empty text: nothing to check"))
        else:
            texts.append((shown, body))
    if problems:
        raise InvalidWorkspace(problems)
    config = resolve_config(ws.config.model if ws else ModelSettings(), {"base_url": base_url, "judge_model": judge_model})
    contexts = [(name, text_context(body, step, language, seg, chan, ws)) for name, body in texts]
    judged = config.judge_model and any(ctx.kind == "ladder" for _, ctx in contexts)  # judge.checked's rule
    with session.endpoint(config) if judged else nullcontext((None, None)) as (base, health):
        judge_chat = Chat(config.judge(), base, health=health) if base else None
        failed = False
        for name, ctx in contexts:
            failed |= _check_one(name, ctx, as_json, judge_chat, ws.ladder if ws else default_ladder(), workspace)
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def _run_ref(arg: str, workspace: Path) -> bool:
    """Whether ``check``'s one argument names a run of the workspace rather than a file."""
    from pipeline.runs.artifacts import plain_id, run_ids

    if arg == "-" or Path(arg).exists():
        return False
    ids = run_ids(workspace / "outputs")
    return bool(ids) and (arg == "latest" or (arg.startswith("latest~") and arg[7:].isdigit())
                          or (plain_id(arg) and arg in ids))


def _recheck_run(ref: str, workspace: Path, as_json: bool) -> None:
    from pipeline.runs.artifacts import load_run
    from pipeline.runs.recheck import recheck

    ws, _, _ = _load(workspace)
    run = load_run(workspace / "outputs", ref)
    rows = recheck(ws, run)
    for r in rows:
        d, new = r.draft, r.result
        if as_json:
            click.echo(json.dumps({"id": d.id, "run_id": run.id, "was": {"passed": d.passed, "score": d.score},
                                   "now": None if new is None else {
                                       "passed": new.passed, "score": new.score, "findings": [
                                           f.model_dump(exclude_none=True) for f in new.findings]},
                                   "changed": r.changed, "note": r.note}, ensure_ascii=False))
            continue
        if new is None:
            click.echo(f"{d.id}: not checked: {r.note}")
            continue
        was = f"{'passed' if d.passed else 'failed'} {_dash(d.score)}"
        now = f"{'passed' if new.passed else 'failed'} {new.score}"
        click.echo(f"{d.id}: {was} → {now}" + ("" if r.changed else " (unchanged)"))
        for f in new.findings:
            if f.level == "error":
                click.echo(f"  {f.rule} {f.message}")
    checked = [r for r in rows if r.result is not None]
    failing = sum(not r.result.passed for r in checked)
    if not as_json:
        click.echo(f"\n{len(checked)} drafts of run {run.id} re-checked: {len(checked) - failing} pass, "
                   f"{failing} fail, {sum(r.changed for r in rows)} changed")
    sys.exit(EXIT_FAILED if failing else EXIT_OK)


def _check_one(name, ctx, as_json, judge_chat, ladder, root) -> bool:
    """Check one text and print its lines; True when it fails its target step."""
    result, verdict = checked(ctx, judge_chat, root, ladder)
    step, lang, body = ctx.step, ctx.language, ctx.body
    reading = ctx.reading
    if as_json:
        record = {"file": name, "language": lang, "primary_step": reading.primary_step,
                  "probabilities": reading.probabilities, "reader": reading.reader,
                  "step_scores": reading.step_scores, "evidence": reading.evidence}
        if result is not None:
            record |= {"step": step, "passed": result.passed, "score": result.score, "decided_by": result.decided_by,
                       "findings": [{"rule": f.rule, "level": f.level, "message": f.message, "span": f.span}
                                    for f in result.findings]}
        if verdict is not None:
            record["judge"] = verdict.model_dump(exclude={"usage"})
        click.echo(json.dumps(record, ensure_ascii=False))
        return bool(result and not result.passed)
    for f in result.findings if result else []:
        line, col = _position(body, f.span)
        click.echo(f"{name}:{line}:{col} {f.rule} {f.message}")
    if verdict is not None and verdict.invented:
        click.echo(f"{name}: the judge invented quotes, its verdict on step(s) {verdict.voided} is void: "
                   + "; ".join(repr(q) for q in verdict.invented))
    line = f"{name}: reads as step {reading.primary_step} ({STEP_KEYS[reading.primary_step]})"
    line += "".join(f" · {k} {v}" for k, v in reading.step_scores.items() if v)
    if verdict is not None and verdict.primary_step:
        line += f" · judge: step {verdict.primary_step}"
    if result is not None:
        line += f" · target {step}: {'passed' if result.passed else 'failed'}, score {result.score}"
        line += f" (decided by {result.decided_by})" if verdict is not None else ""
    click.echo(line)
    return bool(result and not result.passed)


def _position(body: str, span: str | None) -> tuple[int, int]:
    at = body.find(span) if span else -1
    if at < 0:
        return 1, 1
    return body.count("\n", 0, at) + 1, at - (body.rfind("\n", 0, at) + 1) + 1


@main.command()
@WORKSPACE
@click.option("--run", "run_id", help="Only this run's calls.")
@click.option("--job", "job_id", help="Only this job's calls (campaign.segment.channel).")
@click.option("--model", help="Only calls to this model.")
@click.option("-n", "--limit", type=click.IntRange(1), default=50, show_default=True, help="The last N calls.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per call, with messages and reply.")
@click.option("-o", "--outputs", type=click.Path(file_okay=False, path_type=Path),
              help="Where run folders and ladder.db are. Default: <workspace>/outputs.")
def logs(workspace: Path, run_id, job_id, model, limit, as_json, outputs) -> None:
    """List model calls from the call log (outputs/ladder.db): cached or not, tokens, time."""

    path = Store.path_in(outputs or workspace / "outputs")
    if not path.is_file():
        raise InvalidWorkspace([Problem(str(path), None, "", "no call log yet: run `ladder run` first")])
    with Store(path) as store:
        calls = store.calls(run_id=run_id, job_id=job_id, model=model, limit=limit)
    if as_json:
        for c in calls:
            click.echo(json.dumps(c, ensure_ascii=False))
        return
    rows = [(c["id"], c["run_id"] or "-", c["job_id"] or "-", c["model"], "cached" if c["cached"] else
             (c["error"] or c["finish_reason"] or "-")[:40], c["prompt_tokens"] + c["completion_tokens"],
             f"{c['seconds']:.2f}", c["attempts"]) for c in calls]
    click.echo(_table(("id", "run", "job", "model", "result", "tokens", "seconds", "tries"), rows))


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Write into a folder that already has a ladder.yaml.")
def init(directory: Path, force: bool) -> None:
    """Scaffold a new campaign workspace from the shipped example."""
    scaffold(directory, force)
    click.echo(f"created {directory}: edit segments/core.yaml, segments/*.yaml and channels.yaml, then:")
    click.echo(f"  ladder validate -w {directory}\n  ladder run -w {directory}")


# --- after a run: reviewers and the CMS ---------------------------------------------------------

OUTPUTS = click.option("-o", "--outputs", "runs_dir", type=click.Path(file_okay=False, path_type=Path),
                       help="Where run folders and ladder.db are. Default: <workspace>/outputs.")
RUN_ARG = click.argument("run_ref", metavar="[RUN]", required=False)


def _reviewed(workspace: Path, runs_dir: Path | None, run_ref: str | None):
    """The run (RUN: an id, latest, latest~N or a folder), its decisions, and the workspace
    when it loads (for highlights; a report works without it)."""

    runs_dir = runs_dir or workspace / "outputs"
    run = load_run(runs_dir, run_ref)
    ws, _ = load_workspace(workspace) if (workspace / "ladder.yaml").is_file() else (None, [])
    with Store.at(runs_dir) as store:
        decisions = for_run(store, run)
    return runs_dir, run, ws, decisions


@main.command()
@RUN_ARG
@WORKSPACE
@OUTPUTS
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the report. Default: <run folder>/report.html.")
def report(run_ref, workspace: Path, runs_dir, html_path) -> None:
    """Write a run's self-contained HTML report: per channel, the segments' variants side by side."""

    _, run, ws, decisions = _reviewed(workspace, runs_dir, run_ref)
    dest = html_path or run.dir / "report.html"
    atomic_write(dest, build(run, ws, decisions))
    click.echo(f"report: {dest} ({len(run.drafts)} drafts, {len(decisions)} decisions)")


@main.command()
@click.argument("run_a")
@click.argument("run_b", required=False, default="latest")
@WORKSPACE
@OUTPUTS
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path), help="Also write the comparison as HTML.")
@click.option("--diff/--no-diff", default=False, help="Print each changed draft's text diff.")
def compare(run_a, run_b, workspace: Path, runs_dir, html_path, diff) -> None:
    """What changed per draft between two runs (RUN_B defaults to the latest): status, score, text."""

    runs_dir = runs_dir or workspace / "outputs"
    a, b = load_run(runs_dir, run_a), load_run(runs_dir, run_b)
    rows = rows_of(a, b)
    click.echo(_table(("draft", "status", "score", "text"), [
        (r["id"], f"{r['status'][0] or '-'} → {r['status'][1] or '-'}",
         f"{_dash(r['score'][0])} → {_dash(r['score'][1])}" + (f" ({r['delta']:+d})" if r["delta"] else ""),
         "changed" if r["changed"] else "same") for r in rows]))
    if diff:
        for r in rows:
            if r["changed"]:
                click.echo("\n" + "\n".join(r["diff"]))
    if html_path:
        atomic_write(html_path, compare_html(a, b, rows))
        click.echo(f"html: {html_path}")
    click.echo(f"\n{sum(r['changed'] for r in rows)} of {len(rows)} drafts changed between {a.id} and {b.id}")


def _dash(value) -> str:
    return "-" if value is None else str(value)


@main.command("export")
@RUN_ARG
@WORKSPACE
@OUTPUTS
@click.option("--format", "fmt", type=click.Choice(["xlsx", "csv", "md", "json", "jsonl"]), required=True,
              help="xlsx/csv: one row per draft for review; md/json: one document per piece; jsonl: one file.")
@click.option("--approved-only", is_flag=True, help="Only pieces whose reviewed content was approved.")
@click.option("--to", "dest", type=click.Path(path_type=Path),
              help="Where to write. Default: <run folder>/export.<format> (a folder for md and json).")
def export_cmd(run_ref, workspace: Path, runs_dir, fmt, approved_only, dest) -> None:
    """Export a run's drafts: a sheet to review (fill decision/comment, then `review import`) or CMS documents."""

    _, run, _, decisions = _reviewed(workspace, runs_dir, run_ref)

    dest = dest or run.dir / f"export.{fmt}"
    with writing(dest):
        n = export(run, decisions, fmt, dest, approved_only)
    click.echo(f"{n} draft{'s' * (n != 1)} → {dest}")


@main.group()
def review() -> None:
    """Reviewers' decisions on drafts (approve, reject, changes), kept in ladder.db; the next run acts on them."""


@review.command("set")
@click.argument("draft_id")
@click.argument("decision", type=click.Choice(["approve", "reject", "changes"]))
@click.option("--comment", default="", help="Why; for 'changes', the instruction the next run revises with.")
@click.option("--run", "run_ref", help="The run the decision is on. Default: the latest.")
@WORKSPACE
@OUTPUTS
def review_set(draft_id, decision, comment, run_ref, workspace: Path, runs_dir) -> None:
    """Decide on one draft (DRAFT_ID: campaign.segment.channel)."""

    runs_dir = runs_dir or workspace / "outputs"
    run = load_run(runs_dir, run_ref)
    with Store.at(runs_dir) as store:
        d = record_decision(store, run, draft_id, decision, comment)
    click.echo(f"{d.draft_id}: {d.decision} (run {d.run_id}, content {(d.content_hash or '-')[:12]})")


@review.command("import")
@click.argument("sheet", type=click.Path(dir_okay=False, path_type=Path))
@WORKSPACE
@OUTPUTS
def review_import(sheet: Path, workspace: Path, runs_dir) -> None:
    """Read decisions from a filled export sheet (xlsx or csv); a sheet with any bad row is refused whole."""


    runs_dir = runs_dir or workspace / "outputs"
    with Store.at(runs_dir) as store:
        decisions = import_sheet(store, runs_dir, sheet)
    counts = Counter(d.decision for d in decisions)
    click.echo(f"{len(decisions)} decisions imported from {sheet}: "
               + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "none filled in"))


@main.command()
@RUN_ARG
@click.option("--to", "url", required=True, callback=_url, help="The CMS endpoint: each piece is PUT to <URL>/<id>.")
@click.option("--token-env", help="Send the token in this environment variable as a Bearer token.")
@click.option("--approved-only", is_flag=True, help="Only pieces whose reviewed content was approved.")
@WORKSPACE
@OUTPUTS
def publish(run_ref, url, token_env, approved_only, workspace: Path, runs_dir) -> None:
    """Push a run's pieces to a CMS: idempotent upserts, only what changed since the last publish."""


    token = None
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise InvalidWorkspace([Problem("--token-env", None, "", f"${token_env} is not set")])

    runs_dir, run, ws, decisions = _reviewed(workspace, runs_dir, run_ref)
    retries = resolve_config(ws.config.model if ws else ModelSettings(), {})  # max_retries, backoff, timeout

    try:
        with workspace_lock(runs_dir, "publish"), Store.at(runs_dir) as store:
            outcome = push(run, decisions, url, store, token=token, approved_only=approved_only,
                           max_retries=retries.max_retries, backoff=retries.backoff, timeout=retries.timeout,
                           on_piece=lambda piece, what: say(f"  {piece}: {what}", event="piece", id=piece, outcome=what))
    except PublishUnavailable as e:
        raise ModelUnavailable(str(e)) from None
    click.echo(f"{scrub_url(url)}: {len(outcome.sent)} sent, {len(outcome.unchanged)} unchanged, "
               f"{len(outcome.failed)} failed")
    for piece, why in outcome.failed.items():
        say(f"  {piece}: {why}", "error", "piece_failed", id=piece, reason=why)
    sys.exit(EXIT_FAILED if outcome.failed else EXIT_OK)


# --- a segment's own words from its own texts (issue 13) ---------------------------------------


@main.command("vocab")
@click.argument("segment")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--column", help="The text column of CSV/XLSX files (default: text, teksti, answer, message…).")
@click.option("--field", help="The text field of JSON lines (default: text).")
@click.option("--top", type=click.IntRange(5, 500), default=30, show_default=True, help="Own terms to propose.")
@click.option("--html", "html_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained HTML report with every term's contexts.")
@click.option("--json", "as_json", is_flag=True, help="Print the analysis as JSON.")
@click.option("--apply", "apply_terms", is_flag=True,
              help="Merge proposed terms into the segment's YAML (FILES are then the terms to take; none: all), "
                   "keeping its comments and order.")
@click.option("--apply-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Merge from this suggestion file (default: segments/suggested/SEGMENT.yaml).")
@WORKSPACE
def vocab_cmd(segment, files, column, field, top, html_path, as_json, apply_terms, apply_file, workspace: Path) -> None:
    """Propose SEGMENT's own terms, concept terms, avoid terms and tone from its own texts (FILE…:
    text, Markdown, CSV/XLSX, JSON lines; default segments/samples/SEGMENT/), with evidence.
    Personal data is scrubbed first. Writes segments/suggested/SEGMENT.yaml; --apply merges."""
    from pipeline.discover import vocab

    ws, problems = load_workspace(workspace)
    if ws is None:
        raise InvalidWorkspace(problems)
    seg = next((s for s in ws.segments if s.id == segment), None)
    if seg is None:
        raise InvalidWorkspace([Problem("segments/", None, "", f"no segment '{segment}' (segments: "
                                        f"{', '.join(s.id for s in ws.segments)})")])
    if apply_terms or apply_file:
        seg_file, added = vocab.apply_suggestion(workspace, segment, apply_file, [str(f) for f in files] or None)
        click.echo(f"{seg_file}: added {len(added)}: {', '.join(added) or 'nothing new'}")
        return
    samples = workspace / "segments" / vocab.SAMPLES_DIR
    paths = list(files) or [samples / segment]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InvalidWorkspace([Problem(m, None, "", "not found") for m in missing])
    try:
        analysis = vocab.analyse_segment(ws, seg, lambda: vocab.documents(paths, column, field), samples, top)
    except vocab.VocabError as e:
        raise InvalidWorkspace([Problem(str(e.path), e.line, "", e.message)]) from None
    if analysis.docs == 0:
        raise InvalidWorkspace([Problem(", ".join(map(str, paths)), None, "", "no documents")])
    from pipeline.files import atomic_write

    suggested = vocab.save_suggestion(workspace, seg, analysis)
    if html_path:
        atomic_write(html_path, vocab.report_html(analysis, seg, ws.core))
    if as_json:
        click.echo(json.dumps(analysis.public(), ensure_ascii=False, indent=2))
    else:
        have = {t.lower() for t in seg.vocabulary.use}
        click.echo(f"{segment}: {analysis.docs} documents, {analysis.sentences} sentences; "
                   f"reference: {', '.join(analysis.reference)}")
        click.echo(_table(("term", "z", "count", "docs", "context"),
                          [(t.term + (" *" if t.term.lower() in have else ""), f"{t.z:.1f}", t.count, t.docs,
                            (t.contexts[0][:60] if t.contexts else "")) for t in analysis.terms]))
        for cid, ts in analysis.concepts.items():
            now = seg.vocabulary.concepts.get(cid)
            click.echo(f"concept {cid}{f' (now: {now})' if now else ''}: " + (", ".join(t.term for t in ts) or "-"))
        for a in analysis.avoid:
            click.echo(f"avoid? {a['term']} -> {a['replacement']} ({a['reason']})")
        click.echo("tone: " + ", ".join(f"{k} {v}" for k, v in analysis.tone["suggested"].items()))
    click.echo(f"wrote {suggested}" + (f" and {html_path}" if html_path else "") +
               f"; merge with: ladder vocab {segment} --apply TERM...")


if __name__ == "__main__":  # pragma: no cover  (at the end: every command is defined by then)
    main()
