"""What a build writes and keeps: the output record, the one digest, the one atomic write.

Every file a stage produces is an ``Output`` handed to the publisher; every file a build keeps
for the next one (the build state, the manifest, compiled templates, the search state) is
written with ``atomic_write`` (a temporary file, then a rename), so a crash leaves either the
old file or the new one, never half of one.

The two large tables a build keeps (the manifest and the content files' stats: 100k entries,
7-9 MB each) are journaled dicts (``write_dict``, ``read_dict``): an edit appends the entries
that changed to ``PATH.log`` instead of rewriting the table, which is rewritten whole when its
journal grows past a quarter of it, when this process did not read or write it last, or when
anything else touched it since. A table (``write_tables``) is written and read a record of
4096 entries at a time, never held whole as bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, BinaryIO

DAMAGED = (OSError, EOFError, ValueError, TypeError, IndexError)  # a kept file gone, cut short, or not marshal


@dataclass(frozen=True)
class Output:
    """One file of the build: ``area`` is "site" (public) or "private" (gated fragments)."""

    area: str
    path: str
    data: bytes
    hashed: str = ""  # its ``digest``, when its maker has it already


def digest(data: bytes) -> str:
    """The hash that names bytes everywhere in a build (content files, outputs, templates):
    SHA-256, cut to 128 bits. Where the processor hashes SHA-256 itself (SHA-NI, on x86 since
    2017, and ARMv8), 2.1x faster than BLAKE2b on a 12 kB page: a second of CPU per build of
    the 98k-code set, which hashes every page and every content file."""
    return hashlib.sha256(data).hexdigest()[:32]


def atomic_write(path: str, data: bytes | Iterable[bytes]) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename. ``data``
    may come in pieces, written as they are made."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        if isinstance(data, bytes):
            f.write(data)
        else:
            for piece in data:
                f.write(piece)
    os.replace(tmp, path)


def read_marshal(path: str) -> Any:
    with open(path, "rb") as f:
        return marshal.loads(f.read())  # marshal.load(f) reads in small pieces: 10x slower


def write_marshal(path: str, data: Any) -> None:
    atomic_write(path, marshal.dumps(data))


JOURNAL = ".log"  # beside a journaled dict: records of (base, number, entries set, keys removed)
TABLE = b"codesite table 2\n"  # heads a journaled dict's table, records of entries after it
TABLE_RECORD = 4096  # entries per record of a table: it is written and read a record at a time
JOURNAL_MIN = 1 << 16  # a journal may always grow this far before the table is rewritten
_HEAD = struct.Struct("<I")
# path -> (the table's stat, records, journal length) as this process last read or wrote it
_JOURNALS: dict[str, tuple[tuple[int, int, int], int, int]] = {}


def _identity(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def identity(path: str) -> tuple[int, ...]:
    """What tells one version of a kept file from another (inode, size, mtime); () when there is
    none: a file this process wrote is known to be the same while its identity is."""
    try:
        return _identity(os.stat(path))
    except OSError:
        return ()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def dict_stamp(path: str) -> tuple[int, ...]:
    """What tells one state of a journaled dict from another without reading it: the table's
    identity and the journal's length (two stats)."""
    return (*identity(path), _size(path + JOURNAL))


def dict_version(path: str) -> tuple[Any, ...]:
    """The version of the journaled dict at ``path`` that this process last read or wrote (its
    table's identity, the journal's records); () when it did neither. Another process's write
    since, even one cut short, makes ``read_dict`` see another version."""
    kept = _JOURNALS.get(path)
    return kept[:2] if kept else ()


def read_dict(path: str) -> dict[Any, Any]:
    """A journaled dict: the table, with the journal's records applied in order. A record made
    for another table (one rewritten since), out of sequence or cut short ends the replay: what
    follows it was never a completed write."""
    with open(path, "rb") as f:
        base = _identity(os.fstat(f.fileno()))
        (data,) = _read_tables(f, 1)
    n = pos = 0
    with contextlib.suppress(FileNotFoundError), open(path + JOURNAL, "rb") as f:
        with contextlib.suppress(EOFError, ValueError, TypeError):  # cut short or not marshal: not a whole write
            for record in _records(f):
                made_for, number, changed, removed = marshal.loads(record)
                if made_for != base or number != n:
                    break
                data.update(changed)
                for key in removed:
                    data.pop(key, None)
                n, pos = n + 1, pos + _HEAD.size + len(record)
    _JOURNALS[path] = (base, n, pos)
    return data


