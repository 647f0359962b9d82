"""Bad workspace-side input: every case exits 2 (3 for a full disk) with a message that names the
file, and its line and key where it has them; never a traceback, never a hang.

Each case builds a small workspace from the base fixture, applies one bad input (files written
over it, a setup step, environment variables, stdin) and runs one command that fails before any
model call. Cases on a run's files (report, compare, export) start from one scripted run.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import FIXTURES, make_workspace, run_dirs
from pipeline.cli import main
from pipeline.model import server

CFO = (FIXTURES / "base" / "segments" / "cfo.yaml").read_text(encoding="utf-8")
CORE = (FIXTURES / "base" / "segments" / "core.yaml").read_text(encoding="utf-8")
CHANNELS = (FIXTURES / "base" / "channels.yaml").read_text(encoding="utf-8")
LADDER = (FIXTURES / "base" / "ladder.yaml").read_text(encoding="utf-8")
REPO = Path(__file__).resolve().parent.parent
EMAIL = (REPO / "templates" / "email.md.j2").read_text(encoding="utf-8")
SYSTEM_EN = (REPO / "prompts" / "en" / "system.j2").read_text(encoding="utf-8")


def cfo(old: str, new: str) -> str:
    assert old in CFO, old
    return CFO.replace(old, new, 1)


def laughs(levels: int) -> str:
    """The 'billion laughs': each level an alias list of nine of the level before."""
    names = [chr(ord("a") + i) for i in range(levels + 1)]
    out = 'name: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for prev, cur in zip(names, names[1:]):
        out += f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]\n"
    return out


@dataclass
class Case:
    id: str
    args: tuple[str, ...]  # "{ws}": the workspace, "{tmp}": the test's own folder (the working directory)
    expect: tuple[str, ...]  # in stdout + stderr, after the same substitutions
    files: dict[str, str | bytes] = field(default_factory=dict)  # written over the workspace
    setup: Callable[[Path], None] | None = None  # gets the workspace
    env: dict[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    code: int = 2
    absent: tuple[str, ...] = ()
    needs_run: bool = False


CASES: list[Case] = []


def case(id: str, args: str | tuple, *expect: str, **kw) -> None:
    CASES.append(Case(id, tuple(args.split()) if isinstance(args, str) else args, expect, **kw))


VALIDATE = "validate -w {ws}"
ESTIMATE = "plan --estimate -w {ws}"


def link(rel: str, target: str | Callable[[Path], Path]) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        path.symlink_to(target(ws) if callable(target) else target)

    return setup


def outside(ws: Path) -> Path:
    """A readable file outside the workspace."""
    secret = ws.parent / "secret.yaml"
    secret.write_text(CFO, encoding="utf-8")
    return secret


def folder(rel: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / rel
        if path.is_file():
            path.unlink()
        path.mkdir(parents=True, exist_ok=True)

    return setup


def remove(rel: str) -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        path = ws / rel
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return setup


def a_file(rel: str, text: str = "x") -> Callable[[Path], None]:
    def setup(ws: Path) -> None:
        (ws.parent / rel).write_text(text, encoding="utf-8")

    return setup


# --- YAML: bytes and structures the parser must refuse, fast ------------------------------------

case("yaml-nul-byte-in-segment", VALIDATE, "segments/cfo.yaml:4: a NUL byte",
     files={"segments/cfo.yaml": cfo("role: prospect", "role: pros\0pect")})
case("yaml-date-that-does-not-exist", VALIDATE, "segments/cfo.yaml:4: '2024-02-30' cannot be read",
     "put it in quotes", files={"segments/cfo.yaml": cfo("role: prospect", "role: 2024-02-30")})
case("yaml-nul-byte-in-ladder", VALIDATE, "ladder.yaml:3: a NUL byte", files={"ladder.yaml": LADDER + "\0\n"})
case("yaml-bell-in-channels", VALIDATE, "channels.yaml:3: the control character U+0007",
     files={"channels.yaml": CHANNELS.replace("name: Email", "name: Em\aail", 1)})
case("yaml-escape-in-core", VALIDATE, "segments/core.yaml:1: the control character U+001B",
     files={"segments/core.yaml": CORE.replace("Testi Oy", "Testi\x1b[31m Oy", 1)})
case("yaml-delete-char", VALIDATE, "segments/cfo.yaml:2: the control character U+007F",
     files={"segments/cfo.yaml": cfo("Finance", "Fin\x7fance")})
case("yaml-recursive-alias-list", VALIDATE, "segments/cfo.yaml:", "recursive alias",
     files={"segments/cfo.yaml": CFO + "needs: &n [a, *n]\n".replace("needs", "objections")})
case("yaml-recursive-alias-mapping", VALIDATE, "segments/cfo.yaml:", "recursive alias",
     files={"segments/cfo.yaml": CFO + "objections: &o\n  again: *o\n"})
case("yaml-recursive-alias-ladder", VALIDATE, "ladder.yaml:3: recursive alias",
     files={"ladder.yaml": LADDER + "model: &m {prices: *m}\n"})
case("yaml-5000-deep-flow", VALIDATE, "segments/cfo.yaml:", "nested more than 100 levels deep",
     files={"segments/cfo.yaml": CFO + "objections: " + "[" * 5000 + "]" * 5000 + "\n"})
case("yaml-5000-deep-block-dashes", VALIDATE, "segments/cfo.yaml:19: nested more than 100 levels deep",
     files={"segments/cfo.yaml": CFO + "objections:\n" + "- " * 5000 + "x\n"})
case("yaml-150-deep-mappings", VALIDATE, "channels.yaml:", "nested more than 100 levels deep",
     files={"channels.yaml": CHANNELS + "".join("  " * i + f"k{i}:\n" for i in range(150))})
case("yaml-5000-deep-flow-mappings", VALIDATE, "segments/core.yaml:", "nested more than 100 levels deep",
     files={"segments/core.yaml": CORE + "extra: " + "{a: " * 5000 + "}" * 5000 + "\n"})
case("yaml-billion-laughs-9-levels", VALIDATE, "segments/cfo.yaml:", "aliases expand to more than 10,000 values",
     files={"segments/cfo.yaml": laughs(9)})
case("yaml-billion-laughs-5-levels", VALIDATE, "aliases expand to more than 10,000 values",
     files={"segments/cfo.yaml": laughs(5)})
case("yaml-billion-laughs-in-ladder", VALIDATE, "ladder.yaml:", "aliases expand to more than 10,000 values",
     files={"ladder.yaml": laughs(9)})
case("yaml-billion-laughs-mappings", VALIDATE, "channels.yaml:", "aliases expand to more than 10,000 values",
     files={"channels.yaml": "a: &a {x: 1, y: 2, z: 3, w: 4, v: 5, u: 6, t: 7, s: 8, r: 9}\n"
            + "".join(f"{c}: &{c} {{" + ", ".join(f"k{i}: *{p}" for i in range(9)) + "}\n"
                      for p, c in zip("abcdefgh", "bcdefghi"))})
case("yaml-latin1-segment", VALIDATE, "segments/cfo.yaml:2: not UTF-8 text",
     files={"segments/cfo.yaml": cfo("Finance directors", "Talousjohtajat ä").encode("latin-1")})
case("yaml-latin1-ladder", VALIDATE, "ladder.yaml:3: not UTF-8 text", "save the file as UTF-8",
     files={"ladder.yaml": (LADDER + "name: Kampanja ö\n").encode("latin-1")})
case("yaml-utf16-core", VALIDATE, "segments/core.yaml:1: not UTF-8 text",
     files={"segments/core.yaml": CORE.encode("utf-16")})
case("yaml-complex-key", VALIDATE, "segments/cfo.yaml:18: a key must be a plain value",
     files={"segments/cfo.yaml": CFO + "? [a, b]\n: x\n"})
case("yaml-duplicate-key", VALIDATE, "segments/cfo.yaml:18: duplicate key 'role'",
     files={"segments/cfo.yaml": CFO + "role: customer\n"})
case("yaml-tab-indent", VALIDATE, "segments/cfo.yaml:19: YAML syntax error",
     files={"segments/cfo.yaml": CFO + "needs2:\n\t- x\n"})
case("yaml-unclosed-quote", VALIDATE, "segments/cfo.yaml:", "YAML syntax error",
     files={"segments/cfo.yaml": cfo("name: Finance directors", 'name: "Finance directors')})
case("yaml-two-documents", VALIDATE, "segments/cfo.yaml:", "expected a single document",
     files={"segments/cfo.yaml": CFO + "---\nid: second\n"})
case("yaml-python-tag-is-not-run", VALIDATE, "segments/cfo.yaml:2 name: input should be a valid string",
     files={"segments/cfo.yaml": cfo("name: Finance directors", 'name: !!python/object/apply:os.system ["true"]')})
case("yaml-merge-key", VALIDATE, "channels.yaml:", "YAML syntax error",
     files={"channels.yaml": "base: &b {name: X}\n" + CHANNELS.replace("    name: Email\n", "    <<: *b\n", 1)})
case("yaml-top-level-list", VALIDATE, "segments/cfo.yaml:1: expected a mapping of keys",
     files={"segments/cfo.yaml": "- id: cfo\n"})
case("yaml-top-level-scalar", VALIDATE, "ladder.yaml:1: expected a mapping of keys", files={"ladder.yaml": "hello\n"})
case("yaml-empty-segment", VALIDATE, "segments/cfo.yaml id: field required", "segments/cfo.yaml vocabulary: field required", files={"segments/cfo.yaml": ""})
case("yaml-empty-ladder", VALIDATE, "ladder.yaml campaign: field required", files={"ladder.yaml": "# nothing\n"})
case("yaml-mapping-as-name", VALIDATE, "segments/cfo.yaml:2 name: input should be a valid string",
     files={"segments/cfo.yaml": cfo("name: Finance directors", "name: !!set {a, b}")})
case("yaml-date-as-name", VALIDATE, "segments/cfo.yaml:2 name: input should be a valid string",
     files={"segments/cfo.yaml": cfo("name: Finance directors", "name: 2024-01-01")})
case("yaml-too-large", VALIDATE, "segments/cfo.yaml: larger than 5 MiB",
     files={"segments/cfo.yaml": CFO + "# " + "x" * (5 * 2**20) + "\n"})

# --- files and folders --------------------------------------------------------------------------

case("file-segment-is-a-folder", VALIDATE, "segments/x.yaml: is a folder, not a file", setup=folder("segments/x.yaml"))
case("file-sheet-is-a-folder", VALIDATE, "segments/x.csv: is a folder, not a file", setup=folder("segments/x.csv"))
case("file-channels-is-a-folder", VALIDATE, "channels.yaml: is a folder, not a file", setup=folder("channels.yaml"))
case("file-core-is-a-folder", VALIDATE, "segments/core.yaml: is a folder, not a file",
     setup=folder("segments/core.yaml"))
case("file-symlink-loop", VALIDATE, "segments/a.yaml: a symbolic link that loops",
     setup=lambda ws: (link("segments/a.yaml", ws / "segments" / "b.yaml")(ws),
                       link("segments/b.yaml", ws / "segments" / "a.yaml")(ws)))
case("file-symlink-to-itself", VALIDATE, "segments/self.yaml: a symbolic link that loops",
     setup=lambda ws: link("segments/self.yaml", ws / "segments" / "self.yaml")(ws))
case("file-segment-links-outside", VALIDATE, "segments/cfo.yaml: a symbolic link to", "outside the workspace",
     setup=link("segments/cfo.yaml", outside))
case("file-sheet-links-outside", VALIDATE, "segments/more.csv: a symbolic link to", "outside the workspace",
     setup=link("segments/more.csv", lambda ws: (ws.parent / "x.csv", (ws.parent / "x.csv").write_text("id\n"))[0]))
case("file-channels-links-outside", VALIDATE, "channels.yaml: a symbolic link to", "outside the workspace",
     setup=link("channels.yaml", lambda ws: (ws.parent / "c.yaml", (ws.parent / "c.yaml").write_text(CHANNELS))[0]))
case("file-core-links-to-etc", VALIDATE, "segments/core.yaml: a symbolic link to /etc/passwd",
     setup=link("segments/core.yaml", "/etc/passwd"))
case("file-dangling-link", VALIDATE, "segments/gone.yaml: file not found",
     setup=link("segments/gone.yaml", lambda ws: ws / "segments" / "nowhere.yaml"))
case("file-core-missing", VALIDATE, "segments/core.yaml: file not found", setup=remove("segments/core.yaml"))
case("file-channels-missing", VALIDATE, "channels.yaml: file not found", setup=remove("channels.yaml"))
case("file-segments-folder-missing", VALIDATE, "segments/: folder not found", setup=remove("segments"))
case("file-segments-is-a-file", VALIDATE, "segments/: folder not found",
     setup=lambda ws: (shutil.rmtree(ws / "segments"), (ws / "segments").write_text("x"))[0])
case("file-no-segments", VALIDATE, "segments/: no segments",
     setup=lambda ws: [p.unlink() for p in (ws / "segments").iterdir() if p.name != "core.yaml"])
case("file-no-ladder-yaml", VALIDATE, "ladder.yaml: not a ladder workspace", setup=remove("ladder.yaml"))
case("file-workspace-missing", "validate -w {tmp}/nowhere", "ladder.yaml: not a ladder workspace")
case("file-workspace-is-a-file", "validate -w {tmp}/plain.txt", "is a file", setup=a_file("plain.txt"))

# --- segment sheets -----------------------------------------------------------------------------

SHEET_HEAD = "id,name,language,role,current_step,channels,vocabulary.use,vocabulary.concepts,tone.formality,tone.address\n"
SHEET_ROW = "ops,Operations,en,prospect,2,email,month-end close,fast_close=close by the 5th,formal,you\n"
case("sheet-latin1", VALIDATE, "segments/more.csv:2: not UTF-8 text",
     files={"segments/more.csv": (SHEET_HEAD + SHEET_ROW.replace("Operations", "Opérations")).encode("latin-1")})
case("sheet-empty", VALIDATE, "segments/more.csv: cannot read sheet", files={"segments/more.csv": ""})
case("sheet-ragged-row", VALIDATE, "segments/more.csv:2: 13 cells, but the header has 10 columns",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.rstrip("\n") + ",x,y,z\n"})
case("sheet-xlsx-not-a-workbook", VALIDATE, "segments/more.xlsx: cannot read sheet",
     files={"segments/more.xlsx": "id,name\nops,Operations\n"})
case("sheet-unknown-column", VALIDATE, "segments/more.csv:1 colour: unknown column",
     files={"segments/more.csv": SHEET_HEAD.rstrip("\n") + ",colour\n" + SHEET_ROW.rstrip("\n") + ",red\n"})
case("sheet-missing-id", VALIDATE, "segments/more.csv:2 id: field required",
     files={"segments/more.csv": SHEET_HEAD.replace("id,", "", 1) + SHEET_ROW.split(",", 1)[1]})
case("sheet-bad-step", VALIDATE, "segments/more.csv:2 current_step: unknown ladder step '7'",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace(",2,", ",7,")})
case("sheet-step-not-a-number", VALIDATE, "segments/more.csv:2 current_step:",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace(",2,", ",two,")})
case("sheet-bad-role", VALIDATE, "segments/more.csv:2 role:",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace("prospect", "lead")})
case("sheet-duplicate-of-yaml-id", VALIDATE, "duplicate segment id 'cfo' (first in segments/cfo.yaml:1)",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace("ops,", "cfo,", 1)})
case("sheet-unknown-channel", VALIDATE, "segments/more.csv:2 channels[0]: unknown channel 'fax'",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace(",email,", ",fax,")})
case("sheet-bad-language", VALIDATE, "segments/more.csv:2 language: 'english' is not a language code",
     files={"segments/more.csv": SHEET_HEAD + SHEET_ROW.replace(",en,", ",english,")})

# --- the workspace's own values (locked in: these already gave good messages) -------------------

case("segment-unknown-key", VALIDATE, "segments/cfo.yaml:18 colour: unknown key (allowed:",
     files={"segments/cfo.yaml": CFO + "colour: blue\n"})
case("segment-wrong-type-step", VALIDATE, "segments/cfo.yaml:5 current_step:",
     files={"segments/cfo.yaml": cfo("current_step: 2", "current_step: two")})
case("segment-step-out-of-range", VALIDATE, "segments/cfo.yaml:5 current_step: unknown ladder step 9 (the steps are 1 awareness",
     files={"segments/cfo.yaml": cfo("current_step: 2", "current_step: 9")})
case("segment-missing-id", VALIDATE, "segments/cfo.yaml", "id: field required",
     files={"segments/cfo.yaml": cfo("id: cfo\n", "")})
case("segment-bad-id", VALIDATE, "segments/cfo.yaml:1 id: 'CFO!' is not a valid id",
     files={"segments/cfo.yaml": cfo("id: cfo", "id: CFO!")})
case("segment-bad-language", VALIDATE, "segments/cfo.yaml:3 language: 'english' is not a language code",
     files={"segments/cfo.yaml": cfo("language: en", "language: english")})
case("segment-bad-role", VALIDATE, "segments/cfo.yaml:4 role:",
     files={"segments/cfo.yaml": cfo("role: prospect", "role: lead")})
case("segment-avoid-without-replacement", VALIDATE, "segments/cfo.yaml:11 vocabulary.avoid[0].replacement: field required",
     files={"segments/cfo.yaml": cfo("{term: cheap, replacement: cost-efficient}", "{term: cheap}")})
case("segment-unknown-concept", VALIDATE, "segments/cfo.yaml:13 vocabulary.concepts.slow: unknown key concept 'slow'",
     files={"segments/cfo.yaml": cfo("    fast_close:", "    slow: x\n    fast_close:")})
case("segment-empty-vocabulary", VALIDATE, "segments/cfo.yaml:9 vocabulary.use: empty vocabulary",
     files={"segments/cfo.yaml": cfo("use: [month-end close, cash flow, audit trail]", "use: []")})
case("segment-unknown-channel", VALIDATE, "segments/cfo.yaml:18 channels[0]: unknown channel 'fax' (known: email, sms, landing_hero)",
     files={"segments/cfo.yaml": CFO + "channels: [fax]\n"})
case("segment-list-where-mapping", VALIDATE, "segments/cfo.yaml:8 vocabulary:",
     files={"segments/cfo.yaml": cfo("vocabulary:\n", "vocabulary: [a]\nold_vocabulary:\n")})
case("segment-duplicate-id", VALIDATE, "segments/cfo2.yaml:1 id: duplicate segment id 'cfo' (first in segments/cfo.yaml:1)",
     files={"segments/cfo2.yaml": CFO})
case("segment-bad-tone", VALIDATE, "segments/cfo.yaml:15 tone.formality: input should be 'formal', 'neutral' or 'casual'",
     files={"segments/cfo.yaml": cfo("formality: formal", "formality: royal")})
case("channels-unknown-key", VALIDATE, "channels.yaml:4 channels[0].colour: unknown key",
     files={"channels.yaml": CHANNELS.replace("    name: Email\n", "    name: Email\n    colour: red\n", 1)})
case("channels-missing-template", VALIDATE, "channels.yaml:4 channels[0].template: template 'nosuch.j2' does not exist",
     files={"channels.yaml": CHANNELS.replace("email.md.j2", "nosuch.j2", 1)})
case("channels-negative-max-chars", VALIDATE, "channels.yaml:6 channels[0].parts[0].max_chars:",
     files={"channels.yaml": CHANNELS.replace("max_chars: 60}", "max_chars: -1}", 1)})
case("channels-duplicate-id", VALIDATE, "duplicate channel id 'email'",
     files={"channels.yaml": CHANNELS.replace("id: sms", "id: email", 1)})
case("channels-not-a-mapping", VALIDATE, "channels.yaml:1: expected a mapping of keys",
     files={"channels.yaml": "- id: email\n"})
case("core-missing-key-concepts", VALIDATE, "segments/core.yaml", "key_concepts: field required",
     files={"segments/core.yaml": CORE.split("key_concepts:")[0] + "proof_points: []\nvalue_types: [economic]\n"})
case("core-unknown-value-type", VALIDATE, "segments/core.yaml:", "value_types[0]:",
     files={"segments/core.yaml": CORE.replace("value_types: [productive, economic]", "value_types: [magic]")})
case("ladder-revise-rounds-too-many", VALIDATE, "ladder.yaml:2 revise_rounds: input should be less than or equal to 10",
     files={"ladder.yaml": LADDER.replace("revise_rounds: 1", "revise_rounds: 99")})
case("ladder-unknown-key", VALIDATE, "ladder.yaml:3 colour: unknown key", files={"ladder.yaml": LADDER + "colour: red\n"})
case("ladder-model-temperature", VALIDATE, "ladder.yaml:4 model.temperature: input should be less than or equal to 2",
     files={"ladder.yaml": LADDER + "model:\n  temperature: 5\n"})
case("ladder-model-structured-output", VALIDATE, "ladder.yaml:4 model.structured_output:",
     files={"ladder.yaml": LADDER + "model:\n  structured_output: xml\n"})
case("ladder-model-negative-price", VALIDATE, "ladder.yaml:5 model.prices.x.input: input should be greater than or equal to 0",
     files={"ladder.yaml": LADDER + "model:\n  prices:\n    x: {input: -1, output: 1}\n"})
case("ladder-model-base-url-ftp", VALIDATE, "ladder.yaml:4 model.base_url: not an http:// or https:// URL",
     files={"ladder.yaml": LADDER + "model:\n  base_url: ftp://models.example\n"})
case("ladder-model-unknown-key", VALIDATE, "ladder.yaml:4 model.temprature: unknown key",
     files={"ladder.yaml": LADDER + "model:\n  temprature: 0.5\n"})
case("ladder-override-unknown-step", VALIDATE, "ladder.yaml:4 ladder[0].step: unknown ladder step 7",
     files={"ladder.yaml": LADDER + "ladder:\n  - step: 7\n"})
case("ladder-bad-campaign-id", VALIDATE, "ladder.yaml:1 campaign: 'Test Camp' is not a valid id",
     files={"ladder.yaml": LADDER.replace("campaign: testcamp", "campaign: Test Camp")})

# --- templates: prompts/ and templates/ are rendered before any model call ----------------------

case("template-division-by-zero", VALIDATE, "templates/email.md.j2:2", "ZeroDivisionError",
     files={"templates/email.md.j2": "x\n{{ 1 / 0 }}\n" + EMAIL})
case("prompt-division-by-zero", VALIDATE, "prompts/en/system.j2:1", "ZeroDivisionError",
     files={"prompts/en/system.j2": "{{ 1 // 0 }}" + SYSTEM_EN})
case("template-huge-range", VALIDATE, "templates/email.md.j2:1", "range() of 1,000,000,000 items",
     files={"templates/email.md.j2": "{% for i in range(10**9) %}x{% endfor %}\n" + EMAIL})
case("prompt-huge-range", VALIDATE, "prompts/en/system.j2:3", "templates may make at most 10,000",
     files={"prompts/en/system.j2": SYSTEM_EN + "\n{% for i in range(20000) %}{% endfor %}"})
case("template-huge-power", VALIDATE, "templates/sms.txt.j2:1", "too large for a template",
     files={"templates/sms.txt.j2": "{{ 10 ** 100000000 }}{{ parts.text }}"})
case("template-repeated-powers", VALIDATE, "templates/sms.txt.j2:1", "too large for a template",
     files={"templates/sms.txt.j2": "{{ (((2 ** 64) ** 64) ** 64) ** 64 }}{{ parts.text }}"})
case("template-huge-string", VALIDATE, "templates/sms.txt.j2:1", "too large for a template",
     files={"templates/sms.txt.j2": "{{ 'x' * 10**9 }}{{ parts.text }}"})
case("template-huge-padding", VALIDATE, "templates/sms.txt.j2:1", "too large for a template",
     files={"templates/sms.txt.j2": "{{ parts.text | center(10**9) }}"})
case("template-huge-format", VALIDATE, "templates/sms.txt.j2:1", "too large for a template",
     files={"templates/sms.txt.j2": "{{ '%999999999d' % 1 }}{{ parts.text }}"})
case("template-no-lipsum", VALIDATE, "templates/sms.txt.j2:1 lipsum: the inputs provide no variable 'lipsum'",
     files={"templates/sms.txt.j2": "{{ lipsum(10**6) }}{{ parts.text }}"})
case("template-endless-recursion", VALIDATE, "templates/sms.txt.j2", "RecursionError",
     files={"templates/sms.txt.j2": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}{{ parts.text }}"})
case("template-latin1", VALIDATE, "templates/email.md.j2:1: not UTF-8 text",
     files={"templates/email.md.j2": ("Hyvä\nlukija ä\n" + EMAIL).encode("latin-1")})
case("prompt-latin1", VALIDATE, "prompts/en/draft.j2:1: not UTF-8 text",
     files={"prompts/en/draft.j2": "Kirjoita ö {{ company }}\n".encode("latin-1")})
case("template-undefined-filter", VALIDATE, "templates/email.md.j2:1: template error: No filter named 'shout'",
     files={"templates/email.md.j2": "{{ parts.subject | shout }}\n" + EMAIL})
case("template-undefined-test", VALIDATE, "templates/email.md.j2:1", "No test named 'shouty'",
     files={"templates/email.md.j2": "{% if parts.subject is shouty %}x{% endif %}\n" + EMAIL})
case("template-syntax-error", VALIDATE, "templates/email.md.j2:2: template syntax error",
     files={"templates/email.md.j2": "ok\n{% if %}\n" + EMAIL})
case("template-unclosed-block", VALIDATE, "templates/email.md.j2", "template syntax error",
     files={"templates/email.md.j2": "{% for p in parts %}\n" + EMAIL})
case("prompt-syntax-error", VALIDATE, "prompts/en/revise.j2:1: template syntax error",
     files={"prompts/en/revise.j2": "{{ company }\n"})
case("template-undeclared-variable", VALIDATE, "templates/email.md.j2:1 sender: the inputs provide no variable 'sender'",
     files={"templates/email.md.j2": "{{ sender }}\n" + EMAIL})
case("template-unknown-part", VALIDATE, "templates/email.md.j2:1 parts.signature: the inputs provide no 'parts.signature'",
     files={"templates/email.md.j2": "{{ parts.signature }}\n" + EMAIL})
case("prompt-unknown-attribute", VALIDATE, "prompts/en/draft.j2:1 segment.budget: the inputs provide no 'segment.budget'",
     files={"prompts/en/draft.j2": "{{ segment.budget }}\n"})
case("template-sandbox-escape", VALIDATE, "templates/email.md.j2:1", "unsafe",
     files={"templates/email.md.j2": "{{ parts.subject.__class__.__mro__ }}\n" + EMAIL})
case("template-include-traversal", VALIDATE, "templates/email.md.j2", "template error",
     files={"templates/email.md.j2": "{% include '../../../etc/passwd' %}\n" + EMAIL})
case("template-include-missing", VALIDATE, "templates/email.md.j2", "nosuch.j2",
     files={"templates/email.md.j2": "{% include 'nosuch.j2' %}\n" + EMAIL})
case("template-links-outside", VALIDATE, "templates/email.md.j2: a symbolic link to", "outside the workspace",
     setup=link("templates/email.md.j2", lambda ws: (ws.parent / "e.j2", (ws.parent / "e.j2").write_text(EMAIL))[0]))
case("template-links-to-etc", VALIDATE, "templates/sms.txt.j2: a symbolic link to /etc/hostname",
     setup=link("templates/sms.txt.j2", "/etc/hostname"))
case("prompt-links-outside", VALIDATE, "prompts/en/system.j2: a symbolic link to", "outside the workspace",
     setup=link("prompts/en/system.j2", lambda ws: (ws.parent / "s.j2", (ws.parent / "s.j2").write_text(SYSTEM_EN))[0]))
case("prompt-missing-language", VALIDATE, "segments/cfo.yaml:3 language: no prompt for language 'sv'",
     files={"segments/cfo.yaml": cfo("language: en", "language: sv")})

# --- environment variables and flags: the same rules as ladder.yaml's model: --------------------

for var, value, message in [
    ("LADDER_TEMPERATURE", "abc", "input should be a valid number"),
    ("LADDER_TEMPERATURE", "99", "input should be less than or equal to 2"),
    ("LADDER_TEMPERATURE", "-1", "input should be greater than or equal to 0"),
    ("LADDER_CONCURRENCY", "lots", "input should be a valid integer"),
    ("LADDER_CONCURRENCY", "0", "input should be greater than or equal to 1"),
    ("LADDER_CONCURRENCY", "1000", "input should be less than or equal to 256"),
    ("LADDER_SEED", "x", "input should be a valid integer"),
    ("LADDER_SEED", "1.5", "input should be a valid integer"),
    ("LADDER_MAX_RETRIES", "many", "input should be a valid integer"),
    ("LADDER_MAX_RETRIES", "99", "input should be less than or equal to 20"),
    ("LADDER_TIMEOUT", "-1", "input should be greater than 0"),
    ("LADDER_TIMEOUT", "soon", "input should be a valid number"),
    ("LADDER_BACKOFF", "-2", "input should be greater than or equal to 0"),
    ("LADDER_REASKS", "11", "input should be less than or equal to 10"),
    ("LADDER_RPM", "0", "input should be greater than 0"),
    ("LADDER_RPM", "fast", "input should be a valid integer"),
    ("LADDER_TPM", "-5", "input should be greater than 0"),
    ("LADDER_MAX_TOKENS_TOTAL", "0", "input should be greater than 0"),
    ("LADDER_MAX_TOKENS_TOTAL", "1e3", "input should be a valid integer"),
    ("LADDER_MAX_COST", "free", "input should be a valid number"),
    ("LADDER_MAX_COST", "0", "input should be greater than 0"),
]:
    case(f"env-{var.removeprefix('LADDER_').lower()}-{value}", ESTIMATE, f"${var}: {message}", f"(got '{value}')",
         env={var: value})
for value, why in (("ftp://models.example/v1", "not an http:// or https:// URL (scheme 'ftp')"),
                   ("localhost:8080", "not an http:// or https:// URL (scheme 'localhost')"),
                   ("http://", "not a valid URL: no host"),
                   ("http://host:99999/v1", "not a valid URL: the port is not a number in 1-65535"),
                   ("not a url", "not a URL: it contains spaces or control characters")):
    case(f"env-base-url-{value[:10]}", ESTIMATE, f"$LADDER_BASE_URL: {why}", env={"LADDER_BASE_URL": value})
case("env-batch-poll", "run -w {ws}", "$LADDER_BATCH_POLL: input should be a valid number", "(got 'often')",
     env={"LADDER_BATCH_POLL": "often"})
case("env-batch-poll-negative", "run -w {ws}", "$LADDER_BATCH_POLL: input should be greater than or equal to 0",
     env={"LADDER_BATCH_POLL": "-1"})
case("env-all-at-once", ESTIMATE, "$LADDER_TEMPERATURE:", "$LADDER_CONCURRENCY:", "$LADDER_SEED:",
     "$LADDER_MAX_RETRIES:", "$LADDER_TIMEOUT:", "5 errors, 0 warnings",
     env={"LADDER_TEMPERATURE": "abc", "LADDER_CONCURRENCY": "lots", "LADDER_SEED": "x", "LADDER_MAX_RETRIES": "many",
          "LADDER_TIMEOUT": "-1"})
case("env-bad-on-run", "run -w {ws}", "$LADDER_TEMPERATURE: input should be less than or equal to 2",
     env={"LADDER_TEMPERATURE": "99"})
case("env-flag-wins-over-bad-env", "run -w {ws} --temperature 0.5", "$LADDER_TIMEOUT:",
     env={"LADDER_TEMPERATURE": "abc", "LADDER_TIMEOUT": "-1"}, absent=("$LADDER_TEMPERATURE",))
case("env-bad-on-check-judge", "check --judge-model judge note.txt",
     "$LADDER_BASE_URL: not an http:// or https:// URL", env={"LADDER_BASE_URL": "gopher://x"},
     setup=a_file("note.txt", "Close your books by the 5th."))
case("flag-temperature-out-of-range", "run -w {ws} --temperature 5",
     "--temperature: input should be less than or equal to 2 (got 5.0)")
case("flag-base-url-no-scheme", "plan --estimate -w {ws} --base-url api.example.com",
     "--base-url: not an http:// or https:// URL")
case("flag-base-url-on-run", "run -w {ws} --base-url file:///etc/passwd",
     "--base-url: not an http:// or https:// URL")
case("flag-seed-not-a-number", "run -w {ws} --seed x", "Invalid value for '--seed'")
case("flag-concurrency-zero", "run -w {ws} --concurrency 0", "Invalid value for '--concurrency'")
case("flag-max-cost-zero", "run -w {ws} --max-cost 0", "Invalid value for '--max-cost'")
case("flag-batch-poll-negative", "run -w {ws} --batch-poll -1", "Invalid value for '--batch-poll'")
case("flag-unknown-segment", "run -w {ws} --segment nobody", "--segment: unknown segment 'nobody'")
case("flag-resume-nothing", "run -w {ws} --resume", "--resume: no run 'latest'")

# --- check: what it reads must be text --------------------------------------------------------

case("check-empty-file", "check --step 3 empty.txt", "empty.txt: empty text", setup=a_file("empty.txt", ""))
case("check-blank-file", "check blank.txt", "blank.txt: empty text", setup=a_file("blank.txt", " \n\t\n"))
case("check-empty-stdin", "check --step 3 -", "<stdin>: empty text", stdin=b"")
case("check-latin1-file", "check latin.txt", "latin.txt:2: not UTF-8 text",
     setup=lambda ws: (ws.parent / "latin.txt").write_bytes("Hello\nHyvä asiakas\n".encode("latin-1")))
case("check-latin1-stdin", "check -", "<stdin>:2: not UTF-8 text", stdin="Hello\nHyvä asiakas\n".encode("latin-1"))
case("check-missing-file", "check nowhere.txt", "nowhere.txt: cannot read: No such file or directory")
case("check-folder", "check {tmp}", "cannot read: Is a directory")
case("check-every-bad-file-at-once", "check empty.txt latin.txt nowhere.txt", "empty.txt: empty text",
     "latin.txt:1: not UTF-8 text", "nowhere.txt: cannot read", "3 errors",
     setup=lambda ws: ((ws.parent / "empty.txt").write_text(""), (ws.parent / "latin.txt").write_bytes(b"\xe4\n")))
case("check-unknown-segment", "check -w {ws} --segment nobody note.txt", "--segment: unknown segment 'nobody'",
     setup=a_file("note.txt", "Close your books by the 5th."))
case("check-segment-in-broken-workspace", "check -w {ws} --segment cfo note.txt", "segments/cfo.yaml:4: a NUL byte",
     files={"segments/cfo.yaml": cfo("role: prospect", "role: \0")}, setup=a_file("note.txt", "Close the books."))
case("check-bad-step", "check --step 9 note.txt", "Invalid value for '--step'", setup=a_file("note.txt", "x"))

# --- where things are written -------------------------------------------------------------------

case("run-outputs-under-a-file", "run -w {ws} -o {tmp}/plain.txt/outputs",
     "cannot write {tmp}/plain.txt/outputs: {tmp}/plain.txt is a file, not a folder", setup=a_file("plain.txt"))
case("run-outputs-is-a-file", "run -w {ws}", "cannot write {ws}/outputs: {ws}/outputs is a file, not a folder",
     setup=lambda ws: (ws / "outputs").write_text("x"))
case("run-ladder-db-is-a-folder", "run -w {ws} --base-url http://127.0.0.1:9/v1",
     "cannot write {ws}/outputs/ladder.db: unable to open database file", setup=folder("outputs/ladder.db"))
case("init-onto-a-file", "init {tmp}/plain.txt", "is a file", setup=a_file("plain.txt"))
case("init-under-a-file", "init {tmp}/plain.txt/ws", "cannot write {tmp}/plain.txt/ws: {tmp}/plain.txt is a file, not a folder",
     setup=a_file("plain.txt"))
case("init-onto-a-workspace", "init {ws}", "{ws}/ladder.yaml: already a workspace")
case("report-html-under-a-file", "report -w {ws} --html {tmp}/plain.txt/report.html",
     "cannot write {tmp}/plain.txt/report.html: {tmp}/plain.txt is a file, not a folder", setup=a_file("plain.txt"), needs_run=True)
case("report-html-is-a-folder", "report -w {ws} --html {tmp}", "is a directory", needs_run=True)
case("compare-html-under-a-file", "compare latest latest -w {ws} --html {tmp}/plain.txt/c.html",
     "cannot write {tmp}/plain.txt/c.html: {tmp}/plain.txt is a file, not a folder", setup=a_file("plain.txt"), needs_run=True)
for fmt in ("csv", "xlsx", "jsonl", "md", "json"):
    case(f"export-{fmt}-under-a-file", f"export -w {{ws}} --format {fmt} --to {{tmp}}/plain.txt/x.{fmt}",
         f"cannot write {{tmp}}/plain.txt/x.{fmt}: {{tmp}}/plain.txt is a file, not a folder", setup=a_file("plain.txt"), needs_run=True)
case("export-unknown-run", "export nosuch -w {ws} --format csv", "RUN: no run 'nosuch'", needs_run=True)


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> Path:
    """A workspace with one finished scripted run in outputs/."""
    from openai_server import ScriptedOpenAI
    from test_run import good

    ws = make_workspace(tmp_path_factory.mktemp("ran"))
    with ScriptedOpenAI(good) as server:
        result = CliRunner().invoke(main, ["run", "-w", str(ws), "--base-url", server.base_url, "--model", "scripted",
                                           "--segment", "cfo"], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return ws


@pytest.mark.timeout(120)  # a hang guard (pytest-timeout), not a speed test
@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_refused_with_its_place(c: Case, tmp_path, monkeypatch, request):
    ws = tmp_path / "ws"
    if c.needs_run:
        shutil.copytree(request.getfixturevalue("ran"), ws)
    else:
        ws.mkdir()
        make_workspace(ws)
    for rel, content in c.files.items():
        path = ws / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    if c.setup:
        c.setup(ws)
    for var, value in c.env.items():
        monkeypatch.setenv(var, value)
    args = [a.format(ws=ws, tmp=tmp_path) for a in c.args]

    def no_model(*_args, **_kwargs):  # a bad input is refused before any model is started
        raise AssertionError("the embedded model was started for a bad input")

    monkeypatch.setattr(server, "server_command", no_model)
    result = CliRunner().invoke(main, args, input=c.stdin, catch_exceptions=False)
    out = result.output + result.stderr
    assert "Traceback" not in out
    assert result.exit_code == c.code, out
    for text in c.expect:
        assert text.format(ws=ws, tmp=tmp_path) in out, out
    for text in c.absent:
        assert text not in out, out


def test_there_are_enough_cases():
    assert len(CASES) >= 110
    assert len({c.id for c in CASES}) == len(CASES)


def test_an_alias_bomb_is_refused_in_small_memory():
    from pipeline.workspace.yaml_lines import YamlError, parse_yaml

    tracemalloc.start()
    try:
        with pytest.raises(YamlError, match="aliases expand"):
            parse_yaml(laughs(9))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20


def test_aliases_within_bounds_still_work():
    from pipeline.workspace.yaml_lines import parse_yaml

    data, lines = parse_yaml("a: &x {q: [1, 2]}\nb: *x\n")
    assert data == {"a": {"q": [1, 2]}, "b": {"q": [1, 2]}}
    assert lines[("b",)] == 2


def test_a_bad_value_in_a_real_process_exits_2_without_a_traceback(workspace):
    import subprocess
    import sys

    (workspace / "segments" / "cfo.yaml").write_bytes(CFO.encode() + b"x: \0\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "LADDER_TEMPERATURE": "hot"}
    for args in (["validate"], ["plan", "--estimate"]):
        out = subprocess.run([sys.executable, "-m", "pipeline.cli", *args, "-w", str(workspace)],
                             capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 2, out.stderr
        assert "segments/cfo.yaml:18: a NUL byte" in out.stderr
        assert "Traceback" not in out.stderr


def test_a_full_disk_mid_run_exits_3_and_results_do_not_claim_written_jobs_pending(workspace, monkeypatch):
    """Fault injection: the second job's record cannot be written (ENOSPC)."""
    from openai_server import ScriptedOpenAI
    from pipeline.runs import artifacts as write  # job records are written through artifacts.write
    from test_run import good

    real, writes = write.atomic_write, []

    def full_disk(path, data, sync=True):
        if path.suffix == ".json" and path.name not in ("run_results.json", "manifest.json"):
            writes.append(path)
            if len(writes) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data, sync)

    monkeypatch.setattr(write, "atomic_write", full_disk)
    with ScriptedOpenAI(good) as server:
        result = CliRunner().invoke(main, ["run", "-w", str(workspace), "--base-url", server.base_url, "--model",
                                           "scripted", "--concurrency", "1"], catch_exceptions=False)
    out = result.output + result.stderr
    assert result.exit_code == 3, out
    assert f"cannot write {writes[1]}: No space left on device" in out
    assert "Traceback" not in out
    results = json.loads((run_dirs(workspace)[-1] / "run_results.json").read_text(encoding="utf-8"))
    assert results["status"] == "interrupted"
    by_status = {r["job_id"]: r["status"] for r in results["results"]}
    assert "pending" not in by_status.values()
    written = [p for p in writes[:1]]
    for path in written:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert by_status[record["job"]["id"]] == record["status"] != "interrupted"


def snapshot(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


def test_validate_plan_and_check_write_nothing_so_a_read_only_workspace_is_fine(workspace, cli):
    before = snapshot(workspace)
    (workspace.parent / "note.txt").write_text("Close your books by the 5th.", encoding="utf-8")
    for args in (["validate"], ["plan"], ["plan", "--estimate"], ["check", "--segment", "cfo", "--step", "3",
                                                                 str(workspace.parent / "note.txt")]):
        result = cli(*args, "-w", str(workspace))
        assert result.exit_code in (0, 1), result.output
    assert snapshot(workspace) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_outputs_folder_is_refused_by_run(workspace, cli):
    (workspace / "outputs").mkdir()
    (workspace / "outputs").chmod(0o555)
    try:
        result = cli("run", "-w", str(workspace), "--base-url", "http://127.0.0.1:9/v1")
    finally:
        (workspace / "outputs").chmod(0o755)
    assert result.exit_code == 2, result.output
    assert f"cannot write {workspace / 'outputs'}: Permission denied" in result.output
