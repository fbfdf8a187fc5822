"""Codes that came or went in an editor's edit, applied to the client index's scores' state in
place (``edit.prepare_edit``), so the search stage needs no document of the other 98k codes.

Docids stay with their codes (``ids``): a code that comes takes its own docid, one that goes
leaves a gap, and no other docid moves. The new code's postings go in (the old one's out), the
ancestors' priors (counts of entries below) move by one, and ``prepare_edit`` rewrites just
the files that changed: the terms' shards, the records and code-prefix files holding the code,
the manifest. None when the edit is better made whole (the layout of docids or the scores'
grids would move: a clean build would then write other files).
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model.code import Code
from ..model.site import Site
from .client import State, term_shard
from .documents import PRIOR, Doc, code_fields, document, prior
from .engine import doc_key
from .ids import BASE_ALPHABET, MIN_LENGTH, group_of
from .scores import doc_weights

Key = tuple[str, str]
MAX_CHURN = 8  # codes coming or going in one edit, past which the index is made whole
PUSH = "window.__csIdx.push("


@dataclass
class Churned:
    """What ``churn`` did to the state."""

    came: dict[Key, int] = field(default_factory=dict)  # docids of the codes that came
    went: dict[Key, int] = field(default_factory=dict)  # docids of the codes that went
    docs: list[Doc] = field(default_factory=list)  # documents made or changed: new codes, ancestors
    removed: list[str] = field(default_factory=list)  # whoosh keys of the codes that went
    terms: set[str] = field(default_factory=set)  # whose postings or document frequency changed
    moved: dict[int, tuple[float, Code]] = field(default_factory=dict)  # ancestors: docid -> old prior, code


def descendants_of(boost: float) -> int:
    """The count of entries below a document, from its boost (``documents.prior``)."""
    return round(math.expm1((boost - 1) / PRIOR))


def read_script(path: str) -> object:
    """The data of a client index file (``client.script``)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith(PUSH) or not text.endswith(");\n"):
        raise ValueError(f"{path}: not a client index file")
    return json.loads(text[len(PUSH) : -len(");\n")])[1]


def fits(state: State, rank: int, code: str) -> bool:
    """Whether a clean build without ``code`` keeps the layout: its group keeps other codes
    (checked by the caller), and it brought no character or length of its own."""
    _, rest, _ = group_of(rank, code)
    return len(rest) <= MIN_LENGTH and all(ch in BASE_ALPHABET for ch in rest) and state.layout.length > 0


def churn(site: Site, state: State, came: Mapping[str, Code], went: Mapping[str, Code]) -> Churned | None:
    """Take the codes of ``went`` out of ``state`` and put those of ``came`` in. None when this
    edit is better made whole: too many codes, a code that came or went under another that did
    (the counts below them), a code outside the docid layout (a new group, character or
    length), a group left empty. ``state`` may be changed either way (a fresh load)."""
    keys = {c.key for c in (*came.values(), *went.values())}
    if len(keys) > MAX_CHURN or any((c.system, c.parent) in keys for c in (*came.values(), *went.values())):
        return None
    systems = list(site.config.systems)
    layout = state.layout
    done = Churned()
    for c in came.values():
        docid = layout.id(systems.index(c.system), c.code)
        if docid is None or c.key in done.came:
            return None
        done.came[c.key] = docid
    for c in went.values():
        docid = layout.id(systems.index(c.system), c.code)
        at = state.find(docid) if docid is not None else None
        if docid is None or at is None or state.keys[at] != c.key or not fits(state, systems.index(c.system), c.code):
            return None
        done.went[c.key] = docid
    avg = state.avg()
    below: dict[Key, int] = {}  # ancestors: change of the count of entries below them
    for c in went.values():
        docid = done.went[c.key]
        for t in doc_weights(code_fields(c, c.title or ""), avg):
            ids, ws = state.shard(term_shard(t))[t]
            at = bisect.bisect_left(ids, docid)
            del ids[at], ws[at]
            done.terms.add(t)
        at = state.position(docid)
        del state.keys[at], state.ids[at]
        del state.boosts[docid], state.billable[docid]
        state.ranges.discard(docid)
        done.removed.append(doc_key(document(site, systems, at, c, {}, 1.0)))
        for a in site.ancestors(c):
            below[a.key] = below.get(a.key, 0) - 1
    for docid in done.went.values():
        if not layout.group_ids(state.ids, docid // layout.span):
            return None  # the group goes: a clean build numbers the groups after it anew
    came_fields = {c.key: code_fields(c, c.title or "") for c in came.values()}
    for c in came.values():
        docid = done.came[c.key]
        at = state.position(docid)
        if at < state.n and state.ids[at] == docid:
            return None  # cannot be: two codes with one docid
        state.keys.insert(at, c.key)
        state.ids.insert(at, docid)
        state.boosts[docid], state.billable[docid] = prior(0), c.billable
        if c.is_range:
            state.ranges.add(docid)
        for t, w in doc_weights(came_fields[c.key], avg).items():
            ids, ws = state.shard(term_shard(t)).setdefault(t, ([], []))
            at = bisect.bisect_left(ids, docid)
            ids.insert(at, docid)
            ws.insert(at, w)
            done.terms.add(t)
        for a in site.ancestors(c):
            below[a.key] = below.get(a.key, 0) + 1
    for t in done.terms:
        shard = state.shard(term_shard(t))
        state.dirty.add(term_shard(t))
        state.set_df(t, len(shard[t][0]))
        if not shard[t][0]:
            del shard[t]
    for k, change in below.items():
        if not change:
            continue
        a = site.codes[k]
        docid = layout.id(systems.index(a.system), a.code)
        if docid is None:
            return None
        old = state.boosts[docid]
        state.boosts[docid] = prior(descendants_of(old) + change)
        done.moved[docid] = (old, a)
        i = state.position(docid)
        done.docs.append(document(site, systems, i, a, code_fields(a, a.title or ""), state.boosts[docid]))
    for c in came.values():
        docid = done.came[c.key]
        done.docs.append(document(site, systems, state.position(docid), c, came_fields[c.key], prior(0)))
    return done
