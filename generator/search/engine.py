"""The whoosh index (``search_index/``, beside ``build/``): what ``codesite search`` and the
edge's ``/api/search`` answer from, built from the same documents as the client index.

A build never writes the live index: ``stage`` makes the new one in a folder the publisher
swaps in at its commit, so a failed or interrupted build leaves the index of the previous
one, in step with the site. whoosh never rewrites a segment file (a change writes new
segments and a new table of contents, and removes what is no longer used), so an edit's
staging folder starts as hard links to the live files and costs no copy.

A digest per document (``codesite.meta``, marshal) lets a build update just the documents
that changed; a first build, a format change or a large change builds a fresh index.

whoosh: we use whoosh-ng (5.4), already the project's pinned dependency. Checked here with
``python3.11 -W error`` (no byte-code cache): the original whoosh 2.7.4 fails to import (invalid
escape sequence, a SyntaxError under -W error; unmaintained since 2016); whoosh-reloaded 2.7.5
and whoosh-ng 5.4.0 both index and search warning-free, so we keep the one we already pin
rather than add a second fork.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import json
import os
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import CodesiteError
from ..outputs import DAMAGED, read_marshal, write_marshal
from .documents import FIELDS, FORMAT, Doc
from .query import Group, add_typo_alts, plan
from .synonyms import Synonyms
from .text import code_query, normalize_code, vocab_key
from .understand import HEAD, SCAN, Axis, Cand, ranges_last, reorder

WHOOSH_DIR = "search_index"
META = "codesite.meta"  # marshal: JSON of 98k digests costs an edit 0.1 s to read and write
REBUILD_SHARE = 0.2  # past this share of changed documents, a fresh index is faster


def whoosh_dir(site_dir: str, out_dir: str | None = None) -> str:
    """SITE/search_index, or OUT/search_index when the build has its own output folder."""
    return os.path.join(out_dir, WHOOSH_DIR) if out_dir else os.path.join(site_dir, WHOOSH_DIR)


def _schema() -> Any:
    from whoosh import analysis, fields

    space = analysis.SpaceSeparatedTokenizer()
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
        **{f: fields.TEXT(analyzer=space, field_boost=w) for f, w in FIELDS.items()},
    )


def doc_key(d: Doc) -> str:
    return f"{d.system}:{d.code}"


def doc_digest(d: Doc) -> str:
    row = [d.code, d.system, d.title, d.billable, d.url, d.fields, d.boost, d.order, d.range]
    return hashlib.blake2b(json.dumps(row, sort_keys=True).encode(), digest_size=12).hexdigest()


def _whoosh_fields(d: Doc) -> dict[str, Any]:
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
        "_boost": d.boost,
        **{f: " ".join(d.fields[f]) for f in FIELDS},
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
    one file takes a second, not a full rebuild); a first build, a format change or a large
    change builds a fresh index. ``token`` names the build (see ``update_whoosh``).
    """
    digests = {doc_key(d): doc_digest(d) for d in docs}
    old = _whoosh_meta(live)
    old_docs: dict[str, str] = old["docs"] if old.get("format") == FORMAT else {}
    changed = [d for d in docs if old_docs.get(doc_key(d)) != digests[doc_key(d)]]
    removed = [k for k in old_docs if k not in digests]
    if old_docs and not changed and not removed:
        if old.get("synonyms") == synonyms and old.get("build") == token:
            return False
        _link_copy(live, staged)
    elif old_docs and len(changed) + len(removed) <= REBUILD_SHARE * max(1, len(docs)):
        _link_copy(live, staged)
        _update_whoosh(staged, changed, removed)
    else:
        _fresh_whoosh(docs, staged)
    _write_whoosh_meta(staged, synonyms, digests, token)
    return True


