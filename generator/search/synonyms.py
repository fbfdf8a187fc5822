"""Lay synonyms in the token form both engines use: lay phrase -> clinical phrases.

``load.synonyms`` reads and checks ``content/synonyms.yaml`` (with the content, so ``check``
refuses a bad file as the build does); this module turns its phrases into tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..load import synonyms as source
from ..model.config import SYNONYMS_PATH
from .text import tokens

Synonyms = dict[str, list[list[str]]]  # "heart attack" (tokens joined) -> alternatives as tokens


def parse_synonyms(text: str, path: str = SYNONYMS_PATH) -> Synonyms:
    """``lay phrase: clinical phrase`` (or a list of them) -> token form used by both engines;
    raises the first problem (``load`` has reported them all before a build gets here)."""
    entries, errors = source.parse_synonyms(text, path)
    if errors:
        raise errors[0]
    return tokenized_synonyms(entries)


def tokenized_synonyms(entries: Mapping[str, list[str]]) -> Synonyms:
    out: Synonyms = {}
    for key, values in entries.items():
        k = " ".join(tokens(key))
        if k:
            alts = out.setdefault(k, [])
            alts += [t for t in (tokens(v) for v in values) if t and t not in alts]
    return out


def load_synonyms(site_dir: str) -> Synonyms:
    entries, _, errors = source.read_synonyms(site_dir)
    if errors:
        raise errors[0]
    return tokenized_synonyms(entries)
