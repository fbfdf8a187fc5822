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
from ..messages import M
from ..model.code import Code, Related, Section
from ..model.schema import CODE, Bool, Dict, Int, List, Path, Spec, Str, StrOr, field_name
from ..model.schema import Record as Fields
from ..outputs import digest
from .records import pack
from .scan import Stat
from .yamlerrors import explain

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
        raise ContentError(path, 1, "front matter", M.NO_FENCE.text)
    for i in range(1, len(lines)):
        if lines[i].rstrip() == FENCE:
            return "\n".join(lines[1:i]), "\n".join(lines[i + 1 :]), i + 2
    raise ContentError(path, 1, "front matter", M.NO_CLOSING_FENCE.text)


def field_lines(front: str, path: str) -> tuple[dict[str, int], list[ContentError]]:
    """File line of each top-level key (a cheap scan, no YAML composing), and an error for
    each field given twice (YAML would silently keep the last one)."""
    lines: dict[str, int] = {}
    twice: list[ContentError] = []
    for i, line in enumerate(front.split("\n")):
        if line[:1].isalpha() or line[:1] == "_":
            key = line.split(":", 1)[0].strip()
            if key in lines:
                twice.append(ContentError(path, i + 2, key, M.DUPLICATE_FIELD.format(field=key, line=lines[key])))
            else:
                lines[key] = i + 2
    return lines, twice


def parse_code(text: str, path: str) -> Code:
    """Parse one content file. Raises ContentError (FileErrors when there are several)."""
    code, errors = parse_code_checked(text, path)
    if errors:
        raise FileErrors(errors) if len(errors) > 1 else errors[0]
    assert code is not None
    return code


def parse_code_checked(text: str, path: str) -> tuple[Code | None, list[ContentError]]:
    """Parse one content file into a Code and every problem of its front matter.

    With problems, the Code is still made when its ``code`` and ``system`` are sound: each bad
    field is replaced by its default, so the site checks (parent, title, related codes, the
    file name) still run on the rest of the file. None when the file cannot be read as fields.
    """
    try:
        front, body, body_line = split_front_matter(text, path)
    except ContentError as exc:
        return None, [exc]
    try:
        data = yamlutil.load(front)
    except yaml.YAMLError as exc:
        line, col, name, message = explain(exc, front)
        return None, [ContentError(path, line + 2, name, message, col + 1)]
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. out-of-range timestamps
        return None, [ContentError(path, 1, "front matter", f"malformed YAML: {exc}")]
    if data is None:
        data = {}
    problems = list(CODE.validate(data, ()))
    lines, errors = field_lines(front, path)
    marks = yamlutil.locate_marks(front, [p for p, _ in problems]) if problems else []
    for (p, msg), (line, col) in zip(problems, marks, strict=True):
        line, col = (line, col) if p else (-1, 0)
        errors.append(ContentError(path, line + 2, field_name(p), msg, col + 1))
    if not problems:
        return build_code(CODE.with_defaults(data), body, path, body_line, lines), errors
    bad = {p for p, _ in problems}
    if not isinstance(data, dict) or any(p[:1] in (("code",), ("system",)) or not p for p in bad):
        return None, errors
    fixed = repair(CODE, data, (), bad)
    return build_code(CODE.with_defaults(fixed), body, path, body_line, lines), errors


def placeholder(spec: Spec) -> Any:
    """A value of the right type for a field that is missing or wrong."""
    if isinstance(spec, Fields):
        return {k: key.default if not key.required else placeholder(key.spec) for k, key in spec.keys.items()}
    return {Str: "", StrOr: "", Bool: False, Int: 0, List: [], Dict: {}}.get(type(spec))


def repair(spec: Spec, value: Any, path: Path, bad: set[Path]) -> Any:
    """``value`` with every field at a path in ``bad`` replaced by its default (unknown ones
    dropped), so a file with a few wrong fields still yields a Code for the other checks."""
    if path in bad:
        return placeholder(spec)
    if isinstance(spec, Fields):
        out = {}
        for k, key in spec.keys.items():
            sub = (*path, k)
            if k in value and value[k] is not None and sub not in bad:
                out[k] = repair(key.spec, value[k], sub, bad)
            else:
                out[k] = key.default if not key.required else placeholder(key.spec)
        return out
    if isinstance(spec, List):
        return [repair(spec.item, v, (*path, i), bad) for i, v in enumerate(value)]
    if isinstance(spec, Dict):
        return {k: repair(spec.value, v, (*path, k), bad) for k, v in value.items() if (*path, str(k)) not in bad}
    if isinstance(spec, StrOr) and isinstance(value, dict):
        return repair(spec.record, value, path, bad)
    return value


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
    """Read and parse every content file; collect every error instead of stopping at the first.
    Files with problems in a few fields still give their Code (see ``parse_code_checked``)."""
    codes: list[Code] = []
    errors: list[ContentError] = []
    for rel in files if files is not None else content_files(site_dir):
        code, problems = read_one(site_dir, rel)
        errors += problems
        if code is not None:
            codes.append(code)
    return codes, errors


def read_bytes(path: str, size: int = -1) -> bytes:
    """A file's bytes, in one read when ``size`` is what the scan saw (then on while it grew).
    ``os.open`` and ``os.read``, not ``open()``: its file object's set-up and the ``fstat`` it
    makes to size its reads took 10 of a content file's 15 us (a second of a 98k-file build)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, size + 1 if size >= 0 else 1 << 16)
        if size < 0 or len(data) > size:
            parts = [data]
            while more := os.read(fd, 1 << 16):
                parts.append(more)
            data = b"".join(parts)
        return data
    finally:
        os.close(fd)


def read_one(site_dir: str, rel: str, data: bytes | None = None) -> tuple[Code | None, list[ContentError]]:
    """One content file (its bytes, when already read) as ``parse_code_checked`` gives it."""
    try:
        if data is None:
            data = read_bytes(os.path.join(site_dir, rel))
        return parse_code_checked(data.decode("utf-8"), rel)
    except UnicodeDecodeError as exc:
        return None, [ContentError(rel, 1, "file", M.NOT_UTF8.format(reason=exc.reason))]
    except OSError as exc:
        return None, [ContentError(rel, 1, "file", M.CANNOT_READ.format(reason=exc.strerror))]


@dataclass
class Parsed:
    """The outcome of reading some content files: new records (packed: ``records.pack``), and
    errors. A file with errors has a record too when it still gave a Code (the build stops
    anyway; the checks use it)."""

    records: dict[str, tuple[Stat, str, bytes]] = field(default_factory=dict)
    errors: list[ContentError] = field(default_factory=list)


def parse_files(site_dir: str, todo: Iterable[tuple[str, Stat, str | None]]) -> Parsed:
    """Read files; parse those whose bytes differ from ``old_digest``. Pure but for reading.

    Each item is (path, stat, old digest or None). A file whose bytes hash to its old digest
    is reported with record ``b""``: reuse the old one.
    """
    out = Parsed()
    for rel, stat, old in todo:
        try:
            data = read_bytes(os.path.join(site_dir, rel), stat[1])
        except OSError as exc:
            out.errors.append(ContentError(rel, 1, "file", M.CANNOT_READ.format(reason=exc.strerror)))
            continue
        h = digest(data)
        if h == old:
            out.records[rel] = (stat, h, b"")
            continue
        code, problems = read_one(site_dir, rel, data)
        out.errors += problems
        if code is not None:
            out.records[rel] = (stat, h, pack(code))
    return out
