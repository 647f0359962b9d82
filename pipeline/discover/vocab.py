"""A group's own words, found in its own texts (`ladder vocab`).

Discourse analysis, measured: each group names the same thing in its own expressions. From what
the group itself writes (interviews, survey answers, reviews, tickets, posts, call notes) this
stage proposes, with evidence:

- **own terms**: lemma 1–3-grams the group uses markedly more than a reference (the other
  segments' samples in the workspace, plus a general background frequency per lemma built from
  the ``wordfreq`` lists, ``pipeline/lang/data/freq_*.tsv.gz``), scored by the log-odds ratio with an
  informative Dirichlet prior (Monroe, Colaresi & Quinn 2008, "Fightin' Words", eq. 16–22),
  z-scored, so a word seen three times in a small sample does not outrank one the group uses
  across many documents;
- **concept terms**: for each key concept of the core, the group's expressions that are
  over-represented in the sentences where the concept is meant (sentences holding the concept's
  anchor words: its name and description, and the other segments' terms for it);
- **avoid candidates**: the other groups' and the company's words for a concept that this group
  rarely or never uses, with the group's own word as the replacement;
- **tone cues**: formality, form of address, sentence length, energy (exclamations, hype words).

Every document is scrubbed of personal data (``privacy.scrub``) before it is counted or shown.
Documents are streamed; what is kept is counts per lemma n-gram (memory grows with the
vocabulary, not with the number of documents). Example contexts are gathered in a second pass,
for the proposed terms only.

Library code: no click here. The CLI (``ladder vocab``) reads files, calls :func:`analyse`,
writes the suggestion file and report.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeline.errors import InvalidWorkspace, Problem
from pipeline.files import writing
from pipeline.lang import lemma, privacy
from pipeline.lang.frequency import background
from pipeline.lang.text import STOP_WORDS as FUNCTION_WORDS
from pipeline.lang.text import sentences
from pipeline.workspace.load import Loader
from pipeline.workspace.models import NonEmpty, Vocabulary

SAMPLES_DIR = "samples"  # segments/samples/<segment id>/…: each segment's own texts
SUGGESTED_DIR = "suggested"  # segments/suggested/<segment id>.yaml: what `ladder vocab` proposes
TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
DOC_SEPARATOR = re.compile(r"^\s*-{3,}\s*$", re.MULTILINE)
TOKEN = re.compile(r"\[[A-Z]+\]|[^\W\d_]+(?:[-'’][^\W\d_]+)*|\d+(?:[.,]\d+)?", re.UNICODE)
NEGATIONS = {"en": {"no", "not", "without", "never"}, "fi": {"ei", "ilman", "eikä"}}
PRIOR = 500.0  # α0: the prior's weight in pseudo-counts (Monroe et al. use a prior of this order)
FLOOR = 1e-7  # background probability of a lemma the general list lacks


class VocabError(Exception):
    """A file that cannot be read as documents: the file, the line where known, and why."""

    def __init__(self, path: Path, message: str, line: int | None = None):
        super().__init__(f"{path}{f':{line}' if line else ''}: {message}")
        self.path, self.line, self.message = path, line, message


# --- lemmas and background ---------------------------------------------------------------------

_CLASS_ORDER = {"nimisana": 0, "nimisana_laatusana": 1, "laatusana": 2, "teonsana": 3}


@lemma.cached(300_000)
def lemma_of(word: str, language: str) -> str:
    """One base form per word (lower case), the same at build time and at run time: Voikko's
    analysis for Finnish (nouns before adjectives before verbs, as marketing terms are mostly
    nouns), the rule lemmatiser for English."""
    w = word.lower()
    if language == "fi":
        analyses = lemma.analyses(w)
        if analyses:
            best = min(analyses, key=lambda a: ((a.get("BASEFORM") or "").lower() != w,
                                               _CLASS_ORDER.get(a.get("CLASS", ""), 9), len(a.get("BASEFORM", ""))))
            return (best.get("BASEFORM") or w).lower()
        return w if lemma.backend("fi") == "voikko" else lemma.fi_stem(w)
    if language == "en":
        forms = lemma.lemmas(w, "en")
        return min(forms, key=lambda s: (len(s), s)) if forms else w
    return w


@lemma.cached(4)
def stopwords(language: str) -> frozenset[str]:
    """The language's function words and its 120 most frequent lemmas: never a term by themselves."""
    top = [w for w, _ in sorted(background(language).items(), key=lambda kv: -kv[1])[:120]]
    base = {lemma_of(w, language) for w in FUNCTION_WORDS.get(language, ())}
    return frozenset(top) | base | FUNCTION_WORDS.get(language, frozenset())


