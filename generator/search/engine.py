"""The whoosh index (``search_index/``, beside ``build/``): what ``codesite search`` and the
edge's ``/api/search`` answer from, built from the same documents as the client index.

A build never writes the live index: ``stage`` makes the new one in a folder the publisher
swaps in at its commit, so a failed or interrupted build leaves the index of the previous
one, in step with the site. whoosh never rewrites a segment file (a change writes new
segments and a new table of contents, and removes what is no longer used), so an edit's
staging folder starts as hard links to the live files and costs no copy.

A digest per document (``codesite.meta``, marshal) lets a build update just the documents
that changed; a first build, a format change, a large change or a moved average field length
builds a fresh index.

The ranking is the client's (``scores``): one indexed field, ``w``, holds each term of a
document with its ``scores.saturated`` weight (the document's BM25F weight over all its fields,
saturated, times its prior), and a query turns a term's postings into the same quantized and
capped impacts the client's term shards hold, then ranks them with ``scores.rank``, the steps
of the client's. whoosh's own BM25F scores each field on its own (a word in the title and in a
synonym saturates twice, with per-field idfs), and an ``Or`` query adds up every alternative
of a group: with those, the lay vocabulary's documents lost to others the client ranks after.

whoosh: we use whoosh-ng (5.4), already the project's pinned dependency. Checked here with
``python3.11 -W error`` (no byte-code cache): the original whoosh 2.7.4 fails to import (invalid
escape sequence, a SyntaxError under -W error; unmaintained since 2016); whoosh-reloaded 2.7.5
and whoosh-ng 5.4.0 both index and search warning-free, so we keep the one we already pin
rather than add a second fork.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib
import json
import os
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import CodesiteError
from ..outputs import DAMAGED, identity, read_marshal, write_marshal
from .documents import FORMAT, Doc
from .query import add_typo_alts, plan
from .scores import Impacts, averages, doc_weights, field_stats, impacts, rank, saturated, top
from .synonyms import Synonyms
from .text import code_query, normalize_code, vocab_key
from .understand import HEAD, SCAN, Axis, Cand, reorder
from .writer import writer as whoosh_writer

WHOOSH_DIR = "search_index"
META = "codesite.meta"  # marshal: the index's format, synonyms, build, scoring; digests since DOCS
DOCS = "codesite.docs"  # marshal: every document's digest, as of the last build that wrote it whole
DOCS_SINCE = 4096  # past this many documents changed since DOCS was written, it is written again
REBUILD_SHARE = 0.2  # past this share of changed documents, a fresh index is faster
WEIGHTS = "w"  # the one scored field: "term^weight" tokens (scores.saturated)
CACHED_TERMS = 1024  # terms whose impacts are kept while the index stays the same (a capped term: ~90 KB)


def whoosh_dir(site_dir: str, out_dir: str | None = None) -> str:
    """SITE/search_index, or OUT/search_index when the build has its own output folder."""
    return os.path.join(out_dir, WHOOSH_DIR) if out_dir else os.path.join(site_dir, WHOOSH_DIR)


def _schema() -> Any:
    from whoosh import analysis, fields

    weighted = analysis.SpaceSeparatedTokenizer() | analysis.DelimitedAttributeFilter("^", "boost")
    return fields.Schema(
        key=fields.ID(stored=True, unique=True),  # system:code
        order=fields.STORED(),  # (system rank, code order): family listings and ties
        code=fields.STORED(),
        ncode=fields.ID(),
        system=fields.ID(stored=True),
        billable=fields.BOOLEAN(stored=True),
        range=fields.BOOLEAN(stored=True),
        display=fields.STORED(),
        url=fields.STORED(),
        **{WEIGHTS: fields.TEXT(analyzer=weighted, phrase=False)},
    )


def doc_key(d: Doc) -> str:
    return f"{d.system}:{d.code}"


def doc_digest(d: Doc) -> str:
    row = [d.code, d.system, d.title, d.billable, d.url, d.fields, d.boost, d.order, d.range]
    return hashlib.blake2b(json.dumps(row, sort_keys=True).encode(), digest_size=12).hexdigest()


def _whoosh_fields(d: Doc, avg: dict[str, float]) -> dict[str, Any]:
    weights = doc_weights(d.fields, avg)
    return {
        "key": doc_key(d),
        "order": list(d.order),
        "code": d.code,
        "ncode": normalize_code(d.code),
        "system": d.system,
        "billable": d.billable,
        "range": d.range,
        "display": d.title,
        "url": d.url,
        WEIGHTS: " ".join(f"{t}^{saturated(w, d.boost)!r}" for t, w in weights.items()),
    }


def whoosh_index() -> Any:
    """whoosh.index, imported late (only builds and searches need it); mypy does not see the
    names whoosh-ng defines there."""
    return importlib.import_module("whoosh.index")


# --- building -------------------------------------------------------------------------------


def build_whoosh(docs: Sequence[Doc], synonyms: Synonyms, live: str, staged: str, token: str = "") -> bool:
    """Make in ``staged`` (a folder not yet there) the index of ``docs``, starting from the
    ``live`` one; False, and nothing made, when ``live`` already is that index.

    A document digest per code lets an edit update just the documents it changed (an edit of
    one file takes a second, not a full rebuild); a first build, a format change, a large
    change or a moved average field length (every weight depends on them) builds a fresh
    index. ``token`` names the build (see ``update_whoosh``).
    """
    digests = {doc_key(d): doc_digest(d) for d in docs}
    scoring = _scoring(docs)
    old = _whoosh_meta(live)
    same = old.get("format") == FORMAT and old.get("scoring", {}).get("avg") == scoring["avg"]
    old_docs: dict[str, str] = old["docs"] if same else {}
    changed = [d for d in docs if old_docs.get(doc_key(d)) != digests[doc_key(d)]]
    removed = [k for k in old_docs if k not in digests]
    since = None  # the digests changed since the DOCS the new folder holds; None: all written
    if old_docs and not changed and not removed:
        if old.get("synonyms") == synonyms and old.get("build") == token:
            return False
        _link_copy(live, staged)
        since = old.get("since", {})  # the same documents: the DOCS linked in stands
    elif old_docs and len(changed) + len(removed) <= REBUILD_SHARE * max(1, len(docs)):
        _link_copy(live, staged)
        _update_whoosh(staged, changed, removed, scoring["avg"])
    else:
        _fresh_whoosh(docs, staged, scoring["avg"])
    _write_whoosh_meta(staged, synonyms, digests, token, scoring, since)
    return True


def _scoring(docs: Sequence[Doc]) -> dict[str, Any]:
    """The average field lengths (``scores``, edit-stable), on which every document's weights
    depend, and the largest prior, from which a query makes the bound its impacts are
    quantized against (the index holds weights, not impacts)."""
    return {"avg": averages(*field_stats(docs)), "boost": max((d.boost for d in docs), default=1.0)}


def update_whoosh(docs: Sequence[Doc], synonyms: Synonyms, live: str, staged: str, since: str, token: str,
                  removed: Sequence[str] = (), boost: float | None = None) -> bool:
    """After an edit (``docs``: the documents it changed or added; ``removed``: the keys of
    those that went; ``boost``: the largest prior now, when codes came or went): the ``live``
    index with those updated, in ``staged``, without a digest of every document, when ``live``
    is the one the build ``since`` left; False, and nothing made, when it is not."""
    old = _whoosh_meta(live)
    if not since or (old.get("build"), old.get("format"), old.get("synonyms")) != (since, FORMAT, synonyms):
        return False
    digests: dict[str, str] = old["docs"]
    changed = [d for d in docs if digests.get(doc_key(d)) != doc_digest(d)]
    _link_copy(live, staged)
    if changed or removed:  # an edit that moved no average (edit.prepare_edit): the weights stand
        _update_whoosh(staged, changed, removed, old["scoring"]["avg"])
    since_docs: dict[str, str | None] = old.get("since", {})
    for d in changed:
        digests[doc_key(d)] = since_docs[doc_key(d)] = doc_digest(d)
    for k in removed:
        digests.pop(k, None)
        since_docs[k] = None
    scoring = old["scoring"] if boost is None else {**old["scoring"], "boost": boost}
    _write_whoosh_meta(staged, synonyms, digests, token, scoring, since_docs)
    return True


def _link_copy(live: str, staged: str) -> None:
    """``staged`` as a copy of ``live`` made of hard links (whoosh writes new files, never into
    old ones; ``codesite.meta`` is replaced by a rename); plain copies across file systems."""
    os.makedirs(staged)
    for name in os.listdir(live):
        if name.endswith("LOCK"):  # a lock is the writer's own, never carried over
            continue
        src, dst = os.path.join(live, name), os.path.join(staged, name)
        try:
            os.link(src, dst)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                raise
            shutil.copy2(src, dst)


def _read_meta(path: str, docs: bool = True) -> dict[str, Any]:
    """The meta at ``path``; with ``docs``, every document's digest under "docs" (DOCS beside it,
    with the digests changed since applied: "since", None for a document gone)."""
    data = read_marshal(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a codesite search index")
    if docs and isinstance(data.get("since"), dict):
        base = read_marshal(os.path.join(os.path.dirname(path), DOCS))
        if not isinstance(base, dict):
            raise ValueError(f"{path}: not a codesite search index")
        for k, v in data["since"].items():
            if v is None:
                base.pop(k, None)
            else:
                base[k] = v
        data["docs"] = base
    if docs and not isinstance(data.get("docs"), dict):
        raise ValueError(f"{path}: not a codesite search index")
    return data


# the meta file this process wrote last (its stat then: the index folder is swapped in whole, so
# the file keeps it) and what it holds: the next edit of the dev server reads it from here, once
_WRITTEN: dict[str, Any] = {}


def read_ahead(index_dir: str) -> None:
    """What an edit's update of the index in ``index_dir`` reads first: whoosh's modules and
    the meta (the dev server, before the first edit: 0.1-0.2 s off that edit's path)."""
    for name in ("whoosh.index", "whoosh.writing", "whoosh.searching", "whoosh.filedb.filestore",
                 "whoosh.codec.whoosh3", "whoosh.query"):
        importlib.import_module(name)
    path = os.path.join(index_dir, META)
    if "meta" not in _WRITTEN and os.path.exists(path):
        with contextlib.suppress(*DAMAGED):
            _WRITTEN["meta"] = (identity(path), _read_meta(path))


def _whoosh_meta(index_dir: str) -> dict[str, Any]:
    path = os.path.join(index_dir, META)
    kept = _WRITTEN.pop("meta", None)  # taken, not shared: the caller changes it in place
    if kept is not None and kept[0] == identity(path) and kept[0]:
        return dict(kept[1])
    try:
        return _read_meta(path)
    except DAMAGED:
        return {}


def _write_whoosh_meta(index_dir: str, synonyms: Synonyms, digests: dict[str, str], token: str,
                       scoring: dict[str, Any], since: dict[str, str | None] | None = None) -> None:
    """The meta of the index in ``index_dir``: every digest in DOCS, or, after an edit (``since``:
    the digests changed since the DOCS the folder holds, a link to the last index's), those
    alone, in the meta (an edit wrote 98k digests, 4 MB: 35-130 ms on a busy disk)."""
    path = os.path.join(index_dir, META)
    if since is None or len(since) > DOCS_SINCE or not os.path.exists(os.path.join(index_dir, DOCS)):
        write_marshal(os.path.join(index_dir, DOCS), digests)
        since = {}
    data = {"format": FORMAT, "synonyms": synonyms, "build": token, "scoring": scoring, "since": since}
    write_marshal(path, data)
    _WRITTEN["meta"] = (identity(path), {**data, "docs": digests})


def _update_whoosh(index_dir: str, changed: Sequence[Doc], removed: Sequence[str], avg: dict[str, float]) -> None:
    # files read, not mapped: whoosh copies each part of a mapped segment it opens (the main
    # segment's terms: megabytes), and an edit reads a few keys of it (15 ms a build)
    storage = importlib.import_module("whoosh.filedb.filestore").FileStorage(index_dir, supports_mmap=False)
    writer = whoosh_writer(storage.open_index())
    with writer.searcher() as s:  # one search of the index for every key (``update_document``
        for k in (*removed, *(doc_key(d) for d in changed)):  # opens one a document: a new code
            writer.delete_by_term("key", k, searcher=s)  # changes its ancestors' priors too)
    for d in changed:
        writer.add_document(**_whoosh_fields(d, avg))
    writer.commit()


def _fresh_whoosh(docs: Sequence[Doc], index_dir: str, avg: dict[str, float]) -> None:
    os.makedirs(index_dir)
    writer = whoosh_writer(whoosh_index().create_in(index_dir, _schema()))
    for d in docs:
        writer.add_document(**_whoosh_fields(d, avg))
    writer.commit()


# --- searching ------------------------------------------------------------------------------


def whoosh_vocab(reader: Any) -> dict[str, int]:
    """Every indexed term with its document frequency."""
    return {(t.decode() if isinstance(t, bytes) else t): info.doc_frequency() for t, info in reader.iter_field(WEIGHTS)}


def _postings(reader: Any, term: str) -> tuple[list[int], list[float]]:
    """A term's documents, in order, and its weight (``scores.saturated``) in each."""
    from whoosh.reading import TermNotFound

    ids: list[int] = []
    weights: list[float] = []
    try:
        m = reader.postings(WEIGHTS, term)
    except TermNotFound:
        return ids, weights
    while m.is_active():
        ids.append(m.id())
        weights.append(m.weight())
        m.next()
    return ids, weights


@dataclass
class _Opened:
    stamp: tuple[int, float, int]
    ix: Any
    meta: dict[str, Any]
    by_key: dict[str, list[tuple[str, int]]] | None = None
    impacts: dict[str, Impacts | None] = field(default_factory=dict)

    def impacts_of(self, reader: Any, term: str) -> Impacts | None:
        """The term's impacts as the client's term shard holds them (None: not indexed)."""
        if term not in self.impacts:
            if len(self.impacts) >= CACHED_TERMS:
                self.impacts.clear()
            docs, weights = _postings(reader, term)
            n = reader.doc_count()
            self.impacts[term] = impacts(docs, weights, n, top(self.meta["scoring"]["boost"], n)) if docs else None
        return self.impacts[term]


class Searcher:
    """Queries the whoosh index in ``index_dir``. It keeps the index open, and the vocabulary
    once read, while the index stays the same (the dev server asks once per request; opening
    and reading the vocabulary costs more than a query); a new build's index is opened anew."""

    def __init__(self, index_dir: str) -> None:
        self.index_dir = index_dir
        self._opened: _Opened | None = None

    def _open(self) -> _Opened:
        path = os.path.join(self.index_dir, META)
        try:
            st = os.stat(path)
            stamp = (st.st_ino, st.st_mtime, st.st_size)  # the meta is replaced by every build
            if self._opened and self._opened.stamp == stamp:
                return self._opened
            meta = _read_meta(path, docs=False)
            ix = whoosh_index().open_dir(self.index_dir)
        except (*DAMAGED, whoosh_index().EmptyIndexError):
            raise CodesiteError(f"no search index in {self.index_dir}: run 'codesite build' first") from None
        if meta.get("format") != FORMAT:
            raise CodesiteError(f"the search index in {self.index_dir} is another version's: run 'codesite build'")
        self._opened = _Opened(stamp, ix, meta)
        return self._opened

    def query(self, q: str, limit: int = 10, system: str | None = None, billable: bool = False) -> list[dict[str, Any]]:
        """Results ``{"code", "title", "url", "system", "billable"}``: exact code first, then the
        code family in code order, then BM25F full text (documents matching more of the query
        first)."""
        from whoosh import query

        opened = self._open()
        ix, meta = opened.ix, opened.meta

        def keep(fields: dict[str, Any]) -> bool:
            return (system is None or fields["system"] == system) and (not billable or fields["billable"])

        results: list[dict[str, Any]] = []
        seen: set[str] = set()
        with ix.searcher() as s:
            norm = code_query(q)
            if norm:
                prefix = query.Prefix("ncode", norm)
                found = [s.stored_fields(n) for n in prefix.docs(s)]
                exact = [h for h in found if normalize_code(h["code"]) == norm]
                rest = sorted((h for h in found if normalize_code(h["code"]) != norm), key=lambda h: h["order"])
                for h in exact + rest:
                    if keep(h) and h["key"] not in seen:
                        seen.add(h["key"])
                        results.append(h)
            groups, raw, axis = plan(q, meta["synonyms"])
            reader = s.reader()

            def vocab_for(k: str) -> list[tuple[str, int]]:
                if opened.by_key is None:  # only a word missing from the index needs the vocabulary
                    by_key: dict[str, list[tuple[str, int]]] = defaultdict(list)
                    for t, df in whoosh_vocab(reader).items():
                        by_key[vocab_key(t)].append((t, df))
                    opened.by_key = by_key
                return opened.by_key.get(k, [])

            terms = {t for g in groups for a in g.alts for t in a.terms}
            known = {t for t in terms if opened.impacts_of(reader, t)}
            add_typo_alts(groups, raw, known, vocab_for)
            if groups and len(results) < limit:
                every = {t for g in groups for a in g.alts for t in a.terms}  # the typo alternatives too
                postings = {t: p for t in every if (p := opened.impacts_of(reader, t))}
                text = _text_search(s, rank(groups, postings), keep, max(limit, HEAD))
                text = _by_axis(s, text, axis, keep)
                results += [h for h in text if h["key"] not in seen]
        return [_result(h) for h in results[:limit]]


def query_whoosh(
    index_dir: str, q: str, limit: int = 10, system: str | None = None, billable: bool = False
) -> list[dict[str, Any]]:
    """One query (``codesite search``); a server keeps a ``Searcher``."""
    return Searcher(index_dir).query(q, limit, system, billable)


def _result(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": h["code"],
        "title": h["display"],
        "url": h["url"],
        "system": h["system"],
        "billable": bool(h["billable"]),
    }


Hit = dict[str, Any]  # a document's stored fields


def _by_axis(s: Any, hits: list[Hit], axis: Axis, keep: Callable[[Hit], bool]) -> list[Hit]:
    """The first ``HEAD`` hits re-ranked by the query's axis words (``understand.reorder``)."""
    from whoosh import query

    by_key = {h["key"]: h for h in hits}

    def cand(h: dict[str, Any]) -> Cand:
        return Cand(h["key"], h["code"], h["display"], h["system"])

    def below(c: Cand) -> list[Cand]:
        norm = normalize_code(c.code)
        found = [s.stored_fields(n) for n in query.Prefix("ncode", norm).docs(s)]
        system = by_key[c.key]["system"]
        found = sorted((h for h in found if h["key"] != c.key and h["system"] == system), key=lambda h: h["order"])
        found = [h for h in found[:SCAN] if keep(h)]
        by_key.update((h["key"], h) for h in found)
        return [cand(h) for h in found]

    head = reorder([cand(h) for h in hits[:HEAD]], below, axis)
    keys = {c.key for c in head}
    return [by_key[c.key] for c in head] + [h for h in hits[HEAD:] if h["key"] not in keys]


def _text_search(s: Any, ranked: list[tuple[int, int, float]], keep: Callable[[Hit], bool], need: int) -> list[Hit]:
    """The stored fields of the ``ranked`` documents (``scores.rank``) that ``keep`` accepts,
    until ``need`` codes, and those tied with the last; among equals in document order. Range
    pages follow every code: a chapter or block never outranks the codes it holds."""
    codes: list[tuple[Any, Hit]] = []
    ranges: list[tuple[Any, Hit]] = []
    last = None
    for d, matched, score in ranked:
        key = (-matched, -score)
        if last is not None and key != last:
            break
        h = s.stored_fields(d)
        if not keep(h):
            continue
        (ranges if h["range"] else codes).append(((key, h["order"]), h))
        if len(codes) == need and last is None:
            last = key
    return [h for _, h in sorted(codes, key=lambda x: x[0]) + sorted(ranges, key=lambda x: x[0])]
