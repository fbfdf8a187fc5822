"""Work split over processes: forked workers that inherit the loaded site, so nothing big is
sent to them; each task is a list of items, each result comes back as it is done."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from . import forks

T = TypeVar("T")
R = TypeVar("R")

# Below this many items a second process costs more (fork, copy-on-write) than it saves.
PARALLEL_MIN = 1500
# Chunks queued for each worker before this process takes one itself (``_sharing``).
QUEUED = 6

_TASK: Callable[[Any], Any] | None = None


def _default_signals() -> None:
    """In each worker: Ctrl-C and SIGTERM end it at once, as they would by default. A handler
    inherited from the parent (the dev server's) runs only between bytecodes, so a SIGTERM from
    ``Pool.terminate`` that lands while a worker goes back to wait for its next chunk is
    noted and never acted on: the worker sleeps on and the parent waits for it forever."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run(chunk: Any) -> Any:
    assert _TASK is not None
    return _TASK(chunk)


def workers(jobs: int | None, items: int) -> int:
    """How many processes: ``jobs`` when given, else one per core for large enough work."""
    if jobs is not None:
        return max(1, min(jobs, items))
    return (os.cpu_count() or 1) if items >= PARALLEL_MIN else 1


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_chunks(
    task: Callable[[Sequence[T]], R],
    items: Sequence[T],
    jobs: int,
    size: int = 500,
    prepare: Callable[[Sequence[T]], None] | None = None,
    ordered: bool = False,
    gather: bool = False,
) -> Iterator[R]:
    """``task`` over ``items`` in chunks, in ``jobs`` processes: this one and ``jobs - 1``
    forked (all ``jobs`` forked when ``ordered`` or ``gather``; inline when 1).

    ``task`` runs in the children with the parent's memory as it was at the fork: the caller
    sets up what the task reads (site, renderer, publisher) before calling this. ``prepare``
    runs in the parent on each chunk before a child gets it (the pool feeds chunks from a
    thread, a few ahead of the children). ``ordered``: results in the order of the chunks
    (else as they are done). ``gather``: this process only takes in the results, for results
    that cost it about as much to take in as they cost to make (the load's records: unpickled
    and made into codes here, 10 us each against a parse's 40; sharing the chunks, this process
    was the load's bottleneck and its worker waited on it).
    """

    def feed() -> Iterator[Sequence[T]]:
        for part in chunks(items, size):
            if prepare is not None:
                prepare(part)
            yield part

    if jobs <= 1:
        for part in feed():
            yield task(part)
        return
    global _TASK
    _TASK = task
    ctx = multiprocessing.get_context("fork")
    try:
        if ordered or gather:
            with ctx.Pool(jobs, initializer=_default_signals) as pool:
                yield from (pool.imap if ordered else pool.imap_unordered)(_run, feed())
        else:
            with ctx.Pool(jobs - 1, initializer=_default_signals) as pool:
                yield from _sharing(task, feed(), pool, jobs, -(-len(items) // size))
    finally:
        _TASK = None


def _sharing(
    task: Callable[[Sequence[T]], R], parts: Iterator[Sequence[T]], pool: Any, jobs: int, total: int
) -> Iterator[R]:
    """The ``total`` chunks over the pool's ``jobs - 1`` workers and this process: each chunk
    goes to the workers while they have fewer than ``QUEUED`` each queued and no more than
    their share of the chunks left, else this process takes it itself; each result comes
    back once it is done.

    One process fewer than ``jobs``: a forked worker touches the pages of memory it inherited
    (reference counts) and so copies them, hundreds of MB each on the 98k-code set, where this
    process renders on its own pages; waiting on its workers, it only idled. Six queued, not
    two: this process also makes every page's folder (``Publisher.prepare``) between chunks,
    and with two the worker waited for work 9% of a cold build's render (py-spy; the stage
    7.1-7.8 s against 8.0-8.2 s with 4-10 queued, the full set at ``--jobs 2``). The share
    keeps the last chunks from queueing behind one worker while this process has none.
    """
    ahead = QUEUED * (jobs - 1)
    pending: list[Any] = []
    for n, part in enumerate(parts):
        for r in [r for r in pending if r.ready()]:
            pending.remove(r)
            yield r.get()
        queued, left = len(pending), total - n  # left: this chunk and those after it
        if queued < ahead and (queued + 1) * jobs <= (left + queued) * (jobs - 1):
            pending.append(pool.apply_async(_run, (part,)))
        else:
            yield task(part)
    for r in pending:
        yield r.get()


class Aside(Generic[R]):
    """``task()`` run in a forked child while this process goes on with other work (on two
    cores, both at once); ``result()`` waits for it and returns what it returned, or raises
    what it raised. Without ``fork`` (one job asked for, no fork on this system), or should
    the child die or its outcome not unpickle (an exception whose arguments are not its
    constructor's), ``result()`` runs the task here. ``close()`` ends a child whose result is
    not wanted (the caller failed meanwhile)."""

    def __init__(self, task: Callable[[], R], fork: bool = True) -> None:
        self.task = task
        self.pid, self.fd = forks.fork(self._outcome) if fork else (0, -1)

    def _outcome(self) -> bytes:
        """In the child: the task's result, or the exception it raised."""
        _default_signals()
        try:
            outcome: tuple[bool, Any] = (True, self.task())
        except Exception as exc:  # noqa: BLE001 - raised again in the parent
            outcome = (False, exc)
        return pickle.dumps(outcome, pickle.HIGHEST_PROTOCOL)

    def result(self) -> R:
        if not self.pid:
            return self.task()
        try:
            data = forks.read_rest(self.fd)
        finally:
            status = self._reap()
        try:
            if status != 0:
                raise EOFError
            ok, value = pickle.loads(data)
        except Exception:  # noqa: BLE001 - the child died, or its outcome does not unpickle
            return self.task()
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            self._reap()

    def _reap(self) -> int:
        code = forks.reap(self.pid, self.fd)
        self.pid = 0
        return code


@contextmanager
def collector_off() -> Iterator[None]:
    """The cyclic garbage collector off, then as it was (forked workers inherit it off).

    A build makes millions of containers that live to its end (the loaded site, the renderer's
    memos, the published files' records) and next to no cycles: about a thousand objects, of
    the whole 98k-code ICD-10-CM set, with search. The collector's passes over what lives found
    next to nothing to free and took 2.2 s of CPU without search, 2.8 s with (one process).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def loading() -> Iterator[None]:
    """Load without the cyclic garbage collector, then freeze what was loaded.

    Loading makes millions of small containers and no cycles: the collector's passes over
    them cost more than the loading itself (the snapshot loads 3x faster without). Frozen,
    the loaded site is never scanned again, and forked workers do not touch (and so copy)
    its pages of memory just to scan them.
    """
    with collector_off():
        try:
            yield
        finally:
            gc.freeze()