# --- documents ---------------------------------------------------------------------------------


def read_documents(path: Path, column: str | None = None, field: str | None = None) -> Iterator[str]:
    """The documents in one file, streamed: a text or Markdown file is one document, or several
    separated by lines of ``---``; a CSV/XLSX gives ``column`` of each row; JSON lines give ``field``."""
    suffix = path.suffix.lower()
    try:
        if suffix in TEXT_SUFFIXES:
            raw = path.read_text(encoding="utf-8")
            for doc in DOC_SEPARATOR.split(raw):
                if doc.strip():
                    yield doc.strip()
        elif suffix in (".csv", ".tsv"):
            with path.open(encoding="utf-8-sig", newline="") as f:
                reader = csv.DictReader(f, delimiter="\t" if suffix == ".tsv" else ",")
                col = _pick(column, reader.fieldnames or [], path, "--column")
                for row in reader:
                    if (row.get(col) or "").strip():
                        yield row[col].strip()
        elif suffix in (".xlsx", ".xlsm"):
            import openpyxl

            try:
                wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            except Exception as e:  # noqa: BLE001 - openpyxl raises many kinds for a file that is no workbook
                raise VocabError(path, f"not an Excel workbook ({type(e).__name__}: {e})") from None
            try:
                rows = wb.active.iter_rows(values_only=True)
                header = [str(h) if h is not None else "" for h in next(rows, [])]
                at = header.index(_pick(column, header, path, "--column"))
                for row in rows:
                    value = row[at] if at < len(row) else None
                    if value is not None and str(value).strip():
                        yield str(value).strip()
            finally:
                wb.close()
        elif suffix in (".jsonl", ".ndjson", ".json"):
            with path.open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        obj = json.loads(line)
                    except json.JSONDecodeError as e:
                        raise VocabError(path, f"not a JSON line ({e.msg})", n) from None
                    value = obj.get(field or "text") if isinstance(obj, dict) else obj
                    if value is None and field is None:
                        raise VocabError(path, "no 'text' field; name the field with --field", n)
                    if isinstance(value, str) and value.strip():
                        yield value.strip()
        else:
            raise VocabError(path, f"cannot read '{suffix}' files (text, Markdown, CSV, TSV, XLSX, JSON lines)")
    except csv.Error as e:  # a field over the csv module's limit, a broken quote
        raise VocabError(path, f"not a readable CSV file ({e})") from None
    except UnicodeDecodeError as e:
        raise VocabError(path, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise VocabError(path, f"cannot read: {e.strerror or e}") from None


def _pick(column: str | None, header: list[str], path: Path, flag: str) -> str:
    if column is None:
        for guess in ("text", "teksti", "answer", "vastaus", "message", "viesti", "body", "comment"):
            if guess in header:
                return guess
        raise VocabError(path, f"name the text column with {flag} (columns: {', '.join(h for h in header if h)})")
    if column not in header:
        raise VocabError(path, f"no column '{column}' (columns: {', '.join(h for h in header if h)})")
    return column


def documents(paths: Iterable[Path], column: str | None = None, field: str | None = None) -> Iterator[str]:
    for p in paths:
        if p.is_dir():
            yield from documents(sorted(q for q in p.rglob("*") if q.is_file() and not q.name.startswith(".")),
                                 column, field)
        else:
            yield from read_documents(p, column, field)


# --- counting ----------------------------------------------------------------------------------


@dataclass
class Sentence:
    text: str
    words: list[str]  # surface forms; "" marks a barrier (a placeholder, a number)
    lemmas: list[str]


def split(doc: str, language: str, keep: Iterable[str] = ()) -> list[Sentence]:
    """A document scrubbed of personal data, as sentences of words and lemmas."""
    clean = privacy.scrub(doc, language, keep)
    out = []
    for s in sentences(clean):
        words, lems = [], []
        for m in TOKEN.finditer(s):
            w = m.group()
            if w.startswith("[") or w[0].isdigit():
                words.append("")
                lems.append("")
            else:
                words.append(w)
                lems.append(lemma_of(w, language))
        if words:
            out.append(Sentence(s, words, lems))
    return out


def ngrams(sent: Sentence, language: str, max_n: int = 3) -> Iterator[tuple[str, int, int]]:
    """(key, start, end) for each lemma 1–3-gram that could be a term: no barrier inside, not ending
    in a function word, not starting with one (a negation may start one: "ei lainaa", "no capital")."""
    stop = stopwords(language)
    neg = NEGATIONS.get(language, set())
    lems = sent.lemmas
    for i in range(len(lems)):
        if not lems[i] or (lems[i] in stop and lems[i] not in neg):
            continue
        for n in range(1, max_n + 1):
            j = i + n
            if j > len(lems) or not lems[j - 1]:
                break
            last = lems[j - 1]
            if last in stop or len(last) < 2:
                continue
            if n == 1 and (lems[i] in neg or len(lems[i]) < 3):
                continue
            yield " ".join(lems[i:j]), i, j


@dataclass
class Counts:
    """What a group's texts amount to: n-gram counts, document frequency, sentence counts, tone."""

    language: str
    docs: int = 0
    sentences: int = 0
    tokens: Counter = field(default_factory=Counter)  # per n: tokens (n-gram positions) counted
    freq: Counter = field(default_factory=Counter)
    df: Counter = field(default_factory=Counter)
    surface: dict[str, Counter] = field(default_factory=dict)
    concept_sentences: Counter = field(default_factory=Counter)
    concept_freq: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    tone: Counter = field(default_factory=Counter)

    def add(self, doc: str, anchors: dict[str, frozenset[str]] | None = None, keep: Iterable[str] = ()) -> None:
        self.docs += 1
        seen: set[str] = set()
        sents = split(doc, self.language, keep)
        for s in sents:
            self.sentences += 1
            in_sentence: set[str] = set()
            for key, i, j in ngrams(s, self.language):
                self.freq[key] += 1
                self.tokens[j - i] += 1
                in_sentence.add(key)
                forms = self.surface.get(key)
                if forms is None:
                    forms = self.surface[key] = Counter()
                surface = " ".join(s.words[i:j])
                if len(forms) < 6 or surface in forms:
                    forms[surface] += 1
            seen |= in_sentence
            if anchors:
                lems = set(s.lemmas)
                for cid, anchor in anchors.items():
                    if lems & anchor:
                        self.concept_sentences[cid] += 1
                        self.concept_freq[cid].update(in_sentence)
        self.df.update(seen)
        _tone_counts(self.tone, doc, sents, self.language)

    def form(self, key: str) -> str:
        """How the term reads: a single word in its base form (as the segment files write terms),
        in the group's own capitals where it has them ("COP"); a phrase as the group most often says it."""
        forms = self.surface.get(key)
        if not forms:
            return key
        best = forms.most_common(1)[0][0]
        if " " not in key:
            if best.isupper() or any(c.isupper() for c in best[1:]):
                return best  # COP, ESG
            return best.lower() if self.language == "en" else key
        if best[:1].isupper() and not best[1:2].isupper():
            best = best[0].lower() + best[1:]
        return best


def count(docs: Iterable[str], language: str, anchors: dict[str, frozenset[str]] | None = None,
          keep: Iterable[str] = ()) -> Counts:
    keep = tuple(keep)
    c = Counts(language)
    for d in docs:
        c.add(d, anchors, keep)
    return c


# --- scoring -----------------------------------------------------------------------------------


def log_odds(y_i: float, n_i: float, y_j: float, n_j: float, alpha_w: float, alpha_0: float) -> tuple[float, float]:
    """Monroe, Colaresi & Quinn (2008) eq. 16–22: the log-odds ratio of a word in corpus i vs j with
    an informative Dirichlet prior (α_w of α_0), and its z-score δ / σ."""
    delta = (math.log((y_i + alpha_w) / (n_i + alpha_0 - y_i - alpha_w))
             - math.log((y_j + alpha_w) / (n_j + alpha_0 - y_j - alpha_w)))
    var = 1.0 / (y_i + alpha_w) + 1.0 / (y_j + alpha_w)
    return delta, delta / math.sqrt(var)


def _bg_prob(key: str, language: str) -> float:
    bg = background(language)
    p = 1.0
    for w in key.split(" "):
        p *= bg.get(w, FLOOR)
    return max(p, 1e-15)


def score(group: Counts, reference: list[Counts], min_count: int = 2) -> dict[str, tuple[float, float]]:
    """(z, δ) for each n-gram of ``group`` against the reference: the other groups' counts plus the
    general background, as expected counts of a corpus as large as the other groups' together
    (or ten times the group's when it has none). The prior is the pooled distribution with
    α_0 = min(PRIOR, the group's n-gram count): in a small sample it does not drown the evidence."""
    lang = group.language
    out: dict[str, tuple[float, float]] = {}
    for n in (1, 2, 3):
        n_i = group.tokens[n]
        if not n_i:
            continue
        ref_n = sum(r.tokens[n] for r in reference)
        bg_n = max(ref_n, 10 * n_i)
        n_j = ref_n + bg_n
        alpha_0 = min(PRIOR, n_i)  # a prior never weightier than the group's own evidence
        for key, y_i in group.freq.items():
            if key.count(" ") != n - 1 or y_i < min_count:
                continue
            y_ref = sum(r.freq.get(key, 0) for r in reference)
            y_j = y_ref + _bg_prob(key, lang) * bg_n
            alpha_w = alpha_0 * (y_i + y_j) / (n_i + n_j)
            delta, z = log_odds(y_i, n_i, y_j, n_j, alpha_w, alpha_0)
            out[key] = (z, delta)
    return out


# --- the analysis ------------------------------------------------------------------------------


@dataclass
class Term:
    term: str  # the group's most frequent surface form
    lemmas: str
    z: float
    count: int
    docs: int
    contexts: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"term": self.term, "lemmas": self.lemmas, "z": round(self.z, 2), "count": self.count,
                "docs": self.docs, "contexts": self.contexts}


@dataclass
class Analysis:
    segment: str
    language: str
    docs: int
    sentences: int
    reference: list[str]
    terms: list[Term]
    concepts: dict[str, list[Term]]
    avoid: list[dict[str, Any]]
    tone: dict[str, Any]

    def public(self) -> dict[str, Any]:
        return {
            "segment": self.segment, "language": self.language, "documents": self.docs,
            "sentences": self.sentences, "reference": self.reference,
            "terms": [t.public() for t in self.terms],
            "concepts": {c: [t.public() for t in ts] for c, ts in self.concepts.items()},
            "avoid": self.avoid, "tone": self.tone,
        }


def anchors_for(ws, segment_id: str, language: str) -> dict[str, frozenset[str]]:
    """Each key concept's anchor lemmas in ``language``: the content words of its name and
    description (in English) and of the other segments' terms for it. The group's own hand-written
    term is left out: the analysis is to find it, not to be told it."""
    stop = stopwords(language)
    out: dict[str, frozenset[str]] = {}
    for k in ws.core.key_concepts:
        texts = [k.name, k.description] if language == "en" else []
        texts += [s.vocabulary.concepts[k.id] for s in ws.segments
                  if s.id != segment_id and s.language == language and k.id in s.vocabulary.concepts]
        words = {lemma_of(m.group(), language) for t in texts for m in TOKEN.finditer(t) if not m.group()[0].isdigit()}
        out[k.id] = frozenset(w for w in words if w not in stop and len(w) > 2)
    return out


