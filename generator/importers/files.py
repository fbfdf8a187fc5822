"""Content files from importer entries: front matter in a fixed key order, body kept as is."""

from __future__ import annotations

from typing import Any

from .. import yamlutil
from ..content import FENCE
from ..schema import CODE_FIELDS


def render_file(front: dict[str, Any], body: str = "") -> str:
    """A content file, keys in the schema's order, empty values left out."""
    ordered = {k: front[k] for k in CODE_FIELDS if k in front and front[k] not in (None, [], {}, "")}
    text = f"{FENCE}\n{yamlutil.dump(ordered)}{FENCE}\n"
    body = body.strip("\n")
    return text + (f"\n{body}\n" if body else "")
