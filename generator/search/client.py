"""The client index (``build/site/search-index/``): a set of classic scripts
(``window.__csIdx.push([name, data])``) so that it loads with ``<script>`` from file:// as well
as over HTTP; ``assets/search.js`` reads it.

- ``manifest.js``: counts, BM25 settings, shard counts, systems (docid ranges), lay synonyms,
  the docid layout and each group's records depth (``ids``).
- ``t/<n>.js``: term shards (FNV-1a hash of the term); each term's postings as a flat list
  ``[docid delta, impact*4 + range*2 + billable, ...]``. The impact is the term's BM25F score in that
  document (times a prior for broad entries, see ``documents.prior``), computed here and
  quantized, so the client only adds numbers. Very common terms keep their ``POSTINGS_CAP``
  highest-impact postings: short titles and broad entries, what a one-word query wants. The
  scores are edit-stable (see ``State``): an edit changes the postings of the terms it
  touches, no others.
- ``v/<c>.js``: the vocabulary by first character, with document frequencies, loaded only for
  typo correction and as-you-type prefixes.
- ``c/<KEY>.js``: code-prefix shards keyed by the first three characters of the normalized code
  (upper case, no dot), in code order: exact code lookup and family listings.
- ``r/<g>.js``, ``r/<g>-<part>.js``: display records ``[code, title, billable]`` of one docid
  group (or part of a large one, see ``ids``), in code order, with their docids (``d``, from the
  file's first possible docid) and the docid of the record after the file's last (``n``).

Docids are not positions: they follow code order with gaps (``ids``), so a code that comes or
goes changes the files that hold it, not every file after it. After an editor's edit
(``prepare_edit``, ``churn``) the scores' ``State`` from the last build (in the snapshot
folder) gives what the edited documents' terms need, and the index files they do not touch are
carried over.
"""

from __future__ import annotations

import bisect
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import parallel
from ..model.code import Code
from ..model.site import Site
from ..outputs import DAMAGED, Output, read_marshal, write_marshal
from . import scores
from .documents import FIELDS, FORMAT, Doc, code_fields, document, documents
from .ids import Layout
from .query import MAX_PHRASE, MAX_TYPO_ALTS, SYNONYM_WEIGHT, TYPO_WEIGHT
from .scores import averages, doc_weights, field_stats, impacts, saturated_all
from .synonyms import Synonyms
from .text import STOP_WORDS, fnv1a, normalize_code, vocab_key
from .understand import RULES

INDEX_DIR = "search-index"  # under build/site
VOCAB_KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"
TERM_SHARDS = 2048  # sparse docids make postings longer: finer shards keep a first query within 30 KB
PREFIX_LEN = 3


def term_shard(term: str) -> int:
    return fnv1a(term) % TERM_SHARDS



def script(name: str, data: Any) -> bytes:
    body = json.dumps([name, data], ensure_ascii=False, separators=(",", ":"))
    return f"window.__csIdx.push({body});\n".encode()


Postings = tuple[list[int], list[float]]  # docids in order, and the term's weight in each
Key = tuple[str, str]  # (system, code)


