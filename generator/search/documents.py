"""The search documents: the public text of each code, by field, that both indexes are built
from. Gated sections never reach a document, so they never reach an index."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..mentions import without_mentions
from ..model.code import Code
from ..model.site import Site, sort_key
from ..model.urls import code_url
from .text import plain_markdown, tokens

FORMAT = 3  # of the documents and both indexes made of them: a change rebuilds them whole

# Field weights of BM25F: an official title word outweighs the same word in a note.
FIELDS: dict[str, float] = {"title": 3.0, "syn": 2.5, "incl": 1.5, "text": 1.0}
PRIOR = 0.1
# Instructional notes indexed with the inclusion weight, and with the plain text.
INCLUSION_NOTES = ("inclusion_terms", "includes")
TEXT_NOTES = ("note",)  # excludes/code-first notes name other conditions: indexing them misleads


@dataclass(frozen=True, slots=True)
class Doc:
    id: int
    code: str
    system: str
    title: str
    billable: bool
    url: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    boost: float = 1.0
    order: tuple[int, int, str] = (0, 0, "")  # system rank, then code order
    range: bool = False  # a chapter or block: it follows the codes (engine._text_search, search.js)


def order_of(systems: list[str], code: Code) -> tuple[int, int, str]:
    """Documents are in system order (as site.yaml lists them), then code order."""
    return (systems.index(code.system), *sort_key(code.code))


def code_fields(code: Code, title: str) -> dict[str, list[str]]:
    """The public text of a code, by field. Gated sections are left out here, once. Codes
    named in notes are left out too: a search for S72 wants S72, not every note naming it.
    A range page (chapter, block) keeps no numbers: "fracture 19" is not chapter 19, nor the
    chapter whose note names chapter 20."""
    notes = code.notes
    incl = [n for k in INCLUSION_NOTES for n in notes.get(k, ())] if notes else []
    text = [n for k in TEXT_NOTES for n in notes.get(k, ())] if notes else []
    if code.body:
        text.append(plain_markdown(code.body))
    text += [plain_markdown(s.title + "\n" + s.body) for s in code.sections if not s.gated]
    fields = {
        "title": tokens(title),
        "syn": tokens(" . ".join(code.synonyms)) if code.synonyms else [],
        "incl": tokens(without_mentions(" . ".join(incl))) if incl else [],
        "text": tokens(without_mentions(" . ".join(text))) if text else [],
    }
    if code.is_range:
        fields = {f: [t for t in toks if not t.isdigit()] for f, toks in fields.items()}
    return fields


def descendants(site: Site) -> dict[tuple[str, str], int]:
    """How many entries sit below each entry of the hierarchy."""
    count: dict[tuple[str, str], int] = {}
    children = site.children
    for top in site.codes:
        if top in count:
            continue
        stack = [(top, False)]
        while stack:
            key, done = stack.pop()
            kids = [k.key for k in children.get(key, ())]
            if done or not kids:
                count[key] = sum(1 + count.get(k, 0) for k in kids)
            elif key not in count:
                stack.append((key, True))
                stack.extend((k, False) for k in kids if k not in count)
    return count


def prior(n_descendants: int) -> float:
    """A document boost for broad entries: for "diabetes", E11 (hundreds of codes below it)
    before E23.2 Diabetes insipidus, whose title is merely shorter."""
    return 1 + PRIOR * math.log1p(n_descendants)


def documents(site: Site) -> list[Doc]:
    below = descendants(site)
    systems = list(site.config.systems)
    ordered = sorted(((order_of(systems, c), c) for c in site.codes.values()), key=lambda x: x[0])
    return [document(site, systems, i, code, code_fields(code, code.title or ""), prior(below.get(code.key, 0)), order)
            for i, (order, code) in enumerate(ordered)]


def document(site: Site, systems: list[str], docid: int, code: Code, fields: dict[str, list[str]], boost: float,
             order: tuple[int, int, str] | None = None) -> Doc:
    prefix = site.config.systems[code.system].url_prefix
    return Doc(docid, code.code, code.system, code.title or "", code.billable, code_url(prefix, code.code), fields,
               boost, order or order_of(systems, code), code.is_range)
