"""Read-through cache of small built files, keyed on what ``stat`` says about them.

The edge reads the same page and fragment files for every request; a ``stat`` is much cheaper than
an open, a read, a decode and a page scan. An entry is used only while the file's inode, size,
mtime and ctime are the ones it was read with, so a rebuild (which writes new files, or swaps
folders) is seen on the next request. Missing files raise as ``open`` would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_ENTRIES = 4096
MAX_FILE = 1 << 20  # larger files are read every time


class FileCache(Generic[T]):
    """``get(path)`` = ``parse(bytes of path)``, cached while the file is unchanged."""

    def __init__(self, parse: Callable[[bytes], T], max_entries: int = MAX_ENTRIES) -> None:
        self.parse = parse
        self.max_entries = max_entries
        self._entries: dict[str, tuple[tuple[int, int, int, int], T]] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> T:
        st = os.stat(path)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        hit = self._entries.get(path)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        with open(path, "rb") as f:
            data = f.read()
        value = self.parse(data)
        if len(data) == st.st_size <= MAX_FILE:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[path] = (stamp, value)
        return value
