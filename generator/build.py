"""The pipeline: load and check -> plan -> render -> index -> publish -> remember.

One ``Site`` goes through the stages; each stage is a call with what it needs passed in, and
no stage reaches back up the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from jinja2 import TemplateError

from . import parallel
from .errors import BuildError
from .load import load_and_check, load_config
from .load.descriptors import Descriptors, read_descriptors
from .load.digests import template_digests
from .load.lazy import LazyCodes
from .load.loader import Changes
from .load.plan import plan
from .load.scan import Prescan, Scanned
from .load.snapshot import SNAPSHOT
from .model.urls import split_whatsnew_url, whatsnew_url
from .publish import Publisher, Report
from .render.assets import Assets, asset_names, asset_outputs, read_assets
from .render.pages import Renderer
from .render.sitemap import warm_parts, warm_urls
from .render.stage import PAGE_TEMPLATES, render_codes, template_error
from .render.templating import TemplateCache
from .render.whatsnew import releases, whatsnew_pages
from .search import stage as search
from .search.engine import whoosh_dir
from .state import BuildState, Memory, standing


@dataclass
class BuildOptions:
    out_dir: str | None = None
    quiet: bool = False
    file_links: bool = True  # links end in index.html: the output opens from file:// too
    descriptor_files: Sequence[str] = field(default_factory=tuple)  # "cpt=path/to/file.csv"
    search: bool = True  # build the client index and the whoosh index
    jobs: int | None = None  # rendering processes; None: one per core on large sites
    prescan: Prescan | Scanned | None = None  # the content files' stat, already under way (see ``cli``)
    memory: Memory | None = None  # the last build's state, kept in memory between builds (the dev server)
    offline: bool = False  # pages for the offline archive (see ``archive``)


def build(site_dir: str, options: BuildOptions | None = None) -> Report:
    """Load and check everything, then render what changed since the last build into OUT.

    Pages whose inputs did not change are not rendered again (see ``load.plan``); the output
    equals a clean build's, byte for byte. A failed build leaves the last one as it was. The
    cyclic garbage collector is off meanwhile (see ``parallel.collector_off``).
    """
    with parallel.collector_off():
        return _build(site_dir, options or BuildOptions())


def _build(site_dir: str, options: BuildOptions) -> Report:
    out_dir = options.out_dir or os.path.join(site_dir, "build")
    descriptors: Descriptors = {}
    assets: dict[str, str] = {}  # pages link the fingerprinted names
    files: Assets = []  # assets/, read once: for the names, then the outputs

    def inputs(config: object) -> object:  # every page depends on these (the build state's env digest)
        descriptors.update(read_descriptors(options.descriptor_files, config))  # type: ignore[arg-type]
        files.extend(read_assets(site_dir))  # after the symlink check
        assets.update(asset_names(site_dir, files))
        return (sorted(descriptors.items()), options.file_links, options.offline, sorted(assets.items()))

    # 1. load and check: every problem, before anything renders
    memory = options.memory
    if memory is not None:
        memory.flush()
    loaded = load_and_check(site_dir, out_dir, inputs=inputs, jobs=options.jobs, prescan=options.prescan,
                            previous=memory.snapshot if memory else None)
    site, changes = loaded.site, loaded.changes
    guard_out_dir(site_dir, out_dir)
    if memory is None and (last := standing(out_dir, changes, options.search, whoosh_dir(site_dir, options.out_dir))):
        return last  # nothing changed since the last build, which stands: nothing to render or write
    templates = TemplateCache(os.path.join(out_dir, SNAPSHOT, "templates"))
    renderer = Renderer(site, os.path.join(site_dir, "layouts"), file_links=options.file_links,
                        descriptors=descriptors, bytecode_cache=templates, offline=options.offline,
                        assets=assets)
    publisher = Publisher(out_dir, memory.manifest if memory else None)
    publisher.later = memory is not None  # the dev server removes replaced folders after the reload
    publisher.begin()
    state = BuildState(out_dir, changes.new, changes.old, publisher, templates)
    try:
        # 2. plan: the pages to render; the others' files are carried over
        if not changes.new.templates:  # the layouts changed
            changes.new.templates = template_digests(renderer.env, PAGE_TEMPLATES)
        todo = plan(site, changes, publisher, renderer.template_for)
        # 3. render
        render_codes(todo, renderer, publisher, changes.new.pages, options.jobs, options.quiet)
        others = render_other_pages(site_dir, renderer, changes, publisher, files, warm=memory is not None)
        # 4. index
        if options.search:
            indexed = search.index(site, loaded.synonyms, publisher, whoosh_dir(site_dir, options.out_dir),
                                   os.path.join(out_dir, SNAPSHOT), search_since(changes), str(changes.new.scanned))
            others += indexed.keys
            state.search = indexed.remember
        changes.new.others = tuple(others)
    except TemplateError as exc:
        publisher.abort()
        raise template_error(exc) from exc
    except BaseException:
        publisher.abort()
        raise
    # 5. publish, 6. remember
    report = publisher.commit()
    report.codes_read = len(site.codes.loaded) if isinstance(site.codes, LazyCodes) else len(site.codes)
    report.loaded_all = not isinstance(site.codes, LazyCodes)
    if memory is not None:
        memory.keep(state)  # saved by memory.flush()
    else:
        state.save()
    return report


def read_ahead(site_dir: str, options: BuildOptions) -> None:
    """After a build with a memory: read what the next build, an editor's edit, reads of the
    last one's search indexes, and make the code pages' URLs and sitemap parts that its sitemap
    patches (the dev server calls this once it serves, off the edits' path: 0.3 s of the first
    edit's, and 60 ms more of the first new code's)."""
    memory, out_dir = options.memory, options.out_dir or os.path.join(site_dir, "build")
    if memory is None or (snapshot := memory.snapshot) is None:
        return
    config = load_config(site_dir)
    warm_parts(config.base_url, warm_urls(config.url_prefixes, snapshot.files))
    if options.search:
        search.read_ahead(whoosh_dir(site_dir, options.out_dir), os.path.join(out_dir, SNAPSHOT), snapshot.search)


def render_other_pages(
    site_dir: str, renderer: Renderer, changes: Changes, publisher: Publisher, files: Assets, warm: bool = False
) -> list[str]:
    """System indexes, fixed pages, sitemaps (kept while no code came or went) and assets;
    returns their publisher keys. ``warm``: builds will follow in this process (the dev server)."""
    last = last_outputs(changes, (*news_prefixes(renderer), SITEMAPS))
    last_news = [k for p in news_prefixes(renderer) for k in last[p]]
    keys, releases = whatsnew(renderer, changes, publisher, last_news)
    news = [whatsnew_url(renderer.config.systems[sid].url_prefix, r) for sid, rs in releases.items() for r in rs]
    same_news = set(keys) == set(last_news)
    keys += publisher.add_all(renderer.system_pages(releases))
    keys += publisher.add_all(renderer.fixed_pages())
    same_urls = changes.old is not None and not changes.keys_changed and same_news
    kept = sitemap_keys(last[SITEMAPS])
    if same_urls and publisher.keep(kept):
        keys += kept
        if warm:
            renderer.warm_sitemap()
    else:
        keys += publisher.add_all(renderer.sitemaps(news, keep=warm))
    keys += publisher.add_all(asset_outputs(site_dir, files or None))  # read here if the load did not
    return keys


def search_since(changes: Changes) -> search.Last:
    """What the search stage needs of the last build."""
    old = changes.old
    if old is None:
        return search.Last()
    unchanged = not changes.before and not changes.after and not changes.keys_changed
    edit = (changes.before, changes.after) if changes.lazy else None
    return search.Last(old.search, old.others, unchanged, edit)


def news_prefixes(renderer: Renderer) -> list[str]:
    return [f"site/{s.url_prefix}/whats-new/" for s in renderer.config.systems.values()]


def whatsnew(
    renderer: Renderer, changes: Changes, publisher: Publisher, kept: list[str]
) -> tuple[list[str], dict[str, list[str]]]:
    """The "What's new" pages (their publisher keys) and the releases each system index links.
    An edit that touches no code with a history keeps the last build's pages (``kept``, and
    reads no other code); otherwise they are made from every code's history."""
    prefixes = {s.url_prefix: sid for sid, s in renderer.config.systems.items()}
    if changes.lazy and not any(c.history for c in (*changes.before.values(), *changes.after.values())):
        if publisher.keep(kept):
            found: dict[str, list[str]] = {}
            for k in kept:
                where = split_whatsnew_url("/" + k[len("site/") : -len("index.html")])
                if where is not None:
                    found.setdefault(prefixes[where[0]], []).append(where[1])
            return kept, {sid: sorted(names, reverse=True) for sid, names in found.items()}
    made = releases(renderer.site.codes.values())
    return publisher.add_all(whatsnew_pages(renderer, made)), {sid: list(r) for sid, r in made.items()}


