"""The learned ladder reader: per-step probabilities weighed from the declarative signals.

``classify`` finds the signals (``ladder_signals.yaml``) and their evidence spans; this module
turns a text into a sparse feature vector and a small multinomial logistic regression, learned
from real published copy by ``bench/train_reader.py``, turns that into calibrated per-step
probabilities. Inference is plain Python (numpy for the folded vector table) over a committed JSON weights file
(``reader_model.json``): no training library at run time.

Features (all computed here, the same at training and run time):
- ``sig``: each signal's hit count (log-scaled), named by language, step and signal name;
- ``rule``: the rules' step strengths (0–1) and their primary step;
- ``lem`` / ``bi``: lemma unigrams and bigrams (Voikko base forms in Finnish), hashed;
- ``chr``: character 3–5-grams inside words, hashed;
- ``shape``: length, questions, quotes, figures, 2nd- and 1st-person rates;
- ``emb``: WordLlama's sentence vector (English-trained; it helps English most);
- ``fit``: Finnish word vectors (floret: a word's vector is the mean of hashed rows for the
  word and its character 4–5-grams, so unseen inflected forms get one too), averaged over the
  text. Training reads the 300-dimensional vectors of ``spacy-fi-experimental-web-md``; because
  the features and the model are both linear, the shipped model holds each hashed row already
  multiplied by its weights (rows × 5), so reading needs only the hashing (``mmh3``), not the
  vectors or spaCy.

Hashed features are stored as bucket numbers only (crc32 of the feature string modulo the
table size), so the model file holds no words of the texts it was learned from.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import re
import threading
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mmh3

from pipeline.lang import en, fi, lemma, text
from pipeline.workspace.models import STEPS as STEP_KEYS

MODEL_FILE = Path(__file__).parent / "reader_model.json"
STEPS = tuple(STEP_KEYS)  # 1..5, from the one declaration of the steps

YOU = {"en": en.YOU, "fi": fi.YOU}
WE = {"en": en.WE, "fi": fi.WE}
QUOTE = re.compile(r"[\"“”«»]")
DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class FeatureConfig:
    """What goes into the vector; the trainer writes it into the model file."""

    buckets: int = 1 << 14
    lemmas: bool = True
    bigrams: bool = True
    chars: tuple[int, int] | None = (3, 5)
    signals: bool = True
    rules: bool = True
    shape: bool = True
    embed: float = 1.0  # scale of the WordLlama sentence vector; 0 = not used
    fi_vectors: float = 0.0  # scale of the Finnish word-vector mean; 0 = not used

    def to_json(self) -> dict:
        return {"buckets": self.buckets, "lemmas": self.lemmas, "bigrams": self.bigrams,
                "chars": list(self.chars) if self.chars else None, "signals": self.signals,
                "rules": self.rules, "shape": self.shape, "embed": self.embed, "fi_vectors": self.fi_vectors}

    @classmethod
    def from_json(cls, d: dict) -> FeatureConfig:
        return cls(buckets=d["buckets"], lemmas=d["lemmas"], bigrams=d["bigrams"],
                   chars=tuple(d["chars"]) if d["chars"] else None, signals=d["signals"],
                   rules=d["rules"], shape=d["shape"], embed=d.get("embed", 0.0),
                   fi_vectors=d.get("fi_vectors", 0.0))


def _bucket(key: str, buckets: int) -> int:
    return zlib.crc32(key.encode("utf-8")) % buckets


def _l2(vec: dict, scale: float = 1.0) -> dict:
    norm = math.sqrt(sum(v * v for v in vec.values()))
    return {k: scale * v / norm for k, v in vec.items()} if norm else {}


def _lemma(word: str, language: str) -> str:
    forms = lemma.lemmas(word, language)
    return min(forms, key=lambda f: (len(f), f)) if forms else word.lower()


def features(body: str, language: str, cfg: FeatureConfig, rules, vectors: WordVectors | None = None) -> dict[str, float]:
    """Named dense features (``sig:…``, ``rule:…``, ``shape:…``) and hashed ones (``h:<bucket>``).
    ``rules``: the rules' (reading, raw strengths, hits), ``classify.rules_reading``: the reader
    reads on top of the rules, so it takes their reading rather than importing them.
    ``vectors``: the Finnish word vectors (the full ones at training, the model's folded ones
    when reading)."""
    out: dict[str, float] = {"bias": 1.0}
    reading, raw, found = rules
    if cfg.signals:
        counts: dict[str, int] = {}
        for h in found:
            key = f"sig:{language}:{h.step}:{h.signal}"
            counts[key] = counts.get(key, 0) + 1
        for key, n in counts.items():
            out[key] = math.log1p(n)
    if cfg.rules:
        for s in STEPS:
            out[f"rule:{s}"] = reading.step_scores[s] / 100
            out[f"rule_raw:{s}"] = min(raw[s], 4.0) / 4
        out[f"rule_primary:{reading.primary_step}"] = 1.0
    toks = text.tokens(body)
    words = [t.lower for t in toks]
    if cfg.shape:
        n = max(len(words), 1)
        out["shape:len"] = math.log1p(len(words)) / 6
        out["shape:questions"] = math.log1p(body.count("?"))
        out["shape:exclaims"] = math.log1p(body.count("!"))
        out["shape:quotes"] = math.log1p(len(QUOTE.findall(body)))
        out["shape:digits"] = math.log1p(len(DIGIT.findall(body))) / 3
        out["shape:percent"] = math.log1p(body.count("%"))
        out[f"shape:{language}:you"] = 10 * sum(w in YOU[language] for w in words) / n if language in YOU else 0.0
        out[f"shape:{language}:we"] = 10 * sum(w in WE[language] for w in words) / n if language in WE else 0.0
    hashed: dict[str, float] = {}
    if cfg.lemmas or cfg.bigrams:
        lems = [_lemma(w, language) for w in words]
        block: dict[int, float] = {}
        if cfg.lemmas:
            for lem in lems:
                b = _bucket(f"l|{language}|{lem}", cfg.buckets)
                block[b] = block.get(b, 0.0) + 1.0
        if cfg.bigrams:
            for a, b_ in zip(lems, lems[1:]):
                b = _bucket(f"b|{language}|{a}|{b_}", cfg.buckets)
                block[b] = block.get(b, 0.0) + 1.0
        for k, v in _l2({k: math.log1p(v) for k, v in block.items()}).items():
            hashed[f"h:{k}"] = hashed.get(f"h:{k}", 0.0) + v
    if cfg.chars:
        lo, hi = cfg.chars
        block = {}
        for w in words:
            padded = f" {w} "
            for n_ in range(lo, hi + 1):
                for i in range(len(padded) - n_ + 1):
                    b = _bucket(f"c|{language}|{padded[i:i + n_]}", cfg.buckets)
                    block[b] = block.get(b, 0.0) + 1.0
        for k, v in _l2({k: math.log1p(v) for k, v in block.items()}).items():
            hashed[f"h:{k}"] = hashed.get(f"h:{k}", 0.0) + v
    out.update(hashed)
    if cfg.fi_vectors and vectors is not None and language == "fi":
        out.update(vectors.text_features(words, cfg.fi_vectors))
    if cfg.embed:
        vec = embedding(body)
        if vec is not None:
            out.update({f"emb:{i}": cfg.embed * float(v) for i, v in enumerate(vec)})
    return out


@dataclass(frozen=True)
class Floret:
    """floret's hashing (as spaCy's floret-mode vectors do it): the word and its character
    n-grams, bracketed with ``<`` ``>``, each hashed by MurmurHash3 x64-128 into ``hash_count``
    rows of the table."""

    rows: int = 50000
    minn: int = 4
    maxn: int = 5
    hash_count: int = 2
    seed: int = 2166136261

    def to_json(self) -> dict:
        return {"rows": self.rows, "minn": self.minn, "maxn": self.maxn, "hash_count": self.hash_count, "seed": self.seed}


def floret_rows(word: str, spec: Floret) -> tuple[int, ...]:
    """The table rows of ``word``: for the word and each n-gram, the first ``hash_count`` of the
    four 32-bit words of its MurmurHash3 x64-128 (as spaCy reads them), modulo the rows."""
    return _rows_cached(word, spec) if len(word) <= 40 else _rows(word, spec)  # a long token: not kept


def _rows(word: str, spec: Floret) -> tuple[int, ...]:
    key = f"<{word}>"
    grams = [key] + [key[i:i + n] for n in range(spec.minn, spec.maxn + 1) for i in range(len(key) - n + 1)]
    out = []
    for g in grams:
        h = mmh3.hash128(g.encode("utf-8"), spec.seed, True, False)
        out += [(h >> (32 * i) & 0xFFFFFFFF) % spec.rows for i in range(spec.hash_count)]
    return tuple(out)


_rows_cached = lru_cache(maxsize=1 << 16)(_rows)


FI_VECTOR_NORM = 16.0  # about the mean length of a Finnish text's mean vector: scales it near 1


class WordVectors:
    """A floret table (rows × dims) and the feature prefix its dimensions are named with."""

    def __init__(self, table, spec: Floret, prefix: str):
        self.table, self.spec, self.prefix = table, spec, prefix

    def text_features(self, words: list[str], scale: float) -> dict[str, float]:
        """``scale`` × the mean over the text's words (those with a letter) of each word's vector
        (the mean of its rows), divided by ``FI_VECTOR_NORM``: linear in the table's rows."""
        rows: list[int] = []
        weights: list[float] = []
        words = [w for w in words if any(c.isalpha() for c in w)]
        for w in words:
            r = floret_rows(w, self.spec)
            rows += r
            weights += [1.0 / (len(r) * len(words))] * len(r)
        if not rows:
            return {}
        import numpy as np  # see Model: numpy comes with the first model read

        vec = (scale / FI_VECTOR_NORM) * (np.asarray(weights) @ self.table[np.asarray(rows)])
        return {f"{self.prefix}:{i}": float(v) for i, v in enumerate(vec)}


