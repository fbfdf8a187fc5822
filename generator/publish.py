"""Publish: stage what changed, then apply it at the end.

Nothing touches the live output until every page has rendered, so a failed build leaves the
previous site as it was. A manifest of output hashes lets a rebuild skip files whose bytes did
not change: a no-op build writes nothing and every mtime stays as it was.
"""

from __future__ import annotations

import collections
import errno
import glob
import itertools
import os
import shutil
import subprocess
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .errors import BuildError
from .model.urls import safe_join
from .outputs import DAMAGED, Output, dict_stamp, digest, read_dict, write_dict

AREAS = ("site", "private")
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
SWAP_SHARE = 0.5  # an area more than this share rewritten is put in place whole (see ``commit``)
SWAP_MIN = 2000  # ... and that many files at least
MANIFEST = ".manifest"  # marshal: output file -> hash of its bytes
STAGING = ".staging"


@dataclass
class Report:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    files: list[str] = field(default_factory=list)
    trash: list[str] = field(default_factory=list)  # folders for the caller to remove (``Publisher.later``)
    codes_read: int = 0  # codes the build held (parsed or read from the build state), set by ``build``
    loaded_all: bool = False  # it held every code (not only those an edit needs), set by ``build``

    @property
    def changed(self) -> bool:
        """Whether the build wrote or removed a file."""
        return bool(self.files or self.removed)


