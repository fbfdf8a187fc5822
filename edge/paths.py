"""Map a request path to a file under the public folder, or refuse.

Refused: anything not starting with "/", empty segments ("//"), ".", "..", hidden names,
backslashes, NUL and control characters, and anything that resolves (symlinks included) outside
the public root. The private folder is a sibling of the public one, so no accepted path reaches it.
"""

from __future__ import annotations

import functools
import os
import re

BAD_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def clean_segments(path: str) -> list[str] | None:
    if not path.startswith("/") or BAD_CHARS.search(path) or len(path) > 1024:
        return None
    segs = path[1:].split("/")
    body, last = segs[:-1], segs[-1]
    if any(s == "" for s in body) or any(s.startswith(".") for s in segs if s):
        return None
    return body + ([last] if last else [])


@functools.lru_cache(maxsize=16)
def _real(root: str) -> str:
    return os.path.realpath(root)


def resolve(root: str, path: str) -> tuple[str, bool] | None:
    """(file, is_directory_without_slash) for ``path`` under ``root``; None when refused or absent.
    ``/a/b/`` maps to ``a/b/index.html``."""
    segs = clean_segments(path)
    if segs is None:
        return None
    real_root = _real(root)
    full = os.path.realpath(os.path.join(real_root, *segs))
    if full != real_root and not full.startswith(real_root + os.sep):
        return None
    if os.path.isdir(full):
        index = os.path.join(full, "index.html")
        if not os.path.isfile(index):
            return None
        return index, not path.endswith("/")
    if path.endswith("/") or not os.path.isfile(full):
        return None
    return full, False
