"""YAML helpers: the fast C loader, and turning a key path into a line in the file."""

from __future__ import annotations

import functools
import re
from typing import Any

import yaml

try:
    Loader: type = yaml.CSafeLoader
    Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    Loader = yaml.SafeLoader
    Dumper = yaml.SafeDumper

from .model.schema import Path


def load(text: str) -> Any:
    data = load_flat(text)
    return data if data is not None else yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader


# Front matter is mostly "key: plain text" lines, a long text folded onto indented lines
# (as ``dump`` writes it), and a tenth of the ICD-10-CM files hold a block of notes: lists of
# plain text under "notes:". Such text is read here without YAML's node machinery, four to
# eight times as fast; anything else, and every error, is left to the YAML loader. Only a strict
# subset of YAML is taken: printable ASCII, no ':' or '#' in a value (they can end a plain
# scalar or start a comment), a value starting with a letter, digit or '(', no trailing space,
# no blank line, and blocks only in the layout ``dump`` gives them: a list under a top-level key
# ("- " at column 0), or a mapping at column 2 whose values are text or lists ("- " at column 2),
# each continued on lines two columns further in. Keys and values get the types YAML gives
# them, by PyYAML's own resolver; only str and bool are taken here.
_KEY = r"([A-Za-z_][A-Za-z0-9_]{0,63}):"
_TEXT = r'[A-Za-z0-9(][ !"$-9;-~]*'  # printable ASCII but for '#' and ':'
_KEY_LINE = re.compile(rf"{_KEY} ({_TEXT})")
_MORE_LINE = re.compile(rf" +({_TEXT})")
_OPEN_LINE = re.compile(_KEY)  # a key whose value is the block below it
_SUB_LINE = re.compile(rf"  {_KEY}(?: ({_TEXT}))?")  # in a block mapping: text, or a list below
_ITEM = {0: re.compile(rf"- ({_TEXT})"), 2: re.compile(rf"  - ({_TEXT})")}  # a list's item, by column
_MORE = {2: re.compile(rf"  ({_TEXT})"), 4: re.compile(rf"    ({_TEXT})")}  # its text's next line
_RESOLVER = yaml.resolver.Resolver()
_FIRST = _RESOLVER.yaml_implicit_resolvers  # the resolvers that may apply, by first character
_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"


def _scalar(text: str) -> Any:
    """A plain scalar's value as YAML reads it: a str or a bool; None if it is another type."""
    if text[0] not in _FIRST and None not in _FIRST:  # most text: no resolver to try
        return text
    tag = _RESOLVER.resolve(yaml.ScalarNode, text, (True, False))
    if tag == _STR:
        return text
    if tag == _BOOL:
        return yaml.constructor.SafeConstructor.bool_values[text.lower()]
    return None


@functools.lru_cache(maxsize=256)
def _plain_key(key: str) -> bool:
    """Whether YAML reads ``key`` as a string (not e.g. "on" or "null"); a site has few keys."""
    return type(_scalar(key)) is str


def _text(lines: list[str], i: int, first: str, more: re.Pattern[str]) -> tuple[Any, int]:
    """The plain scalar that starts with ``first``, continued on the lines from ``i`` that
    ``more`` matches (YAML folds them with spaces): its value (None: not str or bool), and the
    line after it."""
    parts = [first]
    while i < len(lines) and (m := more.fullmatch(lines[i])):
        parts.append(m[1])
        i += 1
    return _scalar(" ".join(parts)), i


def _items(lines: list[str], i: int, column: int) -> tuple[list[Any] | None, int]:
    """The list at ``column`` from line ``i``: its values (None: empty, or not flat), and the
    line after it."""
    item, more = _ITEM[column], _MORE[column + 2]
    out = []
    while i < len(lines) and (m := item.fullmatch(lines[i])):
        value, i = _text(lines, i + 1, m[1], more)
        if value is None:
            return None, i
        out.append(value)
    return out or None, i


def _block(lines: list[str], i: int) -> tuple[Any, int]:
    """The value of a top-level key whose line ends at its colon: the list (column 0) or the
    mapping (column 2) from line ``i``; None if it is neither, in the subset."""
    if i < len(lines) and lines[i][:1] == "-":
        return _items(lines, i, 0)
    out: dict[str, Any] = {}
    while i < len(lines) and (m := _SUB_LINE.fullmatch(lines[i])):
        key = m[1]
        value, i = _text(lines, i + 1, m[2], _MORE[4]) if m[2] is not None else _items(lines, i + 1, 2)
        if value is None or not _plain_key(key):
            return None, i
        out[key] = value  # a repeated key: the last one wins, as in PyYAML
    return out or None, i


def load_flat(text: str) -> dict[str, Any] | None:
    """``text`` as YAML reads it if it is in the subset above; else None."""
    if " \n" in text or text.endswith(" "):
        return None
    lines = text.split("\n")
    # each key with its plain text's lines (joined at the end: most files are only such lines,
    # and a call per key to ``_text`` cost them a fifth more), or None and its block's value
    pairs: list[tuple[str, list[str] | None, Any]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if m := _KEY_LINE.fullmatch(line):
            pairs.append((m[1], [m[2]], None))
        elif pairs and pairs[-1][1] is not None and (m := _MORE_LINE.fullmatch(line)):
            pairs[-1][1].append(m[1])
        elif m := _OPEN_LINE.fullmatch(line):
            block, i = _block(lines, i)
            if block is None:
                return None
            pairs.append((m[1], None, block))
        else:
            return None
    out: dict[str, Any] = {}
    for key, parts, block in pairs:
        value = block if parts is None else _scalar(" ".join(parts))  # YAML folds lines with spaces
        if value is None or not _plain_key(key):
            return None
        out[key] = value  # a repeated key: the last one wins, as in PyYAML
    return out or None


class _BlockDumper(Dumper):  # type: ignore[misc,valid-type]
    """Multi-line strings as literal blocks (``|``), so editors can read and diff them."""


def _str(dumper: yaml.BaseDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value.strip("\n") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _str)


def dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True, width=100)


def error_line(exc: yaml.YAMLError) -> int:
    """0-based line of a YAML error inside the parsed text (PyYAML's problem_mark)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line if mark is not None else 0


def error_text(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        return f"{context} {problem}" if context else str(problem)
    return str(exc).splitlines()[0]


def locate(text: str, path: Path) -> int:
    """0-based line of the node at ``path`` in ``text``; the nearest existing parent if absent.

    Only used when reporting an error, so the slower node composer is fine here.
    """
    return locate_mark(text, path)[0]


def locate_mark(text: str, path: Path) -> tuple[int, int]:
    """0-based (line, column) of the node at ``path`` (of its key, in a mapping); see ``locate``."""
    return locate_marks(text, [path])[0]


def locate_marks(text: str, paths: list[Path]) -> list[tuple[int, int]]:
    """``locate_mark`` of each path, composing the text once."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        root = None
    return [(0, 0) if root is None else _mark(root, path) for path in paths]


def _mark(node: yaml.Node, path: Path) -> tuple[int, int]:
    mark = node.start_mark
    for step in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(step):
                    mark = k.start_mark
                    node = v
                    break
            else:
                return mark.line, mark.column
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            mark = node.start_mark
        else:
            return mark.line, mark.column
    return mark.line, mark.column