@dataclass
class State:
    """What the scores depend on, kept between builds (``OUT/.cache/search*``) so that an edit
    changes only the index files of the terms it touches.

    The scores are edit-stable by design: the average field lengths are ``quantized`` (counted
    over the documents that have the field: most have no notes; a rare field gets a typical
    length, see ``average_length``), the document count and the largest prior are put on grids
    (``scores.population``, ``scores.boost_bound``), and the impacts are quantized against a
    bound, not against the highest score seen, so one document's text moves nothing but its
    own postings and its terms' document frequencies. Docids (``ids``) stay with their codes.
    """

    keys: list[Key]  # in document order
    ids: list[int]  # their docids, ascending
    boosts: dict[int, float]  # by docid
    billable: dict[int, bool]
    ranges: set[int]  # the docids of chapters and blocks
    sums: dict[str, int]  # per field: tokens, over every document
    counts: dict[str, int]  # per field: documents that have it
    vocab: dict[str, int]  # document frequency of every term
    shards: dict[int, dict[str, Postings]]  # term shard -> term -> postings (loaded as needed)
    layout: Layout
    depths: list[int]  # records depth of every docid group (``ids.Layout.depth``)
    folder: str = ""  # where the rest of the shards are
    dirty: set[int] = field(default_factory=set)  # term shards changed since loaded
    _flags: dict[int, int] | None = None
    # the token naming the saved per-document arrays (``DOCS``), and those arrays as saved
    saved_docs: tuple[str, tuple[Any, ...]] = ("", ())

    def flags(self) -> dict[int, int]:
        """By docid: 2 for a range page, plus 1 when billable (made once for a whole index:
        ``changed`` drops it)."""
        if self._flags is None:
            ranges = self.ranges
            self._flags = {d: (2 if d in ranges else 0) + b for d, b in self.billable.items()}
        return self._flags

    def changed(self) -> None:
        """Billable flags or range pages changed."""
        self._flags = None

    @property
    def n(self) -> int:
        return len(self.keys)

    def avg(self) -> dict[str, float]:
        return averages(self.sums, self.counts)

    def top(self) -> float:
        """The scores' upper bound (``scores.top``)."""
        return scores.top(max(self.boosts.values(), default=1.0), self.n)

    def shard(self, i: int) -> dict[str, Postings]:
        if i not in self.shards:
            self.shards[i] = read_marshal(os.path.join(self.folder, f"{STATE}-t-{i}"))
        return self.shards[i]

    def position(self, docid: int) -> int:
        return bisect.bisect_left(self.ids, docid)

    def find(self, docid: int) -> int | None:
        """The position of ``docid``, if a document has it."""
        at = bisect.bisect_left(self.ids, docid)
        return at if at < len(self.ids) and self.ids[at] == docid else None

    @classmethod
    def of(cls, docs: Sequence[Doc], systems: Sequence[str]) -> State:
        sums, counts = field_stats(docs)
        keys = [(d.system, d.code) for d in docs]
        layout, ids = Layout.assign(systems, keys)
        state = cls(keys, ids, dict(zip(ids, (d.boost for d in docs), strict=True)),
                    dict(zip(ids, (d.billable for d in docs), strict=True)),
                    {i for i, d in zip(ids, docs, strict=True) if d.range}, sums, counts, {},
                    {i: {} for i in range(TERM_SHARDS)}, layout, layout.depths(ids))
        avg = state.avg()
        per_term: dict[str, Postings] = {}
        for docid, d in zip(ids, docs, strict=True):
            for t, w in doc_weights(d.fields, avg).items():
                plist = per_term.get(t)
                if plist is None:
                    plist = per_term[t] = ([], [])
                plist[0].append(docid)
                plist[1].append(w)
        for t, plist in per_term.items():
            state.shards[term_shard(t)][t] = plist
            state.vocab[t] = len(plist[0])
        return state

    @classmethod
    def load(cls, folder: str, token: str) -> State | None:
        """The last build's state when it is the one ``token`` names, else None. The one this
        process saved last is taken from memory (once: a build changes it in place)."""
        kept = _SAVED.pop(folder, None)
        if kept is not None and kept[0] == (token, meta_stat(folder)) and token:
            return kept[1]
        try:
            data = read_marshal(os.path.join(folder, STATE))
            if (data.get("format"), data.get("scores")) != (FORMAT, SCORES) or data.get("token") != token or not token:
                return None
            docs = read_marshal(os.path.join(folder, DOCS))
            if docs.get("token") != data.get("docs"):
                return None
            groups, alphabet, length = docs["layout"]
            state = cls(docs["keys"], docs["ids"], docs["boosts"], docs["billable"], docs["ranges"], data["sums"],
                        data["counts"], data["vocab"], {}, Layout(tuple(groups), alphabet, length), docs["depths"],
                        folder)
            state.saved_docs = (data["docs"], state.doc_arrays())
            return state
        except (*DAMAGED, KeyError, AttributeError):
            return None

    def doc_arrays(self) -> tuple[Any, ...]:
        """The per-document arrays, as they were when saved (copies: a build changes them in place)."""
        return (tuple(self.keys), tuple(self.ids), dict(self.boosts), dict(self.billable), frozenset(self.ranges),
                self.layout, tuple(self.depths))

    def save(self, folder: str, token: str) -> None:
        """Write the term shards changed (all for a new state), then the rest, naming ``token``.
        The old state is removed first: a build stopped half way leaves none, not a mixed one."""
        os.makedirs(folder, exist_ok=True)
        meta = os.path.join(folder, STATE)
        if os.path.exists(meta):
            os.remove(meta)
        for i in sorted(self.dirty if self.folder else self.shards):
            write_marshal(os.path.join(folder, f"{STATE}-t-{i}"), self.shards[i])
        # the per-document arrays (98k entries each; 2 MB) only when they changed: an edit of
        # a code's text leaves them as they were
        docs_token, arrays = self.saved_docs
        same = self.folder == folder and arrays == self.doc_arrays()
        if not same:
            docs_token = token
            layout = self.layout
            write_marshal(os.path.join(folder, DOCS), {"token": docs_token, "keys": self.keys, "ids": self.ids,
                                                       "boosts": self.boosts, "billable": self.billable,
                                                       "ranges": self.ranges,
                                                       "layout": (layout.groups, layout.alphabet, layout.length),
                                                       "depths": self.depths})
            arrays = self.doc_arrays()
        data = {"format": FORMAT, "scores": SCORES, "token": token, "docs": docs_token, "sums": self.sums,
                "counts": self.counts, "vocab": self.vocab}
        write_marshal(meta, data)
        self.folder, self.dirty, self.saved_docs = folder, set(), (docs_token, arrays)
        # for the next build of this process (the dev server): all but the term shards, read
        # again as needed
        _SAVED.clear()
        kept = State(self.keys, self.ids, self.boosts, self.billable, self.ranges, self.sums, self.counts, self.vocab,
                     {}, self.layout, self.depths, folder)
        kept.saved_docs = self.saved_docs
        _SAVED[folder] = ((token, meta_stat(folder)), kept)


