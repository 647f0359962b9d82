"""Model settings are declared once (``ModelSettings`` in pipeline/workspace/models.py, each with
its environment variable and flag): the flags, the environment, the docs and the tests' hermetic
fixture follow that declaration, and this holds them to it.

Regenerate docs/settings.md with: LADDER_UPDATE_README=1 python -m pytest tests/test_settings.py
"""

import re

import click

from conftest import REPO, assert_generated_block
from pipeline.cli import main
from pipeline.workspace import settings

START = "<!-- settings: generated from ModelSettings; tests/test_settings.py keeps it in step -->"
END = "<!-- /settings -->"


def test_docs_settings_table_is_current():
    assert_generated_block(REPO / "docs" / "settings.md", START, END, settings.reference(), "tests/test_settings.py")


def test_every_declared_flag_is_an_option_of_run_naming_its_variable():
    options = {opt: p for p in main.commands["run"].params if isinstance(p, click.Option) for opt in p.opts}
    for name, flag in settings.FLAGS.items():
        assert flag in options, f"{name}: `ladder run` has no {flag}"
        assert options[flag].name == name, f"{flag} sets {options[flag].name}, not {name}"
        if name in settings.ENV:
            assert f"[env: {settings.ENV[name]}]" in (options[flag].help or ""), f"{flag}'s help does not name its variable"


def test_every_variable_a_help_names_is_declared():
    known = {*settings.ENV.values(), *settings.OTHER_ENV}
    for command in main.commands.values():
        for p in command.params:
            for var in re.findall(r"\[env: ([A-Z_]+)\]", getattr(p, "help", None) or ""):
                assert var in known, f"`ladder {command.name}` {p.opts}: {var} is not declared in ModelSettings"


def test_every_variable_the_code_reads_is_declared():
    """The tests' fixture clears what the declaration names: a variable read but not declared
    would leak a developer's environment into the tests."""
    known = {*settings.ENV.values(), *settings.OTHER_ENV}
    named = {(path.relative_to(REPO).as_posix(), var) for folder in ("pipeline", "bench")
             for path in (REPO / folder).rglob("*.py")
             for var in re.findall(r"[\"'](LADDER_[A-Z_]+)[\"']", path.read_text(encoding="utf-8"))}
    assert {var for _, var in named} >= {"LADDER_VOIKKO", "LADDER_REAL_DATA"}  # the scan finds them
    assert not [(f, v) for f, v in named if v not in known]
