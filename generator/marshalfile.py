"""Data a build keeps for the next one (snapshot, manifest, search state): marshal files, read
in one piece and written atomically (a temporary file, then a rename)."""

from __future__ import annotations

import marshal
import os
from typing import Any

DAMAGED = (OSError, EOFError, ValueError, TypeError)  # gone, cut short, or not marshal


def read(path: str) -> Any:
    with open(path, "rb") as f:
        return marshal.loads(f.read())  # marshal.load(f) reads in small pieces: 10x slower


def write(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(marshal.dumps(data))
    os.replace(tmp, path)