_wordllama = None
_wordllama_error: str | None = None
_wordllama_lock = threading.Lock()


def embedding(body: str):
    """WordLlama's 256-dimensional sentence vector (L2-normalised), or None without wordllama.
    It loads offline from the weights inside its own wheel (``cache_dir`` = the package folder)."""
    global _wordllama, _wordllama_error
    with _wordllama_lock:
        if _wordllama is None and _wordllama_error is None:
            root = logging.getLogger()
            handlers, level = list(root.handlers), root.level
            try:
                import wordllama
                from wordllama import WordLlama

                _wordllama = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
            except Exception as e:  # not installed, or its weights missing
                _wordllama_error = f"{type(e).__name__}: {e}"
            finally:  # wordllama calls logging.basicConfig(level=INFO) on import: every HTTP request
                # of the run would be logged on stderr. Configuring logging is the application's call.
                for handler in root.handlers[:]:
                    if handler not in handlers:
                        root.removeHandler(handler)
                root.setLevel(level)
    if _wordllama is None:
        return None
    vec = _wordllama.embed([body])[0]
    norm = float((vec * vec).sum()) ** 0.5
    return vec / norm if norm else vec


class Model:
    """A multinomial logistic regression over ``features``, with a temperature."""

    def __init__(self, data: dict):
        # numpy is imported here, with the first model read, not with this module: a command that
        # reads no text (validate, plan, report, a rerun that reuses every result) does not pay
        # its ~0.1 s import; in the per-text methods the import is a lookup in sys.modules
        import numpy as np

        self.data = data
        self.cfg = FeatureConfig.from_json(data["features"])
        self.temperature = float(data.get("temperature", 1.0))
        self.weights: dict[str, list[float]] = data["weights"]  # feature → one weight per step
        self._index = {k: i for i, k in enumerate(self.weights)}  # the same, as rows of a matrix
        self._matrix = np.asarray(list(self.weights.values()), dtype=np.float64).reshape(-1, 5)
        self.vectors: WordVectors | None = None
        folded = data.get("fi_vectors")
        if folded:  # rows × 5: each hashed row times the weights of the vector's dimensions
            table = np.frombuffer(base64.b64decode(folded["table"]), dtype="<f4").reshape(-1, 5)
            self.vectors = WordVectors(table, Floret(**folded["floret"]), "fit")

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> Model:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def features(self, body: str, language: str, rules) -> dict[str, float]:
        return features(body, language, self.cfg, rules, self.vectors)

    def logits(self, feats: dict[str, float]) -> list[float]:
        index = self._index
        known = [(index[k], v) for k, v in feats.items() if k in index]
        if not known:
            return [0.0] * 5
        import numpy as np

        rows, values = zip(*known, strict=True)
        return (np.asarray(values) @ self._matrix[list(rows)]).tolist()

    def proba(self, feats: dict[str, float]) -> list[float]:
        z = [x / self.temperature for x in self.logits(feats)]
        m = max(z)
        e = [math.exp(x - m) for x in z]
        s = sum(e)
        return [x / s for x in e]


