"""The client index (``build/site/search-index/``): a set of classic scripts
(``window.__csIdx.push([name, data])``) so that it loads with ``<script>`` from file:// as well
as over HTTP; ``assets/search.js`` reads it.

- ``manifest.js``: counts, BM25 settings, shard counts, systems (docid ranges), lay synonyms.
- ``t/<n>.js``: term shards (FNV-1a hash of the term); each term's postings as a flat list
  ``[docid delta, impact*2 + billable, ...]``. The impact is the term's BM25F score in that
  document (times a prior for broad entries, see ``documents.prior``), computed here and
  quantized, so the client only adds numbers. Very common terms keep their ``POSTINGS_CAP``
  highest-impact postings: short titles and broad entries, what a one-word query wants. The
  scores are edit-stable (see ``State``): an edit changes the postings of the terms it
  touches, no others.
- ``v/<c>.js``: the vocabulary by first character, with document frequencies, loaded only for
  typo correction and as-you-type prefixes.
- ``c/<KEY>.js``: code-prefix shards keyed by the first three characters of the normalized code
  (upper case, no dot), in code order: exact code lookup and family listings.
- ``r/<n>.js``: display records ``[code, title, billable]``, ``RECORDS_PER_SHARD`` consecutive
  documents (code order) each, so a family listing touches one or two shards.

After an editor's edit (a few files, every code kept: ``prepare_edit``) the scores' ``State``
from the last build (in the snapshot folder) gives what the edited documents' terms need, and
the index files they do not touch are carried over.
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
from .query import MAX_PHRASE, MAX_TYPO_ALTS, SYNONYM_WEIGHT, TYPO_WEIGHT
from .scores import averages, doc_weights, field_stats, impacts, saturated_all
from .synonyms import Synonyms
from .text import STOP_WORDS, fnv1a, normalize_code, vocab_key
from .understand import RULES

INDEX_DIR = "search-index"  # under build/site
VOCAB_KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"
TERM_SHARDS = 512
RECORDS_PER_SHARD = 64
PREFIX_LEN = 3


def term_shard(term: str) -> int:
    return fnv1a(term) % TERM_SHARDS



def script(name: str, data: Any) -> bytes:
    body = json.dumps([name, data], ensure_ascii=False, separators=(",", ":"))
    return f"window.__csIdx.push({body});\n".encode()


Postings = tuple[list[int], list[float]]  # docids in order, and the term's weight in each


@dataclass
class State:
    """What the scores depend on, kept between builds (``OUT/.cache/search*``) so that an edit
    changes only the index files of the terms it touches.

    The scores are edit-stable by design: the average field lengths are ``quantized`` (counted
    over the documents that have the field: most have no notes; a rare field gets a typical
    length, see ``average_length``), and the impacts are quantized against a bound, not
    against the highest score seen, so one document's text moves nothing but its own
    postings and its terms' document frequencies.
    """

    keys: list[tuple[str, str]]  # by docid
    boosts: list[float]
    billable: list[bool]
    ranges: list[int]  # the docids of chapters and blocks
    sums: dict[str, int]  # per field: tokens, over every document
    counts: dict[str, int]  # per field: documents that have it
    vocab: dict[str, int]  # document frequency of every term
    shards: dict[int, dict[str, Postings]]  # term shard -> term -> postings (loaded as needed)
    folder: str = ""  # where the rest of the shards are
    dirty: set[int] = field(default_factory=set)  # term shards changed since loaded
    # the token naming the saved per-document arrays (``DOCS``), and those arrays as saved
    saved_docs: tuple[str, tuple[tuple[Any, ...], ...]] = ("", ())

    @property
    def n(self) -> int:
        return len(self.keys)

    def avg(self) -> dict[str, float]:
        return averages(self.sums, self.counts)

    def top(self) -> float:
        """The scores' upper bound (``scores.top``)."""
        return scores.top(max(self.boosts, default=1.0), self.n)

    def shard(self, i: int) -> dict[str, Postings]:
        if i not in self.shards:
            self.shards[i] = read_marshal(os.path.join(self.folder, f"{STATE}-t-{i}"))
        return self.shards[i]

    @classmethod
    def of(cls, docs: Sequence[Doc]) -> State:
        sums, counts = field_stats(docs)
        state = cls([(d.system, d.code) for d in docs], [d.boost for d in docs], [d.billable for d in docs],
                    [d.id for d in docs if d.range], sums, counts, {}, {i: {} for i in range(TERM_SHARDS)})
        avg = state.avg()
        per_term: dict[str, Postings] = {}
        for d in docs:
            for t, w in doc_weights(d.fields, avg).items():
                plist = per_term.get(t)
                if plist is None:
                    plist = per_term[t] = ([], [])
                plist[0].append(d.id)
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
            state = cls(docs["keys"], docs["boosts"], docs["billable"], docs["ranges"], data["sums"],
                        data["counts"], data["vocab"], {}, folder)
            state.saved_docs = (data["docs"], state.doc_arrays())
            return state
        except (*DAMAGED, KeyError, AttributeError):
            return None

    def doc_arrays(self) -> tuple[tuple[Any, ...], ...]:
        """The per-document arrays, as they were when saved (copies: a build changes them in place)."""
        return tuple(self.keys), tuple(self.boosts), tuple(self.billable), tuple(self.ranges)

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
        same = (self.folder == folder and arrays == (tuple(self.keys), tuple(self.boosts), tuple(self.billable),
                                                    tuple(self.ranges)))
        if not same:
            docs_token = token
            write_marshal(os.path.join(folder, DOCS), {"token": docs_token, "keys": self.keys, "boosts": self.boosts,
                                                       "billable": self.billable, "ranges": self.ranges})
            arrays = self.doc_arrays()
        data = {"format": FORMAT, "scores": SCORES, "token": token, "docs": docs_token, "sums": self.sums,
                "counts": self.counts, "vocab": self.vocab}
        write_marshal(meta, data)
        self.folder, self.dirty, self.saved_docs = folder, set(), (docs_token, arrays)
        # for the next build of this process (the dev server): all but the term shards, read
        # again as needed (after a code came or went, every one is loaded)
        _SAVED.clear()
        kept = State(self.keys, self.boosts, self.billable, self.ranges, self.sums, self.counts, self.vocab, {}, folder)
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


