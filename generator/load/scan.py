"""Stat every content file: the first step of every build, started before anything else.

A rebuild compares the stat of each of the site's content files (98,505 for ICD-10-CM) with
the last build's. ``Prescan`` does it in a forked child while the parent process imports the
generator and loads the snapshot, on the other core: a third of an edit's build. This module
imports nothing heavy, so the child is forked from a small process.
"""

from __future__ import annotations

import marshal
import os
import time

Stat = tuple[int, int]
LINK: Stat = (-1, -1)  # a symbolic link's entry: the scan notes it (for free: the folder's entry type)


def scan(site_dir: str) -> dict[str, Stat]:
    """Site-relative path -> (mtime_ns, size) of every content file (``content_files``' set),
    in directory order, and ``LINK`` for every symbolic link below content/codes. A folder named
    ``*.md`` is listed as a file, so loading reports it ("cannot read"). Stats are
    taken relative to an open folder: no path walk per file."""
    found: dict[str, Stat] = {}
    _walk(found, os.path.join(site_dir, "content", "codes"), "content/codes/")
    return found


def _walk(found: dict[str, Stat], folder: str, rel: str) -> None:
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
            if e.is_symlink():  # never followed: load refuses it (see ``symlinks``)
                found[rel + name] = LINK
            elif e.is_dir(follow_symlinks=False) and not name.endswith(".md"):
                _walk(found, os.path.join(folder, name), f"{rel}{name}/")
            elif name.endswith(".md"):  # a folder named like a content file too: it cannot be read
                st = stat(name, dir_fd=fd)
                found[rel + name] = (st.st_mtime_ns, st.st_size)
    finally:
        os.close(fd)


class Prescan:
    """``scan(site_dir)`` running in a forked child; ``result()`` waits for it (or scans
    here, should the child fail). ``started``: time.time_ns() before the first stat.

    The child sends a digest of what it found first: ``unchanged`` tells from it alone that
    the files are as the last build saw them (a no-op build), without the parent reading and
    unpacking 98k stats it would only compare."""

    def __init__(self, site_dir: str) -> None:
        self.site_dir = site_dir
        self.started = time.time_ns()
        self.pid = 0
        self.fd = -1
        self.digest = ""  # of the scan's marshal bytes (see ``scan_digest``); "": not known
        self._head = b""
        if not hasattr(os, "fork"):
            return
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: scan, send, and leave without running the parent's exit code
            code = 1
            try:
                os.close(r)
                data = marshal.dumps(scan(site_dir))
                view = memoryview(scan_digest(data) + data)
                while view:
                    view = view[os.write(w, view) :]
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        self.pid, self.fd = pid, r

    def _read_head(self) -> bool:
        """The digest, read once; False when the child sent none."""
        while self.pid and len(self._head) < HEAD:
            chunk = os.read(self.fd, HEAD - len(self._head))
            if not chunk:
                return False
            self._head += chunk
        if len(self._head) < HEAD:
            return False
        self.digest = self._head.hex()
        return True

    def unchanged(self, digest: str) -> bool:
        """Whether the files are exactly those of the scan named ``digest`` (each path, mtime
        and size, in the same order). If so, the rest is not read: the child is told to stop
        (its pipe closed) and ``result`` must not be called."""
        if not digest or not self._read_head() or self.digest != digest:
            return False
        self._reap()
        return True

    def _reap(self) -> int:
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        self.pid = 0
        return os.waitstatus_to_exitcode(status)

    def result(self) -> dict[str, Stat]:
        if self.pid:
            chunks = []
            try:
                if self._read_head():
                    while chunk := os.read(self.fd, 1 << 20):
                        chunks.append(chunk)
            finally:
                code = self._reap()
            if code == 0:
                found = marshal.loads(b"".join(chunks))
                if isinstance(found, dict):
                    return found
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
