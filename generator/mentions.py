"""A code named in text: the one pattern for "a code in text", for the renderer and the planner."""

from __future__ import annotations

import re

from .model.code import Code

CODE_TOKEN = re.compile(r"\b([A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.?-)?(?![\w.])")


def note_targets(c: Code) -> set[str]:
    """The codes a page's notes name (and link, when they have a page)."""
    return {m.group(1) for notes in c.notes.values() for n in notes for m in CODE_TOKEN.finditer(n)}
