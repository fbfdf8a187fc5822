"""YAML helpers: the fast C loader, and turning a key path into a line in the file."""

from __future__ import annotations

from typing import Any

import yaml

try:
    Loader: type = yaml.CSafeLoader
    Dumper: type = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    Loader = yaml.SafeLoader
    Dumper = yaml.SafeDumper

from .schema import Path


def load(text: str) -> Any:
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a safe loader


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
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return 0
    if node is None:
        return 0
    line = node.start_mark.line
    for step in path:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if str(k.value) == str(step):
                    line = k.start_mark.line
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line
        else:
            return line
    return line