class Publisher:
    """Collects outputs into ``out/.staging`` and applies them to ``out/site`` and ``out/private``."""

    def __init__(self, out_dir: str, manifest: dict[str, str] | None = None) -> None:
        """``manifest``: the last build's, when the caller kept it (else read from the folder)."""
        self.out = os.path.abspath(out_dir)
        self.staging = os.path.join(self.out, STAGING)
        self.old = manifest if manifest is not None else self._read_manifest()
        self.new: dict[str, str] = {}
        self.changed: list[str] = []
        self.folders: list[tuple[str, str]] = []  # (staged, live): see ``stage_folder``
        self.dropped: set[str] | None = None  # with ``carry``: the last build's files not carried
        self.others: Iterable[str] = ()  # with ``carry``: files carried only when kept (``keep``)
        self.kept: set[str] = set()  # with ``carry``: files of ``others`` kept
        self.trash: list[str] = []  # replaced area folders, to be removed (``empty_trash``)
        self.later = False  # True: ``commit`` leaves the trash to the caller
        self.touched: set[str] | None = None  # after ``commit``: the only keys that can differ from ``old``

    def _read_manifest(self) -> dict[str, str]:
        try:
            return read_dict(os.path.join(self.out, MANIFEST))
        except DAMAGED:
            return {}

    def begin(self) -> None:
        os.makedirs(self.out, exist_ok=True)
        shutil.rmtree(self.staging, ignore_errors=True)
        os.makedirs(self.staging)
        for area in (*AREAS, ".staging"):
            self._sweep(os.path.join(self.out, area))

    def stage(self, out: Output) -> tuple[str, str, bool]:
        """Hash one output; write it to staging if it differs from the live file.

        Keeps no books, so worker processes can call it; the parent then calls ``record``.
        """
        if out.area not in AREAS:
            raise BuildError(f"unknown output area {out.area!r}")
        key = f"{out.area}/{out.path}"
        h = out.hashed or digest(out.data)
        if self.old.get(key) == h:  # the live path only matters then: a cold build skips it
            if os.path.exists(safe_join(os.path.join(self.out, out.area), out.path)):
                return key, h, False
        staged = safe_join(self.staging, key)
        try:  # the folder is usually there (see ``prepare``): no mkdir on a shared parent
            fd = os.open(staged, WRITE_FLAGS, 0o666)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(staged), exist_ok=True)
            fd = os.open(staged, WRITE_FLAGS, 0o666)
        try:  # os.open, not open(): three system calls a file instead of six
            data = memoryview(out.data)
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        return key, h, True

    def prepare(self, keys: Iterable[str]) -> None:
        """Make the staging folders of files about to be staged, from one process.

        Two processes making folders in one parent (98k page folders in icd-10-cm/) contend
        for its lock: three times the system time of one process making them all.
        """
        for key in keys:
            folder = os.path.dirname(safe_join(self.staging, key))
            try:  # mkdir, not makedirs: no stat of the parent first
                os.mkdir(folder)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
            except FileExistsError:
                pass

    def record(self, key: str, h: str, changed: bool) -> None:
        if key in self.new or key in self.kept:
            raise BuildError(f"two outputs map to the same file: {key}")
        self.new[key] = h
        if changed:
            self.changed.append(key)

    def add(self, out: Output) -> str:
        key, h, changed = self.stage(out)
        self.record(key, h, changed)
        return key

    def keep(self, keys: Sequence[str]) -> bool:
        """Carry outputs of the last build over unchanged (a page not rendered again).

        False, and nothing kept, when the last build did not write one of them.
        """
        old, new, kept = self.old, self.new, self.kept
        wanted = set(keys)  # set operations: the client index's 7k files are kept by every edit
        if not wanted <= old.keys() or not wanted.isdisjoint(new) or not wanted.isdisjoint(kept):
            return False
        dropped = self.dropped
        carried = wanted if dropped is None else wanted & dropped
        new.update((k, old[k]) for k in carried)
        if dropped is not None:  # the rest is carried already: only noted
            kept.update(wanted - carried)
        return True

    def carry(self, drop: set[str], others: Iterable[str] = ()) -> None:
        """Keep every file of the last build but those in ``drop``, in one step (an edit
        that renders a few pages of 98k): ``commit`` merges them into the last build's
        manifest in place (no copy of 100k entries: 30 ms). ``others``: files carried only
        if this build makes or keeps them again (the pages that are not code pages)."""
        self.dropped = drop
        self.others = others

    def stage_folder(self, live: str) -> str:
        """A path for the next version of the folder ``live`` (one outside the areas, like the
        whoosh index): if the caller makes it, it replaces ``live`` at ``commit``, with the
        site; ``abort`` drops it."""
        staged = os.path.join(self.staging, ".folders", str(len(self.folders)))
        os.makedirs(os.path.dirname(staged), exist_ok=True)
        self.folders.append((staged, os.path.abspath(live)))
        self._sweep(os.path.abspath(live))
        return staged

    def _sweep(self, folder: str) -> None:
        """The replaced copies of ``folder`` another process left (it ended before removing
        them, see ``later``): removed now, or with ``later`` handed over with the trash (a
        layout change's are 98k files: a minute on a busy disk)."""
        left = left_trash(folder)
        if self.later:
            self.trash += left
        else:
            remove_folders(left)

    def add_all(self, outputs: Iterable[Output]) -> list[str]:
        """Stage and record outputs; their keys, in order."""
        return [self.add(o) for o in outputs]

    def commit(self) -> Report:
        if self.dropped is not None:  # the rest is the last build's, carried whole
            self.dropped.update(k for k in self.others if k not in self.new and k not in self.kept)
            self.touched = self.dropped | self.new.keys()
        report = Report(written=len(self.changed))
        moved: set[str] = set()
        swapped: set[str] = set()
        changed_in = collections.Counter(k.split("/", 1)[0] for k in self.changed)
        for area in AREAS:
            staged, live = os.path.join(self.staging, area), os.path.join(self.out, area)
            if not os.path.isdir(staged):
                continue
            if not os.path.exists(live):  # a first build: the area's folder moved in one rename
                os.replace(staged, live)
                moved.add(area)
            elif changed_in[area] >= SWAP_MIN and changed_in[area] > SWAP_SHARE * self._count(area):
                # most of it rewritten (a layout change): the unchanged files linked in, then the
                # folder put in place whole, instead of a rename (and an unlink) per file
                self._link_unchanged(area)
                self.trash.append(replace_folder(staged, live, keep_old=True))
                moved.add(area)
                swapped.add(area)
        for key in self.changed:
            if key.split("/", 1)[0] in moved:
                continue
            live = os.path.join(self.out, key)
            try:  # the folder is there but for new pages: one system call a file, not five
                os.replace(os.path.join(self.staging, key), live)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(live), exist_ok=True)
                os.replace(os.path.join(self.staging, key), live)
        if self.dropped is not None:
            stale = sorted(k for k in self.dropped if k in self.old and k not in self.new)
        else:
            stale = sorted(self.old.keys() - self.new.keys())
        for key in stale:
            if key.split("/", 1)[0] in swapped:  # went with the old folder
                report.removed += 1
                continue
            try:
                os.remove(safe_join(self.out, key))
                report.removed += 1
            except (FileNotFoundError, BuildError):
                pass
        for key in stale:  # prune folders left empty
            d = os.path.dirname(os.path.join(self.out, key))
            while d.startswith(self.out + os.sep) and d != self.out:
                try:
                    os.rmdir(d)
                except OSError:
                    break
                d = os.path.dirname(d)
        for staged, live in self.folders:
            if os.path.isdir(staged):
                old = replace_folder(staged, live, keep_old=self.later)
                if self.later:  # removed with the trash (the whoosh index's old folder)
                    self.trash.append(old)
        for area in AREAS:
            os.makedirs(os.path.join(self.out, area), exist_ok=True)
        if self.later:  # its emptied folders go with the trash: a rename, not a walk
            self.trash.append(trash_name(self.staging))
            os.replace(self.staging, self.trash[-1])
        else:
            shutil.rmtree(self.staging, ignore_errors=True)
        if self.dropped is not None:  # the files are in place: the manifest follows them
            self.old, self.new = self._merge(), self.old
        report.unchanged = len(self.new) - len(self.changed)
        report.files = self.changed
        if self.later:
            report.trash, self.trash = self.trash, []
        else:
            self.empty_trash()
        return report

    def _merge(self) -> dict[str, str]:
        """``old`` made this build's manifest in place (the carried files and ``new``); returns
        what it held for the keys that changed (``touched``), for ``write_manifest``."""
        old, touched = self.old, self.touched or set()
        before = {k: old[k] for k in touched if k in old}
        for k in self.dropped or ():
            old.pop(k, None)
        old.update(self.new)
        return before

    def _keys(self) -> Iterable[str]:
        """Every file of this build (``new`` and, with ``carry``, the last build's kept)."""
        if self.dropped is None:
            return self.new
        new, dropped = self.new, self.dropped
        return itertools.chain(new, (k for k in self.old if k not in dropped and k not in new))

    def _count(self, area: str) -> int:
        prefix = area + "/"
        return sum(1 for k in self._keys() if k.startswith(prefix))

    def _link_unchanged(self, area: str) -> None:
        """Hard links in the staged ``area`` to the live files this build did not rewrite."""
        prefix, changed = area + "/", set(self.changed)
        for key in self._keys():
            if key.startswith(prefix) and key not in changed:
                staged = os.path.join(self.staging, key)
                try:
                    os.link(os.path.join(self.out, key), staged)
                except FileNotFoundError:
                    os.makedirs(os.path.dirname(staged), exist_ok=True)
                    os.link(os.path.join(self.out, key), staged)

    def empty_trash(self) -> None:
        """Remove the folders that swapped areas replaced (``later``: the caller does, once the
        result is shown: 98k files take seconds)."""
        trash, self.trash = self.trash, []
        remove_folders(trash)

    def write_manifest(self) -> None:
        """The record of live files and their digests (part of the build state: ``state``),
        after ``commit``: the entries that changed appended to its journal, or nothing."""
        write_dict(os.path.join(self.out, MANIFEST), self.new, self.old, self.touched)

    def stamp(self) -> tuple[tuple[int, ...], int]:
        """The manifest as ``write_manifest`` left it: its stamp (``manifest_stamp``) and how
        many files it names."""
        return manifest_stamp(self.out), len(self.new)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


