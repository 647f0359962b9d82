"""The benchmarks run: every script in bench/ answers --help (its imports resolve against the
current layout), and the quick ones run on small sizes and end with their line of JSON, as
docs/benchmarks.md says. Their figures are not asserted here: tests never assert on speed."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (ROOT / "bench").glob("*.py")  # the scripts, not their data modules
                 if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))


def run(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_benchmark_answers_help(script):
    if script == "build_data.py" and importlib.util.find_spec("wordfreq") is None:
        pytest.skip("bench/build_data.py needs the data extra (pip install -e '.[data]')")
    done = run(f"bench/{script}", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


@pytest.mark.parametrize("args", [["bench/privacy.py", "--n", "5"], ["bench/lemma_accuracy.py"],
                                  ["bench/vocab_example.py", "--top", "10"]])
def test_the_quick_benchmarks_run_and_end_with_json(args):
    done = run(*args)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(figures, dict) and figures
