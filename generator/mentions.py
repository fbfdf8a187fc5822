"""A medical code written in text: the one pattern that the renderer (links in notes), the
incremental planner (which pages a note names) and search (codes left out of the indexed
prose; code-shaped query words) all use.

One definition, ``CODE``: the shape of an ICD-10-CM code as editors write it in prose, a
letter, a digit and a letter or digit (the category), then optionally a dot and one to four
letters or digits (``S72``, ``S72.0``, ``S06.0X0A``). Around it a mention may carry the
"and every code below" dash of the tabular list (``S72.0-``, ``S78.-``). CPT and HCPCS codes
(``27253``, ``E0100``) are not mentions for search: five characters of digits also read as
counts, amounts and ZIP codes in prose. Pages link them all the same where a page of that very
code exists (``all_mentions``, ``FIVE_CHAR``): a CPT page's sections name the codes next to it.

The two uses differ on purpose:

- ``mentions(text)`` finds codes inside prose: the code must stand alone (not followed by a
  letter or digit, nor by a dot that goes on into one: ``S73.0.`` ends a sentence, ``S73.0.1``
  is no code), the dash kept apart so a page can link the code and show the dash.
- ``code_like_word(word)`` judges one word of a query, folded to lower case and cut at dots by
  the tokenizer (``s72``, ``0xxa``, ``27253``, ``e0100``): a user types codes of every system,
  and partial ones, so any word with a digit is taken for a code (every ``CODE``, and every CPT
  and HCPCS code, has a digit among its first three characters) and gets no typo tolerance.
- ``code_query(q)`` judges a whole query: a code of any system or the start of one, dots and
  dashes allowed (``s73.0``, ``S72.0-``, ``27253``).

This module imports nothing of the generator: the lowest layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

CODE = r"[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?"
MENTION = re.compile(rf"\b({CODE})(\.?-)?(?!\w|\.\w)")
_QUERY = re.compile(r"^[A-Za-z0-9]{2,}(?:[.-][A-Za-z0-9]*)*$")


def mentions(text: str) -> Iterator[re.Match[str]]:
    """Each code mention in ``text``: ``group(1)`` the code, ``group(0)`` with its dash."""
    return MENTION.finditer(text)


# CPT and HCPCS Level II codes (27253, 0001U, E0100): links only where that code has a page
FIVE_CHAR = re.compile(r"\b([0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})()(?!\w|\.\w)")


def all_mentions(text: str) -> Iterator[re.Match[str]]:
    """Every code a page may link in ``text``, of any system, in order: ``mentions`` and the
    five-character codes (``group(2)`` empty: they have no dash)."""
    if not text:  # most codes have no body, sections or notes
        return
    found = sorted((*MENTION.finditer(text), *FIVE_CHAR.finditer(text)), key=lambda m: m.start())
    end = -1
    for m in found:
        if m.start() >= end:  # the two shapes never overlap; kept safe all the same
            end = m.end()
            yield m


def mentioned_codes(text: str) -> set[str]:
    return {m.group(1) for m in MENTION.finditer(text)}


def without_mentions(text: str) -> str:
    """``text`` with every code mention blanked out (search indexes the words around them)."""
    return MENTION.sub(" ", text)


def code_like_word(word: str) -> bool:
    """A folded query word that may be a code or the start of one: it has a digit."""
    return any(ch.isdigit() for ch in word)


def normalize_code(text: str) -> str:
    """``s73.0`` -> ``S730``; ranges keep their dash (``S70-S79``)."""
    return text.strip().upper().replace(".", "")


def code_query(q: str) -> str | None:
    """The normalized code when the whole query looks like a code or a code prefix."""
    q = q.strip()
    if len(q) < 3 or not _QUERY.match(q) or not any(ch.isdigit() for ch in q):
        return None
    return normalize_code(q)