def keep_words(ws) -> list[str]:
    """What the scrubber must leave alone: the company's name and the segments' own terms."""
    words = [ws.core.company]
    for s in ws.segments:
        words += list(s.vocabulary.use) + list(s.vocabulary.concepts.values())
    return words


def analyse_segment(ws, seg, group_docs: Callable[[], Iterable[str]], samples: Path, top: int):
    """``analyse`` for a workspace's segment: the reference is the other segments' samples in the
    same language, the anchors and the other segments' terms for each concept come from the
    workspace, and the company's name and the segments' terms are left alone by the scrub."""
    refs = {s.id: (lambda d=samples / s.id: documents([d])) for s in ws.segments
            if s.id != seg.id and s.language == seg.language and (samples / s.id).is_dir()}
    others: dict[str, dict[str, list[str]]] = {}
    for k in ws.core.key_concepts:
        for s in ws.segments:
            if s.id != seg.id and s.language == seg.language and k.id in s.vocabulary.concepts:
                others.setdefault(k.id, {}).setdefault(f"segment {s.id}", []).append(s.vocabulary.concepts[k.id])
    return analyse(group_docs, seg.language, seg.id, refs, anchors_for(ws, seg.id, seg.language), others,
                   keep_words(ws), top=top)


def analyse(group_docs: Callable[[], Iterable[str]], language: str, segment: str,
            references: dict[str, Callable[[], Iterable[str]]] | None = None,
            anchors: dict[str, frozenset[str]] | None = None, others: dict[str, dict[str, list[str]]] | None = None,
            keep: Iterable[str] = (), top: int = 40, concept_top: int = 5) -> Analysis:
    """Count the group's documents and the references', score, and gather contexts for what is proposed.

    ``group_docs`` and each reference are callables returning a fresh iterable (documents are
    read twice: counts, then contexts for the proposed terms only). ``others``: concept id →
    the other groups' and the company's terms for it, for avoid candidates.
    """
    keep = tuple(keep)
    group = count(group_docs(), language, anchors, keep)
    refs = {name: count(docs(), language, None, keep) for name, docs in (references or {}).items()}
    scores = score(group, list(refs.values()))
    ranked = sorted(((z, k) for k, (z, _) in scores.items() if z > 1.96 and group.df[k] >= 2), reverse=True)
    terms = _dedupe([k for _, k in ranked], scores, top, group.freq)
    concept_terms: dict[str, list[str]] = {}
    for cid, freq in group.concept_freq.items():
        n_c = sum(freq.values())
        n_rest = sum(group.freq.values()) - n_c
        zs = []
        for key, y in freq.items():
            if y < 2 or key not in scores or anchors and key in anchors.get(cid, ()):
                continue
            rest = group.freq[key] - y
            alpha_w = PRIOR * group.freq[key] / max(1, sum(group.freq.values()))
            _, z = log_odds(y, n_c, rest, n_rest, alpha_w, PRIOR)
            if z > 0.3:
                # association with the concept, boosted by how much the term is the group's own
                own = max(0.0, scores[key][0])
                zs.append((z + 0.5 * math.log1p(own) + 0.3 * key.count(" "), key))
        concept_terms[cid] = _dedupe([k for _, k in sorted(zs, reverse=True)], scores, concept_top, freq)
    wanted = set(terms) | {k for ks in concept_terms.values() for k in ks}
    contexts = _contexts(group_docs(), language, wanted, keep)

    def mk(key: str) -> Term:
        return Term(group.form(key), key, scores[key][0], group.freq[key], group.df[key], contexts.get(key, []))

    avoid = _avoid(group, concept_terms, others or {}, mk)
    return Analysis(segment=segment, language=language, docs=group.docs, sentences=group.sentences,
                    reference=sorted(refs) + [f"general {language} frequency list (wordfreq)"],
                    terms=[mk(k) for k in terms], concepts={c: [mk(k) for k in ks] for c, ks in concept_terms.items()},
                    avoid=avoid, tone=tone_cues(group.tone, language))


