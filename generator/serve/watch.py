"""Watch the site's sources and hand out debounced batches of changes, sorted by kind.

A burst of saves, a ``git checkout`` of many files, an editor's write-temp-then-rename, a file
deleted and recreated: each arrives as events within a few milliseconds of each other, and
``watchfiles`` gathers events until ``step`` ms pass without one (at most ``debounce`` ms), so
each is one batch and one rebuild. Events that arrive while a rebuild runs are kept by the
watcher and make the next batch.

The kinds (Zola's ``ChangeKind``) say what a batch can affect: a code file its page, its
dependents and the search shards it touches; a layout the pages that use it; an asset a copy
(a stylesheet is reloaded in place); the config (site.yaml, synonyms.yaml) everything. The
build finds the pages itself from its inputs' digests; the kinds decide how the browser reloads
and whether the content folder must be stat'ed again whole (``known_stats``).
"""

from __future__ import annotations

import enum
import os
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import watchfiles

from ..load.scan import Scanned
from . import STEP_MS

CONFIG_FILES = ("content/site.yaml", "content/synonyms.yaml")
WATCHED = ("content", "layouts", "assets")
DEBOUNCE_MS = 1600  # the longest a batch gathers events
WAKE_MS = 50  # the watcher wakes this often without a change (to see ``stop``, to save the build state)


class ChangeKind(enum.Enum):
    CONTENT = "content"  # a code file
    CONFIG = "config"  # site.yaml, synonyms.yaml
    LAYOUT = "layout"  # a template
    ASSET = "asset"  # a stylesheet, script, image


def kind_of(rel: str) -> ChangeKind | None:
    """The kind of a change to the site-relative path ``rel``; None for files the build does not
    read (editors' swap and backup files, anything else under content/)."""
    name = rel.rsplit("/", 1)[-1]
    if name.startswith(".") or name.endswith("~"):
        return None
    if rel in CONFIG_FILES:
        return ChangeKind.CONFIG
    if rel.startswith("content/codes/"):
        return ChangeKind.CONTENT if rel.endswith(".md") else None
    if rel.startswith("layouts/"):
        return ChangeKind.LAYOUT
    if rel.startswith("assets/"):
        return ChangeKind.ASSET
    return None


@dataclass
class Batch:
    """One debounced batch: each changed site-relative path and its kind."""

    changes: dict[str, ChangeKind] = field(default_factory=dict)

    @property
    def kinds(self) -> set[ChangeKind]:
        return set(self.changes.values())

    def paths(self, kind: ChangeKind) -> list[str]:
        return sorted(p for p, k in self.changes.items() if k is kind)

    def summary(self) -> str:
        """E.g. "content/codes/icd10cm/S73.0.md" or "3 content, 1 layout files"."""
        if len(self.changes) == 1:
            return next(iter(self.changes))
        counts = {k: len(self.paths(k)) for k in ChangeKind if self.paths(k)}
        return ", ".join(f"{n} {k.value}" for k, n in counts.items()) + " files"


def batch_of(site_dir: str, events: set[tuple[watchfiles.Change, str]]) -> Batch:
    root = os.path.abspath(site_dir)
    batch = Batch()
    for _, path in sorted(events, key=lambda e: e[1]):
        rel = os.path.relpath(os.path.abspath(path), root).replace(os.sep, "/")
        kind = kind_of(rel)
        if kind is not None:
            batch.changes[rel] = kind
    return batch


class SourceFilter(watchfiles.DefaultFilter):
    """watchfiles' default filter (VCS folders, caches, swap files) and only the paths the
    build reads."""

    def __init__(self, site_dir: str) -> None:
        super().__init__()
        self.root = os.path.abspath(site_dir)

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        if not super().__call__(change, path):
            return False
        rel = os.path.relpath(path, self.root).replace(os.sep, "/")
        # a folder event under content/codes (a folder renamed in or out) is content too
        return kind_of(rel) is not None or rel.startswith("content/codes")


class Watcher:
    """Debounced batches of changes to content/, layouts/ and assets/ until ``stop`` is set.
    The watches are in place when the constructor returns (a change made after it is seen);
    Ctrl-C in the main thread raises KeyboardInterrupt from the iteration within ``step_ms``."""

    def __init__(self, site_dir: str, stop: threading.Event, step_ms: int = STEP_MS) -> None:
        self.site_dir = site_dir
        folders = [os.path.join(site_dir, d) for d in WATCHED if os.path.isdir(os.path.join(site_dir, d))]
        self.events: Iterator[set[tuple[watchfiles.Change, str]]] = iter(())
        self.first: set[tuple[watchfiles.Change, str]] = set()
        if folders:
            self.events = watchfiles.watch(
                *folders,
                watch_filter=SourceFilter(site_dir),
                debounce=DEBOUNCE_MS,
                step=step_ms,
                stop_event=stop,
                rust_timeout=WAKE_MS,
                yield_on_timeout=True,  # an empty set: the first one says the watches are set
            )
            self.first = next(self.events, set())

    def __iter__(self) -> Iterator[Batch]:
        """Batches of changes, and an empty batch every ``WAKE_MS`` without a change (time
        for deferred work)."""
        events: set[tuple[watchfiles.Change, str]] | None = self.first
        while events is not None:
            batch = batch_of(self.site_dir, events)
            if batch.changes or not events:
                yield batch
            events = next(self.events, None)


def known_stats(site_dir: str, last: dict[str, tuple[int, int, str]], batch: Batch) -> Scanned | None:
    """The content files' stats after a batch that changed only code files: the last build's,
    with the batch's files stat'ed again (gone ones dropped). Saves stat'ing every file (98,505
    for ICD-10-CM) per save. None when the batch touched anything else (or a folder): stat all."""
    if batch.kinds != {ChangeKind.CONTENT}:
        return None
    started = time.time_ns()
    stats: dict[str, tuple[int, int]] = {}
    for rel in batch.paths(ChangeKind.CONTENT):
        try:
            st = os.stat(os.path.join(site_dir, rel))
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        stats[rel] = (st.st_mtime_ns, st.st_size)
    return Scanned(last, stats, started, set(batch.changes))
