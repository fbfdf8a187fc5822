"""The query plan, mirrored in ``assets/search.js``: groups of alternatives, one group per query
word or lay phrase (synonyms), plus typo alternatives for words missing from the index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .synonyms import Synonyms
from .text import edit_distance, max_edits, stem, words


@dataclass
class Alt:
    terms: list[str]
    weight: float


@dataclass
class Group:
    alts: list[Alt]


MAX_PHRASE = 4
SYNONYM_WEIGHT = 0.9
TYPO_WEIGHT = {1: 0.8, 2: 0.6}
MAX_TYPO_ALTS = 3


def typo_candidates(word: str, vocab: Iterable[tuple[str, int]]) -> list[str]:
    """Vocabulary terms within the allowed edits of ``word``: the closest, most frequent first."""
    limit = max_edits(word)
    if not limit:
        return []
    found: list[tuple[int, int, str]] = []
    for term, df in vocab:
        d = min(edit_distance(word, term, limit), edit_distance(word, term + "s", limit))
        if d <= limit:
            found.append((d, -df, term))
    found.sort()
    if not found:
        return []
    best = found[0][0]
    return [t for d, _, t in found if d == best][:MAX_TYPO_ALTS]


def plan(q: str, synonyms: Synonyms) -> tuple[list[Group], list[str]]:
    """Groups of alternatives, one group per query word or lay phrase; plus the raw words."""
    raw = words(q)
    toks = [stem(w) for w in raw]
    groups: list[Group] = []
    i = 0
    while i < len(toks):
        for n in range(min(MAX_PHRASE, len(toks) - i), 0, -1):
            key = " ".join(toks[i : i + n])
            if key in synonyms:
                alts = [Alt(toks[i : i + n], 1.0)] + [Alt(a, SYNONYM_WEIGHT) for a in synonyms[key]]
                groups.append(Group(alts))
                i += n
                break
        else:
            groups.append(Group([Alt([toks[i]], 1.0)]))
            i += 1
    return groups, raw


def add_typo_alts(groups: list[Group], raw: Sequence[str], known: set[str], vocab_for: Any) -> None:
    """For a single-word group whose word is not in the index, add its nearest terms."""
    stems = {stem(w): w for w in raw}
    for g in groups:
        first = g.alts[0]
        if len(first.terms) != 1 or first.terms[0] in known:
            continue
        term = first.terms[0]
        word = stems.get(term, term)
        if not max_edits(word):
            continue
        keys = {word[0], word[1]} if len(word) > 1 else {word[0]}
        vocab = [item for k in sorted(keys) for item in vocab_for(k)]
        for cand in typo_candidates(word, vocab):
            d = min(edit_distance(word, cand, 2), edit_distance(word, cand + "s", 2))
            g.alts.append(Alt([cand], TYPO_WEIGHT.get(d, 0.6)))

