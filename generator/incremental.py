"""Incremental builds: what the last good build saw, and which pages an edit can change.

The snapshot (``OUT/.cache/``, marshal, in shards) keeps, for every content file, its stat
(mtime, size), a hash of its bytes and the parsed ``Code`` as plain tuples, plus a hash of
every input that is not a content file (site.yaml, descriptors, link style, the generator's
own source) and one hash per page template with everything it extends or imports. A rebuild
stats every file, reads only those whose stat changed, parses only those whose bytes changed,
and re-renders only the pages whose output can depend on what changed:

- the page of a changed file;
- when a code's public face (code, kind, title, status, billable, parent) changes, appears or
  goes: its old and new parent (child lists), all its descendants (breadcrumbs), every page
  relating to it or replaced by it, and, when it appears or goes, every page whose notes
  name it (notes link the codes that have a page);
- every page of a template whose hash changed; every page when the rest of the inputs did.

The snapshot is written after the output and its manifest, so a crash in between leaves an
older snapshot, which only means more re-rendering next time. The test suite compares
incremental builds after random edits with clean builds, byte for byte.
"""

from __future__ import annotations

import functools
import hashlib
import marshal
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from importlib.metadata import version
from typing import Any

from jinja2 import Environment, meta

from . import parallel
from .check import check_changed, check_site
from .config import SiteConfig
from .content import Code, FileErrors, Related, Section, parse_code, read_text
from .errors import CheckFailed, ContentError
from .publish import Publisher
from .render import CODE_TOKEN, Renderer
from .site import Site

SNAPSHOT = ".cache"  # a folder: "meta", and the files' entries in shards
SHARDS = 64
FORMAT = 3
RACY_NS = 1_000_000_000
FIELDS = tuple(f.name for f in fields(Code))
RELATED_AT = FIELDS.index("related")
SECTIONS_AT = FIELDS.index("sections")

Key = tuple[str, str]
Stat = tuple[int, int]
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


