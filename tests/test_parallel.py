"""Forked workers: what they inherit from the process that forks them."""

from __future__ import annotations

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
