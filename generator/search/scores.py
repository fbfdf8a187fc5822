"""The scores both engines rank by, defined once.

BM25F over the document fields: a term's frequencies weighted by field and length-normalized,
summed over the fields, then saturated once (``doc_weights``, ``saturated``); times the
document's prior (``documents.prior``) and the term's idf; quantized to ``IMPACT_LEVELS``
against a bound (``top``); a very common term keeps its ``POSTINGS_CAP`` highest-impact
postings (``impacts``). ``client.py`` writes these impacts into the term shards;
``engine.py`` (whoosh) keeps each posting's ``saturated`` weight and makes the same impacts
at query time, so both engines score every document alike.

``rank`` orders the documents a query plan's groups match: documents matching more groups
first, then by their summed impacts (a group counts its best alternative), then in document
order. ``assets/search.js`` (``Engine.prototype.score``) takes the same steps.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

from .documents import FIELDS, Doc
from .query import Group

K1 = 1.2
B = 0.75
POSTINGS_CAP = 2000
DF_GRID = 64  # steps an octave of the document frequency of a capped term (``df_grid``)
IMPACT_LEVELS = 127


def idf(df: float, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


# A field fewer than MIN_FIELD_DOCS documents have (synonyms, a body among 98k empty ones) is
# given a typical average length (a centre of the quantizing grid) instead of its own: its own
# moves with every edit of one of its few documents, and once it crosses the grid every posting
# of the field changes (the whole client index made again). A field many documents have keeps
# its own average, which one edit moves by a few thousandths.
MIN_FIELD_DOCS = 500
TYPICAL_LENGTH = {"title": 2.0**3, "syn": 2.0**2.75, "incl": 2.0**3, "text": 2.0**5}


def quantized(x: float) -> float:
    """An average field length on a grid of quarter octaves (within 10% of it): an edit moves
    it rarely."""
    return 2 ** (round(math.log2(x) * 4) / 4) if x > 0 else 1.0


def field_stats(docs: Iterable[Doc]) -> tuple[dict[str, int], dict[str, int]]:
    """Per field: tokens over every document, and documents that have the field."""
    sums = dict.fromkeys(FIELDS, 0)
    counts = dict.fromkeys(FIELDS, 0)
    for d in docs:
        for f in FIELDS:
            n = len(d.fields[f])
            sums[f] += n
            counts[f] += n > 0
    return sums, counts


def averages(sums: Mapping[str, int], counts: Mapping[str, int]) -> dict[str, float]:
    """The average length of each field over the documents that have it, ``quantized``; a
    typical length for a field few documents have."""
    return {f: quantized(sums[f] / counts[f]) if counts[f] >= MIN_FIELD_DOCS else TYPICAL_LENGTH[f] for f in FIELDS}


def doc_weights(fields: Mapping[str, list[str]], avg: Mapping[str, float]) -> dict[str, float]:
    """A document's BM25F term weights: term frequencies by field weight and length norm."""
    wtf: dict[str, float] = {}
    get = wtf.get
    for f, weight in FIELDS.items():
        toks = fields[f]
        if not toks:
            continue
        norm = 1 - B + B * len(toks) / avg[f]
        for t, tf in Counter(toks).items():
            wtf[t] = get(t, 0.0) + weight * tf / norm
    return wtf


def saturated(w: float, boost: float) -> float:
    """A term's score in a document before its idf: the BM25 saturation of its weight ``w``,
    times the document's prior."""
    return boost * (K1 + 1) * w / (w + K1)


def population(n: int) -> int:
    """The document count the idfs are computed with: ``n`` rounded up to a grid of eighth
    octaves (at most 9% more, never fewer: no idf goes negative), so that a code that comes or
    goes moves no other term's impacts (it crosses a grid point once in thousands of codes on
    the full set, and the index is then made whole)."""
    return math.ceil(2 ** (math.ceil(math.log2(n) * 8) / 8)) if n > 0 else 1


def boost_bound(max_boost: float) -> float:
    """The largest prior, rounded up to a 32nd octave: a code below the broadest entry moves it
    by a millionth, which would move every impact."""
    return 2 ** (math.ceil(math.log2(max_boost) * 32) / 32) if max_boost > 0 else 1.0


def top(max_boost: float, n: int) -> float:
    """The scores' upper bound: no term weighs more than K1 + 1 once saturated, no idf is
    above that of a term in one document, no boost above the broadest entry's (both edit-stable:
    ``population``, ``boost_bound``)."""
    return boost_bound(max_boost) * idf(1, population(n)) * (K1 + 1)


Impacts = tuple[list[int], list[int]]  # documents, in order, and the term's impact in each


def impacts(docs: Sequence[int], sat: Sequence[float], n: int, bound: float) -> Impacts:
    """A term's postings (documents in order, their ``saturated`` weights) as impacts
    1..IMPACT_LEVELS; past ``POSTINGS_CAP`` postings only those of the highest impacts (first in
    document order among equals) are kept: by impact, not by score, so that a document whose
    prior moves changes the postings only when its own impact moves (``edit.impact_moved``)."""
    scale = term_scale(len(docs), n)
    return _capped(docs, [round(scale * s / bound * IMPACT_LEVELS) or 1 for s in sat])  # quantize(), inlined


def impacts_of_weights(docs: Sequence[int], weights: Sequence[float], boosts: Mapping[int, float], n: int,
                       bound: float) -> Impacts:
    """``impacts`` of a term's raw ``weights`` (``saturated`` with the documents' ``boosts``:
    the same arithmetic) in one pass: a common term of the full set has 37k postings."""
    return _capped(docs, impacts_uncapped(term_scale(len(docs), n), docs, weights, boosts, bound))


def impacts_uncapped(scale: float, docs: Sequence[int], weights: Sequence[float], boosts: Mapping[int, float],
              bound: float) -> list[int]:
    """The impacts of postings of a term whose idf is ``scale`` (``term_scale``), uncapped."""
    k = K1 + 1
    return [round(scale * (b * k * w / (w + K1)) / bound * IMPACT_LEVELS) or 1
            for b, w in zip(map(boosts.__getitem__, docs), weights, strict=True)]


def term_scale(df: int, n: int) -> float:
    """A term's idf as the impacts use it: past ``POSTINGS_CAP`` documents, of its document
    frequency on a grid (a 64th of an octave, 1%), so that a code that comes or goes moves no
    impact of a common term (it crosses a grid point once in hundreds of codes: see
    ``edit.patched_postings``); below, of the frequency itself."""
    return idf(df_grid(df), population(n))


def df_grid(df: int) -> float:
    return df if df <= POSTINGS_CAP else 2 ** (round(math.log2(df) * DF_GRID) / DF_GRID)


def _capped(docs: Sequence[int], qs: list[int]) -> Impacts:
    if len(qs) <= POSTINGS_CAP:
        return list(docs), qs
    # the cut: the lowest impact kept, and how many postings of it are (the first ones)
    count = Counter(qs)
    above = 0
    for cut in sorted(count, reverse=True):
        if above + count[cut] >= POSTINGS_CAP:
            break
        above += count[cut]
    ties = POSTINGS_CAP - above
    kept_docs, kept_qs = [], []
    for d, q in zip(docs, qs, strict=True):
        if q > cut or q == cut and ties > 0:
            if q == cut:
                ties -= 1
            kept_docs.append(d)
            kept_qs.append(q)
    return kept_docs, kept_qs


def quantize(score: float, bound: float) -> int:
    """A score as an impact: every score is below the bound (see ``top``), so round() never
    passes IMPACT_LEVELS."""
    return round(score / bound * IMPACT_LEVELS) or 1


def rank(groups: Sequence[Group], postings: Mapping[str, Impacts]) -> list[tuple[int, int, float]]:
    """``(document, groups matched, score)`` of every document a group matches, best first:
    more groups matched, then a higher score (each group adds its best alternative: a word's
    impact, or the summed impacts of a phrase's words, times the alternative's weight; a
    phrase counts as matched when the document holds all its words), then document order."""
    total: dict[int, float] = defaultdict(float)
    matched: dict[int, int] = defaultdict(int)
    for g in groups:
        best: dict[int, float] = {}
        full: set[int] = set()
        for a in g.alts:
            if len(a.terms) == 1:
                p = postings.get(a.terms[0])
                for d, q in zip(*p, strict=True) if p else ():
                    s = q * a.weight
                    if s > best.get(d, 0.0):
                        best[d] = s
                    full.add(d)
                continue
            sums: dict[int, int] = defaultdict(int)
            count: dict[int, int] = defaultdict(int)
            for t in a.terms:
                p = postings.get(t)
                for d, q in zip(*p, strict=True) if p else ():
                    sums[d] += q
                    count[d] += 1
            for d, q_sum in sums.items():
                s = q_sum * a.weight
                if s > best.get(d, 0.0):
                    best[d] = s
                if count[d] == len(a.terms):
                    full.add(d)
        for d, s in best.items():
            total[d] += s
            matched[d] += d in full
    return sorted(((d, matched[d], total[d]) for d in total), key=lambda x: (-x[1], -x[2], x[0]))
