"""The terminal: a progress bar for long work (build, import), quiet where nobody watches."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress(total: int, label: str, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a terminal; None (nothing to advance) when quiet, in CI, or when
    stdout is not a terminal."""
    if quiet or not sys.stdout.isatty() or os.environ.get("CI"):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance
