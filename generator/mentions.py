"""A code named in text: the one pattern for "a code in text", for the renderer and the planner."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .model.code import Code

CODE_TOKEN = re.compile(r"\b([A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.?-)?(?![\w.])")
# CPT and HCPCS Level II codes (27253, 0001U, E0100): five characters. In prose they also read as
# numbers, so they are links only where a page of that code exists (the renderer's rule for
# every mention, and the planner's); search uses CODE_TOKEN alone.
FIVE_CHAR = re.compile(r"\b([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})()(?!\w|\.\w)")


def note_targets(c: Code) -> set[str]:
    """The codes a page's notes name (and link, when they have a page)."""
    return {m.group(1) for notes in c.notes.values() for n in notes for m in CODE_TOKEN.finditer(n)}


def all_mentions(text: str) -> Iterator[re.Match[str]]:
    """Every code named in ``text``, of any system, in order: ``group(1)`` the code, ``group(0)``
    with the tabular list's "and below" dash (S78.-)."""
    found = sorted((*CODE_TOKEN.finditer(text), *FIVE_CHAR.finditer(text)), key=lambda m: m.start())
    end = -1
    for m in found:
        if m.start() >= end:  # the two shapes never overlap; kept safe all the same
            end = m.end()
            yield m


def page_targets(c: Code) -> set[str]:
    """Every code a page links when it has a page: named in its notes, 7th-character notes,
    body, sections or related-code notes."""
    texts = [n for notes in c.notes.values() for n in notes]
    texts += [n for notes in c.seventh_notes.values() for n in notes]
    texts += [c.body, *(s.body for s in c.sections), *(r.note for r in c.related if r.note)]
    return {m.group(1) for t in texts for m in all_mentions(t)}