@lru_cache(maxsize=1)
def model() -> Model | None:
    return Model.load() if MODEL_FILE.exists() else None


# --- the gate: when the check calls a draft's ladder step an error ----------------------------

@dataclass(frozen=True)
class GateThresholds:
    """When the ``ladder.step`` finding is an error: the reader's probability that the draft
    reads below its target is at least ``below``, or that it reads two or more steps below at
    least ``two_below`` (a bigger miss needs less certainty). The shipped model carries the pair
    picked on out-of-fold probabilities (``bench/train_reader.py``)."""

    below: float = 0.75
    two_below: float = 1.01  # above any probability: off

    @classmethod
    def shipped(cls) -> GateThresholds:
        m = model()
        g = m.data.get("gate", {}) if m else {}
        return cls(g.get("error_below", cls.below), g.get("error_two_below", cls.two_below))


# Probabilities are rounded sums: a threshold counts as reached within this much below it, in
# the gate and in the search that picks the thresholds alike.
EPS = 1e-9


def below(probabilities: dict[int, float], target: int, by: int = 1) -> float:
    """The probability that the text reads ``by`` or more steps below ``target``."""
    return sum(p for s, p in probabilities.items() if s <= target - by)


def gate(probabilities: dict[int, float], target: int, thresholds: GateThresholds | None = None) -> str | None:
    """The level of the ``ladder.step`` finding for a draft with these step probabilities.

    The ladder is cumulative (a piece that differentiates also says what the offer is and does),
    so only falling short is a failure: ``error`` when the reader is confident the draft reads
    below its target, or most likely reads below it and fairly surely two or more steps below
    (``GateThresholds``); ``warning`` when it most likely reads two or more steps
    above (it skips steps the reader has not climbed); ``suggestion`` when it most likely reads
    below but not confidently so; otherwise None.
    """
    t = thresholds or GateThresholds.shipped()
    primary = max(probabilities, key=lambda s: (probabilities[s], s))
    if below(probabilities, target) >= t.below - EPS or (
            primary < target and target >= 3 and below(probabilities, target, 2) >= t.two_below - EPS):
        return "error"
    if primary >= target + 2:
        return "warning"
    if primary < target:
        return "suggestion"
    return None


def sureness(probabilities: dict[int, float], target: int, thresholds: GateThresholds) -> str:
    """How sure the reader is that a draft falls short, for the finding's message: of reading two
    or more steps below where that rule made it an error, else of reading below the target."""
    short, far = below(probabilities, target), below(probabilities, target, 2)
    if short < thresholds.below - EPS and target >= 3:  # an error not by the first rule: by the second
        return f"{far:.0%} sure it reads at step {target - 2} or below"
    return f"{short:.0%} sure it reads below step {target}"
