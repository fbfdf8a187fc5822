"""YAML errors in plain words: what went wrong, where it starts, and the fix.

PyYAML reports where it gave up ("did not find expected ',' or ']'" on the line after an
unclosed list); an editor needs the line where the problem starts and what to type. Each rule
here turns one PyYAML error into (0-based line, 0-based column, field, message) inside the
front matter; anything not recognised keeps PyYAML's own words after "malformed YAML:".
"""

from __future__ import annotations

import re

import yaml

from ..messages import M

KEY = re.compile(r"\s*(?:-\s+)?\{?\s*([A-Za-z_][\w-]*)\s*:")


def field_at(lines: list[str], line: int, column: int | None = None) -> str:
    """The field written on ``line`` (with ``column``: the last one named before it)."""
    if not 0 <= line < len(lines):
        return "front matter"
    if column is not None:
        names = re.findall(r"([A-Za-z_][\w-]*)\s*:", lines[line][:column])
        return names[-1] if names else "front matter"
    found = KEY.match(lines[line])
    return found.group(1) if found else "front matter"


def explain(exc: yaml.YAMLError, front: str) -> tuple[int, int, str, str]:
    """(line, column, field, message) of a YAML error in ``front``; line and column 0-based."""
    lines = front.split("\n")
    problem = str(getattr(exc, "problem", "") or "")
    context = str(getattr(exc, "context", "") or "")
    pm = getattr(exc, "problem_mark", None)
    cm = getattr(exc, "context_mark", None)
    at = pm or cm
    line, col = (at.line, at.column) if at is not None else (0, 0)
    if problem.startswith("mapping values are not allowed") and pm is not None:
        name = field_at(lines, pm.line)
        return pm.line, pm.column, name, M.YAML_COLON.format(field=name)
    if context.startswith("while parsing a flow sequence") and cm is not None:
        return cm.line, cm.column, field_at(lines, cm.line, cm.column), M.YAML_OPEN_LIST.format()
    if context.startswith("while parsing a flow mapping") and cm is not None:
        return cm.line, cm.column, field_at(lines, cm.line, cm.column), M.YAML_OPEN_MAPPING.format()
    if context.startswith("while scanning a quoted scalar") and cm is not None:
        quote = lines[cm.line][cm.column] if cm.column < len(lines[cm.line]) else '"'
        return cm.line, cm.column, field_at(lines, cm.line, cm.column), M.YAML_OPEN_QUOTE.format(quote=quote)
    if "tab" in problem and pm is not None:
        return pm.line, pm.column, field_at(lines, pm.line), M.YAML_TAB.format()
    if problem.startswith("could not find expected ':'") and cm is not None:
        return cm.line, cm.column, "front matter", M.YAML_NO_COLON.format()
    if problem in ("found character that cannot start any token", "found undefined alias") and pm is not None:
        name = field_at(lines, pm.line)
        char = lines[pm.line][pm.column] if pm.column < len(lines[pm.line]) else "?"
        if char == "\t":
            return pm.line, pm.column, name, M.YAML_TAB.format()
        return pm.line, pm.column, name, M.YAML_BAD_START.format(char=char, field=name)
    if problem.startswith("did not find expected key") and pm is not None:
        before = lines[pm.line][: pm.column].rstrip() if pm.line < len(lines) else ""
        if before.endswith(("'", '"')) and KEY.match(before):
            name = field_at(lines, pm.line)
            return pm.line, pm.column, name, M.YAML_AFTER_QUOTE.format(field=name)
        return pm.line, pm.column, "front matter", M.YAML_INDENT.format()
    text = f"{context} {problem}" if context and problem else problem or str(exc).splitlines()[0]
    return line, col, "front matter", M.YAML_OTHER.format(detail=text)
