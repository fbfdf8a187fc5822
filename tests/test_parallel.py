"""Forked workers: what they inherit from the process that forks them."""

from __future__ import annotations

import gc
import os
import signal
from collections.abc import Iterator, Sequence

import pytest

from generator import parallel


@pytest.fixture
def python_handlers() -> Iterator[None]:
    """Python-level SIGINT and SIGTERM handlers, as the dev server installs them."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    yield
    signal.signal(signal.SIGINT, before[0])
    signal.signal(signal.SIGTERM, before[1])


def dispositions(chunk: Sequence[int]) -> list[tuple[bool, bool]]:
    return [(signal.getsignal(signal.SIGINT) is signal.SIG_DFL, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
            for _ in chunk]


def test_workers_die_on_sigterm_whatever_handler_the_parent_has(python_handlers: None) -> None:
    """The dev server hung at start-up on a site of 98,505 codes: at the end of the render,
    ``Pool.terminate`` sent a worker SIGTERM just as it went back to wait for work, its inherited
    Python handler was noted and never run, and the server waited for the worker forever.
    Workers take the default action, whatever the parent installed."""
    got = [d for part in parallel.run_chunks(dispositions, list(range(40)), jobs=2, size=5) for d in part]
    assert got == [(True, True)] * 40


_KEPT: list[object] = []  # what a task keeps between its chunks, as the renderer's memos are


def keep_and_look(chunk: Sequence[int]) -> list[tuple[int, bool]]:
    """Per item: this process, and whether every object the earlier chunks kept is out of the
    collector's generations (frozen)."""
    tracked = {id(o) for o in gc.get_objects()}
    frozen = all(id(o) not in tracked for o in _KEPT)
    _KEPT.append([{"item": i} for i in chunk])
    return [(os.getpid(), frozen) for _ in chunk]


def test_what_a_chunk_leaves_alive_is_frozen_in_workers_only() -> None:
    """A worker's memos outlive its chunks and only grow: the collector's full passes went over
    them again and again (0.7 s of each render worker's CPU on 98k pages). Each worker freezes
    what a chunk left alive; the parent, a dev server among them, is never frozen."""
    before = gc.get_freeze_count()
    got = [r for part in parallel.run_chunks(keep_and_look, list(range(40)), jobs=2, size=2) for r in part]
    assert os.getpid() not in {pid for pid, _ in got}
    assert all(frozen for _, frozen in got)
    assert gc.get_freeze_count() == before
    _KEPT.clear()
    inline = [r for part in parallel.run_chunks(keep_and_look, list(range(6)), jobs=1, size=2) for r in part]
    assert [frozen for _, frozen in inline] == [True, True, False, False, False, False]
    assert gc.get_freeze_count() == before
    _KEPT.clear()