SCORES = 2  # how the state's weights are computed (2: a rare field's typical length): another is not used
STATE = "search"  # the state's file in the snapshot folder; its term shards are search-t-<n>
DOCS = "search-docs"  # its per-document arrays (keys, boosts, billable, ranges)


def encode_postings(plist: Postings, state: State, bound: float) -> list[int]:
    """A term's postings as the client reads them: ``[docid delta, impact*2 + billable, ...]``."""
    billable = state.billable
    docs, ws = plist
    ids, qs = impacts(docs, saturated_all(docs, ws, state.boosts), state.n, bound)
    flat = [0] * (2 * len(ids))
    flat[0::2] = deltas(ids)
    flat[1::2] = [q * 2 + billable[d] for d, q in zip(ids, qs, strict=True)]
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
    """A code-prefix shard: its (docid, code, billable) in code order, so a family is one run
    of docids and the deltas are mostly 1."""
    ids = [docid for docid, _, _ in family]
    data = {
        "s": [normalize_code(code)[PREFIX_LEN:] for _, code, _ in family],
        "d": deltas(ids),
        "b": "".join("1" if billable else "0" for *_, billable in family),
    }
    return Output("site", f"{INDEX_DIR}/c/{k}.js", script(f"c/{k}", data))


def record(code: str, title: str, billable: bool) -> list[Any]:
    """A result's display record, as search.js reads it (a records file holds 64 in docid order)."""
    return [code, title, 1 if billable else 0]


def records_file(n: int, docs: Iterable[tuple[str, str, bool]]) -> Output:
    recs = [record(code, title, billable) for code, title, billable in docs]
    return Output("site", f"{INDEX_DIR}/r/{n}.js", script(f"r/{n}", recs))


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


def prepare(site: Site, synonyms: Synonyms) -> Prepared:
    """The documents and their scores' state: a few million small containers, made without
    the cyclic garbage collector (its passes over them cost a third of the time) and frozen,
    as the loaded site is (``parallel.loading``)."""
    with parallel.loading():
        docs = documents(site)
        state = State.of(docs)
    return Prepared(docs, synonyms, state)



