"""Remember: the build state, written in one place at the end of a successful build.

What the last build saw and wrote is one object (Lektor's ``BuildState``): the output manifest
(every live file and its digest), the search state, the snapshot (content files, parsed codes,
pages' files, the graph, the inputs' digests) and the compiled templates. ``save`` writes the
parts that changed, in an order that keeps a crash harmless: the manifest first (it names the
files now live), then the search state, then the snapshot, whose meta file, written last, names
them all. A crash half way leaves an older snapshot, which only means more work next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .load.snapshot import Snapshot
from .publish import Publisher
from .render.templating import TemplateCache


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
        if self.search is not None:
            self.snapshot.search = self.search()
        self.snapshot.save(self.out_dir, self.previous)
        self.templates.save()
