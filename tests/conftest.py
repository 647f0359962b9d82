from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.lang import lemma
from pipeline.workspace import settings

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
SECRET = "sk-test-5ecret-never-written-anywhere"


@pytest.fixture(autouse=True)
def hermetic(monkeypatch, tmp_path):
    """No key, endpoint or model from the developer's environment leaks into a test."""
    for var in (*settings.ENV.values(), *settings.OTHER_ENV):  # every variable ladder reads, from its declaration
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LADDER_BACKOFF", "0.01")  # retries in tests wait milliseconds
    monkeypatch.chdir(tmp_path)


def make_workspace(dest: Path, base: str | Path = "base", files: dict[str, str] | None = None) -> Path:
    """A project in a fixture: copy a base workspace, then write ``files`` over it."""
    src = REPO if base == "example" else FIXTURES / base
    for name in ("ladder.yaml", "channels.yaml"):
        shutil.copy(src / name, dest / name)
    for folder in ("segments", "prompts", "templates"):
        if (src / folder).is_dir():
            shutil.copytree(src / folder, dest / folder, dirs_exist_ok=True)
    for rel, text in (files or {}).items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return dest


@pytest.fixture
def workspace(tmp_path) -> Path:
    return make_workspace(tmp_path)


@pytest.fixture
def cli():
    def invoke(*args: str, **kw):
        return CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)

    return invoke


needs_voikko = pytest.mark.skipif(lemma.backend("fi") != "voikko",
                                  reason=f"Voikko not available: {lemma.fallback_reason()} (apt-get install libvoikko1 voikko-fi)")


@pytest.fixture
def no_voikko(monkeypatch):
    """Run as on a machine without Voikko."""
    monkeypatch.setenv("LADDER_VOIKKO", "0")
    lemma.reset()
    yield
    lemma.reset()  # the next test finds Voikko again


def run_dirs(workspace: Path) -> list[Path]:
    """The run folders under outputs/ (beside them: ladder.db, the cache and call log)."""
    runs = [p for p in (workspace / "outputs").iterdir() if p.is_dir()]
    return sorted(runs, key=lambda p: (p / "manifest.json").stat().st_mtime_ns)  # in the order they ran


def assert_generated_block(doc: Path, start: str, end: str, fresh: str, test_file: str) -> None:
    """A generated block of ``doc`` between ``start`` and ``end`` must equal ``fresh``;
    LADDER_UPDATE_README=1 writes it instead."""
    import os
    import re

    text = doc.read_text(encoding="utf-8")
    block = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    wanted = f"{start}\n{fresh}{end}"
    if os.environ.get("LADDER_UPDATE_README"):
        doc.write_text(block.sub(lambda m: wanted, text), encoding="utf-8")
    assert block.search(text).group(0) == wanted, f"run: LADDER_UPDATE_README=1 python -m pytest {test_file}"
