"""Remember: the build state, written in one place at the end of a successful build.

What the last build saw and wrote is one object (Lektor's ``BuildState``): the output manifest
(every live file and its digest), the search state, the snapshot (content files, parsed codes,
pages' files, the graph, the inputs' digests) and the compiled templates. ``save`` writes the
parts that changed, in an order that keeps a crash harmless: the manifest first (it names the
files now live), then the search state, then the snapshot, whose meta file, written last, names
them all. A crash half way leaves an older snapshot, which only means more work next time.

The snapshot names the manifest it goes with (its stamp and size): a build that finds nothing
changed (``standing``) stops there, reading neither the manifest nor the graph, rendering nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .load.loader import Changes
from .load.snapshot import Snapshot
from .publish import Publisher, Report, leftovers, manifest_stamp
from .render.templating import TemplateCache
from .search.stage import client_files


@dataclass
class Memory:
    """The last good build's state, kept by a caller that builds again and again into one
    output folder (the dev server): the next build starts from it instead of reading it from
    OUT/.cache and OUT/.manifest. A failed build leaves it as it was, as it leaves the folder.

    A build with a memory leaves its state unsaved (``unsaved``): the caller saves it with
    ``flush`` once it has told the browser, and the next build (or the end of the program)
    must find it saved; ``build`` flushes first.
    """

    snapshot: Snapshot | None = None
    manifest: dict[str, str] | None = None
    unsaved: BuildState | None = None

    def keep(self, state: BuildState) -> None:
        self.unsaved = state
        self.manifest = state.publisher.new

    def flush(self) -> None:
        state, self.unsaved = self.unsaved, None
        if state is None:
            return
        try:
            state.save()
        except BaseException:
            self.snapshot = self.manifest = None  # the next build reads what is on disk
            raise
        self.snapshot = state.snapshot.as_read(state.out_dir, state.previous)


@dataclass
class BuildState:
    out_dir: str
    snapshot: Snapshot  # this build's
    previous: Snapshot | None  # the last build's (None: none usable)
    publisher: Publisher  # holds the manifest
    templates: TemplateCache
    search: Callable[[], str] | None = None  # writes the search state; returns its token

    def save(self) -> None:
        self.publisher.write_manifest()
        self.snapshot.outputs = self.publisher.stamp()
        if self.search is not None:
            self.snapshot.search = self.search()
        self.snapshot.save(self.out_dir, self.previous)
        self.templates.save()


def standing(out_dir: str, changes: Changes, search: bool, whoosh_dir: str) -> Report | None:
    """The report of a build that has nothing to do, or None. Nothing changed since the last
    build: no content file, the other inputs (the env digest) and the layouts the same (no code
    was read); its outputs are there as it left them (the manifest it names, every other page,
    a search index when one is asked for, none else) and nothing is left of a build that stopped.
    Such a build would render, index and write nothing, nor change the build state."""
    old, new = changes.old, changes.new
    if old is None or not changes.lazy or changes.before or changes.after or changes.keys_changed:
        return None
    if not new.templates or not new.same_files(old) or new.scan not in ("", old.scan) or not old.outputs:
        return None
    stamp, count = old.outputs
    clients = client_files(old.others)
    if tuple(stamp) != manifest_stamp(out_dir) or bool(clients) != search or leftovers(out_dir):
        return None
    if search and not (old.search and os.path.isdir(whoosh_dir)):
        return None
    others = set(old.others).difference(clients)  # the pages a build renders again and compares
    if not all(os.path.exists(os.path.join(out_dir, k)) for k in others):
        return None
    return Report(unchanged=count)
