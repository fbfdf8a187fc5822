"""A zip file written front to back, from entries compressed beforehand (possibly elsewhere).

``zipfile`` writes each entry's header, then its data, then seeks back to fill in the header's
checksum and sizes: three seeks per entry, each one flushing the file's buffer (a hundred
thousand small pages: 12 s of the archive's 56). Here an entry arrives whole (compressed, with
its CRC-32 and sizes), so its header is written once and the file is only ever appended to.
Readers see an ordinary zip: deflated entries, Unix permissions, Zip64 end records when there
are more than 65,535 entries (as ``zipfile`` writes them), no data descriptors.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO, NamedTuple

DEFLATED = 8
_LOCAL = struct.Struct("<4s5H3L2H")
_CENTRAL = struct.Struct("<4s4H2H3L5H2L")
_END64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR64 = struct.Struct("<4sLQL")
_END = struct.Struct("<4s4H2LH")
_ZIP64_EXTRA = struct.Struct("<2HQ")  # the header offset of an entry beyond 4 GiB
LIMIT16 = 0xFFFF
LIMIT32 = 0xFFFFFFFF
VERSION = 20  # 2.0: deflate (4.5 where Zip64 fields are used)
UNIX = 3
UTF8_NAMES = 0x800


class Entry(NamedTuple):
    """One file of the zip, compressed: its name, CRC-32, size and deflated bytes."""

    name: str
    crc: int
    size: int
    data: bytes


def deflate(name: str, data: bytes, level: int) -> Entry:
    """An entry made from a file's bytes (raw deflate, as zip holds it)."""
    z = zlib.compressobj(level, zlib.DEFLATED, -15)
    return Entry(name, zlib.crc32(data), len(data), z.compress(data) + z.flush())


def dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = date_time
    if y < 1980:
        raise ValueError("zip dates start in 1980")
    return h << 11 | mi << 5 | s // 2, (y - 1980) << 9 | mo << 5 | d


class ZipWriter:
    """Entries appended in the order given, each with the same date and permissions."""

    def __init__(self, f: BinaryIO, date_time: tuple[int, int, int, int, int, int], mode: int) -> None:
        self.f = f
        self.time, self.date = dos_time(date_time)
        self.attr = mode << 16
        self.offset = 0
        self.central: list[bytes] = []

    def add(self, entry: Entry) -> None:
        name = entry.name.encode("utf-8")
        flags = 0 if name.isascii() else UTF8_NAMES
        if entry.size >= LIMIT32 or len(entry.data) >= LIMIT32:
            raise ValueError(f"{entry.name}: an entry of 4 GiB or more")
        head = _LOCAL.pack(b"PK\x03\x04", VERSION, flags, DEFLATED, self.time, self.date,
                           entry.crc, len(entry.data), entry.size, len(name), 0)
        extra = b""
        offset = self.offset
        if offset >= LIMIT32:
            extra, offset = _ZIP64_EXTRA.pack(1, 8, self.offset), LIMIT32
        version = 45 if extra else VERSION
        self.central.append(
            _CENTRAL.pack(b"PK\x01\x02", UNIX << 8 | version, version, flags, DEFLATED, self.time, self.date,
                          entry.crc, len(entry.data), entry.size, len(name), len(extra), 0, 0, 0,
                          self.attr, offset) + name + extra
        )
        self.f.write(head + name)
        self.f.write(entry.data)
        self.offset += len(head) + len(name) + len(entry.data)

    def close(self) -> None:
        """The central directory and the end records."""
        start = self.offset
        directory = b"".join(self.central)
        self.f.write(directory)
        count, size = len(self.central), len(directory)
        if count > LIMIT16 or size >= LIMIT32 or start >= LIMIT32:
            end64 = start + size
            self.f.write(_END64.pack(b"PK\x06\x06", _END64.size - 12, 45, 45, 0, 0,
                                     count, count, size, start))
            self.f.write(_LOCATOR64.pack(b"PK\x06\x07", 0, end64, 1))
        self.f.write(_END.pack(b"PK\x05\x06", 0, 0, min(count, LIMIT16), min(count, LIMIT16),
                               min(size, LIMIT32), min(start, LIMIT32), 0))
