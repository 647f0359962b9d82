"""The learned ladder reader: the shipped model loads and reads offline, the gate's levels, the
rebuild reproduces the committed model's cross-validated figures, and the judge benchmark runs
against a scripted OpenAI-protocol server on loopback.

The real labelled copy (``../shared/data``) is third-party text: the tests that need it read it
from there and skip when it is absent; no test holds any of it. The judge benchmark's texts are
written by the test itself."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from openai_server import ScriptedOpenAI
from pipeline.lang import privacy
from pipeline.stages import reader, reader_train
from pipeline.stages.classify import classify, classify_rules

ROOT = Path(__file__).resolve().parents[1]
REAL = reader_train.real_data_paths()[0]


def test_the_shipped_model_loads_and_reads_offline():
    model = reader.model()
    assert model is not None and set(model.data["languages"]) == {"en", "fi"}
    assert reader.MODEL_FILE.stat().st_size < 5_000_000
    assert all(re.fullmatch(r"bias|(sig|rule|rule_raw|rule_primary|shape|h|emb|fit):.*", k) for k in model.weights)
    for body, lang in (("Our customers rate us 4.8 out of 5, and every repair comes with a two-year guarantee.", "en"),
                       ("Uusi sovellus on nyt saatavilla verkkokaupassamme.", "fi")):
        reading = classify(body, lang)
        assert reading.reader == "learned"
        assert abs(sum(reading.probabilities.values()) - 1) < 1e-3
        assert reading.primary_step == max(reading.probabilities, key=reading.probabilities.get)
        assert reading.evidence == classify_rules(body, lang).evidence  # the evidence is the signals'


def test_finnish_texts_are_read_with_the_folded_word_vectors():
    """The model carries the Finnish vectors folded into its weights (rows × 5): a Finnish text,
    even one of forms no list holds, gets the five ``fit`` features; an English one none."""
    model = reader.model()
    assert model.vectors is not None and model.vectors.table.shape == (model.vectors.spec.rows, 5)
    body = "Laskutusohjelmistomme säästää yrittäjien aikaa."
    feats = model.features(body, "fi", reader_train.rules_reading(body, "fi"))
    fit = [v for k, v in feats.items() if k.startswith("fit:")]
    assert len(fit) == 5 and max(abs(v) for v in fit) > 1e-3
    english_body = "Our invoicing saves founders time."
    english = model.features(english_body, "en", reader_train.rules_reading(english_body, "en"))
    assert not any(k.startswith("fit:") for k in english)


def test_floret_hashing_matches_spacys():
    """The hashing ladder reads with is floret's as spaCy implements it: the same vector for a word
    from ladder's rows as from spaCy's own lookup in the package's table."""
    pytest.importorskip("spacy_fi_experimental_web_md", reason="the train extra brings it (pip install -e '.[test]')")
    import numpy as np
    from spacy.strings import StringStore
    from spacy.vectors import Vectors

    full = reader_train.fi_vectors()
    theirs = Vectors(strings=StringStore()).from_disk(Path(full.table.filename).parent)
    for word in ("kissa", "asiakkaillemme", "säästää", "Hinta", "ä"):
        ours = np.asarray(full.table[list(reader.floret_rows(word, full.spec))]).mean(0)
        assert np.abs(ours - theirs.get_batch([word])[0]).max() < 1e-5, word
    table = np.random.RandomState(0).rand(1000, 8).astype("float32")  # every hash count floret allows
    for count in (1, 2, 3, 4):
        spec = reader.Floret(rows=1000, hash_count=count)
        theirs = Vectors(strings=StringStore(), data=table, mode="floret", minn=spec.minn, maxn=spec.maxn,
                         hash_count=count, hash_seed=spec.seed, bow="<", eow=">")
        for word in ("kissa", "asiakkaillemme"):
            ours = table[list(reader.floret_rows(word, spec))].mean(0)
            assert np.abs(ours - theirs.get_batch([word])[0]).max() < 1e-5, (count, word)


