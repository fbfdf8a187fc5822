"""Text analysis shared by both indexes and the query: folding, the plural stemmer, tokens,
edit distance. ``assets/search.js`` implements the same rules; the tests compare them."""

from __future__ import annotations

import functools
import re
import unicodedata

from ..mentions import code_like_word, code_query, normalize_code

__all__ = ["STOP_WORDS", "code_query", "edit_distance", "fnv1a", "fold", "is_code_like", "max_edits",
           "normalize_code", "plain_markdown", "stem", "tokens", "vocab_key", "words"]

STOP_WORDS = frozenset("a an and are as at be by for from in into is it of on or the to with".split())

_WORD = re.compile(r"[a-z0-9]+")
_MD_LINK = re.compile(r"\]\([^)]*\)")


def fold(text: str) -> str:
    """Lower case without accents (NFKD, combining marks dropped), as the client does."""
    if text.isascii():  # nearly every text: skip the per-character pass
        return text.lower()
    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def stem(word: str) -> str:
    """A plural folder, the same in search.js: injuries -> injury, fractures -> fracture."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def words(text: str) -> list[str]:
    """Folded words before stop words and stemming (the typo rules look at these)."""
    return [w for w in _WORD.findall(fold(text)) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())]


@functools.lru_cache(maxsize=65536)
def _token(word: str) -> str | None:
    """The index term of a folded word, None for a stop word (cached: the vocabulary is small)."""
    return stem(word) if word not in STOP_WORDS and (len(word) > 1 or word.isdigit()) else None


def tokens(text: str) -> list[str]:
    return [t for t in map(_token, _WORD.findall(fold(text))) if t is not None]


def is_code_like(word: str) -> bool:
    """Numbers and code-shaped words (s72, 27253, e0100) get no typo tolerance."""
    return code_like_word(word)


def max_edits(word: str) -> int:
    if is_code_like(word):
        return 0
    return 2 if len(word) >= 9 else 1 if len(word) >= 5 else 0


def edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (a transposition is one edit); ``limit + 1`` past it."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            v = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                v = min(v, prev2[j - 2] + 1)
            cur[j] = v
            best = min(best, v)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)] if prev[len(b)] <= limit else limit + 1


def fnv1a(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode():
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def vocab_key(term: str) -> str:
    """The vocabulary shard of a term (its first character): typo candidates are looked up by it."""
    return term[0]


def plain_markdown(text: str) -> str:
    return _MD_LINK.sub("] ", text)
