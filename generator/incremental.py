"""Incremental builds: what the last good build saw, and which pages an edit can change.

The snapshot (``OUT/.cache/``, marshal) keeps, for every content file, its stat (mtime,
size) and a hash of its bytes; the parsed ``Code`` as plain tuples and the files its page
wrote (in shards: a category's codes share one); the hierarchy and link graph by key; a hash
of every input that is not a content file (site.yaml, descriptors, link style, the
generator's own source) and one hash per page template with everything it extends or
imports. A rebuild stats every file, reads only those whose stat changed, parses only those
whose bytes changed, and re-renders only the pages whose output can depend on what changed:

- the page of a changed file;
- when a code's public face (code, kind, title, status, billable, parent) changes, appears or
  goes: its old and new parent (child lists), all its descendants (breadcrumbs), every page
  relating to it or replaced by it, and, when it appears or goes, every page whose notes
  name it (notes link the codes that have a page);
- every page of a template whose hash changed; every page when the rest of the inputs did.

When a few files changed, no code came or went and the layouts are the same (an editor's
edit), nothing else is loaded whole: the other codes are read from their shard when a page
to render shows them, and the last build's other output files are carried over in one step.
Otherwise every code is loaded (from the snapshot, or parsed), as for a first build.

The snapshot is written after the output and its manifest, so a crash in between leaves an
older snapshot, which only means more re-rendering next time. The test suite compares
incremental builds after random edits with clean builds, byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import os
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from jinja2 import Environment, meta
from jinja2.bccache import Bucket, BytecodeCache

from . import marshalfile, parallel
from .check import check_changed, check_site
from .config import SiteConfig
from .content import Code, FileErrors, Related, Section, parse_code, read_text
from .errors import CheckFailed, ContentError
from .publish import Publisher
from .render import CODE_TOKEN, Renderer
from .scanning import Prescan, Stat, scan
from .site import Site, sort_key

SNAPSHOT = ".cache"  # a folder: "meta", and the files' entries in shards
SHARDS = 256
FORMAT = 4
RACY_NS = 1_000_000_000
FIELDS = tuple(f.name for f in fields(Code))
RELATED_AT = FIELDS.index("related")
DAMAGED = (*marshalfile.DAMAGED, KeyError)  # a snapshot file gone or damaged
SECTIONS_AT = FIELDS.index("sections")

Key = tuple[str, str]
Record = tuple[Any, ...]


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def to_record(c: Code) -> Record:
    """A Code as plain tuples marshal can store (and load fast: no classes to look up)."""
    rec: list[Any] = [getattr(c, f) for f in FIELDS]
    rec[RELATED_AT] = tuple((r.code, r.relation, r.system, r.note) for r in c.related)
    rec[SECTIONS_AT] = tuple((s.id, s.title, s.gated, s.body) for s in c.sections)
    return tuple(rec)


def from_record(rec: Record) -> Code:
    if not rec[RELATED_AT] and not rec[SECTIONS_AT]:  # most codes: no objects to rebuild
        return Code(*rec)
    args = list(rec)
    args[RELATED_AT] = tuple(Related(*r) for r in rec[RELATED_AT])
    args[SECTIONS_AT] = tuple(Section(*s) for s in rec[SECTIONS_AT])
    return Code(*args)


def face(c: Code) -> tuple[Any, ...]:
    """What other pages show of a code: change it and they must be rendered again."""
    return (c.system, c.code, c.kind, c.title, c.status, c.billable, c.parent)


# --- scanning the content folder -------------------------------------------------------


def key_of(path: str) -> Key:
    """The key of a content file that passed the checks: content/codes/<system>/<code>.md."""
    d = path.rindex("/")
    return path[path.rindex("/", 0, d) + 1 : d], path[d + 1 : -3]


def path_of(key: Key) -> str:
    return f"content/codes/{key[0]}/{key[1]}.md"


@dataclass
class Parsed:
    """The outcome of reading some content files: new records, and errors."""

    records: dict[str, tuple[Stat, str, Record]] = field(default_factory=dict)
    errors: list[ContentError] = field(default_factory=list)


def parse_files(site_dir: str, todo: Iterable[tuple[str, Stat, str | None]]) -> Parsed:
    """Read files; parse those whose bytes differ from ``old_digest``. Pure but for reading.

    Each item is (path, stat, old digest or None). A file whose bytes hash to its old digest
    is reported with record ``()``: reuse the old one.
    """
    out = Parsed()
    for rel, stat, old in todo:
        try:
            with open(os.path.join(site_dir, rel), "rb") as f:
                data = f.read()
        except OSError as exc:
            out.errors.append(ContentError(rel, 1, "file", f"cannot read ({exc.strerror})"))
            continue
        h = digest(data)
        if h == old:
            out.records[rel] = (stat, h, ())
            continue
        try:
            code = parse_code(data.decode("utf-8"), rel)
        except UnicodeDecodeError as exc:
            out.errors.append(ContentError(rel, 1, "file", f"not valid UTF-8 ({exc.reason})"))
            continue
        except FileErrors as exc:
            out.errors.extend(exc.errors)
            continue
        except ContentError as exc:
            out.errors.append(exc)
            continue
        out.records[rel] = (stat, h, to_record(code))
    return out


# --- the snapshot -----------------------------------------------------------------------

Entry = tuple[Record, tuple[str, ...]]  # a file's parsed Code, and the output files of its page
FileStat = tuple[int, int, str]  # a content file's mtime_ns, size and digest of its bytes


@dataclass
class Graph:
    """Who shows whom, by key: enough to find the pages an edit changes, and to render them,
    without loading every code. ``Site.assemble`` makes the same lists from all the codes."""

    children: dict[Key, tuple[Key, ...]] = field(default_factory=dict)
    tops: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    linked: dict[Key, tuple[Key, ...]] = field(default_factory=dict)  # key -> pages that link it

    @classmethod
    def of(cls, site: Site) -> Graph:
        linked: dict[Key, set[Key]] = {}
        for c in site.codes.values():
            for t in link_targets(c):
                linked.setdefault(t, set()).add(c.key)
        return cls(
            {k: tuple(c.key for c in kids) for k, kids in site.children.items()},
            {s: tuple(c.key for c in top) for s, top in site.tops.items()},
            {k: tuple(sorted(v)) for k, v in linked.items()},
        )

    def edited(self, before: Iterable[Code], after: Iterable[Code]) -> Graph:
        """The graph after edits that keep every key (parents, links and order updated);
        ``before`` and ``after``: the same files' codes, in the same order."""
        moved = [
            (b, a)
            for b, a in zip(before, after, strict=True)
            if (b.parent, link_targets(b)) != (a.parent, link_targets(a))
        ]
        if not moved:
            return self
        before, after = [b for b, _ in moved], [a for _, a in moved]
        children, tops, linked = dict(self.children), dict(self.tops), dict(self.linked)

        def under(c: Code) -> tuple[dict[Any, tuple[Key, ...]], Any]:
            return (children, (c.system, c.parent)) if c.parent else (tops, c.system)

        for c in before:
            lists, at = under(c)
            lists[at] = tuple(k for k in lists.get(at, ()) if k != c.key)
            if not lists[at] and lists is children:
                del lists[at]
            for t in link_targets(c):
                linked[t] = tuple(k for k in linked.get(t, ()) if k != c.key)
                if not linked[t]:
                    del linked[t]
        for c in after:
            lists, at = under(c)
            lists[at] = tuple(sorted((*lists.get(at, ()), c.key), key=lambda k: sort_key(k[1])))
            for t in link_targets(c):
                linked[t] = tuple(sorted({*linked.get(t, ()), c.key}))
        return Graph(children, tops, linked)

    def descendants(self, key: Key) -> Iterator[Key]:
        stack = list(self.children.get(key, ()))
        while stack:
            k = stack.pop()
            yield k
            stack.extend(self.children.get(k, ()))

    def dump(self) -> tuple[Any, ...]:
        return (self.children, self.tops, self.linked)