@pytest.mark.parametrize("body, lang, spans", [
    ("Our skis are lighter than the rental ones, and unlike big-box stores we fit them.", "en",
     {"lighter than", "unlike", "big-box"}),
    ("Miksi valita meidät? Palvelumme on edullisempi kuin tavanomaiset ratkaisut.", "fi",
     {"Miksi valita", "edullisempi kuin", "tavanomaiset"}),
])
def test_a_comparison_with_the_alternatives_is_differentiation_evidence(body, lang, spans):
    """The rubric's step 4 sets an alternative against the offer: a comparative with than/kuin,
    the average or conventional way, big-box or off-the-shelf, "why choose us"."""
    assert set(classify_rules(body, lang).evidence[4]) == spans


@pytest.mark.parametrize("body, lang, spans", [
    ("Tyytyväisyystakuu: jos et ole tyytyväinen, hyvitämme. Bonusohjelma kanta-asiakkaille.", "fi",
     {"Tyytyväisyystakuu", "hyvitämme", "Bonusohjelma", "kanta-asiakkaille"}),
    ("Risk-free for 30 days, with service credits if we miss the uptime. Thank you to our members.", "en",
     {"Risk-free", "service credits", "Thank you to", "our members"}),
])
def test_guarantees_in_compounds_and_thanks_are_delivery_evidence(body, lang, spans):
    assert set(classify_rules(body, lang).evidence[5]) == spans


@pytest.mark.parametrize("body, lang", [("We have served more than 200 customers, faster than ever.", "en"),
                                        ("Palvelemme nopeammin kuin koskaan.", "fi")])
def test_more_than_a_number_or_than_ever_compares_with_no_alternative(body, lang):
    assert classify_rules(body, lang).evidence[4] == []


def test_a_guarantee_reads_as_delivery():
    reading = classify("Every repair comes with a two-year guarantee and a full refund if it fails again. "
                       "Our customers rate us 4.8 out of 5.", "en")
    assert reading.primary_step == 5


@pytest.mark.parametrize("probs, target, level", [
    ({1: 0.9, 2: 0.05, 3: 0.03, 4: 0.01, 5: 0.01}, 4, "error"),   # confidently below the target
    ({1: 0.45, 2: 0.1, 3: 0.4, 4: 0.03, 5: 0.02}, 3, "suggestion"),  # likely below, not confidently
    ({1: 0.05, 2: 0.1, 3: 0.7, 4: 0.1, 5: 0.05}, 3, None),
    ({1: 0.05, 2: 0.05, 3: 0.1, 4: 0.1, 5: 0.7}, 2, "warning"),   # two or more above: not a failure
    ({1: 0.9, 2: 0.05, 3: 0.03, 4: 0.01, 5: 0.01}, 1, None),      # nothing is below step 1
])
def test_the_gate(probs, target, level):
    assert reader.gate(probs, target, reader.GateThresholds(0.8)) == level


def test_a_draft_fairly_surely_two_steps_short_is_an_error():
    probs = {1: 0.72, 2: 0.02, 3: 0.06, 4: 0.15, 5: 0.05}  # 80 % below step 4, 74 % at step 2 or below
    assert reader.gate(probs, 4, reader.GateThresholds(0.9)) == "suggestion"  # the second rule off
    assert reader.gate(probs, 4, reader.GateThresholds(0.9, 0.7)) == "error"
    assert reader.gate(probs, 4, reader.GateThresholds(0.9, 0.75)) == "suggestion"
    assert reader.gate(probs, 2, reader.GateThresholds(0.9, 0.0)) == "suggestion"  # nothing is two below step 2
    assert reader.sureness(probs, 4, reader.GateThresholds(0.9, 0.7)) == "74% sure it reads at step 2 or below"
    assert reader.sureness(probs, 4, reader.GateThresholds(0.8, 0.7)) == "80% sure it reads below step 4"
    # the second rule needs the draft to read below its target most likely: not when the target leads
    level = {1: 0.24, 2: 0.24, 3: 0.24, 4: 0.0, 5: 0.28}
    assert reader.gate(level, 5, reader.GateThresholds(0.9, 0.7)) is None