def _dedupe(keys: list[str], scores: dict[str, tuple[float, float]], top: int,
            freq: Counter | None = None) -> list[str]:
    """The best keys, as phrases where the group says them as phrases: a longer n-gram that
    holds a chosen shorter one and carries at least half of its uses takes its place ("radiator"
    → "radiator network"); a shorter one inside a chosen longer one is kept only where the group
    uses it mostly on its own (twice as often as the phrase)."""
    freq = freq or Counter()
    chosen: list[str] = []

    def inside(small: str, big: str) -> bool:
        return small != big and f" {small} " in f" {big} "

    def overlaps(a: str, b: str) -> bool:
        x, y = a.split(" "), b.split(" ")
        return len(x) > 1 and len(y) > 1 and (x[1:] == y[:len(x) - 1] or y[1:] == x[:len(y) - 1])

    for k in keys:
        if k in chosen:
            continue
        if any(inside(k, c) and freq[k] < 2 * freq[c] for c in chosen):
            continue
        if any(overlaps(k, c) and freq[k] <= freq[c] for c in chosen):
            continue  # "ei nouse lämmityksen" after "nouse lämmityksen takia": one longer phrase, said once
        shorter = [c for c in chosen if inside(c, k) and freq[k] * 2 >= freq[c]]
        if shorter:
            at = chosen.index(shorter[0])
            chosen[at] = k
            chosen = [c for i, c in enumerate(chosen) if i == at or c not in shorter[1:]]
            continue
        if len(chosen) < top:
            chosen.append(k)
    return chosen[:top]


