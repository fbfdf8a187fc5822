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
  postings: short titles and broad entries, what a one-word query wants. The scores are
  edit-stable (see ``State``): an edit changes the postings of the terms it touches, no others.
- ``v/<c>.js``: the vocabulary by first character, with document frequencies, loaded only for
  typo correction and as-you-type prefixes.
- ``c/<KEY>.js``: code-prefix shards keyed by the first three characters of the normalized code
  (upper case, no dot), in code order: exact code lookup and family listings.
- ``r/<n>.js``: display records ``[code, title, billable]``, ``RECORDS_PER_SHARD`` consecutive
  documents (code order) each, so a family listing touches one or two shards.

Query planning (synonyms, typo tolerance) lives in ``plan``; ``assets/search.js`` implements the
same rules in JavaScript; tests check that both tokenize alike and compare the engines' top 10.
The whoosh index keeps a digest per document (``codesite.meta``, marshal), so a build updates only the
documents that changed. After an editor's edit (a few files, every code kept: ``prepare_edit``)
neither index looks at the other documents: the scores' ``State`` from the last build (in the
snapshot folder) gives what the edited documents' terms need, and the client index files they
do not touch are carried over.

whoosh: we use whoosh-ng (5.4), already the project's pinned dependency. Checked here with
``python3.11 -W error`` (no byte-code cache): the original whoosh 2.7.4 fails to import (invalid
escape sequence, a SyntaxError under -W error; unmaintained since 2016); whoosh-reloaded 2.7.5
and whoosh-ng 5.4.0 both index and search warning-free, so we keep the one we already pin
rather than add a second fork.
"""

from __future__ import annotations

import bisect
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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import CodesiteError, ConfigError  # noqa: F401 (ConfigError: what bad synonyms raise)
from .load import synonyms as synonyms_source
from .model.code import Code
from .model.config import SYNONYMS_PATH
from .model.site import Site, sort_key
from .model.urls import code_url
from .outputs import DAMAGED as FILE_DAMAGED
from .outputs import Output, read_marshal, write_marshal

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
    return sorted(site.codes.values(), key=lambda c: order_of(systems, c))


def order_of(systems: list[str], code: Code) -> tuple[int, int, str]:
    """Documents are in system order (as site.yaml lists them), then code order."""
    return (systems.index(code.system), *sort_key(code.code))


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
        fields = code_fields(code, code.title or "")
        out.append(document(site, systems, i, code, fields, prior(below.get(code.key, 0))))
    return out


def document(site: Site, systems: list[str], docid: int, code: Code, fields: dict[str, list[str]], boost: float) -> Doc:
    prefix = site.config.systems[code.system].url_prefix
    return Doc(docid, code.code, code.system, code.title or "", code.billable, code_url(prefix, code.code), fields,
               boost, order_of(systems, code))


# --- lay synonyms ---------------------------------------------------------------------------


Synonyms = dict[str, list[list[str]]]  # "heart attack" (tokens joined) -> alternatives as tokens


def parse_synonyms(text: str, path: str = SYNONYMS_PATH) -> Synonyms:
    """``lay phrase: clinical phrase`` (or a list of them) -> token form used by both engines."""
    entries, errors = synonyms_source.parse_synonyms(text, path)
    if errors:
        raise errors[0]
    return tokenized_synonyms(entries)


def tokenized_synonyms(entries: dict[str, list[str]]) -> Synonyms:
    out: Synonyms = {}
    for key, values in entries.items():
        k = " ".join(tokens(key))
        if k:
            alts = out.setdefault(k, [])
            alts += [t for t in (tokens(v) for v in values) if t and t not in alts]
    return out


def load_synonyms(site_dir: str) -> Synonyms:
    entries, _, errors = synonyms_source.read_synonyms(site_dir)
    if errors:
        raise errors[0]
    return tokenized_synonyms(entries)


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


def quantized(x: float) -> float:
    """An average field length on a grid of quarter octaves (within 10% of it): an edit moves
    it rarely, even for a field few documents have (a body among 98k empty ones)."""
    return 2 ** (round(math.log2(x) * 4) / 4) if x > 0 else 1.0


def idf(df: int, n: int) -> float:
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


def doc_weights(fields: dict[str, list[str]], avg: dict[str, float]) -> dict[str, float]:
    """A document's BM25F term weights: term frequencies by field weight and length norm."""
    wtf: dict[str, float] = defaultdict(float)
    for f, weight in FIELDS.items():
        toks = fields[f]
        if not toks:
            continue
        norm = 1 - B + B * len(toks) / avg[f]
        for t, tf in Counter(toks).items():
            wtf[t] += weight * tf / norm
    return wtf


