"""What a build writes and keeps: the output record, the one digest, the one atomic write.

Every file a stage produces is an ``Output`` handed to the publisher; every file a build keeps
for the next one (the build state, the manifest, compiled templates, the search state) is
written with ``atomic_write`` (a temporary file, then a rename), so a crash leaves either the
old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from dataclasses import dataclass
from typing import Any

DAMAGED = (OSError, EOFError, ValueError, TypeError)  # a kept file gone, cut short, or not marshal


@dataclass(frozen=True)
class Output:
    """One file of the build: ``area`` is "site" (public) or "private" (gated fragments)."""

    area: str
    path: str
    data: bytes


def digest(data: bytes) -> str:
    """The hash that names bytes everywhere in a build (content files, outputs, templates)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def atomic_write(path: str, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file beside it, then a rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def read_marshal(path: str) -> Any:
    with open(path, "rb") as f:
        return marshal.loads(f.read())  # marshal.load(f) reads in small pieces: 10x slower


def write_marshal(path: str, data: Any) -> None:
    atomic_write(path, marshal.dumps(data))
