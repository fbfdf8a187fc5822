"""The build state: what the last good build saw and wrote, kept in ``OUT/.cache/``.

One object, read at the start of a build and written once, at the end of a successful one
(``BuildState.save``): the content files' stats and digests, the parsed codes and the files
each page wrote (in shards), the hierarchy and link graph, the digests of every other input,
the output manifest, and the search state's token.

It also names the versions of its two large tables it goes with (``scan``: the content files'
stats; ``outputs``: the output manifest's), so that a build can tell from a scan's digest and
two stats that nothing changed since, and stop (see ``state.standing``).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from ..model.code import Code
from ..outputs import DAMAGED as FILE_DAMAGED
from ..outputs import dict_version, read_dict, read_marshal, read_tables, write_dict, write_marshal, write_tables
from .graph import Graph
from .records import Key, key_of, unpack

SNAPSHOT = ".cache"  # a folder: "meta", and the files' entries in shards
SHARDS = 256
STATE_FORMAT = 8  # the build state's layout: another one is ignored (a full build)
DAMAGED = (*FILE_DAMAGED, KeyError)  # a snapshot file gone or damaged

FileEntry = tuple[bytes, tuple[str, ...]]  # a file's parsed Code (``records.pack``), and its page's output files
FileStat = tuple[int, int, str]  # a content file's mtime_ns, size and digest of its bytes


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
    records: dict[str, bytes] = field(default_factory=dict)  # new: the files parsed this time (packed)
    pages: dict[str, tuple[str, ...]] = field(default_factory=dict)  # new: the pages rendered or kept
    search: str = ""  # the build that left the search state and indexes ("": none is current)
    # the digest of the scan (``load.scan.Prescan``) that ``files``' stats are ("": not known): a
    # scan with this digest finds every content file as ``files`` has it
    scan: str = ""
    # the output manifest as the build that wrote this left it (``Publisher.stamp``): its stamp
    # (``outputs.dict_stamp``) and how many files it names; () when not known
    outputs: tuple[Any, ...] = ()
    touched: set[str] | None = None  # new: the only entries of ``files`` that can differ from the last build's
    _graph: Graph | None = None
    _graph_of: Snapshot | None = field(default=None, repr=False, compare=False)  # see ``share_graph``
    _shards: dict[int, dict[str, FileEntry]] = field(default_factory=dict)
    _written: dict[int, dict[str, FileEntry]] = field(default_factory=dict)  # by ``save``

    @classmethod
    def read(cls, out_dir: str) -> Snapshot | None:
        """The last good build's snapshot (meta and files), or None (none, unreadable, other format)."""
        folder = os.path.join(out_dir, SNAPSHOT)
        try:
            meta = read_marshal(os.path.join(folder, "meta"))
            if not isinstance(meta, dict) or meta.get("format") != STATE_FORMAT:
                return None
            path = os.path.join(folder, "files")
            files = read_dict(path)
            scan, version = meta.get("scan") or ("", ())
            return cls(
                meta["env"], meta["layouts"], meta["templates"], meta["others"], meta["counts"], meta["scanned"],
                files, folder, search=meta.get("search", ""),
                scan=scan if version == dict_version(path) else "",  # not if ``files`` changed since
                outputs=tuple(meta.get("outputs", ())),
            )
        except DAMAGED:
            return None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            if self._graph_of is not None:
                self._graph = self._graph_of.graph
            else:
                self._graph = Graph(*read_tables(os.path.join(self.folder, "graph"), 5))
        return self._graph

    @graph.setter
    def graph(self, graph: Graph) -> None:
        self._graph, self._graph_of = graph, None

    def share_graph(self, old: Snapshot) -> None:
        """This snapshot's graph is ``old``'s (no code moved), read only if a page needs it."""
        self._graph, self._graph_of = None, old

    def meta(self) -> dict[str, Any]:
        return {"format": STATE_FORMAT, "env": self.env, "layouts": self.layouts, "templates": self.templates,
                "others": self.others, "counts": self.counts, "scanned": self.scanned, "search": self.search,
                "scan": self.scan, "outputs": self.outputs}

    def shard(self, i: int) -> dict[str, FileEntry]:
        if i not in self._shards:
            self._shards[i] = read_marshal(os.path.join(self.folder, f"shard-{i}"))
        return self._shards[i]

    def codes(self) -> Iterator[Code]:
        """Every code the build saw, shard by shard, none kept (for readers of a finished
        build: the archive)."""
        for i in range(SHARDS):
            for rec, _ in read_marshal(os.path.join(self.folder, f"shard-{i}")).values():
                yield unpack(rec)

    def entry(self, path: str) -> FileEntry:
        """A file's entry; every file in ``files`` has one (KeyError, OSError... when a shard
        is gone or damaged: the caller then builds as if there were no snapshot)."""
        return self.shard(shard_of(key_of(path)))[path]

    def changed_entries(self, old: Snapshot) -> dict[str, FileEntry]:
        out: dict[str, FileEntry] = {}
        records, pages = self.records, self.pages
        for path in records.keys() | pages.keys():
            was = old.entry(path) if path in old.files else None
            rec = records.get(path) or (was[0] if was else b"")
            keys = pages.get(path, was[1] if was else ())
            if was is None or rec != was[0] or keys != was[1]:
                out[path] = (rec, keys)
        return out

    def all_entries(self) -> Iterator[tuple[int, dict[str, FileEntry]]]:
        """Every entry, a shard at a time (a first build's: no old ones to compare with)."""
        paths: list[list[str]] = [[] for _ in range(SHARDS)]
        records, pages = self.records, self.pages
        for path in chain(records, (p for p in pages if p not in records)):  # the latter none: every code was parsed
            paths[shard_of(key_of(path))].append(path)
        for i, group in enumerate(paths):
            yield i, {path: (records.get(path, b""), pages.get(path, ())) for path in group}

    def save(self, out_dir: str, old: Snapshot | None) -> None:
        """Write the parts that differ from ``old`` (all without it), the meta file last;
        nothing when nothing changed (a no-op build writes no file, this one included).

        An edit rewrites a shard or two and the file stats. Should a build stop half way,
        the old meta file names entries of an older state of some files: their stat or
        digest then differs, and they are read and parsed again.
        """
        folder = os.path.join(out_dir, SNAPSHOT)
        if old is None:  # every shard, each written as it is made: they hold every code (see ``as_read``)
            shards: Iterable[tuple[int, dict[str, FileEntry]]] = self.all_entries()
        else:
            self._written = self.changed_shards(old)
            shards = self._written.items()
        graph = old is None or (self._graph_of is not old and self.graph != old.graph)
        files_changed = old is None or not self.same_files(old)
        if old is not None and not self._written and not graph and not files_changed and self.same_meta(old):
            return
        os.makedirs(folder, exist_ok=True)
        for i, shard in shards:
            write_marshal(os.path.join(folder, f"shard-{i}"), shard)
        if graph:
            write_tables(os.path.join(folder, "graph"), self.graph.dump())
        path = os.path.join(folder, "files")
        if files_changed:  # the stats of 100k files: the ones that changed, appended (``write_dict``)
            write_dict(path, self.files, old.files if old is not None else None, self.touched)
        version = dict_version(path)  # the meta file names the version of ``files`` it goes with
        write_marshal(os.path.join(folder, "meta"), {**self.meta(), "scan": (self.scan, version) if version else None})

    def changed_shards(self, old: Snapshot) -> dict[int, dict[str, FileEntry]]:
        """The shards in which an entry differs from ``old``'s, as they are now."""
        shards: dict[int, dict[str, FileEntry]] = {}
        if self.touched is not None:  # the files that went are among the few touched
            gone: Iterable[str] = [p for p in self.touched if p in old.files and p not in self.files]
        else:  # a set difference of 100k paths
            gone = old.files.keys() - self.files.keys()
        for path in gone:
            i = shard_of(key_of(path))
            shards.setdefault(i, dict(old.shard(i))).pop(path, None)
        for path, entry in self.changed_entries(old).items():
            i = shard_of(key_of(path))
            if i not in shards:
                shards[i] = dict(old.shard(i))
            shards[i][path] = entry
        return shards

    def same_files(self, old: Snapshot) -> bool:
        """Whether every content file's stat and digest is as in ``old``."""
        if self.touched is not None:  # the few files read again, not a compare of 100k entries
            return all(self.files.get(p) == old.files.get(p) for p in self.touched)
        return self.files == old.files

    def same_meta(self, old: Snapshot) -> bool:
        """Whether the meta file would say what ``old``'s says (when and what the scan saw aside:
        the same while ``files`` is, but a digest where ``old`` knew none)."""
        when = {"scanned": 0, "scan": None}
        return {**self.meta(), **when} == {**old.meta(), **when} and self.scan in ("", old.scan)

    def as_read(self, out_dir: str, old: Snapshot | None) -> Snapshot:
        """This snapshot, once saved, as ``read`` would return it, with what is already in memory
        kept: the graph, and the shards this build or the last one loaded. After a build that
        had no snapshot, the shards are read from disk when asked for (holding them all would
        hold every code)."""
        last = Snapshot(self.env, self.layouts, self.templates, self.others, self.counts, self.scanned,
                        self.files, os.path.join(out_dir, SNAPSHOT), search=self.search, outputs=self.outputs)
        shared = self._graph_of._graph if self._graph_of is not None else None
        last._graph = self._graph if self._graph is not None else shared  # else read: it is as it was
        if old is not None:
            last._shards = {**old._shards, **self._written}
        return last


def shard_of(key: Key) -> int:
    """Codes of one category share a shard (the first three characters), and so do chapters."""
    system, code = key
    return zlib.crc32(f"{system}\0{'#' if code.isdigit() else code[:3]}".encode()) % SHARDS