def client_index(site: Site, prepared: Prepared) -> Iterator[Output]:
    """Every file of the client index, as public outputs under ``search-index/``; after an
    edit, those it changed."""
    if prepared.outputs is not None:
        yield from prepared.outputs
        return
    docs, synonyms, state = prepared.docs, prepared.synonyms, prepared.state or State.of(prepared.docs)
    bound = state.top()
    # Every term and vocabulary shard exists, empty or not: editing a code never removes one.
    for i in range(TERM_SHARDS):
        yield term_file(i, state, bound)
    parts = vocab_parts(state.vocab, set(VOCAB_KEYS) | {vocab_key(t) for t in state.vocab})
    for k in sorted(parts):
        yield vocab_file(k, parts[k])

    codes: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
    for d in docs:
        codes[code_prefix(d.code)].append((d.id, d.code, d.billable))
    for k, family in sorted(codes.items()):
        yield codes_file(k, family)

    for start in range(0, len(docs), RECORDS_PER_SHARD):
        chunk = docs[start : start + RECORDS_PER_SHARD]
        yield records_file(start // RECORDS_PER_SHARD, ((d.code, d.title, d.billable) for d in chunk))

    yield manifest_file(site, state, synonyms)


def manifest_file(site: Site, state: State, synonyms: Synonyms) -> Output:
    systems = []
    for sid, system in site.config.systems.items():
        ids = [i for i, (s, _) in enumerate(state.keys) if s == sid]
        if ids:
            systems.append(
                {
                    "id": sid,
                    "name": system.name,
                    "prefix": system.url_prefix,
                    "first": ids[0],
                    "last": ids[-1],
                }
            )
    manifest = {
        "format": FORMAT,
        "docs": state.n,
        "termShards": TERM_SHARDS,
        "recordsPerShard": RECORDS_PER_SHARD,
        "prefixLen": PREFIX_LEN,
        "systems": systems,
        "stop": sorted(STOP_WORDS),
        "synonyms": synonyms,
        "rules": RULES,
        "ranges": deltas(state.ranges),
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
    build's state (``token`` names it); None when the edit needs a full index: no such state,
    a parent or a kind changed (boosts move; the manifest lists the range pages), or an
    average field length moved.

    ``before``/``after``: the changed files' codes by path; a path on one side only is a code
    that went or came (see ``churn``; ``live``: the last build's client index folder).
    """
    from .churn import churn

    state = State.load(folder, token)
    kept = sorted(p for p in after if p in before)
    came = {p: after[p] for p in sorted(after.keys() - before.keys())}
    went = {p: before[p] for p in sorted(before.keys() - after.keys())}
    if state is None or (came or went) and not live:
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
    moved = None
    if came or went:
        moved = churn(site, state, came, went, live)
        if moved is None:
            return None
    # an edit's few codes: found by a scan in C, not a map of all 98k keys made per save
    docid = {after[p].key: state.keys.index(after[p].key) for p in kept if after[p].key in state.keys}

    docs: list[Doc] = moved.docs if moved else []
    terms: set[str] = moved.terms if moved else set()  # whose postings changed
    records: set[int] = set()
    families: set[str] = set()
    for path in kept:
        new, old = after[path], before[path]
        if new.key not in docid or old.key != new.key:
            return None
        i = docid[new.key]
        w_before, w_after = doc_weights(fields_before[path], avg), doc_weights(fields[path], avg)
        if new.billable != old.billable:
            state.billable[i] = new.billable
            families.add(code_prefix(new.code))
            terms.update(w_before, w_after)
        else:
            terms.update(t for t in w_before.keys() | w_after.keys() if w_before.get(t) != w_after.get(t))
        if (new.title, new.billable) != (old.title, old.billable):
            records.add(i // RECORDS_PER_SHARD)
            if moved and new.key in moved.rows:
                moved.rows[new.key] = record(new.code, new.title or "", new.billable)
        for t in terms & (w_before.keys() | w_after.keys()):
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
        docs.append(document(site, list(site.config.systems), i, new, fields[path], state.boosts[i]))

    bound = state.top()
    outputs = [term_file(s, state, bound) for s in sorted(state.dirty)]
    wanted = vocab_parts(state.vocab, {vocab_key(t) for t in terms})
    if any(not wanted[k] and k not in VOCAB_KEYS for k in wanted):
        return None  # a vocabulary file goes (a clean build makes none)
    outputs += [vocab_file(k, wanted[k]) for k in sorted(wanted)]
    if moved:  # every family and record from the first docid that moved
        families.update(code_prefix(code) for _, code in state.keys[moved.first :])
        records = {n for n in records if n * RECORDS_PER_SHARD < moved.first}
        if any(code_prefix(c.code) not in families for c in went.values()):
            return None  # a family's last code went: its file goes (a clean build makes none)
    grouped: dict[str, list[tuple[int, str, bool]]] = {k: [] for k in families}
    for i, (_, code) in enumerate(state.keys) if families else ():
        family = grouped.get(code_prefix(code))
        if family is not None:
            family.append((i, code, state.billable[i]))
    outputs += [codes_file(k, grouped[k]) for k in sorted(grouped)]
    for n in sorted(records):
        chunk = [site.codes[key] for key in state.keys[n * RECORDS_PER_SHARD : (n + 1) * RECORDS_PER_SHARD]]
        outputs.append(records_file(n, ((c.code, c.title or "", c.billable) for c in chunk)))
    if moved:
        rows = [moved.rows[k] for k in state.keys[moved.first :]]
        for start in range(0, len(rows), RECORDS_PER_SHARD):
            n = (moved.first + start) // RECORDS_PER_SHARD
            chunk_rows = rows[start : start + RECORDS_PER_SHARD]
            outputs.append(records_file(n, ((str(r[0]), str(r[1]), bool(r[2])) for r in chunk_rows)))
        outputs.append(manifest_file(site, state, synonyms))
    return Prepared(docs, synonyms, state, outputs, moved.removed if moved else [])
