"""The CLI reference (docs/cli.md) is generated from the click commands and must not drift.

Regenerate with: LADDER_UPDATE_README=1 python -m pytest tests/test_readme.py
"""

import re

from click.testing import CliRunner

from conftest import REPO, assert_generated_block
from pipeline.cli import main

START = "<!-- cli-reference: generated from the click commands; tests/test_readme.py keeps it in step -->"
END = "<!-- /cli-reference -->"


def reference() -> str:
    out = []
    for name in [None, *sorted(main.commands)]:
        args = [name, "--help"] if name else ["--help"]
        text = CliRunner().invoke(main, args, prog_name="ladder", terminal_width=100).output
        out.append(f"## ladder {name or ''}".rstrip() + f"\n\n```\n{text.rstrip()}\n```\n")
    return "\n".join(out)


def test_cli_reference_is_current():
    assert_generated_block(REPO / "docs" / "cli.md", START, END, reference(), "tests/test_readme.py")


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    command = next(line for line in ci.splitlines() if "pytest" in line and not line.startswith("#"))
    assert f"```bash\n{command}\n```" in (REPO / "README.md").read_text(encoding="utf-8")


def test_readme_links_resolve():
    """The README is the front door: every docs/ page it links to is there."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\((docs/[^)#]+)\)", text)
    assert links and all((REPO / link).is_file() for link in links), [link for link in links if not (REPO / link).is_file()]