def _records(f: BinaryIO) -> Iterator[bytes]:
    """The records of a table or journal, each its length (``_HEAD``) and that many bytes;
    EOFError at one cut short."""
    while head := f.read(_HEAD.size):
        size = _HEAD.unpack(head)[0] if len(head) == _HEAD.size else -1
        record = f.read(size) if size > 0 else b""
        if len(record) != size:
            raise EOFError(f"{f.name}: cut short")
        yield record


def _record(value: Any) -> bytes:
    data = marshal.dumps(value)
    return _HEAD.pack(len(data)) + data


def write_tables(path: str, tables: Sequence[Mapping[Any, Any]]) -> None:
    """``tables`` to ``path`` (whole or not at all; read back by ``read_tables``), a record of
    4096 entries at a time: marshal would hold the whole file as bytes, and a reference table
    of every object in it (20 MB at 100k entries), at the end of a build, its peak of memory."""

    def records() -> Iterator[bytes]:
        yield TABLE
        for i, table in enumerate(tables):
            items = iter(table.items())
            while part := dict(islice(items, TABLE_RECORD)):
                yield _record((i, part))

    atomic_write(path, records())


def read_tables(path: str, count: int) -> list[dict[Any, Any]]:
    """The ``count`` tables that ``write_tables`` wrote at ``path``."""
    with open(path, "rb") as f:
        return _read_tables(f, count)


def _read_tables(f: BinaryIO, count: int) -> list[dict[Any, Any]]:
    if f.read(len(TABLE)) != TABLE:
        raise ValueError(f"{f.name}: not a table")
    tables: list[dict[Any, Any]] = [{} for _ in range(count)]
    for record in _records(f):
        i, part = marshal.loads(record)
        tables[i].update(part)  # TypeError, IndexError: not a record of these tables
    return tables


def write_dict(
    path: str, new: Mapping[Any, Any], old: Mapping[Any, Any] | None, keys: Iterable[Any] | None = None
) -> bool:
    """Save ``new`` at ``path`` (read back by ``read_dict``), ``old`` being what the path holds
    now (None: not known), ``keys`` the only keys that can differ between them (None: any; a
    set-difference of 100k entries costs 0.1 s). The entries that differ are appended to the
    journal when this process read or wrote the path last and nothing touched it since; else
    the table is rewritten whole (the journal then ends: its records name the old table).
    Values must be hashable. Returns whether anything was written (nothing when ``new``
    equals ``old``)."""
    kept = _JOURNALS.get(path)
    if old is not None and kept is not None:
        base, n, pos = kept
        try:
            now, length = _identity(os.stat(path)), _size(path + JOURNAL)
        except OSError:
            now, length = (0, 0, 0), -1
        if now == base and length == pos:
            if keys is None:
                changed, removed = dict(new.items() - old.items()), list(old.keys() - new.keys())
            else:
                changed = {k: new[k] for k in keys if k in new and (k not in old or old[k] != new[k])}
                removed = [k for k in keys if k in old and k not in new]
            if not changed and not removed:
                return False  # a long journal too: a no-op build writes nothing
        if now == base and length == pos and pos < max(JOURNAL_MIN, base[1] // 4):
            record = _record((base, n, changed, removed))
            with open(path + JOURNAL, "ab") as f:
                f.write(record)
            _JOURNALS[path] = (base, n + 1, pos + len(record))
            return True
    elif old is not None and new == old and os.path.exists(path):
        return False
    write_tables(path, [new])
    try:
        os.remove(path + JOURNAL)
    except FileNotFoundError:
        pass
    _JOURNALS[path] = (_identity(os.stat(path)), 0, 0)
    return True