def _contexts(docs: Iterable[str], language: str, wanted: set[str], keep: tuple[str, ...],
              per_term: int = 3) -> dict[str, list[str]]:
    """Up to ``per_term`` scrubbed example sentences for each wanted key, from different documents."""
    out: dict[str, list[str]] = defaultdict(list)
    full = set()
    for doc in docs:
        if len(full) == len(wanted):
            break
        used: set[str] = set()
        for s in split(doc, language, keep):
            for key, _, _ in ngrams(s, language):
                if key in wanted and key not in full and key not in used:
                    out[key].append(s.text if len(s.text) <= 240 else s.text[:237] + "…")
                    used.add(key)
                    if len(out[key]) >= per_term:
                        full.add(key)
    return out


def _avoid(group: Counts, concept_terms: dict[str, list[str]], others: dict[str, dict[str, list[str]]],
           mk: Callable[[str], Term]) -> list[dict[str, Any]]:
    """Other groups' and the company's words for a concept that this group (nearly) never uses."""
    out = []
    seen = set()
    for cid, by_source in others.items():
        mine = concept_terms.get(cid) or []
        if not mine:
            continue
        for source, terms in by_source.items():
            for term in terms:
                key = " ".join(lemma_of(m.group(), group.language) for m in TOKEN.finditer(term))
                content = [w for w in key.split() if w not in stopwords(group.language)]
                if not content or key in seen:
                    continue
                used = max((group.freq.get(w, 0) for w in [key]), default=0)
                if used <= 1:
                    seen.add(key)
                    out.append({"term": term, "replacement": mk(mine[0]).term, "concept": cid,
                                "reason": f"{source}'s word; this group used it {used} time(s)", "used": used})
    return out


# --- tone --------------------------------------------------------------------------------------

FI_COLLOQUIAL = frozenset("mä sä mun sun mulle sulle meil teil toi noi joo kiva tosi ihan nii siis jotain "
                          "vähä oikeesti kans mut et ettei onks onko kyl kyllä".split())
EN_CONTRACTION = re.compile(r"\b\w+['’](?:t|s|re|ve|ll|d|m)\b", re.IGNORECASE)
EMOTICON = re.compile(r"[:;]-?[()DPp]|[\U0001F300-\U0001FAFF]")


def _tone_counts(t: Counter, doc: str, sents: list[Sentence], language: str) -> None:
    from pipeline.stages.check import matches

    t["docs"] += 1
    t["sentences"] += len(sents)
    for s in sents:
        words = [w for w in s.words if w]
        t["words"] += len(words)
        t["long_words"] += sum(len(w) >= 12 for w in words)
        if language == "fi":
            forms = lemma.address_forms(words, [i == 0 for i in range(len(words))])
            t["2sg"] += forms.count("2sg")
            t["2pl"] += forms.count("2pl")
            t["colloquial"] += sum(w.lower() in FI_COLLOQUIAL for w in words)
        else:
            t["you"] += sum(w.lower() in ("you", "your", "yours") for w in words)
            t["colloquial"] += len(EN_CONTRACTION.findall(s.text))
    t["exclamations"] += doc.count("!")
    t["questions"] += doc.count("?")
    t["emoticons"] += len(EMOTICON.findall(doc))
    t["hype"] += len(matches(doc, language, "hype"))


