"""Codes that came or went in an editor's edit, applied to the client index's scores' state in
place (``client.prepare_edit``), so the search stage needs no document of the other 98k codes.

Docids are positions in document order: a code that comes or goes moves every docid after it.
The state's postings are renumbered (every term shard is then written again: its deltas and,
with the document count, its impacts may change), the new code's postings added, the ancestors'
boosts (counts of entries below) moved by one, and the display records from the first moved
docid on are made again from the last build's record files, which hold every title already.
The result is what a clean build makes of the same codes.
"""

from __future__ import annotations

import bisect
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..model.code import Code
from ..model.site import Site, sort_key
from .client import RECORDS_PER_SHARD, TERM_SHARDS, State, record, term_shard
from .documents import PRIOR, Doc, code_fields, document, order_of, prior
from .engine import doc_key
from .scores import doc_weights

Key = tuple[str, str]
Row = list[object]  # a display record: [code, title, billable 0/1]
MAX_CHURN = 8  # codes coming or going in one edit, past which the index is made whole
PUSH = "window.__csIdx.push("


@dataclass
class Churned:
    """What ``churn`` did to the state."""

    first: int  # the lowest docid that moved (in the new numbering)
    rows: dict[Key, Row]  # display records of the codes from ``first``'s records shard on
    docs: list[Doc] = field(default_factory=list)  # documents made or changed: new codes, ancestors
    removed: list[str] = field(default_factory=list)  # whoosh keys of the codes that went
    terms: set[str] = field(default_factory=set)  # whose postings or document frequency changed


def descendants_of(boost: float) -> int:
    """The count of entries below a document, from its boost (``documents.prior``)."""
    return round(math.expm1((boost - 1) / PRIOR))


def read_records(path: str) -> list[Row]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not text.startswith(PUSH) or not text.endswith(");\n"):
        raise ValueError(f"{path}: not a records file")
    return json.loads(text[len(PUSH) : -len(");\n")])[1]  # type: ignore[no-any-return]


def churn(site: Site, state: State, came: Mapping[str, Code], went: Mapping[str, Code], live: str) -> Churned | None:
    """Take the codes of ``went`` out of ``state`` and put those of ``came`` in; ``live``: the
    last build's client index folder. None when this edit is better made whole: too many
    codes, a code that came or went under another that did (the counts below them), a record
    file of the last build missing. ``state`` is changed either way (a fresh load)."""
    per_shard = RECORDS_PER_SHARD
    keys = {c.key for c in (*came.values(), *went.values())}
    if len(keys) > MAX_CHURN or any((c.system, c.parent) in keys for c in (*came.values(), *went.values())):
        return None
    systems = list(site.config.systems)

    def order(k: Key) -> tuple[int, int, str]:
        return (systems.index(k[0]), *sort_key(k[1]))

    old_ids = sorted(state.keys.index(c.key) for c in went.values())
    spots = [bisect.bisect_left(state.keys, order_of(systems, c), key=order) for c in came.values()]
    first_old = min(old_ids + spots)
    chunk = first_old // per_shard
    try:
        old_rows = [r for n in range(chunk, -(-state.n // per_shard)) for r in read_records(f"{live}/r/{n}.js")]
    except (OSError, ValueError, IndexError):
        return None
    rows = dict(zip(state.keys[chunk * per_shard :], old_rows, strict=True))
    done = Churned(chunk * per_shard, rows)
    avg = state.avg()
    below: dict[Key, int] = {}  # ancestors: change of the count of entries below them
    # the codes that went: their postings out, then every docid renumbered
    for c in went.values():
        i = state.keys.index(c.key)
        for t in doc_weights(code_fields(c, c.title or ""), avg):
            shard = state.shard(term_shard(t))
            ids, ws = shard[t]
            at = bisect.bisect_left(ids, i)
            del ids[at], ws[at]
            done.terms.add(t)
        done.removed.append(doc_key(document(site, systems, i, c, {}, 1.0)))
        rows.pop(c.key, None)
        for a in site.ancestors(c):
            below[a.key] = below.get(a.key, 0) - 1
    gone = {c.key for c in went.values()}
    final = [k for k in state.keys if k not in gone]
    for c in sorted(came.values(), key=lambda c: order_of(systems, c)):
        final.insert(bisect.bisect_left(final, order_of(systems, c), key=order), c.key)
        for a in site.ancestors(c):
            below[a.key] = below.get(a.key, 0) + 1
    if -(-len(final) // per_shard) < -(-state.n // per_shard):
        return None  # the last records file goes (a clean build makes none)
    # positions before ``first_old`` are the same in both numberings
    new_id = {k: i for i, k in enumerate(final[first_old:], first_old)}
    remap = [new_id.get(k, -1) for k in state.keys[first_old:]]
    boosts = dict(zip(state.keys, state.boosts, strict=True))
    billable = dict(zip(state.keys, state.billable, strict=True))
    ranges = [i if i < first_old else remap[i - first_old] for i in state.ranges]
    for s in range(TERM_SHARDS):
        shard = state.shard(s)
        state.dirty.add(s)
        for ids, _ in shard.values():
            at = bisect.bisect_left(ids, first_old)
            ids[at:] = [remap[x - first_old] for x in ids[at:]]
    # the codes that came: their postings in
    came_fields = {c.key: code_fields(c, c.title or "") for c in came.values()}
    for c in came.values():
        i = new_id[c.key]
        for t, w in doc_weights(came_fields[c.key], avg).items():
            shard = state.shard(term_shard(t))
            ids, ws = shard.setdefault(t, ([], []))
            at = bisect.bisect_left(ids, i)
            ids.insert(at, i)
            ws.insert(at, w)
            done.terms.add(t)
        boosts[c.key], billable[c.key] = prior(0), c.billable
        if c.is_range:
            ranges.append(i)
        rows[c.key] = record(c.code, c.title or "", c.billable)
    for t in done.terms:
        shard = state.shard(term_shard(t))
        if shard[t][0]:
            state.vocab[t] = len(shard[t][0])
        else:
            del shard[t]
            state.vocab.pop(t, None)
    for k, change in below.items():
        if change:
            boosts[k] = prior(descendants_of(boosts[k]) + change)
    state.keys = final
    state.boosts = [boosts[k] for k in final]
    state.billable = [billable[k] for k in final]
    state.ranges = sorted(i for i in ranges if i >= 0)
    for c in came.values():
        done.docs.append(document(site, systems, new_id[c.key], c, came_fields[c.key], prior(0)))
    for k, change in below.items():
        if change:
            a = site.codes[k]
            i = new_id[k] if k in new_id else final.index(k)  # before the first that moved
            done.docs.append(document(site, systems, i, a, code_fields(a, a.title or ""), boosts[k]))
    return done
