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
(``edit.prepare_edit``, ``churn``) the scores' ``State`` from the last build (in the snapshot
folder) gives what the edited documents' terms need, and the index files they do not touch are
carried over.
"""

from __future__ import annotations

import bisect
import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import parallel
from ..model.site import Site
from ..outputs import DAMAGED, Output, identity, read_marshal, write_marshal
from . import scores
from .documents import FORMAT, Doc, documents
from .ids import Layout
from .query import MAX_PHRASE, MAX_TYPO_ALTS, SYNONYM_WEIGHT, TYPO_WEIGHT
from .scores import averages, doc_weights, field_stats, impacts_of_weights
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
    df_was: dict[str, int] = field(default_factory=dict)  # an edit's terms: document frequency before it
    _flags: dict[int, int] | None = None
    # the vocabulary's terms by shard (``vocab_key``), made once (``vocab_shards``) and kept in
    # step by ``set_df``; shared, like ``vocab``, by the state kept for the next build
    by_key: dict[str, set[str]] | None = None
    # the token naming the saved per-document arrays (``DOCS``), and those arrays as saved
    saved_docs: tuple[str, tuple[Any, ...]] = ("", ())

    def flags(self) -> dict[int, int]:
        """By docid: 2 for a range page, plus 1 when billable (made once for a whole index:
        ``changed`` drops it)."""
        if self._flags is None:
            self._flags = {d: self.flag(d) for d in self.billable}
        return self._flags

    def flag(self, docid: int) -> int:
        """One document's ``flags`` (without making them all)."""
        if self._flags is not None:
            return self._flags[docid]
        return (2 if docid in self.ranges else 0) + self.billable[docid]

    def set_df(self, term: str, df: int) -> None:
        """A term's document frequency after an edit (0: the term went); the one before is kept."""
        self.df_was.setdefault(term, self.vocab.get(term, 0))
        if df:
            self.vocab[term] = df
        else:
            self.vocab.pop(term, None)
        if self.by_key is not None:
            terms = self.by_key.setdefault(vocab_key(term), set())
            if df:
                terms.add(term)
            else:
                terms.discard(term)

    def vocab_shards(self) -> dict[str, set[str]]:
        """The vocabulary's terms by shard (``by_key``), made in one pass the first time."""
        if self.by_key is None:
            self.by_key = {}
            for t in self.vocab:
                self.by_key.setdefault(vocab_key(t), set()).add(t)
        return self.by_key

    def vocab_part(self, k: str) -> dict[str, int]:
        """The vocabulary shard ``k``: its terms and their document frequencies (an edit's few
        shards, without a pass over the 140k terms of ICD-10-CM each)."""
        return {t: self.vocab[t] for t in self.vocab_shards().get(k, ())}

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

    @classmethod
    def read_ahead(cls, folder: str, token: str) -> None:
        """Load the state ``token`` names and keep it for ``load`` (the dev server, before the
        first edit: 0.1 s of reading off that edit's path)."""
        if folder not in _SAVED and (state := cls.load(folder, token)) is not None:
            state.vocab_shards()
            _SAVED[folder] = ((token, meta_stat(folder)), state)

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
        # for the next build of this process (the dev server): all but the term shards, but
        # those an edit read (its terms' shards: the next edit of the same code reads them
        # again; a common term's is 0.7 MB), read again as needed
        _SAVED.clear()
        shards = self.shards if len(self.shards) <= SHARDS_KEPT else {}
        kept = State(self.keys, self.ids, self.boosts, self.billable, self.ranges, self.sums, self.counts, self.vocab,
                     shards, self.layout, self.depths, folder)
        kept.saved_docs, kept.by_key = self.saved_docs, self.by_key
        _SAVED[folder] = ((token, meta_stat(folder)), kept)


# folder -> the token and state this process saved there, and the stat of the state's file then
# (the state is read from the folder when another process, or a hand, changed the file)
_SAVED: dict[str, tuple[tuple[str, tuple[int, ...]], State]] = {}


def meta_stat(folder: str) -> tuple[int, ...]:
    return identity(os.path.join(folder, STATE))


SHARDS_KEPT = 64  # term shards an edit read that stay in memory for the next (the dev server)
SCORES = 4  # how the state's weights are made (4: sparse docids, gridded idfs and common dfs): no other is used
STATE = "search"  # the state's file in the snapshot folder; its term shards are search-t-<n>
DOCS = "search-docs"  # its per-document arrays (keys, docids, boosts, billable, ranges, layout, depths)


def encode_postings(plist: Postings, state: State, bound: float) -> list[int]:
    """A term's postings as the client reads them: ``[docid delta, impact*4 + range*2 + billable, ...]``."""
    docs, ws = plist
    return flat_postings(*impacts_of_weights(docs, ws, state.boosts, state.n, bound), state)


def flat_postings(ids: list[int], qs: list[int], state: State) -> list[int]:
    """Postings kept (docids ascending) and their impacts as the client reads them."""
    flat = [0] * (2 * len(ids))
    flat[0::2] = deltas(ids)
    flags = state._flags  # made for a whole index; an edit's few terms look them up
    if flags is None:
        flat[1::2] = [q * 4 + state.flag(d) for d, q in zip(ids, qs, strict=True)]
    else:
        flat[1::2] = [q * 4 + flags[d] for d, q in zip(ids, qs, strict=True)]
    return flat


def term_file(i: int, state: State, bound: float) -> Output:
    shard = state.shard(i)
    data = {t: encode_postings(shard[t], state, bound) for t in sorted(shard)}
    return Output("site", f"{INDEX_DIR}/t/{i}.js", script(f"t/{i}", data))


def vocab_file(k: str, part: Mapping[str, int]) -> Output:
    """The vocabulary shard ``k``, from its terms (``State.vocab_part``)."""
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
    for k in sorted(set(VOCAB_KEYS) | {k for k, terms in state.vocab_shards().items() if terms}):
        yield vocab_file(k, state.vocab_part(k))

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