Postings = tuple[list[int], list[float]]  # docids in order, and the term's weight in each


@dataclass
class State:
    """What the scores depend on, kept between builds (``OUT/.cache/search*``) so that an edit
    changes only the index files of the terms it touches.

    The scores are edit-stable by design: the average field lengths are ``quantized`` (counted
    over the documents that have the field: most have no notes), and the impacts are quantized
    against a bound, not against the highest score seen, so one document's text moves
    nothing but its own postings and its terms' document frequencies.
    """

    keys: list[tuple[str, str]]  # by docid
    boosts: list[float]
    billable: list[bool]
    sums: dict[str, int]  # per field: tokens, over every document
    counts: dict[str, int]  # per field: documents that have it
    vocab: dict[str, int]  # document frequency of every term
    shards: dict[int, dict[str, Postings]]  # term shard -> term -> postings (loaded as needed)
    folder: str = ""  # where the rest of the shards are
    dirty: set[int] = field(default_factory=set)  # term shards changed since loaded

    @property
    def n(self) -> int:
        return len(self.keys)

    def avg(self) -> dict[str, float]:
        return {f: quantized(self.sums[f] / self.counts[f]) if self.counts[f] else 1.0 for f in FIELDS}

    def top(self) -> float:
        """The scores' upper bound: no term weighs more than K1 + 1 once saturated, no idf is
        above that of a term in one document, no boost above the broadest entry's."""
        return max(self.boosts, default=1.0) * idf(1, self.n) * (K1 + 1)

    def shard(self, i: int) -> dict[str, Postings]:
        if i not in self.shards:
            self.shards[i] = read_marshal(os.path.join(self.folder, f"{STATE}-t-{i}"))
        return self.shards[i]

    @classmethod
    def of(cls, docs: Sequence[Doc]) -> State:
        sums = {f: sum(len(d.fields[f]) for d in docs) for f in FIELDS}
        counts = {f: sum(1 for d in docs if d.fields[f]) for f in FIELDS}
        state = cls([(d.system, d.code) for d in docs], [d.boost for d in docs], [d.billable for d in docs],
                    sums, counts, {}, {i: {} for i in range(TERM_SHARDS)})
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
        """The last build's state when it is the one ``token`` names, else None."""
        try:
            data = read_marshal(os.path.join(folder, STATE))
            if data.get("format") != FORMAT or data.get("token") != token or not token:
                return None
            return cls(data["keys"], data["boosts"], data["billable"], data["sums"], data["counts"],
                       data["vocab"], {}, folder)
        except (*FILE_DAMAGED, KeyError, AttributeError):
            return None

    def save(self, folder: str, token: str) -> None:
        """Write the term shards changed (all for a new state), then the rest, naming ``token``.
        The old state is removed first: a build stopped half way leaves none, not a mixed one."""
        os.makedirs(folder, exist_ok=True)
        meta = os.path.join(folder, STATE)
        if os.path.exists(meta):
            os.remove(meta)
        for i in sorted(self.dirty if self.folder else self.shards):
            write_marshal(os.path.join(folder, f"{STATE}-t-{i}"), self.shards[i])
        data = {"format": FORMAT, "token": token, "keys": self.keys, "boosts": self.boosts,
                "billable": self.billable, "sums": self.sums, "counts": self.counts, "vocab": self.vocab}
        write_marshal(meta, data)
        self.folder, self.dirty = folder, set()


STATE = "search"  # the state's file in the snapshot folder; its term shards are search-t-<n>


def encode_postings(plist: Postings, df: int, state: State, top: float) -> list[int]:
    """A term's postings as the client reads them: ``[docid delta, impact*2 + billable, ...]``."""
    boosts, billable, n = state.boosts, state.billable, state.n
    scale = idf(df, n) * (K1 + 1)
    scored = [(docid, boosts[docid] * scale * w / (w + K1)) for docid, w in zip(*plist, strict=True)]
    if len(scored) > POSTINGS_CAP:
        scored = sorted(scored, key=lambda p: (-p[1], p[0]))[:POSTINGS_CAP]
        scored.sort()
    flat: list[int] = []
    last = 0
    for docid, score in scored:
        q = max(1, min(IMPACT_LEVELS, round(score / top * IMPACT_LEVELS)))
        flat += [docid - last, q * 2 + (1 if billable[docid] else 0)]
        last = docid
    return flat


def term_file(i: int, state: State, top: float) -> Output:
    shard = state.shard(i)
    data = {t: encode_postings(shard[t], len(shard[t][0]), state, top) for t in sorted(shard)}
    return Output("site", f"{INDEX_DIR}/t/{i}.js", script(f"t/{i}", data))


