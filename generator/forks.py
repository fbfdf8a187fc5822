"""A forked child that sends bytes back through a pipe: the fork, the pipe and the exit in one
place (``load.scan.Prescan``, ``parallel.Aside``). Imports nothing heavy: the scan forks from
a small process, before the generator is imported."""

from __future__ import annotations

import os
from collections.abc import Callable


def fork(make: Callable[[], bytes]) -> tuple[int, int]:
    """A forked child that runs ``make`` and writes the bytes it returns into a pipe, then
    leaves without running this process's exit code (status 1 if ``make`` raised); returns
    its pid and the pipe's read end, or (0, -1) where there is no fork."""
    if not hasattr(os, "fork"):
        return 0, -1
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            view = memoryview(make())
            while view:
                view = view[os.write(w, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    return pid, r


def read_rest(fd: int) -> bytes:
    """What is left in the pipe, up to its end (the child wrote all and left)."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def reap(pid: int, fd: int) -> int:
    """Close the pipe and wait for the child; its exit code."""
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