def tone_cues(t: Counter, language: str) -> dict[str, Any]:
    """The measured tone, and what it suggests for the segment's ``tone:`` fields."""
    sents = max(1, t["sentences"])
    words = max(1, t["words"])
    per_sentence = t["words"] / sents
    excl = t["exclamations"] / sents
    colloquial = (t["colloquial"] + t["emoticons"]) / words
    cues: dict[str, Any] = {
        "sentences": t["sentences"], "words_per_sentence": round(per_sentence, 1),
        "exclamations_per_sentence": round(excl, 3), "questions_per_sentence": round(t["questions"] / sents, 3),
        "hype_per_1000_words": round(1000 * t["hype"] / words, 2),
        "colloquial_per_100_words": round(100 * colloquial, 2),
        "long_words_per_100_words": round(100 * t["long_words"] / words, 2),
    }
    if language == "fi":
        cues["address_2sg"], cues["address_2pl"] = t["2sg"], t["2pl"]
        address = "te" if t["2pl"] > t["2sg"] else "sinä"
    else:
        cues["you_per_100_words"] = round(100 * t["you"] / words, 2)
        address = "you"
    formality = "casual" if colloquial > 0.02 or excl > 0.15 else (
        "formal" if t["long_words"] / words > 0.08 and colloquial < 0.005 else "neutral")
    energy = "lively" if excl > 0.12 or t["hype"] / words > 0.004 else ("calm" if excl < 0.03 else "steady")
    length = "short" if per_sentence < 9 else ("long" if per_sentence > 18 else "medium")
    cues["suggested"] = {"formality": formality, "address": address, "energy": energy, "sentence_length": length}
    return cues


# --- the suggestion file and --apply ----------------------------------------------------------


def suggestion(analysis: Analysis, segment) -> dict[str, Any]:
    """The reviewable suggestion: proposed terms with evidence, and a ``vocabulary`` block in the
    segment's own shape that ``--apply`` merges (only the terms a reviewer names, or all)."""
    have = {t.lower() for t in segment.vocabulary.use}
    use = [t.term for t in analysis.terms if t.term.lower() not in have][:15]
    concepts = {c: ts[0].term for c, ts in analysis.concepts.items() if ts}
    return {
        "segment": analysis.segment,
        "generated_by": "ladder vocab",
        "documents": analysis.docs,
        "reference": analysis.reference,
        "vocabulary": {
            "use": use,
            "avoid": [{"term": a["term"], "replacement": a["replacement"], "reason": a["reason"]}
                      for a in analysis.avoid],
            "concepts": concepts,
        },
        "tone": analysis.tone["suggested"],
        "evidence": {
            "terms": [t.public() for t in analysis.terms],
            "concepts": {c: [t.public() for t in ts] for c, ts in analysis.concepts.items()},
            "tone": {k: v for k, v in analysis.tone.items() if k != "suggested"},
        },
    }


