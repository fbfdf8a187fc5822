"""Forked workers: what they inherit from the process that forks them."""

from __future__ import annotations

import gc
import os
import signal
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from generator import parallel
from generator.build import BuildOptions, build
from generator.errors import CheckFailed, ContentError


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


def dispositions(chunk: Sequence[int]) -> list[tuple[int, bool, bool]]:
    """Where each item ran, and whether SIGINT and SIGTERM take their default actions there."""
    time.sleep(0.01)
    pid = os.getpid()
    return [(pid, signal.getsignal(signal.SIGINT) is signal.SIG_DFL, signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
            for _ in chunk]


def test_workers_die_on_sigterm_whatever_handler_the_parent_has(python_handlers: None) -> None:
    """The dev server hung at start-up on a site of 98,505 codes: at the end of the render,
    ``Pool.terminate`` sent a worker SIGTERM just as it went back to wait for work, its inherited
    Python handler was noted and never run, and the server waited for the worker forever.
    Workers take the default action, whatever the parent installed."""
    got = [d for part in parallel.run_chunks(dispositions, list(range(40)), jobs=2, size=5) for d in part]
    in_workers = [(sigint, sigterm) for pid, sigint, sigterm in got if pid != os.getpid()]
    assert in_workers and in_workers == [(True, True)] * len(in_workers)


def test_the_forking_process_takes_its_share_and_forks_one_worker_fewer() -> None:
    """Each forked worker copies the pages of memory it touches (reference counts): in the dev
    server, a layout change on the 98k-code set peaked over 1 GiB, server and two workers. The
    process that forks renders chunks too while one worker fewer does the rest: each item once,
    in two processes for two jobs, this one among them."""
    got = [d for part in parallel.run_chunks(dispositions, list(range(40)), jobs=2, size=2) for d in part]
    assert len(got) == 40
    pids = {pid for pid, _, _ in got}
    assert len(pids) == 2 and os.getpid() in pids
    ordered = [n for part in parallel.run_chunks(list, list(range(40)), jobs=2, size=3, ordered=True) for n in part]
    assert ordered == list(range(40))


def collection_count(chunk: Sequence[int]) -> list[int]:
    """In a worker: how many collections start while it makes and drops containers."""
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        for _ in chunk:
            keep = [[i] for i in range(5000)]  # far over the collector's 700-object threshold
            del keep
    finally:
        gc.callbacks.remove(count)
    return [len(started)]


@pytest.mark.parametrize("was_on", [True, False])
def test_a_build_runs_without_the_cyclic_collector(sample_site: Path, tmp_path: Path, was_on: bool) -> None:
    """A build makes no cycles to speak of: on the 98k-code set the collector's passes freed
    about a thousand objects for 2.2-2.8 s of CPU. It is off for the whole build, in the
    workers too, and as it was after; a build that fails leaves it as it was as well."""
    started: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(info["generation"])

    (gc.enable if was_on else gc.disable)()
    gc.callbacks.append(count)
    try:
        report = build(str(sample_site), BuildOptions(out_dir=str(tmp_path / "out"), quiet=True, jobs=2))
        assert report.written > 2000  # enough pages to have set the collector off many times
        # none while it runs; on, the collector may take one pass at once (what was made meanwhile)
        assert len(started) <= (1 if was_on else 0) and gc.isenabled() is was_on, started
        with parallel.collector_off():
            assert [n for part in parallel.run_chunks(collection_count, [1, 2], jobs=2, size=1) for n in part] == [0, 0]
        (sample_site / "content" / "site.yaml").write_text("title: [unclosed\n")
        with pytest.raises(CheckFailed):
            build(str(sample_site), BuildOptions(out_dir=str(tmp_path / "out"), quiet=True))
        assert gc.isenabled() is was_on
    finally:
        gc.callbacks.remove(count)
        gc.enable()


def test_gathering_the_forking_process_takes_no_chunk() -> None:
    """``gather`` (the load's parse, whose records cost the parent about as much to take in as
    to make): every chunk runs in the forked workers, each item once, and the process that forks
    only takes in the results."""
    got = [d for part in parallel.run_chunks(where, list(range(40)), jobs=2, size=2, gather=True) for d in part]
    assert sorted(n for _, n in got) == list(range(40))
    pids = {pid for pid, _ in got}
    assert len(pids) == 2 and os.getpid() not in pids


def where(chunk: Sequence[int]) -> list[tuple[int, int]]:
    """Each item, and the process it ran in."""
    time.sleep(0.01)
    return [(os.getpid(), n) for n in chunk]


def test_a_task_aside_runs_in_a_child_and_gives_back_its_result_or_its_error() -> None:
    """``Aside``: the task runs in a forked child (with the default signal actions) while this
    process goes on; its result, or the exception it raised, comes back to ``result()``."""
    here = os.getpid()
    aside = parallel.Aside(lambda: (os.getpid(), signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, list(range(5))))
    assert aside.pid
    pid, default, items = aside.result()
    assert pid != here and default and items == [0, 1, 2, 3, 4]
    assert aside.pid == 0

    def fails() -> None:
        raise ValueError(f"in {os.getpid()}")

    with pytest.raises(ValueError, match=r"in \d+") as raised:
        parallel.Aside(fails).result()
    assert str(raised.value) != f"in {here}"  # raised in the child, raised again here

    def check_fails() -> None:  # CheckFailed does not unpickle: the task runs again here
        raise CheckFailed([ContentError("content/codes/x.md", 1, "code", f"in {os.getpid()}")])

    with pytest.raises(CheckFailed) as failed:
        parallel.Aside(check_fails).result()
    assert [e.message for e in failed.value.errors] == [f"in {here}"]
    assert parallel.Aside(os.getpid, fork=False).result() == here  # one job: run here, when asked


def test_a_task_aside_whose_child_dies_runs_here() -> None:
    here = os.getpid()

    def dies_in_a_child() -> int:
        if os.getpid() != here:
            os.kill(os.getpid(), signal.SIGKILL)
        return os.getpid()

    assert parallel.Aside(dies_in_a_child).result() == here


def test_a_task_aside_not_wanted_is_ended() -> None:
    aside = parallel.Aside(lambda: time.sleep(600))
    pid = aside.pid
    aside.close()
    assert aside.pid == 0
    with pytest.raises(ChildProcessError):  # ended and reaped
        os.waitpid(pid, 0)
