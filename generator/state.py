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
    OUT/.cache. A failed build leaves it as it was, as it leaves the folder."""

    snapshot: Snapshot | None = None


@dataclass
class BuildState:
    out_dir: str
    snapshot: Snapshot  # this build's
    previous: Snapshot | None  # the last build's (None: none usable)
    publisher: Publisher  # holds the manifest
    templates: TemplateCache
    search: Callable[[], str] | None = None  # writes the search state; returns its token

    def save(self) -> None:
        if self.publisher.manifest_changed():
            self.publisher.write_manifest()
        if self.search is not None:
            self.snapshot.search = self.search()
        self.snapshot.save(self.out_dir, self.previous)
        self.templates.save()
