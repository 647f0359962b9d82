"""Lint runs inside the test suite, so CI (which runs exactly the README's test command) runs it:
ruff with pyproject.toml's [tool.ruff] configuration over the package, the tests and bench/."""

import shutil
import subprocess
import sys

import pytest

from conftest import REPO


def test_ruff_finds_nothing():
    ruff = shutil.which("ruff", path=str(REPO / ".venv" / "bin")) or shutil.which("ruff")
    command = [ruff] if ruff else [sys.executable, "-m", "ruff"]
    try:
        done = subprocess.run([*command, "check", "--config", str(REPO / "pyproject.toml"), "--no-cache",
                               "pipeline", "tests", "bench"], cwd=REPO, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    assert done.returncode == 0, done.stdout + done.stderr