def vocab_file(k: str, vocab: dict[str, int]) -> Output:
    data = [x for t in sorted(t for t in vocab if vocab_key(t) == k) for x in (t, vocab[t])]
    return Output("site", f"{INDEX_DIR}/v/{k}.js", script(f"v/{k}", data))


def code_prefix(code: str) -> str:
    return normalize_code(code)[:PREFIX_LEN]


def codes_file(k: str, family: Sequence[tuple[int, str, bool]]) -> Output:
    """A code-prefix shard: its (docid, code, billable) in code order, so a family is one run
    of docids and the deltas are mostly 1."""
    ids = [docid for docid, _, _ in family]
    data = {
        "s": [normalize_code(code)[PREFIX_LEN:] for _, code, _ in family],
        "d": [b - a for a, b in zip([0, *ids], ids, strict=False)],
        "b": "".join("1" if billable else "0" for *_, billable in family),
    }
    return Output("site", f"{INDEX_DIR}/c/{k}.js", script(f"c/{k}", data))


def records_file(n: int, docs: Iterable[tuple[str, str, bool]]) -> Output:
    recs = [[code, title, 1 if billable else 0] for code, title, billable in docs]
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


def prepare(site: Site) -> Prepared:
    docs = documents(site)
    return Prepared(docs, load_synonyms(site.root), State.of(docs))


def whoosh_dir(site_dir: str, out_dir: str | None = None) -> str:
    """SITE/search_index, or OUT/search_index when the build has its own output folder."""
    return os.path.join(out_dir, WHOOSH_DIR) if out_dir else os.path.join(site_dir, WHOOSH_DIR)