def test_a_model_file_with_one_gate_threshold_keeps_the_old_gate(monkeypatch):
    data = reader.model().data
    assert reader.GateThresholds.shipped() == reader.GateThresholds(data["gate"]["error_below"],
                                                                    data["gate"]["error_two_below"])
    monkeypatch.setitem(data, "gate", {"error_below": 0.83})  # a model file written before the second rule
    old = reader.GateThresholds.shipped()
    assert old == reader.GateThresholds(0.83) and old.two_below > 1  # the second rule off
    probs = {1: 0.72, 2: 0.02, 3: 0.06, 4: 0.15, 5: 0.05}
    assert reader.gate(probs, 4) == "suggestion" and reader.gate(probs, 5) == "error"
    monkeypatch.setitem(data, "gate", {})
    assert reader.GateThresholds.shipped() == reader.GateThresholds()


def test_the_thresholds_chosen_are_the_best_the_gate_itself_allows(monkeypatch):
    """choose_thresholds (vectorised) against simulate_gate (every decision through reader.gate)
    over a small grid: the same pick, false rejections within 5 %."""
    import numpy as np

    rng = np.random.default_rng(3)
    y = rng.integers(1, 6, 120)
    proba = rng.dirichlet(np.ones(5) * 0.6, 120)
    proba[np.arange(100), y[:100] - 1] += 3.0  # most texts read right, some noise
    proba /= proba.sum(axis=1, keepdims=True)
    monkeypatch.setattr(reader_train, "GATE_GRID", (0.3, 0.5, 0.7, 0.8, 0.9, 0.95))
    monkeypatch.setattr(reader_train, "TWO_BELOW_GRID", (0.3, 0.5, 0.7, 0.9, 1.01))
    picked = reader_train.choose_thresholds(proba, y)
    figures = {(b, t): reader_train.simulate_gate(proba, y, reader.GateThresholds(b, t))
               for b in reader_train.GATE_GRID for t in reader_train.TWO_BELOW_GRID}
    allowed = {k: f for k, f in figures.items() if f["false_rejection"] <= 0.05}
    assert allowed and figures[(picked.below, picked.two_below)]["false_rejection"] <= 0.05
    assert figures[(picked.below, picked.two_below)]["detection_below2"] == max(f["detection_below2"] for f in allowed.values())


def test_domains_stay_in_one_fold():
    groups = [reader_train.domain(u) for u in ("https://www.a.fi/x", "https://blog.a.fi/y", "https://b.co.uk/",
                                                "https://shop.b.co.uk/z", "https://c.com")]
    assert groups[:4] == ["a.fi", "a.fi", "b.co.uk", "b.co.uk"]
    folds = reader_train.group_folds(groups, k=2, seed=1)
    assert folds[0] == folds[1] and folds[2] == folds[3]


def test_training_targets_share_the_label_with_the_runner_up_and_the_neighbours():
    import numpy as np

    T = reader_train.targets(np.array([1, 3, 5, 2]), np.array([0, 4, 1, 0]), second_share=0.2, neighbour_share=0.1)
    assert np.allclose(T.sum(axis=1), 1)
    assert np.allclose(T[0], [0.9, 0.1, 0, 0, 0])  # step 1: one neighbour takes the whole share
    assert np.allclose(T[1], [0, 0.05, 0.72, 0.18 + 0.05, 0])  # runner-up 4 is also a neighbour
    assert np.allclose(T[2], [0.18, 0, 0, 0.1, 0.72])  # runner-up 1, neighbour 4
    assert T.argmax(axis=1).tolist() == [0, 2, 4, 1]  # the labelled step stays the target's top
    assert np.array_equal(reader_train.targets(np.array([2]), None, neighbour_share=0), [[0, 1, 0, 0, 0]])


