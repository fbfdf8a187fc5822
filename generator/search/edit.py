"""The client index after an editor's edit (``prepare_edit``): the scores' ``State`` from the
last build gives what the edited documents' terms need; only the term, records and code-prefix
files that hold them are made again, each patched from the last build's file; the others are
carried over. Codes that come or go are placed first by ``churn``."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..model.code import Code
from ..model.site import Site
from ..outputs import Output
from . import scores
from .churn import churn, read_script
from .client import (
    INDEX_DIR,
    VOCAB_KEYS,
    Prepared,
    State,
    bucket_base,
    bucket_of,
    code_prefix,
    codes_file,
    encode_postings,
    flat_postings,
    manifest_file,
    record,
    records_file,
    script,
    term_shard,
    vocab_file,
)
from .documents import FIELDS, Doc, code_fields, document
from .scores import doc_weights
from .synonyms import Synonyms
from .text import vocab_key


def prepare_edit(site: Site, synonyms: Synonyms, before: Mapping[str, Code], after: Mapping[str, Code],
                 folder: str, token: str, live: str = "") -> Prepared | None:
    """The documents an edit changed and the client index files they change, from the last
    build's state (``token`` names it) and ``live``, the last build's client index folder (the
    records and code-prefix files it patches); None when the edit needs a full index: no such
    state, a parent or a kind changed (boosts move), an average field length or another grid of
    the scores moved, or the docid layout would (see ``churn``).

    ``before``/``after``: the changed files' codes by path; a path on one side only is a code
    that went or came.
    """

    state = State.load(folder, token)
    if state is not None:
        state.df_was = {}
    kept = sorted(p for p in after if p in before)
    came = {p: after[p] for p in sorted(after.keys() - before.keys())}
    went = {p: before[p] for p in sorted(before.keys() - after.keys())}
    if state is None or not live:
        return None
    if any((before[p].parent, before[p].kind) != (after[p].parent, after[p].kind) for p in kept):
        return None
    avg = state.avg()
    fields = {p: code_fields(c, c.title or "") for p, c in after.items()}
    fields_before = {p: code_fields(c, c.title or "") for p, c in before.items()}
    for f in FIELDS:
        state.sums[f] += sum(len(x[f]) for x in fields.values()) - sum(len(x[f]) for x in fields_before.values())
        state.counts[f] += sum(bool(x[f]) for x in fields.values()) - sum(bool(x[f]) for x in fields_before.values())
    if state.avg() != avg:
        return None
    systems = list(site.config.systems)
    layout, bound = state.layout, state.top()
    old_depths = list(state.depths)
    touched_groups = {docid // layout.span for c in (*came.values(), *went.values())
                      if (docid := layout.id(systems.index(c.system), c.code)) is not None}
    old_groups = {g: list(layout.group_ids(state.ids, g)) for g in touched_groups}
    n_before = state.n
    moved = churn(site, state, came, went) if came or went else None
    if (came or went) and moved is None:
        return None
    if moved and (scores.population(state.n) != scores.population(n_before) or state.top() != bound):
        return None  # every impact moves: made whole
    for g in touched_groups:
        state.depths[g] = layout.depth(layout.group_ids(state.ids, g))

    docs: list[Doc] = moved.docs if moved else []
    terms: set[str] = moved.terms if moved else set()  # whose postings changed
    fresh: dict[int, list[Any]] = {}  # docid -> its new display record
    families: dict[str, list[tuple[int, str, bool]]] = {}  # code prefix -> codes come or changed
    for c in came.values():
        docid = moved.came[c.key] if moved else 0
        fresh[docid] = record(c.code, c.title or "", c.billable)
        families.setdefault(code_prefix(c.code), []).append((docid, c.code, c.billable))
    for c in went.values():
        families.setdefault(code_prefix(c.code), [])
    gone = set(moved.went.values()) if moved else set()
    for path in kept:
        new, old = after[path], before[path]
        i = layout.id(systems.index(new.system), new.code)
        if i is None or old.key != new.key or state.find(i) is None:
            return None
        w_before, w_after = doc_weights(fields_before[path], avg), doc_weights(fields[path], avg)
        if new.billable != old.billable:
            state.billable[i] = new.billable
            families.setdefault(code_prefix(new.code), []).append((i, new.code, new.billable))
            changed = set(w_before) | set(w_after)
        else:
            changed = {t for t in w_before.keys() | w_after.keys() if w_before.get(t) != w_after.get(t)}
        terms |= changed
        if (new.title, new.billable) != (old.title, old.billable):
            fresh[i] = record(new.code, new.title or "", new.billable)
        for t in changed:
            shard = state.shard(term_shard(t))
            state.dirty.add(term_shard(t))
            ids, ws = shard.get(t, ([], []))
            at = bisect.bisect_left(ids, i)
            if at < len(ids) and ids[at] == i:
                del ids[at], ws[at]
            if t in w_after:
                ids.insert(at, i)
                ws.insert(at, w_after[t])
            state.set_df(t, len(ids))
            if ids:
                shard[t] = (ids, ws)
            else:
                shard.pop(t, None)
        docs.append(document(site, systems, state.position(i), new, fields[path], state.boosts[i]))
    state.changed()
    encode = set(terms)  # terms whose postings the client reads differently
    for docid, (old_boost, a) in (moved.moved.items() if moved else ()):
        for t, w in doc_weights(code_fields(a, a.title or ""), avg).items():
            if t not in encode and impact_moved(state, t, w, old_boost, state.boosts[docid], bound):
                encode.add(t)

    edited = {*fresh, *gone, *(moved.moved if moved else ())}  # docids whose postings can differ
    for path in kept:
        if (i := layout.id(systems.index(after[path].system), after[path].code)) is not None:
            edited.add(i)
    outputs: list[Output] = []
    try:
        by_shard: dict[int, list[str]] = {}  # each term hashed once, not once per shard
        for t in encode:
            by_shard.setdefault(term_shard(t), []).append(t)
        outputs += [patched_term_file(i, state, bound, live, by_shard[i], edited) for i in sorted(by_shard)]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a file of the last build missing or not ours: made whole
    wanted = {k: state.vocab_part(k) for k in {vocab_key(t) for t in terms}}
    if any(not wanted[k] and k not in VOCAB_KEYS for k in wanted):
        return None  # a vocabulary file goes (a clean build makes none)
    outputs += [vocab_file(k, wanted[k]) for k in sorted(wanted)]
    dropped: list[str] = []
    try:
        for k in sorted(families):
            out = patched_codes_file(live, k, families[k], gone)
            if out is None:
                dropped.append(f"site/{INDEX_DIR}/c/{k}.js")
            else:
                outputs.append(out)
        came_ids = set(moved.came.values()) if moved else set()
        rec_outputs, rec_dropped = patched_records(state, live, fresh, came_ids, gone, old_depths, old_groups)
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None  # a file of the last build missing or not ours: made whole
    outputs += rec_outputs
    dropped += rec_dropped
    if moved:
        outputs.append(manifest_file(site, state, synonyms))
    return Prepared(docs, synonyms, state, outputs, moved.removed if moved else [], dropped)


def patched_term_file(i: int, state: State, bound: float, live: str, terms: Iterable[str],
                      edited: set[int]) -> Output:
    """The term shard ``i`` of the last build with the postings of ``terms`` (its own) made
    again (the others as they were), a common term's patched where it can be
    (``patched_postings``)."""

    data = read_script(f"{live}/t/{i}.js")
    assert isinstance(data, dict)
    shard = state.shard(i)
    for t in terms:
        if t not in shard:
            data.pop(t, None)
            continue
        patched = patched_postings(data.get(t), shard[t], state, bound, state.df_was.get(t, 0), edited)
        data[t] = encode_postings(shard[t], state, bound) if patched is None else patched
    return Output("site", f"{INDEX_DIR}/t/{i}.js", script(f"t/{i}", {t: data[t] for t in sorted(data)}))


def patched_postings(last: Any, plist: tuple[list[int], list[float]], state: State, bound: float, df_was: int,
                     edited: set[int]) -> list[int] | None:
    """A capped term's postings as ``encode_postings`` makes them, from the last build's
    (``last``, as the client reads them) and the documents of ``edited``, without the impacts
    of its other documents (a term in 37k documents: 10 ms): they stand while its idf does
    (``scores.term_scale``), and the postings kept are the highest impacts, so the documents
    kept now are among those kept before and those edited. None when that does not hold: a
    term not capped before or now, its idf moved, a document kept before whose impact fell or
    that went (the one that would take its place is not known)."""
    docs, ws = plist
    cap = scores.POSTINGS_CAP
    if not isinstance(last, list) or len(last) != 2 * cap or len(docs) <= cap or df_was <= cap:
        return None
    if scores.df_grid(df_was) != scores.df_grid(len(docs)):
        return None
    kept: dict[int, int] = {}
    values: dict[int, int] = {}  # as the client reads them: impact and flags
    docid = 0
    for delta, value in zip(last[0::2], last[1::2], strict=True):
        docid += delta
        kept[docid] = value >> 2
        values[docid] = value
    scale = scores.term_scale(len(docs), state.n)
    came: dict[int, int] = {}  # documents not kept before, and their impacts
    same = True  # every document kept before reads as it did
    for d in sorted(edited):
        at = bisect.bisect_left(docs, d)
        there = at < len(docs) and docs[at] == d
        q = scores.impacts_uncapped(scale, [d], [ws[at]], state.boosts, bound)[0] if there else 0
        if d in kept and q < kept[d]:
            return None
        if d in kept:
            same = same and q * 4 + state.flag(d) == values[d]
        elif there:
            came[d] = q
        if there:
            kept[d] = q
    if same and len(values) == cap and all(below(d, q, kept, values) for d, q in came.items()):
        return last  # no document that came is among the highest impacts: as the last build's
    if len(kept) > cap:  # the highest impacts, the first documents among equals
        kept = dict(sorted(kept.items(), key=lambda dq: (-dq[1], dq[0]))[:cap])
    ids = sorted(kept)
    return flat_postings(ids, [kept[d] for d in ids], state)


def below(d: int, q: int, kept: Mapping[int, int], before: Mapping[int, int]) -> bool:
    """Whether document ``d`` with impact ``q`` ranks below every document of ``before``
    (by impact, then the first documents among equals), their impacts as in ``kept``."""
    low = min(kept[k] for k in before)
    return q < low or (q == low and d > max(k for k in before if kept[k] == low))


def impact_moved(state: State, term: str, weight: float, old_boost: float, new_boost: float, bound: float) -> bool:
    """Whether a document whose prior moved changes the term's postings as the client reads
    them: only when its own impact moves (a capped term keeps its postings by impact)."""
    scale = scores.term_scale(state.vocab[term], state.n)
    return scores.quantize(scale * scores.saturated(weight, old_boost), bound) != scores.quantize(
        scale * scores.saturated(weight, new_boost), bound)


def patched_codes_file(live: str, k: str, changes: Sequence[tuple[int, str, bool]], gone: set[int]) -> Output | None:
    """The code-prefix file ``k`` of the last build with codes added, gone or changed; None
    when no code is left."""

    try:
        data = read_script(f"{live}/c/{k}.js")
    except FileNotFoundError:
        data = {"s": [], "d": [], "b": ""}
    assert isinstance(data, dict)
    docid = 0
    family: dict[int, tuple[int, str, bool]] = {}
    for suffix, delta, bit in zip(data["s"], data["d"], data["b"], strict=True):
        docid += delta
        family[docid] = (docid, k + suffix, bit == "1")  # the code as normalized: only its suffix is written
    for change in changes:
        family[change[0]] = change
    for docid in gone:
        family.pop(docid, None)
    if not family:
        return None
    return codes_file(k, [family[d] for d in sorted(family)])


def patched_records(state: State, live: str, fresh: Mapping[int, list[Any]], came: set[int], gone: set[int],
                    old_depths: Sequence[int], old_groups: Mapping[int, Sequence[int]]
                    ) -> tuple[list[Output], list[str]]:
    """The records files an edit changes (new or changed records, codes gone, a group's files
    shared out anew, the docid after a file's last), from the last build's; and those that go."""

    layout, ids = state.layout, state.ids
    touched = {bucket_of(state, docid) for docid in (*fresh, *gone)}  # (a file left empty goes)
    for docid in (*came, *gone):
        at = bisect.bisect_left(ids, docid)
        if at > 0:
            touched.add(bucket_of(state, ids[at - 1]))  # the file before: the docid after its last
    old_names: set[str] = set()
    for g, old_ids in old_groups.items():
        for d in old_ids:
            old_names.add(layout.name(g, layout.bucket(d, old_depths[g])[1], old_depths[g]))
        if state.depths[g] != old_depths[g]:
            touched.update(bucket_of(state, d) for d in layout.group_ids(ids, g))
    old_rows: dict[str, dict[int, list[Any]]] = {}

    def row(docid: int) -> list[Any]:
        if docid in fresh:
            return fresh[docid]
        g = docid // layout.span
        depth = old_depths[g]
        part = layout.bucket(docid, depth)[1]
        name = layout.name(g, part, depth)
        if name not in old_rows:
            data = read_script(f"{live}/r/{name}.js")
            assert isinstance(data, dict)
            base = g * layout.span + part * layout.unit(depth)
            rows, d = {}, base
            for delta, r in zip(data["d"], data["r"], strict=True):
                d += delta
                rows[d] = r
            old_rows[name] = rows
        return old_rows[name][docid]

    outputs = []
    new_names: set[str] = set()
    for b in sorted(touched):
        base = bucket_base(state, b)
        g = b[0]
        end = min(base + layout.unit(state.depths[g]), (g + 1) * layout.span)  # within the group
        lo = bisect.bisect_left(ids, base)
        hi = bisect.bisect_left(ids, end, lo)
        if hi == lo:
            continue
        new_names.add(layout.name(g, b[1], state.depths[g]))
        after = ids[hi] if hi < len(ids) else None
        outputs.append(records_file(state, b, [(d, row(d)) for d in ids[lo:hi]], after))
    for g in old_groups:
        new_names.update(layout.name(g, layout.bucket(d, state.depths[g])[1], state.depths[g])
                         for d in layout.group_ids(ids, g))
    dropped = [f"site/{INDEX_DIR}/r/{name}.js" for name in sorted(old_names - new_names)]
    return outputs, dropped
