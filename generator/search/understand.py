"""Query understanding, defined once: the rule tables here are what the whoosh engine applies
(``engine.py``) and what the client applies too, reading them from the manifest (``RULES``,
written by ``client.py``; ``assets/search.js`` implements the same steps).

- Domain noise words (``icd``, ``icd 10``, ``code``, ``diagnosis``, ``what``...) are dropped when
  other words remain: "which icd-10 code is atrial fibrillation" searches "atrial fibrillation".
- Axis words name a place in the code structure, not a word to find: "initial encounter" is the
  7th character A of an injury code, "subsequent encounter" D, "sequela" S; "left", "right" and
  "bilateral" the laterality a title states. They re-rank the best candidates (``reorder``): a
  boost, never a filter. The encounter words are not scored as terms (they are in most of the
  70,000 injury titles, so their postings keep only the shortest titles); the side words are.
  "malunion" and "nonunion" name the 7th characters P and K of a fracture's later encounters.
- Pregnancy and the newborn are a context, not a condition: codes of ICD-10-CM chapters 15
  and 16 (O, P: "essential hypertension complicating pregnancy", "congenital pneumonia") follow
  the others among the best candidates unless the query names that context.
- Range pages (chapters, blocks) follow every code for a words query (``engine._text_search``;
  ``assets/search.js`` reads them from the manifest).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .text import normalize_code, stem, tokens

NOISE_WORDS = ("icd", "icd9", "icd10", "icd10cm", "cm", "code", "codes", "diagnosis", "diagnoses", "dx",
               "which", "what", "whats", "lookup")
NOISE_BEFORE_NUMBER = "icd"  # "icd 10", "icd-10": the number right after it is noise too
SEVENTH = {"initial": "A", "subsequent": "D", "sequela": "S", "sequelae": "S"}
SEVENTH_OPEN = ("open", "B")  # "initial encounter" of an open fracture is B
SEVENTH_HEALING = {"malunion": "P", "nonunion": "K"}  # scored as terms too, and before SEVENTH
ENCOUNTER = ("encounter", "encounters")  # dropped with an encounter word
SIDES = ("left", "right", "bilateral")
CONTEXT_SYSTEM = "icd10cm"
CONTEXT_CHAPTERS = ("O", "P")  # first letters: pregnancy, childbirth, the puerperium; perinatal
CONTEXT_WORDS = ("pregnancy", "pregnant", "obstetric", "antepartum", "postpartum", "puerperal", "puerperium",
                 "gestation", "gestational", "trimester", "labor", "labour", "delivery", "childbirth", "maternal",
                 "newborn", "neonatal", "neonate", "perinatal", "fetal", "fetus", "baby", "infant", "preterm")
SEVENTH_LEN = 7  # a code with a 7th character, normalized (S72001A)
HEAD = 10  # candidates re-ranked by the axis words
SCAN = 48  # descendants of a candidate looked at for its 7-character codes
KIDS = 2  # 7-character codes brought in above a candidate
MIN_PARENT = 4  # shorter codes (S72) have too many descendants to pick from

RULES = {
    "noise": list(NOISE_WORDS),
    "noiseBeforeNumber": NOISE_BEFORE_NUMBER,
    "seventh": SEVENTH,
    "seventhOpen": list(SEVENTH_OPEN),
    "seventhHealing": SEVENTH_HEALING,
    "encounter": list(ENCOUNTER),
    "sides": list(SIDES),
    "contextSystem": CONTEXT_SYSTEM,
    "contextChapters": list(CONTEXT_CHAPTERS),
    "contextWords": list(CONTEXT_WORDS),
    "seventhLen": SEVENTH_LEN,
    "head": HEAD,
    "scan": SCAN,
    "kids": KIDS,
    "minParent": MIN_PARENT,
}


@dataclass(frozen=True)
class Axis:
    seventh: str = ""  # the wanted 7th character, or ""
    side: str = ""  # left, right, bilateral, or ""
    context: bool = False  # the query names pregnancy or the newborn
    terms: tuple[str, ...] = ()  # the scored words, stemmed: to choose among 7-character codes


def understand(raw: Sequence[str]) -> tuple[list[str], Axis]:
    """The query words to score (noise and encounter words out, unless nothing else is left)
    and the axis the words name. ``raw``: folded words without stop words (``text.words``)."""
    noise = set(NOISE_WORDS)
    drop = [False] * len(raw)
    seventh = ""
    for i, w in enumerate(raw):
        if w in noise:
            drop[i] = True
            if w == NOISE_BEFORE_NUMBER and i + 1 < len(raw) and raw[i + 1].isdigit():
                drop[i + 1] = True
        elif w in SEVENTH:
            drop[i] = True
            seventh = seventh or SEVENTH[w]
    if seventh:
        for i, w in enumerate(raw):
            if w in ENCOUNTER:
                drop[i] = True
        if seventh == SEVENTH["initial"] and SEVENTH_OPEN[0] in raw:
            seventh = SEVENTH_OPEN[1]
    healing = [SEVENTH_HEALING[w] for w in raw if w in SEVENTH_HEALING]
    if healing:
        seventh = healing[0]
    side = next((w for w in raw if w in SIDES), "")
    context = any(w in CONTEXT_WORDS for w in raw)
    kept = [w for w, d in zip(raw, drop, strict=True) if not d] or list(raw)
    return kept, Axis(seventh, side, context, tuple(stem(w) for w in kept))


def side_rank(title: str, side: str) -> int:
    """0: the title states the wanted side; 1: no side; 2: another side only."""
    if not side:
        return 1
    words = set(tokens(title))
    if side in words:
        return 0
    return 2 if words & set(SIDES) else 1


@dataclass(frozen=True)
class Cand:
    key: object  # what the engine knows the result by
    code: str
    title: str
    system: str


def overlap(title: str, terms: Sequence[str]) -> int:
    """How many of the query's words the title holds."""
    words = set(tokens(title))
    return sum(1 for t in terms if t in words)