def left_trash(folder: str) -> list[str]:
    """The replaced copies of ``folder`` that another process left (see ``Publisher.later``)."""
    mine = f"{folder}{TRASH}{os.getpid()}-"
    return [left for left in glob.glob(glob.escape(folder) + TRASH + "*") if not left.startswith(mine)]


def manifest_stamp(out_dir: str) -> tuple[int, ...]:
    """What tells the manifest in ``out_dir`` from another one, without reading it."""
    return dict_stamp(os.path.join(os.path.abspath(out_dir), MANIFEST))


def leftovers(out_dir: str) -> bool:
    """Whether a build that stopped half way left its staging folder or a replaced area (which
    ``Publisher.begin`` removes)."""
    try:
        names = os.listdir(out_dir)
    except OSError:
        return True
    return STAGING in names or any(n.startswith(a + TRASH) for a in AREAS for n in names)


def remove_folders(folders: Iterable[str]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def remove_apart(folders: Sequence[str]) -> None:
    """Remove ``folders`` in the background, in a process of their own (``rm -rf``; a thread
    waits for it, so that its exit is reaped), or in a thread where there is no ``rm``.

    For a long-lived process (the dev server): ``shutil.rmtree`` holds a folder's listing while
    it removes what is in it, 73 MB at its peak for a layout change's replaced pages (98k
    folders in icd-10-cm/), for minutes on a slow disk, in the GIL's turn with the server's
    builds; what was allocated meanwhile left the server tens of MB larger with each change."""
    folders = list(folders)
    try:
        removing = subprocess.Popen(["rm", "-rf", "--", *folders], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        threading.Thread(target=remove_folders, args=(folders,), daemon=True).start()
        return
    threading.Thread(target=removing.wait, daemon=True).start()


def replace_folder(staged: str, live: str, keep_old: bool = False) -> str:
    """Put the folder ``staged`` in place of ``live``: two renames (a copy across file systems).
    The old folder is removed, or with ``keep_old`` left for the caller: its path is returned
    (a name of its own, so that one still being removed is never in the way)."""
    live = live.rstrip("/\\")
    base = live + ".old"
    shutil.rmtree(base, ignore_errors=True)
    old = trash_name(live) if keep_old else base
    if os.path.exists(live):
        os.replace(live, old)
    try:
        os.replace(staged, live)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        shutil.copytree(staged, live)
    if not keep_old:
        shutil.rmtree(old, ignore_errors=True)
    return old


TRASH = ".old-"  # a replaced folder's name: FOLDER.old-PID-N (``trash_name``)
_TRASH = itertools.count()


def trash_name(folder: str) -> str:
    """A name for a replaced copy of ``folder``, its own in this process (``left_trash`` tells
    another process's from it)."""
    return f"{folder}{TRASH}{os.getpid()}-{next(_TRASH)}"
