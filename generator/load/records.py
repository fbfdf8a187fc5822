"""A parsed ``Code`` as plain tuples (what the build state stores), and the key of a file.

marshal stores and loads tuples of str/int/bool fast; classes it cannot store. The build state
keeps each file's record packed (``pack``): marshal's bytes, made where the file was parsed (a
worker, on large sites), so that the process that saves the state writes bytes it already has
instead of walking 98k records (0.5 s of the 98k-code set's cold build, the records' objects
being spread over its memory by then).

A content file's key is (system, code), and its path follows from the key:
content/codes/<system>/<code>.md.
"""

from __future__ import annotations

import marshal
from dataclasses import fields
from typing import Any

from ..model.code import Code, Key, Related, Section, summary
from ..model.urls import key_of, path_of

FIELDS = tuple(f.name for f in fields(Code))
RELATED_AT = FIELDS.index("related")
SECTIONS_AT = FIELDS.index("sections")

__all__ = ["Key", "Record", "face", "from_record", "key_of", "pack", "path_of", "shown_below", "to_record", "unpack"]
Record = tuple[Any, ...]


def to_record(c: Code) -> Record:
    """A Code as plain tuples marshal can store (and load fast: no classes to look up)."""
    rec: list[Any] = [getattr(c, f) for f in FIELDS]
    rec[RELATED_AT] = tuple((r.code, r.relation, r.system, r.note) for r in c.related)
    rec[SECTIONS_AT] = tuple((s.id, s.title, s.gated, s.body) for s in c.sections)
    return tuple(rec)


def from_record(rec: Record) -> Code:
    if not rec[RELATED_AT] and not rec[SECTIONS_AT]:  # most codes: no objects to rebuild
        return Code(*rec)
    args = list(rec)
    args[RELATED_AT] = tuple(Related(*r) for r in rec[RELATED_AT])
    args[SECTIONS_AT] = tuple(Section(*s) for s in rec[SECTIONS_AT])
    return Code(*args)


def pack(c: Code) -> bytes:
    """A Code as the build state keeps it: its record (``to_record``) in marshal's bytes."""
    return marshal.dumps(to_record(c))


def unpack(data: bytes) -> Code:
    """The Code ``pack`` gave ``data`` for."""
    return from_record(marshal.loads(data))


def face(c: Code) -> tuple[Any, ...]:
    """What other pages show of a code: change it and they must be rendered again (without an
    official title, related-code lists show the first sentence of its body)."""
    return (c.system, c.code, c.kind, c.title, c.status, c.billable, c.parent, None if c.title else summary(c.body))


def shown_below(c: Code) -> tuple[Any, ...]:
    """What every page below a code shows of it (its notes, "From S72: ...", and the 7th-character
    table its descendants take their last character from): change it and they are rendered again."""
    return (c.notes, c.seventh_characters, c.seventh_notes)


