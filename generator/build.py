"""The pipeline: load and check -> plan -> render -> index -> publish -> remember.

One ``Site`` goes through the stages; each stage is a call with what it needs passed in, and
no stage reaches back up the pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from jinja2 import TemplateError

from . import search
from .errors import BuildError
from .load import load_and_check
from .load.descriptors import Descriptors, read_descriptors
from .load.digests import template_digests
from .load.loader import Changes
from .load.plan import plan
from .load.scan import Prescan, Scanned
from .load.snapshot import SNAPSHOT
from .model.site import Site
from .publish import Publisher, Report
from .render.pages import Renderer
from .render.stage import PAGE_TEMPLATES, asset_outputs, render_codes, template_error
from .render.templating import TemplateCache
from .state import BuildState, Memory


@dataclass
class BuildOptions:
    out_dir: str | None = None
    quiet: bool = False
    file_links: bool = False
    descriptor_files: Sequence[str] = field(default_factory=tuple)  # "cpt=path/to/file.csv"
    search: bool = True  # build the client index and the whoosh index
    jobs: int | None = None  # rendering processes; None: one per core on large sites
    prescan: Prescan | Scanned | None = None  # the content files' stat, already under way (see ``cli``)
    memory: Memory | None = None  # the last build's state, kept in memory between builds (the dev server)


def build(site_dir: str, options: BuildOptions | None = None) -> Report:
    """Load and check everything, then render what changed since the last build into OUT.

    Pages whose inputs did not change are not rendered again (see ``load.plan``); the output
    equals a clean build's, byte for byte. A failed build leaves the last one as it was.
    """
    options = options or BuildOptions()
    out_dir = options.out_dir or os.path.join(site_dir, "build")
    descriptors: Descriptors = {}

    def inputs(config: object) -> object:  # every page depends on these (the build state's env digest)
        descriptors.update(read_descriptors(options.descriptor_files, config))  # type: ignore[arg-type]
        return (sorted(descriptors.items()), options.file_links)

    # 1. load and check: every problem, before anything renders
    memory = options.memory
    if memory is not None:
        memory.flush()
    loaded = load_and_check(site_dir, out_dir, inputs=inputs, jobs=options.jobs, prescan=options.prescan,
                            previous=memory.snapshot if memory else None)
    site, changes = loaded.site, loaded.changes
    guard_out_dir(site_dir, out_dir)
    templates = TemplateCache(os.path.join(out_dir, SNAPSHOT, "templates"))
    renderer = Renderer(site, os.path.join(site_dir, "layouts"), file_links=options.file_links,
                        descriptors=descriptors, bytecode_cache=templates)
    publisher = Publisher(out_dir, memory.manifest if memory else None)
    publisher.begin()
    state = BuildState(out_dir, changes.new, changes.old, publisher, templates)
    try:
        # 2. plan: the pages to render; the others' files are carried over
        if not changes.new.templates:  # the layouts changed
            changes.new.templates = template_digests(renderer.env, PAGE_TEMPLATES)
        todo = plan(site, changes, publisher, renderer.template_for)
        # 3. render
        render_codes(todo, renderer, publisher, changes.new.pages, options.jobs, options.quiet)
        others = render_other_pages(site_dir, renderer, changes, publisher)
        # 4. index
        if options.search:
            whoosh = search.whoosh_dir(site_dir, options.out_dir)
            others += index(site, changes, out_dir, whoosh, publisher, state)
        changes.new.others = tuple(others)
    except TemplateError as exc:
        publisher.abort()
        raise template_error(exc) from exc
    except BaseException:
        publisher.abort()
        raise
    # 5. publish, 6. remember
    report = publisher.commit()
    if memory is not None:
        memory.keep(state)  # saved by memory.flush()
    else:
        state.save()
    return report


def render_other_pages(site_dir: str, renderer: Renderer, changes: Changes, publisher: Publisher) -> list[str]:
    """System indexes, fixed pages, sitemaps (kept while no code came or went) and assets;
    returns their publisher keys."""
    keys = publisher.add_all(renderer.system_pages())
    keys += publisher.add_all(renderer.fixed_pages())
    same_urls = changes.old is not None and not changes.keys_changed
    kept = sitemap_keys(changes)
    if same_urls and publisher.keep(kept):
        keys += kept
    else:
        keys += publisher.add_all(renderer.sitemaps(renderer.sitemap_urls()))
    keys += publisher.add_all(asset_outputs(site_dir))
    return keys


def index(
    site: Site, changes: Changes, out_dir: str, index_dir: str, publisher: Publisher, state: BuildState
) -> list[str]:
    """The search stage: the client index files (publisher keys returned) and the whoosh index,
    whose saving the build state does at the end."""
    kept = search_keys(changes)
    if kept and search_unchanged(changes, index_dir) and publisher.keep(kept):
        changes.new.search = changes.old.search if changes.old else ""
        return kept
    searchable = search_edit(site, changes, out_dir, kept, publisher) or search.prepare(site)
    keys = publisher.add_all(search.client_index(site, searchable))
    if searchable.outputs is not None:  # an edit: the files it did not change were kept
        keys = [k for k in kept if k not in keys] + keys
    since, token = changes.old.search if changes.old else "", str(changes.new.scanned)

    def save() -> str:
        search.save(site, searchable, os.path.join(out_dir, SNAPSHOT), index_dir, since, token)
        return token

    state.search = save
    return keys


def search_unchanged(changes: Changes, index_dir: str) -> bool:
    """No content file changed since the last build (other inputs are in the snapshot's env
    digest, synonyms.yaml included): its search indexes still hold."""
    return (
        changes.old is not None
        and not changes.before
        and not changes.after
        and not changes.keys_changed
        and os.path.isdir(index_dir)
    )


def search_edit(
    site: Site, changes: Changes, out_dir: str, kept: list[str], publisher: Publisher
) -> search.Prepared | None:
    """After an editor's edit (see ``load``), the client index files it changes, the
    others carried over; None when the index must be made whole."""
    if not (changes.lazy and changes.old and changes.old.search):
        return None
    folder = os.path.join(out_dir, SNAPSHOT)
    prepared = search.prepare_edit(site, changes.before, changes.after, folder, changes.old.search)
    if prepared is None or prepared.outputs is None:
        return None
    redo = {f"{o.area}/{o.path}" for o in prepared.outputs}
    return prepared if publisher.keep([k for k in kept if k not in redo]) else None


def last_outputs(changes: Changes, prefix: str) -> list[str]:
    """The last build's files under ``prefix`` that are not code pages'."""
    return [k for k in (changes.old.others if changes.old else ()) if k.startswith(prefix)]


def search_keys(changes: Changes) -> list[str]:
    """The last build's client index files, carried over when nothing searchable changed."""
    return last_outputs(changes, f"site/{search.INDEX_DIR}/")


def sitemap_keys(changes: Changes) -> list[str]:
    """The last build's sitemap files: the same while no code came or went. Must name every
    file ``Renderer.sitemaps`` writes (the random-edit test fails if one is left out)."""
    return ["site/sitemap.xml", "site/robots.txt", *last_outputs(changes, "site/sitemaps/")]


def guard_out_dir(site_dir: str, out_dir: str) -> None:
    site = os.path.abspath(site_dir)
    out = os.path.abspath(out_dir)
    for inner in ("content", "layouts", "assets"):
        d = os.path.join(site, inner)
        if out == site or out == d or d.startswith(out + os.sep) or out.startswith(d + os.sep):
            raise BuildError(f"output folder {out_dir!r} would overwrite the site's own files")
