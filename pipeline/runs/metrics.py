"""Run metrics: what a reviewer wants to know about a run before reading its drafts.

- pass rate: drafts that passed their check, of the drafts made;
- core consistency: share of ladder drafts that carry every key concept of the core value
  statement in the segment's own term (the check's ``core.concepts`` rule found nothing);
- variant distinctiveness: per channel, each pair of segments' drafts in one language compared
  on their content-word lemmas (Jaccard); a pair at or above ``SIMILAR`` is flagged "not
  personalised": the segments got nearly the same piece;
- own-vocabulary coverage per segment: share of the segment's own terms (``vocabulary.use``)
  that appear, in any inflected form, in at least one of its drafts;
- tokens and cost, from the run's summary.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import Any

from pipeline.lang import text
from pipeline.runs import artifacts
from pipeline.runs.artifacts import Draft, RunResults
from pipeline.workspace.models import JobResult, Workspace

SIMILAR = 0.6

def content_lemmas(value: str, language: str) -> frozenset[str]:
    stop = text.STOP_WORDS.get(language, frozenset())
    return frozenset(lem for lem in text.lemma_set(text.tokens(value), language)
                     if lem not in stop and len(lem) > 2 and not lem.isdigit())


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def compute(ws: Workspace, drafts: list[Draft], summary: dict[str, Any]) -> dict[str, Any]:
    made = [d for d in drafts if d.parts]
    ladder = [d for d in made if d.job.kind == "ladder"]
    body = {d.id: "\n\n".join(v for v in d.parts.values() if v) for d in made}

    pairs = []
    by_channel: dict[str, list[Draft]] = {}
    for d in ladder:
        by_channel.setdefault(d.job.channel, []).append(d)
    for channel, group in sorted(by_channel.items()):
        lemmas = {d.id: content_lemmas(body[d.id], d.job.language) for d in group}
        for a, b in combinations(sorted(group, key=lambda d: d.job.segment), 2):
            if a.job.language == b.job.language:
                sim = similarity(lemmas[a.id], lemmas[b.id])
                pairs.append({"channel": channel, "segments": [a.job.segment, b.job.segment],
                              "similarity": round(sim, 3), "not_personalised": sim >= SIMILAR})

    coverage = {}
    for seg in ws.segments:
        own = [d for d in made if d.job.segment == seg.id]
        if not own:
            continue
        used = [t for t in seg.vocabulary.use
                if any(text.find_term(body[d.id], t, seg.language) for d in own)]
        coverage[seg.id] = {"terms": len(seg.vocabulary.use), "used": len(used),
                            "share": round(len(used) / len(seg.vocabulary.use), 3),
                            "unused": [t for t in seg.vocabulary.use if t not in used]}

    inconsistent = [d.id for d in ladder if any(f.rule == "core.concepts" for f in d.findings)]
    return {
        "drafts": len(made),
        "pass_rate": round(sum(d.passed for d in made) / len(made), 3) if made else None,
        "core_consistency": round(1 - len(inconsistent) / len(ladder), 3) if ladder else None,
        "core_inconsistent": inconsistent,
        "distinctiveness": {
            "threshold": SIMILAR,
            "pairs": pairs,
            "not_personalised": [p for p in pairs if p["not_personalised"]],
            "mean_similarity": round(sum(p["similarity"] for p in pairs) / len(pairs), 3) if pairs else None,
        },
        "vocabulary_coverage": coverage,
        "tokens": summary.get("prompt_tokens", 0) + summary.get("completion_tokens", 0),
        "cost_usd": summary.get("cost_usd"),
    }


def record(ws: Workspace, run_dir: Path, results: RunResults, jobs: list[JobResult]) -> RunResults:
    """Add a finished run's metrics to its run_results.json: ``results`` as the run wrote them,
    computed from its ``jobs`` in memory (reading every job's file back cost a run seconds)."""
    drafts = [chosen_draft(r) for r in jobs]
    results = results.model_copy(update={"metrics": compute(ws, drafts, results.summary)})
    artifacts.write(run_dir / "run_results.json", results)
    return results


def chosen_draft(result: JobResult) -> Draft:
    """What ``compute`` reads of a job (as load_run gives it): its chosen version's parts and check."""
    chosen = result.best
    check = chosen.check if chosen else None
    return Draft(id=result.job.id, job=result.job, status=result.status, passed=bool(check and check.passed),
                 findings=check.findings if check else [], parts=chosen.parts if chosen else {})
