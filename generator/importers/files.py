"""Content files from importer entries: front matter in a fixed key order, body kept as is."""

from __future__ import annotations

import os
from typing import Any

from .. import yamlutil
from ..load.parse import FENCE
from ..model.schema import CODE_FIELDS


def render_file(front: dict[str, Any], body: str = "") -> str:
    """A content file, keys in the schema's order, empty values left out."""
    ordered = {
        k: front[k] for k in CODE_FIELDS if k in front and front[k] not in (None, [], {}, "")
    }
    text = f"{FENCE}\n{yamlutil.dump(ordered)}{FENCE}\n"
    body = body.strip("\n")
    return text + (f"\n{body}\n" if body else "")


def write_if_changed(path: str, text: str, old: str | None = None) -> bool:
    """Write ``text`` to ``path`` atomically (temp file + os.replace), only if it differs.

    ``old`` is the file's current text when the caller already read it (saves a read). A
    reader (a build, an editor) never sees a half-written file, and an unchanged file keeps
    its mtime, so an incremental build does not see it as edited.
    """
    if old is None:
        try:
            with open(path, encoding="utf-8") as f:
                old = f.read()
        except FileNotFoundError:
            old = None
    if old == text:
        return False
    tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    return True