def reorder(head: Sequence[Cand], below: Callable[[Cand], Sequence[Cand]], axis: Axis) -> list[Cand]:
    """The best candidates re-ranked by the axis words. With a 7th character, each candidate of
    ``MIN_PARENT`` or more characters brings in (just above it) up to ``KIDS`` of its
    7-character codes with that character (the wanted side first, then those whose titles hold
    more of the query's words); ``below(c)``: the first ``SCAN`` descendants of ``c`` in code
    order. Then, stable: codes with another 7th character last; pregnancy and newborn codes
    after the others unless the query names that context; titles stating the wanted side
    first and those stating another side after; codes with the wanted 7th character first."""
    out: list[Cand] = []
    seen: set[object] = set()

    def add(c: Cand) -> None:
        if c.key not in seen:
            seen.add(c.key)
            out.append(c)

    for c in head:
        n = len(normalize_code(c.code))
        if axis.seventh and MIN_PARENT <= n < SEVENTH_LEN:
            kids = [k for k in below(c)
                    if len(normalize_code(k.code)) == SEVENTH_LEN and normalize_code(k.code).endswith(axis.seventh)]
            kids.sort(key=lambda k: (side_rank(k.title, axis.side), -overlap(k.title, axis.terms)))  # stable
            for k in kids[:KIDS]:
                add(k)
        add(c)

    def rank(c: Cand) -> tuple[bool, bool, int, bool]:
        norm = normalize_code(c.code)
        full = bool(axis.seventh) and len(norm) == SEVENTH_LEN
        context = not axis.context and c.system == CONTEXT_SYSTEM and norm.startswith(CONTEXT_CHAPTERS)
        return (full and not norm.endswith(axis.seventh), context, side_rank(c.title, axis.side),
                not (full and norm.endswith(axis.seventh)))

    return sorted(out, key=rank)
