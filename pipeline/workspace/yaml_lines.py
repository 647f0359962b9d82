"""YAML with line numbers: a bounded safe loader that records where each key and item sits, so
every problem can name its file, line and key path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class YamlError(Exception):
    def __init__(self, line: int | None, message: str):
        self.line, self.message = line, message


# Bounds for what a workspace file may make the parser do: PyYAML composes nested values
# recursively, and an alias re-uses a value, so a small file could nest or expand without end.
MAX_DEPTH = 100
MAX_ALIAS_VALUES = 10_000  # values that aliases may add beyond the file's own
MAX_FILE_BYTES = 5 * 1024 * 1024
# brackets outside quotes and comments: a quick look at flow nesting, which PyYAML's scanner
# reads ahead in quadratic time before the composer could stop it
FLOW_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"\\]|\\.)*"|(?:^|\s)#[^\n]*|[\[\]{}]""")
# what YAML 1.1 allows in a stream (PyYAML's reader refuses the rest, without a line)
NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


# where libyaml reads text PyYAML refuses (a tab, a byte-order mark inside the text, a comment
# glued to a block scalar's header): such a file goes to PyYAML alone
LIBYAML_DIFFERS = re.compile("\t|(?<=.)\ufeff|[|>][-+0-9]*#", re.S)


class _Bounded:
    """A composer that refuses values nested deeper than MAX_DEPTH and counts what it composes."""

    depth = 0
    composed = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):  # an alias makes no new node
            return super().compose_node(parent, index)
        self.depth += 1
        self.composed += 1
        try:
            if self.depth > MAX_DEPTH:
                raise YamlError(self.peek_event().start_mark.line + 1, f"nested more than {MAX_DEPTH} levels deep")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _BoundedLoader(_Bounded, yaml.SafeLoader):
    """PyYAML's pure-Python SafeLoader, bounded: its messages are the ones users read."""


if getattr(yaml, "__with_libyaml__", False):
    class _FastLoader(_Bounded, yaml.composer.Composer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor,
                      yaml.resolver.Resolver):
        """libyaml's scanner and parser (about 4× faster) under the same Python composer, so the
        bounds, the marks and the values are the same; a file it refuses is parsed again by
        _BoundedLoader, whose messages users read. Text the two read differently goes to
        _BoundedLoader alone (LIBYAML_DIFFERS); libyaml still takes a ``?`` inside a flow
        collection (``[what?, b]``, ``{? key: 1}``), as the YAML spec allows and PyYAML does not."""

        def __init__(self, text: str):
            yaml.cyaml.CParser.__init__(self, text)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover - PyYAML built without libyaml
    _FastLoader = None


def parse_yaml(text: str) -> tuple[Any, dict[Loc, int]]:
    """Parse YAML into plain data plus a map from key path to 1-based line.

    Control characters, nesting deeper than MAX_DEPTH, an alias that contains itself and
    aliases expanding to more than MAX_ALIAS_VALUES values are refused with their line."""
    bad = NOT_PRINTABLE.search(text)
    if bad:
        what = "a NUL byte" if bad.group() == "\0" else f"the control character U+{ord(bad.group()):04X}"
        raise YamlError(text.count("\n", 0, bad.start()) + 1, f"{what}: YAML text may not contain control characters")
    depth = 0
    for token in FLOW_TOKENS.finditer(text):
        depth += {"[": 1, "{": 1, "]": -1, "}": -1}.get(token.group(), 0)
        if depth > 2 * MAX_DEPTH:
            raise YamlError(text.count("\n", 0, token.start()) + 1, f"nested more than {MAX_DEPTH} levels deep")
    if _FastLoader is not None and not LIBYAML_DIFFERS.search(text):
        try:
            return _parse(text, _FastLoader)
        except (yaml.YAMLError, YamlError):
            pass  # parsed again below, for the message users read
    return _parse(text, _BoundedLoader)


def _parse(text: str, loader_class) -> tuple[Any, dict[Loc, int]]:
    lines: dict[Loc, int] = {}
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines
        budget = loader.composed + MAX_ALIAS_VALUES
        built = 0
        open_nodes: set[int] = set()

        def scalar(node: yaml.ScalarNode) -> Any:
            try:
                return loader.construct_object(node, deep=True)
            except (ValueError, OverflowError) as e:  # 2024-02-30 reads as a date that does not exist
                raise YamlError(node.start_mark.line + 1, f"'{node.value}' cannot be read ({e}): "
                                "put it in quotes to keep it as text") from None

        def build(node: yaml.Node, loc: Loc) -> Any:
            nonlocal built
            built += 1
            if built > budget:
                raise YamlError(node.start_mark.line + 1, f"aliases expand to more than {MAX_ALIAS_VALUES:,} values")
            lines[loc] = node.start_mark.line + 1
            if isinstance(node, yaml.ScalarNode):
                return scalar(node)
            if id(node) in open_nodes:
                raise YamlError(node.start_mark.line + 1, "recursive alias: a value that contains itself")
            open_nodes.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    out: dict[Any, Any] = {}
                    for key_node, value_node in node.value:
                        key = scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                        if not isinstance(key, str | int | float | bool):
                            raise YamlError(key_node.start_mark.line + 1, "a key must be a plain value")
                        if key in out:
                            raise YamlError(key_node.start_mark.line + 1, f"duplicate key '{key}'")
                        out[key] = build(value_node, (*loc, str(key)))
                        lines[(*loc, str(key))] = key_node.start_mark.line + 1
                    return out
                return [build(item, (*loc, i)) for i, item in enumerate(node.value)]
            finally:
                open_nodes.discard(id(node))

        return build(node, ()), lines
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        message = e.problem or ""
        if e.context:
            started = e.context_mark.line + 1 if e.context_mark else None
            context = f"{e.context} started at line {started}" if started and mark and started != mark.line + 1 else e.context
            message = f"{context}: {message}"
        raise YamlError(mark.line + 1 if mark else None, f"YAML syntax error: {message}") from None
    except yaml.YAMLError as e:  # pragma: no cover - unmarked errors are rare
        raise YamlError(None, f"YAML syntax error: {e}") from None
    finally:
        loader.dispose()


def line_for(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest existing prefix of ``loc``."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


@dataclass
class Source:
    file: str
    lines: dict[Loc, int]
    base: Loc = ()  # where the object sits inside its file

    def line(self, *loc: str | int) -> int | None:
        return line_for(self.lines, (*self.base, *loc))
