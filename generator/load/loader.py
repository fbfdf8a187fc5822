"""Load: every content file into a ``Site``, reading and parsing only what changed.

The build state (``snapshot``) keeps, for every content file, its stat (mtime, size) and a
hash of its bytes, and the parsed ``Code``. A rebuild stats every file, reads only those
whose stat changed and parses only those whose bytes changed. When a few files changed, no
code came or went and the layouts are the same (an editor's edit), nothing else is loaded
whole: the other codes are read from their shard when a page to render shows them (``lazy``).
Otherwise every code is loaded (from the build state, or parsed), as for a first build.

Whatever the path, the result is checked: on any problem, ``CheckFailed`` carries exactly
the problems a full check of the same files reports (``check.check_site``).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import parallel
from ..check import Source, check_changed, check_site, without_knock_on
from ..errors import CheckFailed, ContentError
from ..model.code import Code
from ..model.config import SiteConfig
from ..model.site import Site
from .graph import Graph
from .lazy import LazyCodes, LazyLists
from .parse import Parsed, parse_files, read_text
from .records import key_of, unpack
from .scan import Prescan, Scanned, scan
from .snapshot import DAMAGED, FileEntry, Snapshot
from .symlinks import refuse_scanned_links

RACY_NS = 1_000_000_000
FAST_MAX = 200  # changed files past which loading every code is as quick


class ContentCheckFailed(CheckFailed):
    """The content has problems; ``site``: every file parsed, so later checks can still use
    the codes (None when a file did not parse: their problems would be knock-on errors)."""

    def __init__(self, errors: list[ContentError], site: Site | None) -> None:
        super().__init__(errors)
        self.site = site


@dataclass
class Changes:
    """What changed since the last good build into the same output folder."""

    old: Snapshot | None  # None: no usable snapshot, render everything
    new: Snapshot
    before: dict[str, Code]  # changed files' codes by path, at the last build
    after: dict[str, Code]  # and now
    keys_changed: bool  # a code appeared or went
    lazy: bool = False  # codes are read from the snapshot as needed (few files changed)


def load_codes(
    site_dir: str,
    out_dir: str | None,
    config: SiteConfig,
    env: str,
    layouts: str,
    jobs: int | None,
    use_snapshot: bool = True,
    prescan: Prescan | Scanned | None = None,
    previous: Snapshot | None = None,
) -> tuple[Site, Changes]:
    """Load and check the site, parsing only the files whose bytes changed since the snapshot.

    ``layouts``: the digest of the layouts folder. When a few files changed, no code came
    or went and the layouts are the same, the other codes are read from the snapshot only when a page to render shows
    them. Raises CheckFailed with every problem, exactly as a full load would. ``previous``: the
    last build's snapshot kept in memory (the dev server's), read from OUT/.cache without it.
    """
    # stat the content files (in a thread, unless the caller already started a Prescan) while
    # the snapshot loads: stat releases the GIL
    with ThreadPoolExecutor(1) as pool:
        scanned = time.time_ns()
        scanning = pool.submit(scan, site_dir) if prescan is None else None
        old = None
        if use_snapshot and out_dir and all(os.path.isdir(os.path.join(out_dir, a)) for a in ("site", "private")):
            old = previous if previous is not None else Snapshot.read(out_dir)
            if old is not None and old.env != env:
                old = None
        # what a watcher saw change (every change: its stats are the last build's but for these)
        changed = prescan.changed if isinstance(prescan, Scanned) and old is previous is not None else None
        if isinstance(prescan, Prescan) and old is not None and prescan.unchanged(old.scan):
            # every file as the last build saw it: only those it may have seen half written can differ
            stats = {rel: (st[0], st[1]) for rel, st in old.files.items() if st[0] >= old.scanned - RACY_NS}
            scanned, changed = prescan.started, set(stats)
        elif changed is not None:  # the watcher's: the changed files' stats (the others are ``old``'s)
            assert isinstance(prescan, Scanned)
            stats, scanned = prescan.stats, prescan.started
        elif prescan is not None:
            stats, scanned = prescan.result(), prescan.started
        else:
            assert scanning is not None
            stats = scanning.result()
    prev = old.files if old else {}
    seen = stats if changed is None else {rel: stats[rel] for rel in changed if rel in stats}
    refuse_scanned_links(site_dir, seen)  # before any content file is read
    # A file written in the same clock tick as the last scan, after it, can have the stat the
    # scan saw: read every file not safely older than that scan (git's "racily clean" files).
    racy = old.scanned - RACY_NS if old else 0
    todo = []
    candidates = stats
    if changed is not None:
        candidates = seen
        gone = {rel for rel in changed if rel in prev and rel not in stats}
        added = {rel for rel in changed if rel in stats and rel not in prev}
    else:
        gone, added = prev.keys() - stats.keys(), stats.keys() - prev.keys()
    for rel, st in candidates.items():
        was = prev.get(rel)
        if was is None or was[0] != st[0] or was[1] != st[1] or st[0] >= racy:
            todo.append((rel, st, was[2] if was else None))
    parsed = Parsed()
    task = functools.partial(parse_files, site_dir)
    fresh: dict[str, bytes] = {}  # the packed records of the files parsed (not those found unchanged)
    after: dict[str, Code] = {}  # and their codes, made as each chunk comes back (while the
    # workers parse on), not all after the last one
    for part in parallel.run_chunks(task, todo, parallel.workers(jobs, len(todo)), 1000, gather=True):
        parsed.records.update(part.records)
        parsed.errors.extend(part.errors)
        for rel, (_, _, rec) in part.records.items():
            if rec:
                fresh[rel] = rec
                after[rel] = unpack(rec)
    same_layouts = old is not None and old.layouts == layouts
    # the templates' digests are the last build's, or made by the caller once the content passed
    new = Snapshot(env, layouts, old.templates if old and same_layouts else {}, scanned=scanned, records=fresh)
    new.scan = prescan.digest if isinstance(prescan, Prescan) else ""
    new.files = prev.copy()
    for rel in gone:
        del new.files[rel]
    for rel, (stat, h, _) in parsed.records.items():
        new.files[rel] = (*stat, h)
    new.touched = gone | parsed.records.keys()

    def source(rel: str) -> str:
        return read_text(site_dir, rel)

    if (
        old is not None
        and not parsed.errors
        and len(fresh) + len(gone) <= FAST_MAX
        and added <= fresh.keys()
        and same_layouts
        and all(c.key == key_of(rel) for rel, c in after.items())
    ):
        try:
            site, changes = _edit(site_dir, config, old, new, after, added, gone, source)
        except DAMAGED:
            return load_codes(site_dir, out_dir, config, env, layouts, jobs, use_snapshot=False)
        if changes is not None:
            return site, changes
    fork = parallel.workers(jobs, len(new.files)) > 1
    if old is None:
        return _full(site_dir, config, new, parsed, {}, {}, after, source, fork=fork)
    try:
        entries = {rel: old.entry(rel) for rel in prev}
    except DAMAGED:
        return load_codes(site_dir, out_dir, config, env, layouts, jobs, use_snapshot=False)
    before = {rel: unpack(entries[rel][0]) for rel in prev if rel in fresh or rel in gone}
    return _full(site_dir, config, new, parsed, entries, before, after, source, old, fork)


def _edit(
    site_dir: str,
    config: SiteConfig,
    old: Snapshot,
    new: Snapshot,
    after: dict[str, Code],
    added: set[str],
    gone: set[str],
    source: Source,
) -> tuple[Site, Changes | None]:
    """An editor's edit: a few files changed, came or went, the layouts the same. The other
    codes are read from the snapshot only when a page to render shows them, and only what the
    edit can break is checked: the changed and new codes, their links, and that no code still
    names one that went. None when that check finds a problem (the full check reports it)."""
    before = {rel: unpack(old.entry(rel)[0]) for rel in (*after, *gone) if rel in old.files}
    if before or after:
        new.graph = old.graph.edited(before, after)
    else:  # nothing changed: the graph is read only if a page to render needs it
        new.share_graph(old)
    codes = LazyCodes(old, after, new.files, added, gone)
    new.counts = dict(old.counts)
    for c in before.values():
        new.counts[c.system] -= 1
    for c in after.values():
        new.counts[c.system] = new.counts.get(c.system, 0) + 1
    site = Site(site_dir, config, codes, LazyLists(codes, lambda: new.graph.children),
                LazyLists(codes, lambda: new.graph.tops), new.counts)
    if any(k in new.graph.children or k in new.graph.linked for k in map(key_of, gone)):
        return site, None  # a code names one that went as its parent or a related code
    if added and has_case_twin(added, new.files):
        return site, None  # a duplicate code (in another case)
    if check_changed(config, site.codes, list(after.values()), source):
        return site, None
    return site, Changes(old, new, before, after, bool(added or gone), lazy=True)


TWIN_LETTERS = 10  # a file name with more letters is checked against every path upper-cased


def has_case_twin(came: Iterable[str], files: Mapping[str, object]) -> bool:
    """Whether a content file of ``came`` has a twin in ``files`` that differs only in the case
    of its file name (the same code twice on a case-insensitive disk). Each name's case variants
    are looked up (a code has a few letters), not every path upper-cased (98k: 20 ms)."""
    for rel in came:
        d = rel.rindex("/") + 1
        name = rel[d:-3] if rel.endswith(".md") else rel[d:]
        letters = [i for i, ch in enumerate(name) if ch.lower() != ch.upper()]
        if len(letters) > TWIN_LETTERS:
            upper = rel.upper()
            return any(other != rel and other.upper() == upper for other in files)
        for bits in range(1, 2 ** len(letters)):
            chars = list(name)
            for n, i in enumerate(letters):
                if bits >> n & 1:
                    chars[i] = chars[i].swapcase()
            if rel[:d] + "".join(chars) + rel[d + len(name):] in files:
                return True
    return False


def _full(
    site_dir: str,
    config: SiteConfig,
    new: Snapshot,
    parsed: Parsed,
    entries: dict[str, FileEntry],
    before: dict[str, Code],
    after: dict[str, Code],
    source: Source,
    old: Snapshot | None = None,
    fork: bool = False,
) -> tuple[Site, Changes]:
    """Load with every code in memory: the codes of the files that did not change come from
    the snapshot's entries, the others were just parsed. ``fork``: the check may run in a
    forked child."""
    failed = {e.path for e in parsed.errors}  # a file that failed now gave a Code, or none: not its last one
    codes = [
        after[rel] if rel in after else unpack(entries[rel][0])
        for rel in sorted(new.files)
        if rel in after or rel not in failed
    ]
    # (a first build: no code before, every code came; not two sets of 98k keys compared)
    keys_changed = {c.key for c in before.values()} != {c.key for c in after.values()} if before else bool(after)
    reported = frozenset(key_of(path) for path in failed)

    def check() -> list[ContentError]:
        return parsed.errors + without_knock_on(parsed.errors, check_site(config, codes, source, reported))

    # The whole check, where it is known to be needed before the site is assembled (a first
    # build: 0.5-0.8 s of the 98k-code set), runs in a forked child while this process
    # assembles the site and its graph (0.6-0.7 s): the build's longest stretch on one core.
    checking = parallel.Aside(check, fork) if old is None or parsed.errors or keys_changed else None
    try:
        site = Site.assemble(site_dir, config, codes)
        if checking is None and check_changed(config, site.codes, list(after.values()), source):
            checking = parallel.Aside(check, fork=False)
        graph = None if parsed.errors else Graph.of(site)  # with errors, the build stops here
        errors = checking.result() if checking is not None else []
    finally:
        if checking is not None:
            checking.close()
    if errors:
        raise ContentCheckFailed(errors, None if parsed.errors else site)
    assert graph is not None
    new.graph = graph
    new.counts = dict(site.counts)
    return site, Changes(old, new, before, after, keys_changed)
