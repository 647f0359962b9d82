"""The check as a gate: does it stop every single-defect draft a reviewer would reject, and
pass every good one?

    python bench/gate.py [--json-only]

Good drafts are hand-written (bench/gate_drafts.py) for every job of the shipped example, plus
an English segment outside the target added here. From each, a generator makes variants with
exactly one defect per class (figures in words or digits, unbacked promises and outcomes,
selling to outsiders, referral asks to prospects, wrong address, another segment's words, a
missing core concept, hype in a calm tone, an avoided term, a part over its limit, a fix that
would drop a placeholder). Each variant goes through the run's check (``check.check`` with
the job's whole context). Prints per class × language: variants, blocked (an error), blocked
by the class's own rule, warned only, missed; good drafts rejected; one JSON line at the end.

A benchmark written by the same hand as the rules is a regression test, not a measure of
accuracy: it shows the rules do what they were built to do on text of this kind.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gate_drafts import GOOD, LANDLORDS  # noqa: E402

from pipeline.files import example_dir
from pipeline.lang import text  # noqa: E402
from pipeline.stages.check import _present, check  # noqa: E402
from pipeline.stages.plan import plan  # noqa: E402
from pipeline.stages.revise import fix, lost_elements  # noqa: E402
from pipeline.workspace.load import load_workspace  # noqa: E402
from pipeline.workspace.models import Attempt  # noqa: E402

# Inserted sentences, one defect each, per class and language; {te}/{sina} pick the address.
INSERTS = {
    "figure.words": {
        "en": ["Thirty housing companies have joined so far.", "Half of the plants were built last year.",
               "The plant is sized at twice the peak load.", "Fifteen engineers review every plan.",
               "A third of the heat comes from the sun in summer."],
        "fi": ["Mukana on jo kolmekymmentä taloyhtiötä.", "Puolet laitoksista on rakennettu viime vuonna.",
               "Laitos mitoitetaan kaksinkertaiselle huippukuormalle.", "Jokaisen suunnitelman tarkistaa "
               "kahdeksantoista insinööriä.", "Palvelua on kehitetty kolmannella vuosikymmenellä."],
    },
    "figure.digits": {
        "en": ["Installation takes 6 weeks.", "Over 40 buildings are on the service."],
        "fi": ["Asennus kestää 6 viikkoa.", "Palvelussa on yli 40 taloa."],
    },
    "claim.promise": {
        "en": ["We guarantee a silent installation.", "We promise there will be no noise at night."],
        "fi": ["Takaamme hiljaisen asennuksen.", "Lupaamme, ettei laitteista kuulu ääntä yöllä."],
    },
    "claim.outcome": {
        "en": ["With our service, the building's market value rises.", "Our plant improves residents' sleep."],
        "fi": ["Palvelumme nostaa kiinteistön markkina-arvoa.", "Maalämpö parantaa asukkaiden unta."],
    },
    "role.sells": {
        "en": ["The monthly price is lower than you think.", "Order before June for a discount.",
               "Book a 20-minute call", "Calculate your savings.", "Ask for a price-match quote."],
        "fi": ["Kuukausihinta on edullinen.", "Tilaa ennen kesäkuuta.", "Varaa 20 minuutin puhelu.",
               "Laske säästösi.", "Kampanjahinnat ovat voimassa toukokuun loppuun."],
    },
    "role.referral": {
        "en": ["Recommend us to another fund.", "Know someone who runs a portfolio like yours? Refer them to us.",
               "Tell a colleague about us."],
        "fi": ["Suositelkaa meitä naapuritaloyhtiölle.", "Palvelua suositellaan myös tuttaville.",
               "Kertokaa meistä naapuritaloyhtiön hallitukselle."],
        "fi-sina": ["Suosittele meitä naapuritaloyhtiölle.", "Kerro meistä naapurillesi."],
    },
    "tone.address": {
        "fi-te": ["Katso, mitä tämä tarkoittaa sinun taloyhtiöllesi.", "Voit kysyä meiltä lisää.",
                  "Et tarvitse uutta lainaa."],
        "fi-sina": ["Katsokaa, mitä tämä tarkoittaa teidän kodillenne.", "Voitte kysyä meiltä lisää.",
                    "Ette tarvitse uutta lainaa."],
    },
    "tone.hype": {
        "en": ["The result is amazing!", "It is a game-changer for every asset."],
        "fi": ["Tulos on huikea!", "Uskomaton ratkaisu."],
        "steady": {"en": ["An amazing, incredible result.", "A stunning, groundbreaking design."],
                   "fi": ["Mahtava ja upea ratkaisu.", "Huikea ja mullistava malli."]},
        "lively": {"en": ["An amazing, incredible, stunning result!"],
                   "fi": ["Mahtava, upea ja huikea talvi!", "Uskomaton, loistava ja ilmiömäinen lämpö!"]},
    },
    "vocabulary.avoid": {},
}
BORROWED = {"en": "The {term} matters here as well.", "fi": "Myös {term} on mukana."}
PART_ORDER = ("body", "post", "intro", "voiceover", "text", "subheadline")


def main_part(parts: dict[str, str]) -> str:
    return next(p for p in PART_ORDER if p in parts)


def insert(parts: dict[str, str], sentence: str) -> dict[str, str]:
    name = main_part(parts)
    body = parts[name].rstrip()
    return {**parts, name: f"{body} {sentence}"}


def remove_sentences(parts: dict[str, str], term: str, language: str) -> dict[str, str] | None:
    out = {}
    for name, value in parts.items():
        kept = [s for s in re.split(r"(?<=[.!?:])\s+", value)
                if not _present(text.tokens(s), [text.tokens(s)], term, language)]
        out[name] = " ".join(kept)
    return out if out != parts else None


def variants(ws, job, parts):
    """(class, parts) with one defect each."""
    seg, lang = ws.segment(job.segment), job.language
    if job.kind == "not_for_you":
        for s in INSERTS["role.sells"][lang]:
            yield "role.sells", insert(parts, s)
        return
    for cls in ("figure.words", "figure.digits", "claim.promise", "claim.outcome"):
        for s in INSERTS[cls][lang]:
            yield cls, insert(parts, s)
    if seg.role == "prospect":
        key = "fi-sina" if lang == "fi" and seg.tone.address == "sinä" else lang
        for s in INSERTS["role.referral"][key]:
            yield "role.referral", insert(parts, s)
    if lang == "fi":
        for s in INSERTS["tone.address"]["fi-te" if seg.tone.address == "te" else "fi-sina"]:
            yield "tone.address", insert(parts, s)
    else:  # English: the reader talked about, not to
        swap = {"you": "they", "your": "their", "yours": "theirs", "you'll": "they'll", "you're": "they're",
                "yourself": "themselves"}
        moved = {}
        for name, value in parts.items():
            if name == "call_to_action":
                moved[name] = value
                continue
            moved[name] = re.sub(r"\b(you'll|you're|yourself|yours|your|you)\b",
                                 lambda m: (lambda w: w[:1].upper() + w[1:] if m.group()[0].isupper() else w)(
                                     swap[m.group().lower()]), value, flags=re.I)
        if moved != parts:
            yield "tone.address", moved
    shared = " ".join([*seg.vocabulary.use, *seg.vocabulary.concepts.values(), *seg.needs, *seg.objections,
                       *seg.tone.examples])
    for other in ws.segments:
        if other.id != seg.id and other.language == lang and other.role != "outside_target":
            for term in other.vocabulary.use:
                if term not in seg.vocabulary.use and not text.find_term(shared, term, lang) and not text.find_term(
                        "\n".join([ws.core.core.get(lang, ""), *ws.core.differentiators.get(lang, []),
                                   *[p.text(lang) for p in ws.core.proof_points], ws.core.offer.get(lang, "")]),
                        term, lang):
                    yield "vocabulary.borrowed", insert(parts, BORROWED[lang].format(term=term))
    for term in seg.vocabulary.concepts.values():
        removed = remove_sentences(parts, term, lang)
        if removed is not None:
            yield "core.concepts", removed
    if seg.tone.energy != "calm":  # a steady tone bears one hype word, a lively one two
        for s in INSERTS["tone.hype"][seg.tone.energy][lang]:
            yield "tone.hype", insert(parts, s)
    else:
        for s in INSERTS["tone.hype"][lang]:
            yield "tone.hype", insert(parts, s)
    for avoid in seg.vocabulary.avoid:
        yield "vocabulary.avoid", insert(parts, {"en": f"This is not a {avoid.term} fix.",
                                                 "fi": f"Ratkaisu ei ole {avoid.term}."}[lang])
    name = main_part(parts)
    yield "parts.limit", {**parts, name: (parts[name] + " ") * 8}


# which rules stop each class
OWN_RULE = {
    "figure.words": {"claims.unsupported"}, "figure.digits": {"claims.unsupported"},
    "claim.promise": {"claims.unsupported"}, "claim.outcome": {"claims.unsupported"},
    "role.sells": {"role.sells"}, "role.referral": {"role.customer_only"}, "tone.address": {"tone.address"},
    "vocabulary.borrowed": {"vocabulary.borrowed"}, "core.concepts": {"core.concepts"}, "tone.hype": {"tone.hype"},
    "vocabulary.avoid": {"vocabulary.avoid"}, "parts.limit": {"parts.limit"},
}


def fix_variants(ws, job, parts):
    """An over-long part whose end holds what must stay: the safe fix must keep it or give up."""
    name = main_part(parts)
    channel = ws.channel(job.channel)
    part = next(p for p in channel.parts if p.name == name)
    filler = {"en": "There is more to say about this, and we will say it.",
              "fi": "Tästä on paljon kerrottavaa, ja kerromme sen."}[job.language]
    sentences = re.split(r"(?<=[.!?])\s+", parts[name])
    if len(sentences) < 2:
        return
    # the filler goes before the last sentence, so a trim at the end cuts what must stay
    long = " ".join([*sentences[:-1], *[filler] * (1 + (part.max_chars or part.max_words * 6) // len(filler)),
                     sentences[-1]])
    yield "fix.keeps", {**parts, name: long}


def workspace() -> object:
    tmp = Path(tempfile.mkdtemp(prefix="ladder-gate-"))
    src = example_dir()
    for name in ("ladder.yaml", "channels.yaml", "segments", "prompts", "templates"):
        if (src / name).is_dir():
            shutil.copytree(src / name, tmp / name)
        elif (src / name).is_file():
            shutil.copy(src / name, tmp / name)
    (tmp / "segments" / "landlords.yaml").write_text(LANDLORDS, encoding="utf-8")
    ws, problems = load_workspace(tmp)
    if ws is None:
        raise SystemExit("\n".join(map(str, problems)))
    return ws


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json-only", action="store_true")
    ap.add_argument("--show-missed", action="store_true", help="print every variant not blocked")
    args = ap.parse_args()
    ws = workspace()
    jobs = {(j.segment, j.channel): j for j in plan(ws).jobs}
    missing = set(jobs) - set(GOOD)
    if missing:
        raise SystemExit(f"no good draft for: {sorted(missing)}")
    table: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    good_rejected, missed = [], []
    for key, parts in GOOD.items():
        job = jobs[key]
        result = check(ws, job, parts)
        if not result.passed:
            good_rejected.append({"job": job.id, "errors": [f"{f.rule}: {f.message}" for f in result.errors]})
        for cls, variant in variants(ws, job, parts):
            row = table[(cls, job.language)]
            r = check(ws, job, variant)
            row["variants"] += 1
            errors = {f.rule for f in r.errors}
            if errors:
                row["blocked"] += 1
                row["own_rule"] += bool(errors & OWN_RULE[cls])
            elif any(f.level == "warning" for f in r.findings):
                row["warned"] += 1
                missed.append((cls, job.id, "warned", variant))
            else:
                row["missed"] += 1
                missed.append((cls, job.id, "missed", variant))
        for cls, variant in fix_variants(ws, job, parts):
            row = table[(cls, job.language)]
            before = check(ws, job, variant)
            attempt = Attempt(n=1, parts=variant, check=before)
            fixed = fix(ws, job, attempt)
            row["variants"] += 1
            if fixed is None:
                row["blocked"] += 1  # no safe fix: left to the model
                row["own_rule"] += 1
                continue
            after = check(ws, job, fixed.parts)
            if not lost_elements(ws, job, variant, fixed.parts):
                row["blocked"] += 1
                row["own_rule"] += 1
            else:
                row["missed"] += 1
                missed.append((cls, job.id, f"fix dropped an element (passed={after.passed})", fixed.parts))
    rows = []
    for (cls, lang), r in sorted(table.items()):
        rows.append({"class": cls, "language": lang, **{k: r.get(k, 0) for k in
                     ("variants", "blocked", "own_rule", "warned", "missed")}})
    if not args.json_only:
        print(f"{'class':<22}{'lang':<6}{'variants':>9}{'blocked':>9}{'own rule':>10}{'warned':>8}{'missed':>8}")
        for r in rows:
            print(f"{r['class']:<22}{r['language']:<6}{r['variants']:>9}{r['blocked']:>9}{r['own_rule']:>10}"
                  f"{r['warned']:>8}{r['missed']:>8}")
        print(f"\ngood drafts: {len(GOOD)}, rejected: {len(good_rejected)}")
        for g in good_rejected:
            print(f"  {g['job']}: {'; '.join(g['errors'])}")
        if args.show_missed:
            for cls, job_id, how, variant in missed:
                print(f"  {how}: {cls} {job_id}: {json.dumps(variant, ensure_ascii=False)[:300]}")
    total = sum(r["variants"] for r in rows)
    blocked = sum(r["blocked"] for r in rows)
    worst = min((r["blocked"] / r["variants"] for r in rows), default=1.0)
    print(json.dumps({"good": len(GOOD), "good_rejected": len(good_rejected), "variants": total,
                      "blocked": blocked, "blocked_rate": round(blocked / total, 3) if total else None,
                      "worst_class_rate": round(worst, 3), "classes": rows}, ensure_ascii=False))


if __name__ == "__main__":
    main()