def update_whoosh(docs: Sequence[Doc], synonyms: Synonyms, live: str, staged: str, since: str, token: str,
                  removed: Sequence[str] = ()) -> bool:
    """After an edit (``docs``: the documents it changed or added; ``removed``: the keys of
    those that went): the ``live`` index with those updated, in ``staged``, without a digest
    of every document, when ``live`` is the one the build ``since`` left; False, and nothing
    made, when it is not."""
    old = _whoosh_meta(live)
    if not since or (old.get("build"), old.get("format"), old.get("synonyms")) != (since, FORMAT, synonyms):
        return False
    digests: dict[str, str] = old["docs"]
    changed = [d for d in docs if digests.get(doc_key(d)) != doc_digest(d)]
    _link_copy(live, staged)
    if changed or removed:
        _update_whoosh(staged, changed, removed)
    digests.update((doc_key(d), doc_digest(d)) for d in changed)
    for k in removed:
        digests.pop(k, None)
    _write_whoosh_meta(staged, synonyms, digests, token)
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


def _read_meta(path: str) -> dict[str, Any]:
    data = read_marshal(path)
    if not isinstance(data, dict) or not isinstance(data.get("docs"), dict):
        raise ValueError(f"{path}: not a codesite search index")
    return data


def _whoosh_meta(index_dir: str) -> dict[str, Any]:
    try:
        return _read_meta(os.path.join(index_dir, META))
    except DAMAGED:
        return {}


def _write_whoosh_meta(index_dir: str, synonyms: Synonyms, digests: dict[str, str], token: str) -> None:
    path = os.path.join(index_dir, META)
    write_marshal(path, {"format": FORMAT, "synonyms": synonyms, "build": token, "docs": digests})


def _update_whoosh(index_dir: str, changed: Sequence[Doc], removed: Sequence[str]) -> None:
    writer = whoosh_index().open_dir(index_dir).writer(limitmb=256)
    for k in removed:
        writer.delete_by_term("key", k)
    for d in changed:
        writer.update_document(**_whoosh_fields(d))
    writer.commit()


def _fresh_whoosh(docs: Sequence[Doc], index_dir: str) -> None:
    os.makedirs(index_dir)
    writer = whoosh_index().create_in(index_dir, _schema()).writer(limitmb=256)
    for d in docs:
        writer.add_document(**_whoosh_fields(d))
    writer.commit()


# --- searching ------------------------------------------------------------------------------


def whoosh_vocab(reader: Any) -> dict[str, int]:
    """Every indexed term with its document frequency (summed over the text fields)."""
    vocab: Counter[str] = Counter()
    for f in FIELDS:
        for term, info in reader.iter_field(f):
            vocab[term.decode() if isinstance(term, bytes) else term] += info.doc_frequency()
    return vocab


@dataclass
class _Opened:
    stamp: tuple[int, float, int]
    ix: Any
    meta: dict[str, Any]
    by_key: dict[str, list[tuple[str, int]]] | None = None


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
            meta = _read_meta(path)
            ix = whoosh_index().open_dir(self.index_dir)
        except (*DAMAGED, whoosh_index().EmptyIndexError):
            raise CodesiteError(f"no search index in {self.index_dir}: run 'codesite build' first") from None
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
            known = {t for t in terms if any(reader.doc_frequency(f, t) for f in FIELDS)}
            add_typo_alts(groups, raw, known, vocab_for)
            if groups and len(results) < limit:
                text = ranges_last(_text_search(s, groups, keep, limit), lambda h: bool(h.get("range")))
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


def _text_search(
    s: Any, groups: list[Group], keep: Callable[[dict[str, Any]], bool], limit: int
) -> list[dict[str, Any]]:
    from whoosh import query

    def term_query(t: str, boost: float = 1.0) -> Any:
        return query.Or([query.Term(f, t) for f in FIELDS], boost=boost)

    alt_queries = []
    for g in groups:
        for a in g.alts:
            if len(a.terms) > 1:
                alt_queries.append(query.And([term_query(t) for t in a.terms], boost=a.weight))
            else:
                alt_queries.append(term_query(a.terms[0], a.weight))
    hits = s.search(query.Or(alt_queries), limit=max(200, limit * 20), terms=True)
    scored = []
    for h in hits:
        fields = h.fields()
        if not keep(fields):
            continue
        present = {t.decode() if isinstance(t, bytes) else t for _, t in h.matched_terms()}
        matched = sum(any(all(t in present for t in a.terms) for a in g.alts) for g in groups)
        scored.append((-matched, -h.score, fields["order"], fields))
    scored.sort(key=lambda x: x[:3])
    return [f for *_, f in scored]