def save_suggestion(root: Path, segment, analysis: Analysis) -> Path:
    """Write the segment's suggestion to segments/suggested/SEGMENT.yaml; returns its path."""
    path = root / "segments" / SUGGESTED_DIR / f"{segment.id}.yaml"
    with writing(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_suggestion(path, suggestion(analysis, segment))
    return path


def write_suggestion(path: Path, data: dict[str, Any]) -> None:
    from ruamel.yaml import YAML

    y = YAML()
    y.width = 120
    y.allow_unicode = True
    buf = io.StringIO()
    buf.write(f"# Suggested vocabulary for segment '{data['segment']}' from {data['documents']} document(s) of its\n"
              "# own texts (personal data scrubbed). Review, then merge what you choose with\n"
              f"#   ladder vocab {data['segment']} --apply TERM...   (or --apply-file this file)\n")
    y.dump(data, buf)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


class SuggestedVocabulary(Vocabulary):
    """The part of a suggestion file that ``--apply`` merges: terms in the segment's own shape,
    where a reviewer may have deleted the own terms."""

    use: list[NonEmpty] = []


class Suggestion(BaseModel):
    """A suggestion file as ``--apply`` reads it; the rest (evidence, tone) is for the reviewer."""

    model_config = ConfigDict(extra="ignore")
    vocabulary: SuggestedVocabulary


def read_suggestion(path: Path) -> SuggestedVocabulary:
    """The terms of a suggestion file a reviewer may have edited, read as the workspace's own
    files are; one that cannot be read as one is an InvalidWorkspace naming the file, the line
    and the key, every problem at once."""
    ld = Loader(path.parent)
    found = ld.model_from_yaml(path.name, Suggestion)
    if found is None:
        raise InvalidWorkspace([replace(p, file=str(path)) for p in ld.problems])
    return found.vocabulary


def apply_suggestion(root: Path, segment: str, source: Path | None = None,
                     terms: list[str] | None = None) -> tuple[Path, list[str]]:
    """Merge a suggestion file (default segments/suggested/SEGMENT.yaml) into the segment's
    YAML file: ``apply`` with the file's terms. Returns the segment's file and what was added."""
    source = source or root / "segments" / SUGGESTED_DIR / f"{segment}.yaml"
    if not source.exists():
        raise InvalidWorkspace([Problem(str(source), None, "", f"no suggestion file: run `ladder vocab {segment}` "
                                        "first")])
    target = next((p for p in (root / "segments" / f"{segment}.yaml", root / "segments" / f"{segment}.yml")
                   if p.exists()), None)
    if target is None:
        raise InvalidWorkspace([Problem(f"segments/{segment}.yaml", None, "",
                                        "the segment is not a YAML file (a sheet row): merge by hand")])
    return target, apply(target, read_suggestion(source).model_dump(), terms)


def apply(segment_path: Path, vocabulary: dict[str, Any], terms: list[str] | None = None) -> list[str]:
    """Merge proposed terms into the segment's YAML file, keeping its comments, order and quoting
    (ruamel.yaml round-trip). ``terms``: the ones to take (own terms, avoid terms or concept terms
    by their text); None takes all. Returns what was added. Existing entries are never changed;
    a concept that already has a term keeps it."""
    from ruamel.yaml import YAML

    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    raw = segment_path.read_text(encoding="utf-8")
    doc = y.load(raw)
    want = None if terms is None else {t.lower() for t in terms}

    def chosen(t: str) -> bool:
        return want is None or t.lower() in want

    vocab = doc.setdefault("vocabulary", {})
    added: list[str] = []
    use = vocab.setdefault("use", [])
    for t in vocabulary.get("use", []):
        if chosen(t) and t.lower() not in {u.lower() for u in use}:
            use.append(t)
            added.append(t)
    avoid_new = [a for a in vocabulary.get("avoid", []) if chosen(a["term"])]
    if avoid_new:
        avoid = vocab.setdefault("avoid", [])
        have = {str(a.get("term", "")).lower() for a in avoid}
        for a in avoid_new:
            if a["term"].lower() not in have:
                from ruamel.yaml.comments import CommentedMap

                entry = CommentedMap(term=a["term"], replacement=a["replacement"])
                if a.get("reason"):
                    entry["reason"] = a["reason"]
                entry.fa.set_flow_style()
                avoid.append(entry)
                added.append(a["term"])
    for cid, t in vocabulary.get("concepts", {}).items():
        if chosen(t):
            concepts = vocab.setdefault("concepts", {})
            if cid not in concepts:
                concepts[cid] = t
                added.append(t)
    if added:
        buf = io.StringIO()
        y.dump(doc, buf)
        tmp = segment_path.with_name(segment_path.name + ".tmp")
        tmp.write_text(buf.getvalue(), encoding="utf-8")
        tmp.replace(segment_path)
    return added


def report_html(analysis: Analysis, segment, core) -> str:
    """The reviewer's page for a suggestion, in the house style of the run report (self-contained,
    every text escaped)."""
    from pipeline.review.report import _env

    return _env().get_template("vocab.html.j2").render(
        a=analysis, segment_name=segment.name, have={t.lower() for t in segment.vocabulary.use},
        concept_names={k.id: k.name for k in core.key_concepts}, current=dict(segment.vocabulary.concepts))
