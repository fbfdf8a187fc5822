"""Index: the sharded client index (search-index/) and the whoosh index (search_index/).

Both are built from the same public documents (``documents``): title, synonyms, inclusion
terms and includes notes, the other instructional notes, the plain-language body and the
non-gated sections. Gated sections never reach a document, so they never reach an index.

The client index is a set of classic scripts (``window.__csIdx.push([name, data])``) so that it
loads with ``<script>`` from file:// as well as over HTTP:

- ``manifest.js``: counts, BM25 settings, shard counts, systems (docid ranges), lay synonyms.
- ``t/<n>.js``: term shards (FNV-1a hash of the term); each term's postings as a flat list
  ``[docid delta, impact*2 + billable, ...]``. The impact is the term's BM25F score in that
  document (times a prior for broad entries, see ``prior``), computed here and quantized, so
  the client only adds numbers. Very common terms keep their ``POSTINGS_CAP`` highest-impact
  postings: short titles and broad entries, what a one-word query wants.
- ``v/<c>.js``: the vocabulary by first character, with document frequencies, loaded only for
  typo correction and as-you-type prefixes.
- ``c/<KEY>.js``: code-prefix shards keyed by the first three characters of the normalized code
  (upper case, no dot), in code order: exact code lookup and family listings.
- ``r/<n>.js``: display records ``[code, title, billable]``, ``RECORDS_PER_SHARD`` consecutive
  documents (code order) each, so a family listing touches one or two shards.

Query planning (synonyms, typo tolerance) lives in ``plan``; ``assets/search.js`` implements the
same rules in JavaScript; tests check that both tokenize alike and compare the engines' top 10.
The whoosh index keeps a digest per document (``codesite.json``), so a build updates only the
documents that changed.

whoosh: we use whoosh-ng (5.4), already the project's pinned dependency. Checked here with
``python3.11 -W error`` (no byte-code cache): the original whoosh 2.7.4 fails to import (invalid
escape sequence, a SyntaxError under -W error; unmaintained since 2016); whoosh-reloaded 2.7.5
and whoosh-ng 5.4.0 both index and search warning-free, so we keep the one we already pin
rather than add a second fork.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import os
import re
import shutil
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import yamlutil
from .config import SYNONYMS_PATH
from .content import Code
from .errors import CodesiteError, ConfigError
from .render import Output
from .site import Site, sort_key
from .urls import code_url

INDEX_DIR = "search-index"  # under build/site
WHOOSH_DIR = "search_index"
FORMAT = 1

STOP_WORDS = frozenset("a an and are as at be by for from in into is it of on or the to with".split())
# Field weights of BM25F: an official title word outweighs the same word in a note.
FIELDS: dict[str, float] = {"title": 3.0, "syn": 2.5, "incl": 1.5, "text": 1.0}
K1 = 1.2
B = 0.75
POSTINGS_CAP = 2000
PRIOR = 0.1
VOCAB_KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"
TERM_SHARDS = 512
RECORDS_PER_SHARD = 64
IMPACT_LEVELS = 127
PREFIX_LEN = 3
# Instructional notes indexed with the inclusion weight, and with the plain text.
INCLUSION_NOTES = ("inclusion_terms", "includes")
TEXT_NOTES = ("note",)  # excludes/code-first notes name other conditions: indexing them misleads

_WORD = re.compile(r"[a-z0-9]+")
_CODE_IN_TEXT = re.compile(r"\b[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z-]{1,5})?\b")
_MD_LINK = re.compile(r"\]\([^)]*\)")
_CODE_TOKEN = re.compile(r"^(?:[a-z][0-9][0-9a-z]|[0-9]{3})[0-9a-z]{0,5}$|^[a-z][0-9]{2,}$")
_CODE_QUERY = re.compile(r"^[A-Za-z0-9]{2,}(?:[.-][A-Za-z0-9]*)*$")


# --- text ------------------------------------------------------------------------------


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
    return any(ch.isdigit() for ch in word) or bool(_CODE_TOKEN.match(word))


def max_edits(word: str) -> int:
    if is_code_like(word):
        return 0
    return 2 if len(word) >= 9 else 1 if len(word) >= 5 else 0


def normalize_code(text: str) -> str:
    """``s73.0`` -> ``S730``; ranges keep their dash (``S70-S79``)."""
    return text.strip().upper().replace(".", "")


def code_query(q: str) -> str | None:
    """The normalized code when the whole query looks like a code or a code prefix."""
    q = q.strip()
    if len(q) < 3 or not _CODE_QUERY.match(q) or not any(ch.isdigit() for ch in q):
        return None
    return normalize_code(q)


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


def term_shard(term: str) -> int:
    return fnv1a(term) % TERM_SHARDS


def vocab_key(term: str) -> str:
    return term[0]


def plain_markdown(text: str) -> str:
    return _MD_LINK.sub("] ", text)


# --- documents ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Doc:
    id: int
    code: str
    system: str
    title: str
    billable: bool
    url: str
    fields: dict[str, list[str]] = field(default_factory=dict)
    boost: float = 1.0
    order: tuple[int, int, str] = (0, 0, "")  # system rank, then code order


def document_order(site: Site) -> list[Code]:
    systems = list(site.config.systems)
    return sorted(site.codes.values(), key=lambda c: (systems.index(c.system), sort_key(c.code)))


def code_fields(code: Code, title: str) -> dict[str, list[str]]:
    """The public text of a code, by field. Gated sections are left out here, once."""
    incl = [n for k in INCLUSION_NOTES for n in code.notes.get(k, ())]
    text = [n for k in TEXT_NOTES for n in code.notes.get(k, ())]
    text.append(plain_markdown(code.body))
    text += [plain_markdown(s.title + "\n" + s.body) for s in code.sections if not s.gated]
    return {
        "title": tokens(title),
        "syn": tokens(" . ".join(code.synonyms)),
        "incl": tokens(_CODE_IN_TEXT.sub(" ", " . ".join(incl))),
        "text": tokens(_CODE_IN_TEXT.sub(" ", " . ".join(text))),
    }


def descendants(site: Site) -> dict[tuple[str, str], int]:
    """How many entries sit below each entry of the hierarchy."""
    count: dict[tuple[str, str], int] = {}
    for code in document_order(site):
        stack = [(code.key, False)]
        while stack:
            key, done = stack.pop()
            if key in count:
                continue
            kids = site.children.get(key, [])
            if done or not kids:
                count[key] = sum(1 + count.get(k.key, 0) for k in kids)
            else:
                stack.append((key, True))
                stack.extend((k.key, False) for k in kids if k.key not in count)
    return count


def prior(n_descendants: int) -> float:
    """A document boost for broad entries: for "diabetes", E11 (hundreds of codes below it)
    before E23.2 Diabetes insipidus, whose title is merely shorter."""
    return 1 + PRIOR * math.log1p(n_descendants)


def documents(site: Site) -> list[Doc]:
    out: list[Doc] = []
    below = descendants(site)
    systems = list(site.config.systems)
    for i, code in enumerate(document_order(site)):
        title = code.title or ""
        prefix = site.config.systems[code.system].url_prefix
        out.append(
            Doc(
                i,
                code.code,
                code.system,
                title,
                code.billable,
                code_url(prefix, code.code),
                code_fields(code, title),
                prior(below.get(code.key, 0)),
                (systems.index(code.system), *sort_key(code.code)),
            )
        )
    return out


# --- lay synonyms ---------------------------------------------------------------------------


Synonyms = dict[str, list[list[str]]]  # "heart attack" (tokens joined) -> alternatives as tokens


def parse_synonyms(text: str, path: str = SYNONYMS_PATH) -> Synonyms:
    """``lay phrase: clinical phrase`` (or a list of them) -> token form used by both engines."""
    try:
        data = yamlutil.load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            path,
            yamlutil.error_line(exc) + 1,
            "synonyms",
            f"malformed YAML: {yamlutil.error_text(exc)}",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "synonyms", "expected a mapping of lay phrase: clinical phrase(s)")
    out: Synonyms = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, str) and v.strip() for v in values):
            line = yamlutil.locate(text, (key,)) + 1 if isinstance(key, str) else 1
            raise ConfigError(path, line, f"synonyms.{key}", "expected a phrase or a list of phrases")
        k = " ".join(tokens(key))
        if k:
            alts = out.setdefault(k, [])
            alts += [t for t in (tokens(v) for v in values) if t and t not in alts]
    return out


def synonyms_digest(site_dir: str) -> str:
    """Hash of synonyms.yaml: an input of every build (the search indexes depend on it)."""
    try:
        with open(os.path.join(site_dir, SYNONYMS_PATH), "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    except FileNotFoundError:
        return ""


def load_synonyms(site_dir: str) -> Synonyms:
    try:
        with open(os.path.join(site_dir, SYNONYMS_PATH), encoding="utf-8") as f:
            return parse_synonyms(f.read())
    except FileNotFoundError:
        return {}


# --- the query plan (mirrored in assets/search.js) -----------------------------------------


@dataclass
class Alt:
    terms: list[str]
    weight: float


@dataclass
class Group:
    alts: list[Alt]


MAX_PHRASE = 4
SYNONYM_WEIGHT = 0.9
TYPO_WEIGHT = {1: 0.8, 2: 0.6}
MAX_TYPO_ALTS = 3


def typo_candidates(word: str, vocab: Iterable[tuple[str, int]]) -> list[str]:
    """Vocabulary terms within the allowed edits of ``word``: the closest, most frequent first."""
    limit = max_edits(word)
    if not limit:
        return []
    found: list[tuple[int, int, str]] = []
    for term, df in vocab:
        d = min(edit_distance(word, term, limit), edit_distance(word, term + "s", limit))
        if d <= limit:
            found.append((d, -df, term))
    found.sort()
    if not found:
        return []
    best = found[0][0]
    return [t for d, _, t in found if d == best][:MAX_TYPO_ALTS]


def plan(q: str, synonyms: Synonyms) -> tuple[list[Group], list[str]]:
    """Groups of alternatives, one group per query word or lay phrase; plus the raw words."""
    raw = words(q)
    toks = [stem(w) for w in raw]
    groups: list[Group] = []
    i = 0
    while i < len(toks):
        for n in range(min(MAX_PHRASE, len(toks) - i), 0, -1):
            key = " ".join(toks[i : i + n])
            if key in synonyms:
                alts = [Alt(toks[i : i + n], 1.0)] + [Alt(a, SYNONYM_WEIGHT) for a in synonyms[key]]
                groups.append(Group(alts))
                i += n
                break
        else:
            groups.append(Group([Alt([toks[i]], 1.0)]))
            i += 1
    return groups, raw


def add_typo_alts(groups: list[Group], raw: Sequence[str], known: set[str], vocab_for: Any) -> None:
    """For a single-word group whose word is not in the index, add its nearest terms."""
    stems = {stem(w): w for w in raw}
    for g in groups:
        first = g.alts[0]
        if len(first.terms) != 1 or first.terms[0] in known:
            continue
        term = first.terms[0]
        word = stems.get(term, term)
        if not max_edits(word):
            continue
        keys = {word[0], word[1]} if len(word) > 1 else {word[0]}
        vocab = [item for k in sorted(keys) for item in vocab_for(k)]
        for cand in typo_candidates(word, vocab):
            d = min(edit_distance(word, cand, 2), edit_distance(word, cand + "s", 2))
            g.alts.append(Alt([cand], TYPO_WEIGHT.get(d, 0.6)))


# --- the client index ----------------------------------------------------------------------


def script(name: str, data: Any) -> bytes:
    body = json.dumps([name, data], ensure_ascii=False, separators=(",", ":"))
    return f"window.__csIdx.push({body});\n".encode()


def bm25_impacts(docs: Sequence[Doc]) -> tuple[dict[str, list[tuple[int, float]]], float]:
    """term -> [(docid, BM25F score)]; also the highest score (for quantizing)."""
    n = len(docs)
    avg: dict[str, float] = {}
    for f in FIELDS:  # over the documents that have the field: most have no notes at all
        lengths = [len(d.fields[f]) for d in docs if d.fields[f]]
        avg[f] = sum(lengths) / len(lengths) if lengths else 1.0
    per_doc: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for d in docs:
        wtf: dict[str, float] = defaultdict(float)
        for f, weight in FIELDS.items():
            toks = d.fields[f]
            if not toks:
                continue
            norm = 1 - B + B * len(toks) / avg[f]
            for t, tf in Counter(toks).items():
                wtf[t] += weight * tf / norm
        for t, w in wtf.items():
            per_doc[t].append((d.id, w))
    top = 0.0
    out: dict[str, list[tuple[int, float]]] = {}
    for t, plist in per_doc.items():
        df = len(plist)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        scored = [(docid, docs[docid].boost * idf * w * (K1 + 1) / (w + K1)) for docid, w in plist]
        top = max(top, max(s for _, s in scored))
        out[t] = scored
    return out, top or 1.0


def encode_postings(plist: list[tuple[int, float]], top: float, billable: Sequence[bool]) -> list[int]:
    if len(plist) > POSTINGS_CAP:
        plist = sorted(plist, key=lambda p: (-p[1], p[0]))[:POSTINGS_CAP]
        plist.sort()
    flat: list[int] = []
    last = 0
    for docid, score in plist:
        q = max(1, min(IMPACT_LEVELS, round(score / top * IMPACT_LEVELS)))
        flat += [docid - last, q * 2 + (1 if billable[docid] else 0)]
        last = docid
    return flat


@dataclass(frozen=True)
class Prepared:
    """What both indexes are built from: the public documents and the lay synonyms."""

    docs: list[Doc]
    synonyms: Synonyms


def prepare(site: Site) -> Prepared:
    return Prepared(documents(site), load_synonyms(site.root))


def whoosh_dir(site_dir: str, out_dir: str | None = None) -> str:
    """SITE/search_index, or OUT/search_index when the build has its own output folder."""
    return os.path.join(out_dir, WHOOSH_DIR) if out_dir else os.path.join(site_dir, WHOOSH_DIR)


def client_index(site: Site, prepared: Prepared | None = None) -> Iterator[Output]:
    """Every file of the client index, as public outputs under ``search-index/``."""
    prepared = prepared or prepare(site)
    docs, synonyms = prepared.docs, prepared.synonyms
    billable = [d.billable for d in docs]
    impacts, top = bm25_impacts(docs)

    shards: dict[int, dict[str, list[int]]] = defaultdict(dict)
    vocab: dict[str, list[Any]] = defaultdict(list)
    for term in sorted(impacts):
        plist = impacts[term]
        shards[term_shard(term)][term] = encode_postings(plist, top, billable)
        vocab[vocab_key(term)] += [term, len(plist)]
    # Every term and vocabulary shard exists, empty or not: editing a code never removes one.
    for n in range(TERM_SHARDS):
        yield Output("site", f"{INDEX_DIR}/t/{n}.js", script(f"t/{n}", shards.get(n, {})))
    for k in sorted(set(VOCAB_KEYS) | set(vocab)):
        yield Output("site", f"{INDEX_DIR}/v/{k}.js", script(f"v/{k}", vocab.get(k, [])))

    codes: dict[str, list[Doc]] = defaultdict(list)
    for d in docs:  # code order: a family is one run of docids, so the deltas are mostly 1
        codes[normalize_code(d.code)[:PREFIX_LEN]].append(d)
    for k, family in sorted(codes.items()):
        ids = [d.id for d in family]
        data = {
            "s": [normalize_code(d.code)[PREFIX_LEN:] for d in family],
            "d": [b - a for a, b in zip([0, *ids], ids, strict=False)],
            "b": "".join("1" if d.billable else "0" for d in family),
        }
        yield Output("site", f"{INDEX_DIR}/c/{k}.js", script(f"c/{k}", data))

    for start in range(0, len(docs), RECORDS_PER_SHARD):
        chunk = docs[start : start + RECORDS_PER_SHARD]
        recs = [[d.code, d.title, 1 if d.billable else 0] for d in chunk]
        n = start // RECORDS_PER_SHARD
        yield Output("site", f"{INDEX_DIR}/r/{n}.js", script(f"r/{n}", recs))

    systems = []
    for sid, system in site.config.systems.items():
        ids = [d.id for d in docs if d.system == sid]
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
        "docs": len(docs),
        "termShards": TERM_SHARDS,
        "recordsPerShard": RECORDS_PER_SHARD,
        "prefixLen": PREFIX_LEN,
        "systems": systems,
        "stop": sorted(STOP_WORDS),
        "synonyms": synonyms,
        "weights": {
            "synonym": SYNONYM_WEIGHT,
            "typo": TYPO_WEIGHT,
            "maxTypoAlts": MAX_TYPO_ALTS,
            "maxPhrase": MAX_PHRASE,
        },
    }
    yield Output("site", f"{INDEX_DIR}/manifest.js", script("manifest", manifest))


# --- whoosh ------------------------------------------------------------------------------------


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
        display=fields.STORED(),
        url=fields.STORED(),
        **{f: fields.TEXT(analyzer=space, field_boost=w) for f, w in FIELDS.items()},
    )


def doc_key(d: Doc) -> str:
    return f"{d.system}:{d.code}"


def doc_digest(d: Doc) -> str:
    row = [d.code, d.system, d.title, d.billable, d.url, d.fields, d.boost, d.order]
    return hashlib.blake2b(json.dumps(row, sort_keys=True).encode(), digest_size=12).hexdigest()


def _whoosh_fields(d: Doc) -> dict[str, Any]:
    return {
        "key": doc_key(d),
        "order": list(d.order),
        "code": d.code,
        "ncode": normalize_code(d.code),
        "system": d.system,
        "billable": d.billable,
        "display": d.title,
        "url": d.url,
        "_boost": d.boost,
        **{f: " ".join(d.fields[f]) for f in FIELDS},
    }


def whoosh_index() -> Any:
    """whoosh.index, imported late (only builds and searches need it); mypy does not see the
    names whoosh-ng defines there."""
    return importlib.import_module("whoosh.index")


META = "codesite.json"
REBUILD_SHARE = 0.2  # past this share of changed documents, a fresh index is faster


def build_whoosh(prepared: Prepared, index_dir: str) -> bool:
    """Bring the whoosh index in ``index_dir`` up to date; False when nothing changed.

    A document digest per code lets an edit update just the documents it changed (an edit of
    one file takes a second, not a full rebuild); a first build, a format change or a large
    change builds a fresh index beside the old one and swaps it in.
    """
    docs, synonyms = prepared.docs, prepared.synonyms
    digests = {doc_key(d): doc_digest(d) for d in docs}
    meta_path = os.path.join(index_dir, META)
    try:
        with open(meta_path, encoding="utf-8") as f:
            old = json.load(f)
        old_docs: dict[str, str] = old["docs"] if old.get("format") == FORMAT else {}
    except (OSError, ValueError, KeyError, AttributeError):
        old, old_docs = {}, {}
    changed = [d for d in docs if old_docs.get(doc_key(d)) != digests[doc_key(d)]]
    removed = [k for k in old_docs if k not in digests]
    if old_docs and not changed and not removed:
        if old.get("synonyms") == synonyms:
            return False
    elif old_docs and len(changed) + len(removed) <= REBUILD_SHARE * max(1, len(docs)):
        writer = whoosh_index().open_dir(index_dir).writer(limitmb=256)
        for k in removed:
            writer.delete_by_term("key", k)
        for d in changed:
            writer.update_document(**_whoosh_fields(d))
        writer.commit()
    else:
        _fresh_whoosh(docs, index_dir)
    tmp = meta_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT, "synonyms": synonyms, "docs": digests}, f, separators=(",", ":"))
    os.replace(tmp, meta_path)
    return True


def _fresh_whoosh(docs: Sequence[Doc], index_dir: str) -> None:
    tmp = index_dir.rstrip("/\\") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    writer = whoosh_index().create_in(tmp, _schema()).writer(limitmb=256)
    for d in docs:
        writer.add_document(**_whoosh_fields(d))
    writer.commit()
    old = index_dir.rstrip("/\\") + ".old"
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(index_dir):
        os.replace(index_dir, old)
    os.replace(tmp, index_dir)
    shutil.rmtree(old, ignore_errors=True)


def whoosh_vocab(reader: Any) -> dict[str, int]:
    """Every indexed term with its document frequency (summed over the text fields)."""
    vocab: Counter[str] = Counter()
    for f in FIELDS:
        for term, info in reader.iter_field(f):
            vocab[term.decode() if isinstance(term, bytes) else term] += info.doc_frequency()
    return vocab


@dataclass
class _Opened:
    stamp: tuple[float, int]
    ix: Any
    meta: dict[str, Any]
    by_key: dict[str, list[tuple[str, int]]] | None = None


_OPENED: dict[str, _Opened] = {}


def _open_whoosh(index_dir: str) -> _Opened:
    """The open index and its metadata, kept while the index is unchanged (the dev server asks
    once per request; opening and reading the vocabulary costs more than a query)."""
    path = os.path.join(index_dir, META)
    try:
        st = os.stat(path)
        cached = _OPENED.get(index_dir)
        if cached and cached.stamp == (st.st_mtime, st.st_size):
            return cached
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
        ix = whoosh_index().open_dir(index_dir)
    except (OSError, ValueError, whoosh_index().EmptyIndexError):
        raise CodesiteError(f"no search index in {index_dir}: run 'codesite build' first") from None
    opened = _OPENED[index_dir] = _Opened((st.st_mtime, st.st_size), ix, meta)
    return opened


def query_whoosh(
    index_dir: str, q: str, limit: int = 10, system: str | None = None, billable: bool = False
) -> list[dict[str, Any]]:
    """Results ``{"code", "title", "url", "system", "billable"}``: exact code first, then the
    code family in code order, then BM25F full text (documents matching more of the query first)."""
    from whoosh import query

    opened = _open_whoosh(index_dir)
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
        groups, raw = plan(q, meta["synonyms"])
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
            results += [h for h in _text_search(s, groups, keep, limit) if h["key"] not in seen]
    return [_result(h) for h in results[:limit]]


def _result(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": h["code"],
        "title": h["display"],
        "url": h["url"],
        "system": h["system"],
        "billable": bool(h["billable"]),
    }


def _text_search(s: Any, groups: list[Group], keep: Any, limit: int) -> list[dict[str, Any]]:
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