def client_index(site: Site, prepared: Prepared | None = None) -> Iterator[Output]:
    """Every file of the client index, as public outputs under ``search-index/``; after an
    edit, those it changed."""
    prepared = prepared or prepare(site)
    if prepared.outputs is not None:
        yield from prepared.outputs
        return
    docs, synonyms, state = prepared.docs, prepared.synonyms, prepared.state or State.of(prepared.docs)
    top = state.top()
    # Every term and vocabulary shard exists, empty or not: editing a code never removes one.
    for i in range(TERM_SHARDS):
        yield term_file(i, state, top)
    for k in sorted(set(VOCAB_KEYS) | {vocab_key(t) for t in state.vocab}):
        yield vocab_file(k, state.vocab)

    codes: dict[str, list[tuple[int, str, bool]]] = defaultdict(list)
    for d in docs:
        codes[code_prefix(d.code)].append((d.id, d.code, d.billable))
    for k, family in sorted(codes.items()):
        yield codes_file(k, family)

    for start in range(0, len(docs), RECORDS_PER_SHARD):
        chunk = docs[start : start + RECORDS_PER_SHARD]
        yield records_file(start // RECORDS_PER_SHARD, ((d.code, d.title, d.billable) for d in chunk))

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


def prepare_edit(site: Site, before: Mapping[str, Code], after: Mapping[str, Code], folder: str,
                 token: str) -> Prepared | None:
    """The documents an edit changed and the client index files they change, from the last
    build's state (``token`` names it); None when the edit needs a full index: no such state,
    a parent changed (boosts move), or an average field length moved.

    ``before``/``after``: the changed files' codes, every file keeping its code.
    """
    state = State.load(folder, token)
    if state is None or any(before[p].parent != c.parent for p, c in after.items()):
        return None
    # an edit's few codes: found by a scan in C, not a map of all 98k keys made per save
    docid = {c.key: state.keys.index(c.key) for c in after.values() if c.key in state.keys}
    avg = state.avg()
    edits: list[tuple[int, Code, dict[str, list[str]], dict[str, list[str]]]] = []
    for path, new in sorted(after.items()):
        old = before[path]
        if new.key not in docid or old.key != new.key:
            return None
        fields_before, fields_after = code_fields(old, old.title or ""), code_fields(new, new.title or "")
        for f in FIELDS:
            state.sums[f] += len(fields_after[f]) - len(fields_before[f])
            state.counts[f] += bool(fields_after[f]) - bool(fields_before[f])
        edits.append((docid[new.key], new, fields_before, fields_after))
    if state.avg() != avg:
        return None

    docs: list[Doc] = []
    terms: set[str] = set()  # whose postings changed
    records: set[int] = set()
    families: set[str] = set()
    for i, new, fields_before, fields_after in edits:
        old = before[new.path]
        w_before, w_after = doc_weights(fields_before, avg), doc_weights(fields_after, avg)
        if new.billable != old.billable:
            state.billable[i] = new.billable
            families.add(code_prefix(new.code))
            terms.update(w_before, w_after)
        else:
            terms.update(t for t in w_before.keys() | w_after.keys() if w_before.get(t) != w_after.get(t))
        if (new.title, new.billable) != (old.title, old.billable):
            records.add(i // RECORDS_PER_SHARD)
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
        docs.append(document(site, list(site.config.systems), i, new, fields_after, state.boosts[i]))

    top = state.top()
    outputs = [term_file(s, state, top) for s in sorted(state.dirty)]
    wanted: dict[str, dict[str, int]] = {vocab_key(t): {} for t in terms}
    for t, n in state.vocab.items():  # one pass over the vocabulary, not one per file
        part = wanted.get(vocab_key(t))
        if part is not None:
            part[t] = n
    outputs += [vocab_file(k, wanted[k]) for k in sorted(wanted)]
    for k in sorted(families):
        family = [(i, code, state.billable[i]) for i, (_, code) in enumerate(state.keys) if code_prefix(code) == k]
        outputs.append(codes_file(k, family))
    for n in sorted(records):
        chunk = [site.codes[key] for key in state.keys[n * RECORDS_PER_SHARD : (n + 1) * RECORDS_PER_SHARD]]
        outputs.append(records_file(n, ((c.code, c.title or "", c.billable) for c in chunk)))
    return Prepared(docs, load_synonyms(site.root), state, outputs)


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


META = "codesite.meta"  # marshal: JSON of 98k digests costs an edit 0.1 s to read and write
REBUILD_SHARE = 0.2  # past this share of changed documents, a fresh index is faster


def build_whoosh(prepared: Prepared, index_dir: str, token: str = "") -> bool:
    """Bring the whoosh index in ``index_dir`` up to date; False when nothing changed.

    A document digest per code lets an edit update just the documents it changed (an edit of
    one file takes a second, not a full rebuild); a first build, a format change or a large
    change builds a fresh index beside the old one and swaps it in. ``token`` names the build
    (see ``update_whoosh``).
    """
    docs, synonyms = prepared.docs, prepared.synonyms
    digests = {doc_key(d): doc_digest(d) for d in docs}
    old = _whoosh_meta(index_dir)
    old_docs: dict[str, str] = old["docs"] if old.get("format") == FORMAT else {}
    changed = [d for d in docs if old_docs.get(doc_key(d)) != digests[doc_key(d)]]
    removed = [k for k in old_docs if k not in digests]
    if old_docs and not changed and not removed:
        if old.get("synonyms") == synonyms and old.get("build") == token:
            return False
    elif old_docs and len(changed) + len(removed) <= REBUILD_SHARE * max(1, len(docs)):
        _update_whoosh(index_dir, changed, removed)
    else:
        _fresh_whoosh(docs, index_dir)
    _write_whoosh_meta(index_dir, synonyms, digests, token)
    return True


def update_whoosh(prepared: Prepared, index_dir: str, since: str, token: str) -> bool:
    """After an edit (``prepared`` holds the documents it changed): update those in the index,
    without a digest of every document, when the index is the one the build ``since`` left;
    False, and nothing done, when it is not."""
    old = _whoosh_meta(index_dir)
    if not since or (old.get("build"), old.get("format"), old.get("synonyms")) != (since, FORMAT, prepared.synonyms):
        return False
    digests: dict[str, str] = old["docs"]
    changed = [d for d in prepared.docs if digests.get(doc_key(d)) != doc_digest(d)]
    if changed:
        _update_whoosh(index_dir, changed, [])
    digests.update((doc_key(d), doc_digest(d)) for d in changed)
    _write_whoosh_meta(index_dir, prepared.synonyms, digests, token)
    return True


def _read_meta(path: str) -> dict[str, Any]:
    data = read_marshal(path)
    if not isinstance(data, dict) or not isinstance(data.get("docs"), dict):
        raise ValueError(f"{path}: not a codesite search index")
    return data


def _whoosh_meta(index_dir: str) -> dict[str, Any]:
    try:
        return _read_meta(os.path.join(index_dir, META))
    except FILE_DAMAGED:
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


def save(site: Site, prepared: Prepared, folder: str, index_dir: str, since: str, token: str) -> None:
    """Once the client index is in place: the scores' state into the snapshot ``folder``, then
    the whoosh index, both named by ``token`` (the last build's: ``since``). Updates only the
    edited documents' when the index is the last build's."""
    if prepared.state is not None:
        prepared.state.save(folder, token)
    if prepared.outputs is None:
        build_whoosh(prepared, index_dir, token)
    elif not update_whoosh(prepared, index_dir, since, token):
        build_whoosh(Prepared(documents(site), prepared.synonyms), index_dir, token)


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
        meta = _read_meta(path)
        ix = whoosh_index().open_dir(index_dir)
    except (*FILE_DAMAGED, whoosh_index().EmptyIndexError):
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