@pytest.mark.skipif(not REAL.exists(), reason=f"the real labelled set is not at {REAL}")
def test_the_rebuild_reproduces_the_committed_figures(tmp_path):
    """bench/train_reader.py with the committed per-fold C (the inner search's choices):
    the same out-of-fold figures, the same gate thresholds and the same weights."""
    out = tmp_path / "model.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "train_reader.py"), "--fold-cs-from-model",
                          "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    committed = json.loads(reader.MODEL_FILE.read_text())
    rebuilt = json.loads(out.read_text())
    for scope in ("all", "en", "fi"):
        for k in ("exact", "within_one", "macro_f1"):
            assert rebuilt["cross_validated"][scope][k] == pytest.approx(committed["cross_validated"][scope][k], abs=0.005)
    assert rebuilt["gate"] == committed["gate"] and rebuilt["temperature"] == pytest.approx(committed["temperature"], abs=0.05)
    assert set(rebuilt["weights"]) == set(committed["weights"])
    some = sorted(committed["weights"])[::500]
    for k in some:
        assert rebuilt["weights"][k] == pytest.approx(committed["weights"][k], abs=1e-3)


# The judge benchmark: texts written here, one per step, and a scripted judge that reads steps 1–4
# right and calls the proof piece step 4.
OWN = [
    ("en", 1, "Brightdesk desk booking is now available for offices in Tampere."),
    ("en", 2, "Brightdesk lets you book a desk in ten seconds, so mornings start calmer."),
    ("en", 3, "Hybrid office managers: is Monday desk chaos back? Brightdesk sorts it before the rush."),
    ("en", 4, "Unlike spreadsheets and other booking tools, Brightdesk shows every free desk live."),
    ("fi", 5, "\"Varaaminen vie nyt sekunteja\", kertoo asiakkaamme Liisa Laine Brightdeskistä."),
]
SCRIPT = {1: 1, 2: 2, 3: 3, 4: 4, 5: 4}


def judge_reply(body):
    prompt = body["messages"][-1]["content"]
    assert "decided in this order" in prompt or "ratkaistaan tässä järjestyksessä" in prompt  # the rubric's order
    draft = prompt.split('"""')[1].strip()
    gold = next(step for _, step, text in OWN if privacy.scrub(text) == draft)  # the judge sees names scrubbed
    primary = SCRIPT[gold]
    steps = [{"step": s, "quotes": [draft[:12]] if s == primary else [], "score": 80 if s == primary else 5}
             for s in range(1, 6)]
    return json.dumps({"steps": steps, "primary_step": primary})