# folder -> the token and state this process saved there, and the stat of the state's file then
# (the state is read from the folder when another process, or a hand, changed the file)
_SAVED: dict[str, tuple[tuple[str, tuple[int, ...]], State]] = {}


def meta_stat(folder: str) -> tuple[int, ...]:
    try:
        st = os.stat(os.path.join(folder, STATE))
    except OSError:
        return ()
    return (st.st_ino, st.st_size, st.st_mtime_ns)


SCORES = 3  # how the state's weights are computed (3: sparse docids, gridded idfs): another is not used
STATE = "search"  # the state's file in the snapshot folder; its term shards are search-t-<n>
DOCS = "search-docs"  # its per-document arrays (keys, docids, boosts, billable, ranges, layout, depths)


def encode_postings(plist: Postings, state: State, bound: float) -> list[int]:
    """A term's postings as the client reads them: ``[docid delta, impact*4 + range*2 + billable, ...]``."""
    docs, ws = plist
    ids, qs = impacts(docs, saturated_all(docs, ws, state.boosts), state.n, bound)
    flat = [0] * (2 * len(ids))
    flat[0::2] = deltas(ids)
    flags = state._flags  # made for a whole index; an edit's few terms look them up
    if flags is None:
        billable, ranges = state.billable, state.ranges
        flat[1::2] = [q * 4 + (2 if d in ranges else 0) + billable[d] for d, q in zip(ids, qs, strict=True)]
    else:
        flat[1::2] = [q * 4 + flags[d] for d, q in zip(ids, qs, strict=True)]
    return flat


def term_file(i: int, state: State, bound: float) -> Output:
    shard = state.shard(i)
    data = {t: encode_postings(shard[t], state, bound) for t in sorted(shard)}
    return Output("site", f"{INDEX_DIR}/t/{i}.js", script(f"t/{i}", data))


def vocab_parts(vocab: Mapping[str, int], keys: Iterable[str]) -> dict[str, dict[str, int]]:
    """The vocabulary shards ``keys`` (by ``vocab_key``), in one pass over the vocabulary."""
    parts: dict[str, dict[str, int]] = {k: {} for k in keys}
    for t, n in vocab.items():
        part = parts.get(vocab_key(t))
        if part is not None:
            part[t] = n
    return parts


def vocab_file(k: str, part: Mapping[str, int]) -> Output:
    """The vocabulary shard ``k``, from its terms (``vocab_parts``)."""
    data = [x for t in sorted(part) for x in (t, part[t])]
    return Output("site", f"{INDEX_DIR}/v/{k}.js", script(f"v/{k}", data))


def code_prefix(code: str) -> str:
    return normalize_code(code)[:PREFIX_LEN]