SITEMAPS = "site/sitemaps/"


def last_outputs(changes: Changes, prefixes: Sequence[str]) -> dict[str, list[str]]:
    """The last build's files under each of ``prefixes`` that are not code pages', in one pass
    (the others hold the client index's 7k files)."""
    found: dict[str, list[str]] = {p: [] for p in prefixes}
    starts = tuple(prefixes)
    for k in changes.old.others if changes.old else ():
        if k.startswith(starts):
            for p in prefixes:
                if k.startswith(p):
                    found[p].append(k)
    return found


def sitemap_keys(sitemaps: list[str]) -> list[str]:
    """The last build's sitemap files (``sitemaps``: those under SITEMAPS): the same while no
    code came or went. Must name every file ``Renderer.sitemaps`` writes (the random-edit test
    fails if one is left out)."""
    return ["site/sitemap.xml", "site/robots.txt", *sitemaps]


def guard_out_dir(site_dir: str, out_dir: str) -> None:
    site = os.path.abspath(site_dir)
    out = os.path.abspath(out_dir)
    for inner in ("content", "layouts", "assets"):
        d = os.path.join(site, inner)
        if out == site or out == d or d.startswith(out + os.sep) or out.startswith(d + os.sep):
            raise BuildError(f"output folder {out_dir!r} would overwrite the site's own files")