def link_targets(c: Code) -> set[Key]:
    """The codes a page shows by name and title besides its parent and children."""
    out = {(r.system or c.system, r.code) for r in c.related}
    out.update((c.system, r) for r in c.replaced_by)
    return out


@dataclass
class Snapshot:
    """What the last good build saw, in files written only when their part changed: ``meta``
    (small), ``files`` (stat and digest of every content file), ``graph``, and the entries
    (parsed codes, page outputs) in shards read when asked for: codes that show each other
    (a category and its codes) share one."""

    env: str = ""
    layouts: str = ""  # digest of every file in layouts/
    templates: dict[str, str] = field(default_factory=dict)
    others: tuple[str, ...] = ()  # output files that are not a code page's
    counts: dict[str, int] = field(default_factory=dict)  # codes per system
    scanned: int = 0  # time.time_ns() when the files were stat'ed
    files: dict[str, FileStat] = field(default_factory=dict)
    folder: str = ""
    records: dict[str, Record] = field(default_factory=dict)  # new: the files parsed this time
    pages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # new: the pages rendered or kept
    search: str = ""  # the build that left the search state and indexes ("": none is current)
    _graph: Graph | None = None
    _shards: dict[int, dict[str, Entry]] = field(default_factory=dict)

    @classmethod
    def load(cls, out_dir: str) -> Snapshot | None:
        """The last good build's snapshot (meta and files), or None (none, unreadable, other format)."""
        folder = os.path.join(out_dir, SNAPSHOT)
        try:
            meta = marshalfile.read(os.path.join(folder, "meta"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                return None
            files = marshalfile.read(os.path.join(folder, "files"))
            return cls(
                meta["env"], meta["layouts"], meta["templates"], meta["others"], meta["counts"], meta["scanned"],
                files, folder, search=meta.get("search", ""),
            )
        except DAMAGED:
            return None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = Graph(*marshalfile.read(os.path.join(self.folder, "graph")))
        return self._graph

    @graph.setter
    def graph(self, graph: Graph) -> None:
        self._graph = graph

    def meta(self) -> dict[str, Any]:
        return {"format": FORMAT, "env": self.env, "layouts": self.layouts, "templates": self.templates,
                "others": self.others, "counts": self.counts, "scanned": self.scanned, "search": self.search}

    def shard(self, i: int) -> dict[str, Entry]:
        if i not in self._shards:
            self._shards[i] = marshalfile.read(os.path.join(self.folder, f"shard-{i}"))
        return self._shards[i]

    def codes(self) -> Iterator[Code]:
        """Every code the build saw, shard by shard, none kept (for readers of a finished
        build: the archive)."""
        for i in range(SHARDS):
            for rec, _ in marshalfile.read(os.path.join(self.folder, f"shard-{i}")).values():
                yield from_record(rec)

    def entry(self, path: str) -> Entry:
        """A file's entry; every file in ``files`` has one (KeyError, OSError... when a shard
        is gone or damaged: the caller then builds as if there were no snapshot)."""
        return self.shard(shard_of(key_of(path)))[path]

    def changed_entries(self, old: Snapshot | None) -> dict[str, Entry]:
        out: dict[str, Entry] = {}
        for path in self.records.keys() | self.pages.keys():
            was = old.entry(path) if old is not None and path in old.files else None
            rec = self.records.get(path) or (was[0] if was else ())
            keys = self.pages.get(path, was[1] if was else ())
            if was is None or rec is not was[0] or keys != was[1]:
                out[path] = (rec, keys)
        return out

    def save(self, out_dir: str, old: Snapshot | None) -> None:
        """Write the parts that differ from ``old`` (all without it), the meta file last;
        nothing when nothing changed (a no-op build writes no file, this one included).

        An edit rewrites a shard or two and the file stats. Should a build stop half way,
        the old meta file names entries of an older state of some files: their stat or
        digest then differs, and they are read and parsed again.
        """
        folder = os.path.join(out_dir, SNAPSHOT)
        changed = self.changed_entries(old)
        shards: dict[int, dict[str, Entry]] = {}
        if old is None:
            shards = {i: {} for i in range(SHARDS)}
        else:
            for path in old.files.keys() - self.files.keys():
                i = shard_of(key_of(path))
                shards.setdefault(i, dict(old.shard(i))).pop(path, None)
        for path, entry in changed.items():
            i = shard_of(key_of(path))
            if i not in shards:
                shards[i] = dict(old.shard(i)) if old is not None else {}
            shards[i][path] = entry
        parts: dict[str, Any] = {f"shard-{i}": shard for i, shard in shards.items()}
        if old is None or self.files != old.files:
            parts["files"] = self.files
        if old is None or self.graph != old.graph:
            parts["graph"] = self.graph.dump()
        meta = self.meta()
        if not parts and old is not None and {**meta, "scanned": 0} == {**old.meta(), "scanned": 0}:
            return
        os.makedirs(folder, exist_ok=True)
        for name, data in parts.items():
            marshalfile.write(os.path.join(folder, name), data)
        marshalfile.write(os.path.join(folder, "meta"), meta)


def shard_of(key: Key) -> int:
    """Codes of one category share a shard (the first three characters), and so do chapters."""
    system, code = key
    return zlib.crc32(f"{system}\0{'#' if code.isdigit() else code[:3]}".encode()) % SHARDS


def env_digest(site_dir: str, config_digest: str, extra: Any) -> str:
    """Everything every page depends on, content files and templates aside: the site's
    place, its config, build options, our source and the versions of the libraries that
    turn text into HTML."""
    versions = repr([library_stamp(m) for m in ("jinja2", "markupsafe", "markdown", "nh3", "yaml")])
    parts = (os.path.abspath(site_dir), config_digest, repr(extra), source_digest(), versions)
    return digest("\0".join(parts).encode())


def library_stamp(module: str) -> tuple[str, int, int]:
    """Where a library is and when it was installed: a new version changes it. (Cheaper than
    importlib.metadata, which costs a fresh process 20 ms of imports.)"""
    path = getattr(importlib.import_module(module), "__file__", None) or module
    try:
        st = os.stat(path)
    except OSError:
        return (path, 0, 0)
    return (path, st.st_mtime_ns, st.st_size)


class TemplateCache(BytecodeCache):
    """Compiled templates kept between builds in the snapshot folder. Templates compiled
    during a build are written by ``save``, after the build succeeded."""

    def __init__(self, out_dir: str) -> None:
        self.folder = os.path.join(out_dir, SNAPSHOT, "templates")
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            with open(os.path.join(self.folder, bucket.key), "rb") as f:
                bucket.load_bytecode(f)
        except OSError:
            pass

    def dump_bytecode(self, bucket: Bucket) -> None:
        out = io.BytesIO()
        bucket.write_bytecode(out)
        self.compiled[bucket.key] = out.getvalue()

    def save(self) -> None:
        if self.compiled:
            os.makedirs(self.folder, exist_ok=True)
        for key, data in self.compiled.items():
            tmp = os.path.join(self.folder, key + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(self.folder, key))


def source_digest() -> str:
    """Hash of the generator's own source: a new codesite version renders everything again."""
    h = hashlib.blake2b(digest_size=16)
    pkg = os.path.dirname(os.path.abspath(__file__))
    for dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    h.update(name.encode() + b"\0" + f.read())
    return h.hexdigest()


def layouts_digest(layouts: str) -> str:
    """Hash of every file in the layouts folder: while it holds, so do the template digests."""
    h = hashlib.blake2b(digest_size=16)
    for dirpath, dirnames, filenames in os.walk(layouts):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                h.update(os.path.relpath(full, layouts).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def template_digests(env: Environment, names: Iterable[str]) -> dict[str, str]:
    """Per template, a hash of its source and of every template it extends, includes or imports.

    A template that names another through a variable depends on all of them.
    """
    loader = env.loader
    assert loader is not None
    sources: dict[str, str] = {}
    refs: dict[str, set[str]] = {}

    def visit(name: str) -> None:
        if name in sources:
            return
        source = loader.get_source(env, name)[0]
        sources[name] = source
        found = set(meta.find_referenced_templates(env.parse(source)))
        if None in found:
            found = set(loader.list_templates())
        refs[name] = {n for n in found if n is not None}
        for n in refs[name]:
            visit(n)

    out: dict[str, str] = {}
    for name in names:
        visit(name)
        closure: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n not in closure:
                closure.add(n)
                stack.extend(refs[n])
        h = hashlib.blake2b(digest_size=16)
        for n in sorted(closure):
            h.update(n.encode() + b"\0" + sources[n].encode() + b"\0")
        out[name] = h.hexdigest()
    return out


# --- what to render again ---------------------------------------------------------------


def note_targets(c: Code) -> set[str]:
    return {m.group(1) for notes in c.notes.values() for n in notes for m in CODE_TOKEN.finditer(n)}


def affected(graph: Graph, old: dict[str, Code], new: dict[str, Code], site: Site | None = None) -> set[Key]:
    """Keys of the pages an edit can change. ``old``/``new``: changed files' codes by path,
    before and after (a path missing on one side was added or removed); ``graph`` as it is
    after the edit. When codes appeared or went, ``site`` (all codes loaded) finds the pages
    whose notes name them."""
    out: set[Key] = set()
    moved: set[Key] = set()  # keys whose public face changed, appeared or went
    appeared_or_gone: set[Key] = set()
    for path in old.keys() | new.keys():
        o, n = old.get(path), new.get(path)
        if n is not None:
            out.add(n.key)
        if o is not None and n is not None and face(o) == face(n):
            continue
        for c in (o, n):
            if c is None:
                continue
            moved.add(c.key)
            if c.parent:
                out.add((c.system, c.parent))
        if o is None or n is None or o.key != n.key:
            appeared_or_gone.update(c.key for c in (o, n) if c is not None)
    for key in moved:
        out.update(graph.descendants(key))
        out.update(graph.linked.get(key, ()))
    if appeared_or_gone:
        assert site is not None, "codes came or went: every code is loaded"
        for c in site.codes.values():
            if c.notes and any((c.system, t) in appeared_or_gone for t in note_targets(c)):
                out.add(c.key)
    return out


# --- loading with the snapshot ----------------------------------------------------------

FAST_MAX = 200  # changed files past which loading every code is as quick


class LazyCodes(Mapping[Key, Code]):
    """Every code of the site by key, each read from the snapshot when first asked for."""

    def __init__(self, snapshot: Snapshot, fresh: dict[str, Code]) -> None:
        self.snapshot = snapshot
        self.files = snapshot.files
        self.loaded = {c.key: c for c in fresh.values()}

    def __getitem__(self, key: Key) -> Code:
        c = self.loaded.get(key)
        if c is None:
            c = self.loaded[key] = from_record(self.snapshot.entry(path_of(key))[0])
        return c

    def get(self, key: Key, default: Any = None) -> Any:
        return self[key] if path_of(key) in self.files else default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and path_of(key) in self.files

    def __iter__(self) -> Iterator[Key]:
        return map(key_of, self.files)

    def __len__(self) -> int:
        return len(self.files)


class LazyLists(Mapping[Any, list[Code]]):
    """``Site.children`` or ``Site.tops`` from the graph's keys and lazily loaded codes."""

    def __init__(self, codes: LazyCodes, keys: dict[Any, tuple[Key, ...]]) -> None:
        self.codes = codes
        self.lists = keys

    def __getitem__(self, at: Any) -> list[Code]:
        return [self.codes[k] for k in self.lists[at]]

    def __contains__(self, at: object) -> bool:
        return at in self.lists

    def __iter__(self) -> Iterator[Any]:
        return iter(self.lists)

    def __len__(self) -> int:
        return len(self.lists)


@dataclass
class Changes:
    """What changed since the last good build into the same output folder."""

    old: Snapshot | None  # None: no usable snapshot, render everything
    new: Snapshot
    before: dict[str, Code]  # changed files' codes by path, at the last build
    after: dict[str, Code]  # and now
    keys_changed: bool  # a code appeared or went
    lazy: bool = False  # codes are read from the snapshot as needed (few files changed)


def load(
    site_dir: str,
    out_dir: str,
    config: SiteConfig,
    env: str,
    layouts: str,
    jobs: int | None,
    use_snapshot: bool = True,
    prescan: Prescan | None = None,
) -> tuple[Site, Changes]:
    """Load and check the site, parsing only the files whose bytes changed since the snapshot.

    ``layouts``: the digest of the layouts folder. When a few files changed, no code came
    or went and the layouts are the same, the other codes are read from the snapshot only when a page to render shows
    them. Raises CheckFailed with every problem, exactly as a full load would.
    """
    # stat the content files (in a thread, unless the caller already started a Prescan) while
    # the snapshot loads: stat releases the GIL
    with ThreadPoolExecutor(1) as pool:
        scanned = time.time_ns()
        scanning = pool.submit(scan, site_dir) if prescan is None else None
        old = None
        if use_snapshot and all(os.path.isdir(os.path.join(out_dir, a)) for a in ("site", "private")):
            old = Snapshot.load(out_dir)
            if old is not None and old.env != env:
                old = None
        if prescan is not None:
            stats, scanned = prescan.result(), prescan.started
        else:
            assert scanning is not None
            stats = scanning.result()
    prev = old.files if old else {}
    # A file written in the same clock tick as the last scan, after it, can have the stat the
    # scan saw: read every file not safely older than that scan (git's "racily clean" files).
    racy = old.scanned - RACY_NS if old else 0
    todo = []
    for rel, st in stats.items():
        was = prev.get(rel)
        if was is None or was[0] != st[0] or was[1] != st[1] or st[0] >= racy:
            todo.append((rel, st, was[2] if was else None))
    parsed = Parsed()
    task = functools.partial(parse_files, site_dir)
    for part in parallel.run_chunks(task, todo, parallel.workers(jobs, len(todo)), 1000):
        parsed.records.update(part.records)
        parsed.errors.extend(part.errors)
    fresh = {rel: rec for rel, (_, _, rec) in parsed.records.items() if rec}
    same_layouts = old is not None and old.layouts == layouts
    # the templates' digests are the last build's, or made by the caller once the content passed
    new = Snapshot(env, layouts, old.templates if old and same_layouts else {}, scanned=scanned, records=fresh)
    new.files = prev.copy() if stats.keys() == prev.keys() else {rel: prev[rel] for rel in stats if rel in prev}
    for rel, (stat, h, _) in parsed.records.items():
        new.files[rel] = (*stat, h)
    after = {rel: from_record(rec) for rel, rec in fresh.items()}

    def source(rel: str) -> str:
        return read_text(site_dir, rel)

    if (
        old is not None
        and not parsed.errors
        and len(fresh) <= FAST_MAX
        and stats.keys() == prev.keys()
        and same_layouts
        and all(c.key == key_of(rel) for rel, c in after.items())
    ):
        try:
            before = {rel: from_record(old.entry(rel)[0]) for rel in fresh}
            new.graph = old.graph.edited(before.values(), after.values())
            codes = LazyCodes(old, after)  # the same keys, and the old entries but for ``after``
            new.counts = old.counts
            site = Site(site_dir, config, codes, LazyLists(codes, new.graph.children),
                        LazyLists(codes, new.graph.tops), new.counts)
            if not check_changed(config, site.codes, list(after.values()), source):
                return site, Changes(old, new, before, after, False, lazy=True)
        except DAMAGED:
            return load(site_dir, out_dir, config, env, layouts, jobs, use_snapshot=False)
    if old is None:
        return _full(site_dir, config, new, parsed, {}, {}, after, source)
    try:
        entries = {rel: old.entry(rel) for rel in prev}
    except DAMAGED:
        return load(site_dir, out_dir, config, env, layouts, jobs, use_snapshot=False)
    before = {rel: from_record(entries[rel][0]) for rel in prev if rel in fresh or rel not in stats}
    return _full(site_dir, config, new, parsed, entries, before, after, source, old)


def _full(
    site_dir: str,
    config: SiteConfig,
    new: Snapshot,
    parsed: Parsed,
    entries: dict[str, Entry],
    before: dict[str, Code],
    after: dict[str, Code],
    source: Any,
    old: Snapshot | None = None,
) -> tuple[Site, Changes]:
    """Load with every code in memory: the codes of the files that did not change come from
    the snapshot's entries, the others were just parsed."""
    codes = [after[rel] if rel in after else from_record(entries[rel][0]) for rel in sorted(new.files)]
    keys_changed = {c.key for c in before.values()} != {c.key for c in after.values()}
    site = Site.assemble(site_dir, config, codes)
    if (
        old is None
        or parsed.errors
        or keys_changed
        or check_changed(config, site.codes, list(after.values()), source)
    ):
        errors = parsed.errors + check_site(config, codes, source)
        if errors:
            raise CheckFailed(errors)
    new.graph = Graph.of(site)
    new.counts = dict(site.counts)
    return site, Changes(old, new, before, after, keys_changed)


def plan(site: Site, renderer: Renderer, changes: Changes, publisher: Publisher) -> list[Key]:
    """The pages to render; the others' outputs are carried over in ``publisher``."""
    old = changes.old
    if old is None:
        return list(site.codes)
    render = affected(changes.new.graph, changes.before, changes.after, None if changes.lazy else site)
    if changes.lazy:  # templates are the same; every other page's files are carried over whole
        if not publisher.old:  # the manifest is gone: render every page (reading every code)
            return list(site.codes)
        todo = sorted(k for k in render if k in site.codes)
        drop = {k for key in todo for k in old.entry(site.codes[key].path)[1]}
        publisher.carry(drop.union(old.others))
        return todo
    todo = []
    stale = {t for t, d in changes.new.templates.items() if old.templates.get(t) != d}
    if stale:
        render.update(k for k, c in site.codes.items() if renderer.template_for(c) in stale)
    for key, code in site.codes.items():
        keys = old.entry(code.path)[1] if code.path in old.files else None
        if key in render or keys is None or not publisher.keep(keys):
            todo.append(key)
        else:
            changes.new.pages[code.path] = keys
    return todo