def scan(site_dir: str) -> dict[str, Stat]:
    """Site-relative path -> (mtime_ns, size) of every content file (``content_files``' set)."""
    found: dict[str, Stat] = {}
    base = os.path.join(site_dir, "content", "codes")

    def walk(folder: str, rel: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            return
        for e in entries:
            if e.is_dir():
                walk(e.path, f"{rel}{e.name}/")
            elif e.name.endswith(".md"):
                st = e.stat()
                found[f"{rel}{e.name}"] = (st.st_mtime_ns, st.st_size)

    walk(base, "content/codes/")
    return dict(sorted(found.items()))


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


@dataclass
class Snapshot:
    env: str = ""
    templates: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[Stat, str, Record]] = field(default_factory=dict)
    pages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> output keys
    scanned: int = 0  # time.time_ns() when the files were stat'ed
    shards: list[set[str]] = field(default_factory=list)  # paths in each shard, as loaded

    @classmethod
    def load(cls, out_dir: str) -> Snapshot | None:
        """The last good build's snapshot, or None (none, unreadable, other format)."""
        folder = os.path.join(out_dir, SNAPSHOT)
        try:
            meta = _read(os.path.join(folder, "meta"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                return None
            snap = cls(meta["env"], meta["templates"], {}, {}, meta["scanned"])
            for i in range(SHARDS):
                files, pages = _read(os.path.join(folder, f"shard-{i}"))
                snap.files.update(files)
                snap.pages.update(pages)
                snap.shards.append(files.keys() | pages.keys())
        except (OSError, EOFError, ValueError, TypeError, KeyError):
            return None
        return snap

    def same(self, other: Snapshot | None) -> bool:
        """Nothing to save: a no-op build writes no file, this one included. (Entries carried
        over are the very same objects, so comparing is fast.)"""
        return other is not None and (self.env, self.templates, self.files, self.pages) == (
            other.env,
            other.templates,
            other.files,
            other.pages,
        )

    def save(self, out_dir: str, old: Snapshot | None) -> None:
        """Write the shards that differ from ``old`` (all without it), then the meta file.

        An edit rewrites a shard or two, not the whole snapshot. Should a build stop half
        way, shards from two builds only claim older states of some files: those are read
        and parsed again next time.
        """
        folder = os.path.join(out_dir, SNAPSHOT)
        os.makedirs(folder, exist_ok=True)
        members: dict[int, set[str]] = {}
        if old is None or old.env != self.env or len(old.shards) != SHARDS:
            for r in self.files.keys() | self.pages.keys():
                members.setdefault(shard_of(r), set()).add(r)
            dirty = set(range(SHARDS))
        else:
            changed = {r for r, e in self.files.items() if old.files.get(r) is not e}
            changed.update(r for r, p in self.pages.items() if old.pages.get(r) is not p)
            changed.update(old.files.keys() - self.files.keys())
            changed.update(old.pages.keys() - self.pages.keys())
            dirty = {shard_of(r) for r in changed}
            for i in dirty:
                members[i] = set(old.shards[i])
            for r in changed:
                members[shard_of(r)].add(r)
        for i in dirty:
            rels = members.get(i, set())
            part = (
                {r: self.files[r] for r in rels if r in self.files},
                {r: self.pages[r] for r in rels if r in self.pages},
            )
            _write(os.path.join(folder, f"shard-{i}"), part)
        meta = {"format": FORMAT, "env": self.env, "templates": self.templates,
                "scanned": self.scanned}
        _write(os.path.join(folder, "meta"), meta)


def shard_of(rel: str) -> int:
    return zlib.crc32(rel.encode()) % SHARDS


def _read(path: str) -> Any:
    with open(path, "rb") as f:
        return marshal.loads(f.read())  # marshal.load(f) reads in small pieces: 10x slower


def _write(path: str, data: Any) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(marshal.dumps(data))
    os.replace(tmp, path)


def env_digest(site_dir: str, config_digest: str, extra: Any) -> str:
    """Everything every page depends on, content files and templates aside: the site's
    place, its config, build options, our source and the versions of the libraries that
    turn text into HTML."""
    versions = repr([version(p) for p in ("Jinja2", "MarkupSafe", "Markdown", "nh3", "PyYAML")])
    parts = (os.path.abspath(site_dir), config_digest, repr(extra), source_digest(), versions)
    return digest("\0".join(parts).encode())


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


def descendants(site: Site, key: Key) -> Iterator[Key]:
    stack = list(site.children.get(key, ()))
    while stack:
        c = stack.pop()
        yield c.key
        stack.extend(site.children.get(c.key, ()))


def note_targets(c: Code) -> set[str]:
    return {m.group(1) for notes in c.notes.values() for n in notes for m in CODE_TOKEN.finditer(n)}


def affected(site: Site, old: dict[str, Code], new: dict[str, Code]) -> set[Key]:
    """Keys of the pages an edit can change. ``old``/``new``: changed files' codes by path,
    before and after (a path missing on one side was added or removed)."""
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
    if moved:
        for key in moved:
            out.update(descendants(site, key))
        for c in site.codes.values():
            if c.related or c.replaced_by:
                targets = {(r.system or c.system, r.code) for r in c.related}
                targets.update((c.system, r) for r in c.replaced_by)
                if targets & moved:
                    out.add(c.key)
    if appeared_or_gone:
        names = {k for k in appeared_or_gone}
        for c in site.codes.values():
            if c.notes and any((c.system, t) in names for t in note_targets(c)):
                out.add(c.key)
    return {k for k in out if k in site.codes}


# --- loading with the snapshot ----------------------------------------------------------


@dataclass
class Changes:
    """What changed since the last good build into the same output folder."""

    old: Snapshot | None  # None: no usable snapshot, render everything
    new: Snapshot
    before: dict[str, Code]  # changed files' codes by path, at the last build
    after: dict[str, Code]  # and now
    keys_changed: bool  # a code appeared or went


def load(
    site_dir: str, out_dir: str, config: SiteConfig, env: str, jobs: int | None
) -> tuple[Site, Changes]:
    """Load and check the site, parsing only the files whose bytes changed since the snapshot.

    Raises CheckFailed with every problem, exactly as a full load would.
    """
    scanned = time.time_ns()
    # stat the content files in a thread while the snapshot loads: stat releases the GIL
    with ThreadPoolExecutor(1) as pool:
        scanning = pool.submit(scan, site_dir)
        old = None
        if all(os.path.isdir(os.path.join(out_dir, a)) for a in ("site", "private")):
            old = Snapshot.load(out_dir)
            if old is not None and old.env != env:
                old = None
        stats = scanning.result()
    prev = old.files if old else {}
    # A file written in the same clock tick as the last scan, after it, can have the stat the
    # scan saw: read every file not safely older than that scan (git's "racily clean" files).
    racy = old.scanned - RACY_NS if old else 0
    todo = [
        (rel, st, prev[rel][1] if rel in prev else None)
        for rel, st in stats.items()
        if rel not in prev or prev[rel][0] != st or st[0] >= racy
    ]
    parsed = Parsed()
    task = functools.partial(parse_files, site_dir)
    for part in parallel.run_chunks(task, todo, parallel.workers(jobs, len(todo)), 1000):
        parsed.records.update(part.records)
        parsed.errors.extend(part.errors)
    files: dict[str, tuple[Stat, str, Record]] = {}
    before: dict[str, Code] = {}
    fresh: set[str] = set()
    for rel, st in stats.items():
        if rel in parsed.records:
            stat, h, rec = parsed.records[rel]
            if rec:
                fresh.add(rel)
                if rel in prev:
                    before[rel] = from_record(prev[rel][2])
            files[rel] = (stat, h, rec or prev[rel][2])
        elif rel in prev and prev[rel][0] == st:
            files[rel] = prev[rel]
    for rel in prev.keys() - stats.keys():
        before[rel] = from_record(prev[rel][2])
    codes = [from_record(entry[2]) for entry in files.values()]
    after = {c.path: c for c in codes if c.path in fresh}
    keys_changed = {c.key for c in before.values()} != {c.key for c in after.values()}
    site = Site.assemble(site_dir, config, codes)

    def source(rel: str) -> str:
        return read_text(site_dir, rel)

    if (
        old is None
        or parsed.errors
        or keys_changed
        or check_changed(config, site.codes, list(after.values()), source)
    ):
        errors = parsed.errors + check_site(config, codes, source)
        if errors:
            raise CheckFailed(errors)
    new = Snapshot(env, {}, files, {}, scanned)
    return site, Changes(old, new, before, after, keys_changed)


def plan(site: Site, renderer: Renderer, changes: Changes, publisher: Publisher) -> list[Key]:
    """The pages to render; the others' outputs are carried over in ``publisher``."""
    old = changes.old
    if old is None:
        return list(site.codes)
    render = affected(site, changes.before, changes.after)
    stale = {t for t, d in changes.new.templates.items() if old.templates.get(t) != d}
    if stale:
        render.update(k for k, c in site.codes.items() if renderer.template_for(c) in stale)
    todo: list[Key] = []
    for key, code in site.codes.items():
        keys = old.pages.get(code.path)
        if key in render or keys is None or not publisher.keep(keys):
            todo.append(key)
        else:
            changes.new.pages[code.path] = keys
    return todo