def deltas(ids: Sequence[int]) -> list[int]:
    return [b - a for a, b in zip([0, *ids], ids, strict=False)]


def codes_file(k: str, family: Sequence[tuple[int, str, bool]]) -> Output:
    """A code-prefix shard: its (docid, code, billable) in code order (docids ascending)."""
    ids = [docid for docid, _, _ in family]
    data = {
        "s": [normalize_code(code)[PREFIX_LEN:] for _, code, _ in family],
        "d": deltas(ids),
        "b": "".join("1" if billable else "0" for *_, billable in family),
    }
    return Output("site", f"{INDEX_DIR}/c/{k}.js", script(f"c/{k}", data))


def record(code: str, title: str, billable: bool) -> list[Any]:
    """A result's display record, as search.js reads it (``records_file``)."""
    return [code, title, 1 if billable else 0]


Bucket = tuple[int, int]  # a records file: (docid group, part)


def bucket_of(state: State, docid: int) -> Bucket:
    layout = state.layout
    return layout.bucket(docid, state.depths[docid // layout.span])


def bucket_base(state: State, b: Bucket) -> int:
    """The first docid a records file may hold: its docids are written from there."""
    layout = state.layout
    g, part = b
    return g * layout.span + part * layout.unit(state.depths[g])


def records_name(state: State, b: Bucket) -> str:
    return f"r/{state.layout.name(b[0], b[1], state.depths[b[0]])}"


def records_file(state: State, b: Bucket, rows: Sequence[tuple[int, list[Any]]], after: int | None) -> Output:
    """A records file: its (docid, record) rows in order, and the docid that follows them."""
    name = records_name(state, b)
    base = bucket_base(state, b)
    data = {"d": deltas([d - base for d, _ in rows]), "r": [r for _, r in rows], "n": after}
    return Output("site", f"{INDEX_DIR}/{name}.js", script(name, data))


def buckets(state: State, ids: Sequence[int]) -> dict[Bucket, list[int]]:
    """``ids`` (in order) by records file (``bucket_of``, inlined: every docid of the site)."""
    out: dict[Bucket, list[int]] = {}
    span, bits, depths = state.layout.span, state.layout.bits, state.depths
    for d in ids:
        g, local = divmod(d, span)
        out.setdefault((g, local >> (bits - depths[g])), []).append(d)
    return out


@dataclass(frozen=True)
class Prepared:
    """What both indexes are built from: the public documents and the lay synonyms, and the
    scores' state; after an edit (``outputs`` set), only the documents it changed and the
    client index files that changed with them."""

    docs: list[Doc]
    synonyms: Synonyms
    state: State | None = None
    outputs: list[Output] | None = None
    removed: list[str] = field(default_factory=list)  # after an edit: whoosh keys of the codes that went
    dropped: list[str] = field(default_factory=list)  # after an edit: client index files that go (publisher keys)


def prepare(site: Site, synonyms: Synonyms) -> Prepared:
    """The documents and their scores' state: a few million small containers, made without
    the cyclic garbage collector (its passes over them cost a third of the time) and frozen,
    as the loaded site is (``parallel.loading``)."""
    with parallel.loading():
        docs = documents(site)
        state = State.of(docs, list(site.config.systems))
    return Prepared(docs, synonyms, state)



def client_index(site: Site, prepared: Prepared) -> Iterator[Output]:
    """Every file of the client index, as public outputs under ``search-index/``; after an
    edit, those it changed."""
    if prepared.outputs is not None:
        yield from prepared.outputs
        return
    docs, synonyms = prepared.docs, prepared.synonyms
    state = prepared.state or State.of(docs, list(site.config.systems))
    bound = state.top()
    state.flags()
    # Every term and vocabulary shard exists, empty or not: editing a code never removes one.
    for i in range(TERM_SHARDS):
        yield term_file(i, state, bound)
    parts = vocab_parts(state.vocab, set(VOCAB_KEYS) | {vocab_key(t) for t in state.vocab})
    for k in sorted(parts):
        yield vocab_file(k, parts[k])

    codes: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
    for docid, d in zip(state.ids, docs, strict=True):
        codes[code_prefix(d.code)].append((docid, d.code, d.billable))
    for k, family in sorted(codes.items()):
        yield codes_file(k, family)

    rows = {docid: record(d.code, d.title, d.billable) for docid, d in zip(state.ids, docs, strict=True)}
    files = list(buckets(state, state.ids).items())
    for j, (b, ids) in enumerate(files):
        after = files[j + 1][1][0] if j + 1 < len(files) else None
        yield records_file(state, b, [(d, rows[d]) for d in ids], after)

    yield manifest_file(site, state, synonyms)


DEPTH_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"  # up to 61 bits


def manifest_file(site: Site, state: State, synonyms: Synonyms) -> Output:
    systems = []
    layout, ids = state.layout, state.ids
    for rank, (sid, system) in enumerate(site.config.systems.items()):
        # a system's docids: those of its groups (the groups are in system order)
        lo = bisect.bisect_left(ids, bisect.bisect_left(layout.groups, (rank,)) * layout.span)
        hi = bisect.bisect_left(ids, bisect.bisect_left(layout.groups, (rank + 1,)) * layout.span)
        if hi > lo:
            systems.append(
                {
                    "id": sid,
                    "name": system.name,
                    "prefix": system.url_prefix,
                    "first": ids[lo],
                    "last": ids[hi - 1],
                }
            )
    manifest = {
        "format": FORMAT,
        "docs": state.n,
        "termShards": TERM_SHARDS,
        "prefixLen": PREFIX_LEN,
        "ids": {**state.layout.as_json(), "depths": "".join(DEPTH_DIGITS[d] for d in state.depths)},
        "systems": systems,
        "stop": sorted(STOP_WORDS),
        "synonyms": synonyms,
        "rules": RULES,
        "weights": {
            "synonym": SYNONYM_WEIGHT,
            "typo": TYPO_WEIGHT,
            "maxTypoAlts": MAX_TYPO_ALTS,
            "maxPhrase": MAX_PHRASE,
        },
    }
    return Output("site", f"{INDEX_DIR}/manifest.js", script("manifest", manifest))


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
    from .churn import churn

    state = State.load(folder, token)
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
            if ids:
                shard[t] = (ids, ws)
                state.vocab[t] = len(ids)
            else:
                shard.pop(t, None)
                state.vocab.pop(t, None)
        docs.append(document(site, systems, state.position(i), new, fields[path], state.boosts[i]))
    state.changed()
    encode = set(terms)  # terms whose postings the client reads differently
    for docid, (old_boost, a) in (moved.moved.items() if moved else ()):
        for t, w in doc_weights(code_fields(a, a.title or ""), avg).items():
            if t not in encode and impact_moved(state, t, w, old_boost, state.boosts[docid], bound):
                encode.add(t)

    outputs: list[Output] = []
    try:
        outputs += [patched_term_file(i, state, bound, live, encode) for i in sorted({term_shard(t) for t in encode})]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # a file of the last build missing or not ours: made whole
    wanted = vocab_parts(state.vocab, {vocab_key(t) for t in terms})
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


def patched_term_file(i: int, state: State, bound: float, live: str, terms: set[str]) -> Output:
    """The term shard ``i`` of the last build with the postings of ``terms`` made again (the
    others as they were: the encoding of a common term costs a few milliseconds)."""
    from .churn import read_script

    data = read_script(f"{live}/t/{i}.js")
    assert isinstance(data, dict)
    shard = state.shard(i)
    for t in terms:
        if term_shard(t) != i:
            continue
        if t in shard:
            data[t] = encode_postings(shard[t], state, bound)
        else:
            data.pop(t, None)
    return Output("site", f"{INDEX_DIR}/t/{i}.js", script(f"t/{i}", {t: data[t] for t in sorted(data)}))


def impact_moved(state: State, term: str, weight: float, old_boost: float, new_boost: float, bound: float) -> bool:
    """Whether a document whose prior moved changes the term's postings as the client reads
    them: only when its own impact moves (a capped term keeps its postings by impact)."""
    scale = scores.idf(state.vocab[term], scores.population(state.n))
    return scores.quantize(scale * scores.saturated(weight, old_boost), bound) != scores.quantize(
        scale * scores.saturated(weight, new_boost), bound)


def patched_codes_file(live: str, k: str, changes: Sequence[tuple[int, str, bool]], gone: set[int]) -> Output | None:
    """The code-prefix file ``k`` of the last build with codes added, gone or changed; None
    when no code is left."""
    from .churn import read_script

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
    from .churn import read_script

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
