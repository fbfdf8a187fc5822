"""Stat every content file: the first step of every build, started before anything else.

A rebuild compares the stat of each of the site's content files (98,505 for ICD-10-CM) with
the last build's. ``Prescan`` does it in forked children while the parent process imports the
generator and loads the snapshot: a third of an edit's build. This module imports nothing
heavy, so the children are forked from a small process.
"""

from __future__ import annotations

import functools
import marshal
import os
import time

from ..forks import fork, read_rest, reap

Stat = tuple[int, int]
LINK: Stat = (-1, -1)  # a symbolic link's entry: the scan notes it (for free: the folder's entry type)
# Children that scan, each the files whose inode numbers fall to it: the parent imports for 0.2 s,
# then waits on the scan (98k stats, 0.5 s of CPU); two halves end 0.15-0.25 s sooner on two cores.
PARTS = 2


def scan(site_dir: str, part: int = 0, parts: int = 1) -> dict[str, Stat]:
    """Site-relative path -> (mtime_ns, size) of every content file (``content_files``' set),
    in directory order, and ``LINK`` for every symbolic link below content/codes. A folder named
    ``*.md`` is listed as a file, so loading reports it ("cannot read"). Stats are
    taken relative to an open folder: no path walk per file.

    ``part`` of ``parts``: only the files whose inode numbers fall to it (every folder is
    walked): the parts make the whole scan, each file in one of them. The inode number comes
    with the folder's entry (no stat), and is the same in every process: a part's digest names
    a scan for the next build, in another process (``hash`` is seeded per run; a crc32 of each
    name cost a tenth of the scan's CPU)."""
    found: dict[str, Stat] = {}
    _walk(found, os.path.join(site_dir, "content", "codes"), "content/codes/", part, parts)
    return found


def _walk(found: dict[str, Stat], folder: str, rel: str, part: int, parts: int) -> None:
    """``scan`` of one folder, its subfolders first where they come. A module function, not a
    closure: a nested function that calls itself is a reference cycle, and it held the 98k
    stats it filled until a full collection, never in the dev server, whose state is frozen
    out of the collector's sight (``gc.freeze``): 30 MB more a layout change."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        return
    stat = os.stat
    try:
        for e in os.scandir(fd):
            name = e.name
            if e.is_dir(follow_symlinks=False) and not name.endswith(".md"):  # not a link's target
                _walk(found, os.path.join(folder, name), f"{rel}{name}/", part, parts)
            elif (e.is_symlink() or name.endswith(".md")) and (parts == 1 or e.inode() % parts == part):
                if e.is_symlink():  # never followed: load refuses it (see ``symlinks``)
                    found[rel + name] = LINK
                else:  # a folder named like a content file too: it cannot be read
                    st = stat(name, dir_fd=fd)
                    found[rel + name] = (st.st_mtime_ns, st.st_size)
    finally:
        os.close(fd)


class Prescan:
    """``scan(site_dir)`` running in forked children, one per part (``PARTS``); ``result()``
    waits for them (or scans here, should one fail). ``started``: time.time_ns() before the
    first stat.

    Each child sends a digest of what it found first: ``unchanged`` tells from them alone that
    the files are as the last build saw them (a no-op build), without the parent reading and
    unpacking 98k stats it would only compare."""

    def __init__(self, site_dir: str, parts: int = PARTS) -> None:
        self.site_dir = site_dir
        self.started = time.time_ns()
        self.children: list[tuple[int, int]] = []  # each part's child: its pid and pipe
        self.digest = ""  # of the scan's marshal bytes, part by part (see ``scan_digest``); "": not known
        self._heads: list[bytes] = []
        for part in range(parts):
            pid, fd = fork(functools.partial(self._scan, part, parts))
            if not pid:
                return
            self.children.append((pid, fd))

    def _scan(self, part: int, parts: int) -> bytes:
        """In a child: its part's digest, then the part."""
        for _, fd in self.children:  # the other parts' pipes
            os.close(fd)
        data = marshal.dumps(scan(self.site_dir, part, parts))
        return scan_digest(data) + data

    @property
    def pid(self) -> int:
        """The first child's pid; 0: none was forked (or they were reaped)."""
        return self.children[0][0] if self.children else 0

    def _read_heads(self) -> bool:
        """The children's digests, read once; False when one sent none."""
        if not self.children:
            return False
        while len(self._heads) < len(self.children):
            fd, head = self.children[len(self._heads)][1], b""
            while len(head) < HEAD:
                chunk = os.read(fd, HEAD - len(head))
                if not chunk:
                    return False
                head += chunk
            self._heads.append(head)
        self.digest = b"".join(self._heads).hex()
        return True

    def unchanged(self, digest: str) -> bool:
        """Whether the files are exactly those of the scan named ``digest`` (each path, mtime
        and size, in the same order). If so, the rest is not read: the children are told to
        stop (their pipes closed) and ``result`` must not be called."""
        if not digest or not self._read_heads() or self.digest != digest:
            return False
        self._reap()
        return True

    def _reap(self) -> bool:
        """Close the pipes and wait for the children; whether they all succeeded."""
        codes = [reap(pid, fd) for pid, fd in self.children]
        self.children = []
        return not any(codes)

    def result(self) -> dict[str, Stat]:
        if self.children:
            parts = []
            try:
                if self._read_heads():
                    parts = [read_rest(fd) for _, fd in self.children]
            finally:
                ok = self._reap()
            if ok and parts:
                found = [marshal.loads(p) for p in parts]
                if all(isinstance(f, dict) for f in found):
                    for f in found[1:]:
                        found[0].update(f)
                    return found[0]
        self.started = time.time_ns()
        self.digest = ""
        return scan(self.site_dir)


def scan_digest(data: bytes) -> bytes:
    """The digest of a scan's marshal bytes: equal digests, equal scans (``HEAD`` bytes)."""
    import hashlib  # in the child: the parent never hashes a scan

    return hashlib.blake2b(data, digest_size=HEAD).digest()


HEAD = 16  # what the child sends first: the scan's digest


class Scanned:
    """A scan already made (``Prescan``'s interface): the dev server's, from the last build's
    stats (``last``) and the files its watcher saw change (``changed``: only those can differ
    from the last build; every file written since it started is one of them), with ``stats``
    the stats of those of them that are there. Copying 98k stats a save took 30 ms: the loader
    reads ``stats`` alone when its last build is ``last``'s, ``result()`` otherwise."""

    def __init__(self, last: dict[str, tuple[int, int, str]], stats: dict[str, Stat], started: int,
                 changed: set[str]) -> None:
        self.last = last
        self.stats = stats
        self.started = started
        self.changed = changed

    def result(self) -> dict[str, Stat]:
        """Every file's stat."""
        every = {rel: (st[0], st[1]) for rel, st in self.last.items() if rel not in self.changed}
        every.update(self.stats)
        return every
