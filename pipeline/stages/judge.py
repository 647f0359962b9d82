"""The optional LLM judge, part of the check stage: an addition when a capable model is
configured (``--judge-model``), never the foundation.

The rubric prompt (``prompts/<lang>/judge.j2``) asks for each step's verbatim evidence quotes
first and its score after, as structured output. Every quote is looked up in the draft; a step
with a quote the draft does not contain, or a high score with no quote at all, is voided and the
invented quotes are kept and logged. The judge then decides the ladder-step question when its
verdict on the target step stands; the deterministic rules decide everything else, and the
result says which decided (``CheckResult.decided_by``). ``checked`` is the check's one sequence,
rules then judge, for a run and for ``ladder check`` alike.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.errors import RequestFailed
from pipeline.lang import privacy
from pipeline.model.chat import Chat, InvalidReply
from pipeline.stages.check import STEP_FLOOR, STEP_HINTS, CheckContext, evaluate, score
from pipeline.stages.classify import STEP_KEYS
from pipeline.workspace import templating
from pipeline.workspace.models import CheckResult, Finding, JudgeResult, Ladder

log = logging.getLogger("ladder.judge")

JUDGE_PROMPT = "judge.j2"  # its variables: templating.JUDGE_CONTEXT


class StepVerdict(BaseModel):
    step: int = Field(ge=1, le=5)
    quotes: list[str] = Field(description="The draft's own words that do this step's work, verbatim; [] if none.")
    score: int = Field(ge=0, le=100, description="How strongly the draft does this step's work, after the quotes.")


class Judgement(BaseModel):
    steps: list[StepVerdict] = Field(min_length=1, max_length=5)
    primary_step: int = Field(ge=1, le=5)


def _norm(value: str) -> str:
    value = value.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", value).strip().lower()


_warned: OrderedDict[tuple[str, str, tuple[str, ...]], None] = OrderedDict()  # the latest WARNED_MAX warnings
WARNED_MAX = 4096


def verify(judgement: Judgement, draft: str, model: str) -> JudgeResult:
    """Keep the steps whose evidence is the draft's own words; void the others."""
    body = _norm(draft)
    result = JudgeResult(model=model)
    for verdict in judgement.steps:
        quotes = [q for q in (_norm(q).strip("\"'.… ") for q in verdict.quotes) if q]
        invented = [q for q in quotes if q not in body]
        if invented or (verdict.score >= STEP_FLOOR and not quotes):
            result.voided.append(verdict.step)
            result.invented += invented
            continue
        result.step_scores[verdict.step] = verdict.score
        result.evidence[verdict.step] = quotes
    if judgement.primary_step not in result.voided:
        result.primary_step = judgement.primary_step
    if result.invented and (model, body, tuple(result.invented)) not in _warned:  # once: batch mode replays jobs
        _warned[(model, body, tuple(result.invented))] = None
        if len(_warned) > WARNED_MAX:
            _warned.popitem(last=False)
        log.warning("judge %s quoted words the draft does not contain: %s; voided step(s) %s",
                    model, "; ".join(repr(q) for q in result.invented), result.voided)
    return result


def judge(chat: Chat, root: str | Path, draft: str, language: str, ladder: Ladder, step: int | None) -> JudgeResult:
    env = templating.prompt_env(Path(root))
    prompt = templating.render(env, f"{language}/{JUDGE_PROMPT}",
                               {"draft": draft, "ladder": ladder, "step": ladder[step] if step else None, "lang": language})
    messages = [{"role": "user", "content": prompt.strip()}]
    try:
        judgement, usage, calls = chat.structured(messages, Judgement, max_tokens=900)
    except InvalidReply as e:
        return JudgeResult(model=chat.config.model, error=str(e), usage=e.usage, model_calls=e.calls)
    except RequestFailed as e:  # the rules decide alone
        return JudgeResult(model=chat.config.model, error=f"request failed: {e}", model_calls=1)
    # the judge saw the draft with personal data scrubbed (Chat.complete): its quotes are of that text
    seen = privacy.scrub(draft)
    return verify(judgement, seen, chat.config.model).model_copy(update={"usage": usage, "model_calls": calls})


def checked(ctx: CheckContext, judge_chat: Chat | None, root: str | Path, ladder: Ladder) -> tuple[
        CheckResult | None, JudgeResult | None]:
    """The one check sequence, for the run and for ``ladder check``: the rules' verdict on the
    target step (None without one) and, with a judge, the judge's reading of a ladder piece,
    combined with the rules'. A "not for you" piece is not judged: no ladder step is asked of it."""
    result = evaluate(ctx) if ctx.step else None
    verdict = None
    if judge_chat is not None and ctx.kind == "ladder":
        verdict = judge(judge_chat, root, ctx.body, ctx.language, ladder, ctx.step)
        if result is not None:
            result = combine(result, verdict, ctx.step)
    return result, verdict


def combine(rules: CheckResult, verdict: JudgeResult, step: int | None) -> CheckResult:
    """The final verdict. The judge decides the ladder step when its verdict on the target step
    stands; the rules decide every other question, and the step too when the judge's is void."""
    if step is None or verdict.error or step not in verdict.step_scores:
        return rules.model_copy(update={"judge": verdict, "decided_by": "rules"})
    others = [f for f in rules.findings if f.rule != "ladder.step"]
    step_score = verdict.step_scores[step]
    judge_passed = step_score >= STEP_FLOOR
    findings = list(others)
    if not judge_passed:
        findings.append(Finding(
            rule="judge.step", level="error",
            span=next(iter(verdict.evidence.get(verdict.primary_step or step, [])), None),
            message=f"the judge ({verdict.model}) scores step {step} ({STEP_KEYS[step]}) at {step_score}"
                    + (f"; it reads as step {verdict.primary_step}" if verdict.primary_step not in (None, step) else ""),
            fix=STEP_HINTS[step]))
    rules_passed = not any(f.level == "error" for f in others)
    passed = rules_passed and judge_passed
    decided_by = "rules and judge" if rules_passed == judge_passed else ("judge" if rules_passed else "rules")
    return CheckResult(passed=passed, score=score(findings),
                       findings=findings, decided_by=decided_by, judge=verdict)
