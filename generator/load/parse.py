"""Parse: the text of a content file into a ``Code``, and the content folder into codes.

``parse_code`` is pure (text in, Code out, or ContentError with the file's line); ``parse_files``
reads files and parses those whose bytes changed since the last build. ``check`` and ``build``
both read content through here: there is no second parser.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from .. import yamlutil
from ..errors import ContentError
from ..model.code import Code, Related, Section
from ..model.schema import CODE, field_name
from ..outputs import digest
from .records import Record, to_record
from .scan import Stat

FENCE = "---"


class FileErrors(ContentError):
    """Several problems in one file; behaves as its first one, carries them all."""

    def __init__(self, errors: list[ContentError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.path, first.line, first.field, first.message)

    def __str__(self) -> str:
        return "\n".join(f"{e.path}:{e.line}: {e.field}: {e.message}" for e in self.errors)


def split_front_matter(text: str, path: str) -> tuple[str, str, int]:
    """Return (front matter, body, line of the body's first line). Lines are 1-based."""
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != FENCE:
        raise ContentError(path, 1, "front matter", "file must start with a '---' line")
    for i in range(1, len(lines)):
        if lines[i].rstrip() == FENCE:
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise ContentError(path, 1, "front matter", "no closing '---' line after the front matter")


def top_level_lines(front: str) -> dict[str, int]:
    """File line of each top-level key: a cheap scan, no YAML composing."""
    lines: dict[str, int] = {}
    for i, line in enumerate(front.split("\n")):
        if line[:1].isalpha() or line[:1] == "_":
            key = line.split(":", 1)[0].strip()
            lines.setdefault(key, i + 2)
    return lines


def parse_code(text: str, path: str) -> Code:
    """Parse one content file. Raises ContentError (FileErrors when there are several)."""
    front, body, body_line = split_front_matter(text, path)
    try:
        data = yamlutil.load(front)
    except yaml.YAMLError as exc:
        raise ContentError(
            path, yamlutil.error_line(exc) + 2, "front matter", f"malformed YAML: {yamlutil.error_text(exc)}"
        ) from None
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. out-of-range timestamps
        raise ContentError(path, 1, "front matter", f"malformed YAML: {exc}") from None
    if data is None:
        data = {}
    problems = list(CODE.validate(data, ()))
    if problems:
        errors = [
            ContentError(path, yamlutil.locate(front, p) + 2 if p else 1, field_name(p), msg)
            for p, msg in problems
        ]
        raise FileErrors(errors) if len(errors) > 1 else errors[0]
    return build_code(CODE.with_defaults(data), body, path, body_line, top_level_lines(front))


def build_code(d: dict[str, Any], body: str, path: str, body_line: int, lines: dict[str, int]) -> Code:
    return Code(
        code=d["code"],
        system=d["system"],
        title=d["title"],
        kind=d["kind"],
        parent=d["parent"],
        billable=d["billable"],
        status=d["status"],
        replaced_by=tuple(d["replaced_by"]),
        history=tuple(d["history"]),
        synonyms=tuple(d["synonyms"]),
        notes={k: tuple(v) for k, v in d["notes"].items() if v},
        seventh_characters={
            ch: v["meaning"] if isinstance(v, dict) else v for ch, v in d["seventh_characters"].items()
        },
        related=tuple(
            Related(r["code"], r.get("relation") or "see_also", r.get("system"), r.get("note"))
            for r in d["related"]
        ),
        sections=tuple(
            Section(s["id"], s["title"], bool(s.get("gated", False)), s["body"]) for s in d["sections"]
        ),
        body=body.strip("\n"),
        path=path,
        body_line=body_line,
        seventh_notes={
            ch: tuple(v["notes"]) for ch, v in d["seventh_characters"].items() if isinstance(v, dict) and v.get("notes")
        },
        lines=lines,
    )


def content_files(site_dir: str) -> Iterator[str]:
    """Site-relative paths of every content file, sorted, so builds are deterministic."""
    root = os.path.join(site_dir, "content", "codes")
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.endswith(".md"):
                found.append(os.path.relpath(os.path.join(dirpath, name), site_dir).replace(os.sep, "/"))
    yield from sorted(found)


def read_text(site_dir: str, rel: str) -> str:
    with open(os.path.join(site_dir, rel), encoding="utf-8") as f:
        return f.read()


def read_codes(site_dir: str, files: Iterable[str] | None = None) -> tuple[list[Code], list[ContentError]]:
    """Read and parse every content file; collect every error instead of stopping at the first."""
    codes: list[Code] = []
    errors: list[ContentError] = []
    for rel in files if files is not None else content_files(site_dir):
        try:
            text = read_text(site_dir, rel)
        except UnicodeDecodeError as exc:
            errors.append(ContentError(rel, 1, "file", f"not valid UTF-8 ({exc.reason})"))
            continue
        try:
            codes.append(parse_code(text, rel))
        except FileErrors as exc:
            errors.extend(exc.errors)
        except ContentError as exc:
            errors.append(exc)
    return codes, errors


@dataclass
class Parsed:
    """The outcome of reading some content files: new records, and errors."""

    records: dict[str, tuple[Stat, str, Record]] = field(default_factory=dict)
    errors: list[ContentError] = field(default_factory=list)


def parse_files(site_dir: str, todo: Iterable[tuple[str, Stat, str | None]]) -> Parsed:
    """Read files; parse those whose bytes differ from ``old_digest``. Pure but for reading.

    Each item is (path, stat, old digest or None). A file whose bytes hash to its old digest
    is reported with record ``()``: reuse the old one.
    """
    out = Parsed()
    for rel, stat, old in todo:
        try:
            with open(os.path.join(site_dir, rel), "rb") as f:
                data = f.read()
        except OSError as exc:
            out.errors.append(ContentError(rel, 1, "file", f"cannot read ({exc.strerror})"))
            continue
        h = digest(data)
        if h == old:
            out.records[rel] = (stat, h, ())
            continue
        try:
            code = parse_code(data.decode("utf-8"), rel)
        except UnicodeDecodeError as exc:
            out.errors.append(ContentError(rel, 1, "file", f"not valid UTF-8 ({exc.reason})"))
            continue
        except FileErrors as exc:
            out.errors.extend(exc.errors)
            continue
        except ContentError as exc:
            out.errors.append(exc)
            continue
        out.records[rel] = (stat, h, to_record(code))
    return out