def test_the_judge_benchmark_runs_against_a_scripted_server(tmp_path):
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({"id": f"t{i}", "language": lang, "step": step, "text": text,
                                        "source_url": f"https://example{i}.test/"}) + "\n"
                            for i, (lang, step, text) in enumerate(OWN)), encoding="utf-8")
    with ScriptedOpenAI(judge_reply) as server:
        run = subprocess.run([sys.executable, str(ROOT / "bench" / "ladder_accuracy.py"), "--data", str(data),
                              "--skip-reader", "--judge-model", "judge-1", "--base-url", server.base_url],
                             capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert len(server.requests) == len(OWN)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["judge"]["all"]["exact"] == 0.8 and figures["judge"]["all"]["within_one"] == 1.0
    assert figures["judge"]["en"]["exact"] == 1.0 and figures["judge"]["fi"]["exact"] == 0.0
    assert {"keyword", "rules"} <= set(figures)
    assert "== LLM judge (judge-1)" in run.stdout


def test_reading_leaves_the_applications_logging_alone():
    """wordllama configures the root logger at import (INFO on stderr): every HTTP request of a
    run would be printed. The reader undoes that."""
    import logging
    import subprocess
    import sys

    code = ("import logging; from pipeline.stages import reader; reader.embedding('Warm homes all winter.'); "
            "root = logging.getLogger(); print(len(root.handlers), root.level)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", str(logging.WARNING)]


def test_the_learning_curve_trains_on_shares_of_the_domains():
    import numpy as np

    rng = np.random.default_rng(5)
    y = rng.integers(1, 6, 200)
    dicts = [{"bias": 1.0, f"f:{int(s)}": 1.0 + rng.normal(0, 0.5), f"n:{int(rng.integers(0, 9))}": 1.0} for s in y]
    groups = [f"site{i % 40}.fi" for i in range(200)]
    cv = {"rows": [{"language": "fi" if i % 2 else "en"} for i in range(200)], "y": y, "dicts": dicts,
          "targets": reader_train.targets(y), "groups": groups, "folds": reader_train.group_folds(groups),
          "extra": ([], np.zeros(0, dtype=int)), "Cs": [1.0] * 5}
    curve = reader_train.learning_curve(cv, shares=(0.25, 1.0), repeats=2)
    assert [p["share"] for p in curve] == [0.25, 1.0]
    assert curve[0]["real_texts"] == 40 and curve[1]["real_texts"] == 160  # 8 of 32 domains, then all, of 5 texts each
    full = np.zeros(200, dtype=int)
    for f in range(5):
        tr, te = np.where(cv["folds"] != f)[0], np.where(cv["folds"] == f)[0]
        full[te] = reader_train._train_split(dicts, cv["targets"], tr, cv["extra"], 1.0).logits([dicts[i] for i in te]).argmax(1) + 1
    assert curve[1]["exact"] == round(float((full == y).mean()), 3) > 0.5


def test_labelled_data_is_checked_and_every_problem_named(tmp_path):
    good = {"id": "a1", "language": "en", "step": 2, "second": None, "source_url": "https://a.example/x",
            "text": "Book a desk in ten seconds."}
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(good) + "\n\n" + json.dumps({**good, "id": "a2", "lang": "fi", "language": None,
                                                             "step": 3, "second": 2}) + "\n")
    two = tmp_path / "two.jsonl"
    two.write_text("\n".join([
        json.dumps({**good, "id": "b1", "step": 6}),
        "{not json",
        json.dumps({**good, "id": "a1"}),  # the same id as in one.jsonl
        json.dumps({**good, "id": "b4", "language": "sv", "second": 2, "text": " ", "source_url": None}),
        json.dumps(["a", "list"]),
    ]) + "\n")
    assert [r["id"] for r in reader_train.load_real([one])] == ["a1", "a2"]  # "lang" is read as language
    with pytest.raises(reader_train.DataProblems) as caught:
        reader_train.load_real([one, two])
    assert caught.value.problems == [
        f"{two}:1: step: 6, not a step 1–5",
        f"{two}:2: not JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{two}:3: id: 'a1' again (first at {one}:1)",
        f"{two}:4: text: missing or empty",
        f"{two}:4: language: 'sv', not 'en' or 'fi'",
        f"{two}:4: second: 2, not null or another step 1–5",
        f"{two}:4: source_url: missing (the folds are grouped by its web domain)",
        f"{two}:5: a labelled text is a JSON object, not list",
    ]


def test_the_trainer_refuses_bad_labelled_data_with_exit_2_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": 1, "language": "en", "step": 0, "text": "x", "source_url": "https://a.fi"}) + "\n")
    out = tmp_path / "model.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "train_reader.py"), "--data", str(bad), "--data",
                          str(tmp_path / "none.jsonl"), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and f"no labelled data at {tmp_path / 'none.jsonl'}" in run.stderr
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "train_reader.py"), "--data", str(bad), "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert f"{bad}:1: step: 0, not a step 1–5" in run.stderr and "nothing was learned" in run.stderr
    assert "Traceback" not in run.stderr and not out.exists()
