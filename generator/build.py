"""The pipeline: load -> check -> render -> publish, one Site object through the stages."""

from __future__ import annotations

import contextlib
import csv
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

from . import incremental, parallel, search
from .check import check_site
from .config import CONFIG_PATH, SiteConfig, load_config
from .content import read_codes, read_text
from .errors import BuildError, CheckFailed, ConfigError, ContentError
from .publish import Publisher, Report
from .render import Descriptors, Output, Renderer
from .scanning import Prescan
from .site import Site
from .urls import output_path


@dataclass
class BuildOptions:
    out_dir: str | None = None
    quiet: bool = False
    file_links: bool = False
    descriptor_files: Sequence[str] = field(default_factory=tuple)  # "cpt=path/to/file.csv"
    search: bool = True  # build the client index and the whoosh index
    jobs: int | None = None  # rendering processes; None: one per core on large sites
    prescan: Prescan | None = None  # the content files' stat, already under way (see ``cli``)
    offline: bool = False  # pages for the offline archive (see ``archive``)


def load_site(site_dir: str) -> Site:
    """Load and check everything; raise CheckFailed with every problem before any rendering."""
    config = load_config(site_dir)
    codes, errors = read_codes(site_dir)
    errors += check_site(config, codes, lambda rel: read_text(site_dir, rel))
    if errors:
        raise CheckFailed(errors)
    return Site.assemble(site_dir, config, codes)


def read_descriptors(specs: Iterable[str], config: SiteConfig) -> dict[tuple[str, str], str]:
    """Licensed official descriptors: ``SYSTEM=FILE``, a CSV or TSV of code,descriptor rows."""
    out: dict[tuple[str, str], str] = {}
    for spec in specs:
        system, sep, path = spec.partition("=")
        if not sep or system not in config.systems:
            raise BuildError(f"--descriptors takes SYSTEM=FILE with SYSTEM one of {', '.join(config.systems)}")
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                sample = f.read(4096)
                f.seek(0)
                dialect = "excel-tab" if "\t" in sample.split("\n", 1)[0] else "excel"
                for i, row in enumerate(csv.reader(f, dialect=dialect)):
                    if len(row) < 2 or (i == 0 and row[0].strip().lower() == "code"):
                        continue
                    out[(system, row[0].strip())] = row[1].strip()
        except OSError as exc:
            raise BuildError(f"{path}: cannot read descriptors ({exc.strerror})") from None
    return out


@contextmanager
def progress(total: int, label: str, quiet: bool) -> Iterator[object]:
    """A rich progress bar on a terminal; silent when quiet or when stdout is not a terminal."""
    if quiet or not sys.stdout.isatty() or os.environ.get("CI"):
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n=1: bar.advance(task, n)


def copy_assets(site_dir: str) -> Iterator[Output]:
    root = os.path.join(site_dir, "assets")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                yield Output("site", f"assets/{rel}", f.read())


def check_nav(site: Site, publisher: Publisher) -> None:
    """Every navigation link in site.yaml must lead to a page of the site."""
    errors: list[ContentError] = []
    text = read_text(site.root, CONFIG_PATH)
    from . import yamlutil

    for i, (_, href) in enumerate(site.config.nav):
        if href.startswith(("http://", "https://", "mailto:")):
            continue
        if not publisher.has("site/" + output_path(href.split("#")[0].split("?")[0])):
            line = yamlutil.locate(text, ("nav", i, "url")) + 1
            errors.append(ConfigError(CONFIG_PATH, line, f"nav[{i}].url", f"'{href}' is not a page of the site"))
    if errors:
        raise CheckFailed(errors)


def build(site_dir: str, options: BuildOptions | None = None) -> Report:
    """Load and check everything, then render what changed since the last build into OUT.

    Pages whose inputs did not change are not rendered again (see ``incremental``); the
    output equals a clean build's, byte for byte.
    """
    options = options or BuildOptions()
    out_dir = options.out_dir or os.path.join(site_dir, "build")
    config = load_config(site_dir)
    descriptors: Descriptors = read_descriptors(options.descriptor_files, config)
    inputs = (sorted(descriptors.items()), options.file_links, search.synonyms_digest(site_dir), options.offline)
    env = incremental.env_digest(site_dir, config.digest, inputs)
    layouts = os.path.join(site_dir, "layouts")
    with parallel.loading():
        site, changes = incremental.load(
            site_dir, out_dir, config, env, incremental.layouts_digest(layouts), options.jobs,
            prescan=options.prescan,
        )
    guard_out_dir(site_dir, out_dir)
    renderer = Renderer(site, layouts, file_links=options.file_links, descriptors=descriptors,
                        offline=options.offline)
    renderer.env.auto_reload = False  # one renderer per build: no stat of every template per page
    renderer.env.bytecode_cache = compiled = incremental.TemplateCache(out_dir)
    publisher = Publisher(out_dir)
    publisher.begin()
    try:
        if not changes.new.templates:  # the layouts changed
            changes.new.templates = incremental.template_digests(renderer.env, PAGE_TEMPLATES)
        todo = incremental.plan(site, renderer, changes, publisher)
        if len(todo) >= parallel.PARALLEL_MIN:  # compiled before the workers fork, not in each
            for name in PAGE_TEMPLATES:
                with contextlib.suppress(TemplateNotFound):
                    renderer.env.get_template(name)
        render_codes(todo, renderer, publisher, changes.new, options)
        pages = len(publisher.new)  # the files recorded from here on are not code pages'
        publisher.add_all(renderer.system_pages())
        publisher.add_all(renderer.fixed_pages())
        same_urls = changes.old is not None and not changes.keys_changed
        if not (same_urls and publisher.keep(sitemap_keys(changes))):
            publisher.add_all(renderer.sitemaps(renderer.sitemap_urls()))
        publisher.add_all(copy_assets(site_dir))
        index_dir = search.whoosh_dir(site_dir, options.out_dir)
        searchable = None
        kept = search_keys(changes)
        if options.search and kept and search_unchanged(changes, index_dir) and publisher.keep(kept):
            changes.new.search = changes.old.search if changes.old else ""
        elif options.search:
            searchable = search_edit(site, changes, out_dir, kept, publisher) or search.prepare(site)
            publisher.add_all(search.client_index(site, searchable))
        check_nav(site, publisher)
        changes.new.others = tuple(list(publisher.new)[pages:])
    except TemplateError as exc:
        publisher.abort()
        raise template_error(exc) from exc
    except BaseException:
        publisher.abort()
        raise
    report = publisher.commit()
    if searchable is not None:  # the search state, then whoosh, then the snapshot that names them
        since, token = changes.old.search if changes.old else "", str(changes.new.scanned)
        search.save(site, searchable, os.path.join(out_dir, incremental.SNAPSHOT), index_dir, since, token)
        changes.new.search = token
    changes.new.save(out_dir, changes.old)
    compiled.save()
    return report


PAGE_TEMPLATES = ("code.html", "hierarchy.html")


def search_unchanged(changes: incremental.Changes, index_dir: str) -> bool:
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
    site: Site, changes: incremental.Changes, out_dir: str, kept: list[str], publisher: Publisher
) -> search.Prepared | None:
    """After an editor's edit (see ``incremental``), the client index files it changes, the
    others carried over; None when the index must be made whole."""
    if not (changes.lazy and changes.old and changes.old.search):
        return None
    folder = os.path.join(out_dir, incremental.SNAPSHOT)
    prepared = search.prepare_edit(site, changes.before, changes.after, folder, changes.old.search)
    if prepared is None or prepared.outputs is None:
        return None
    redo = {f"{o.area}/{o.path}" for o in prepared.outputs}
    return prepared if publisher.keep([k for k in kept if k not in redo]) else None


def last_outputs(changes: incremental.Changes, prefix: str) -> list[str]:
    """The last build's files under ``prefix`` that are not code pages'."""
    return [k for k in (changes.old.others if changes.old else ()) if k.startswith(prefix)]


def search_keys(changes: incremental.Changes) -> list[str]:
    """The last build's client index files, carried over when nothing searchable changed."""
    return last_outputs(changes, f"site/{search.INDEX_DIR}/")


def template_error(exc: TemplateError) -> BuildError:
    where = f"layouts/{exc.name}:{exc.lineno}: " if isinstance(exc, TemplateSyntaxError) else ""
    return BuildError(f"{where}template error: {exc.message}")


def sitemap_keys(changes: incremental.Changes) -> list[str]:
    """The last build's sitemap files: the same while no code came or went. Must name every
    file ``Renderer.sitemaps`` writes (the random-edit test fails if one is left out)."""
    return ["site/sitemap.xml", "site/robots.txt", *last_outputs(changes, "site/sitemaps/")]


_RENDER: tuple[Renderer, Publisher] | None = None


def _render_chunk(keys: Sequence[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Render code pages and stage their files (runs in a worker process); returns, per
    code, its path and its files as (key, hash, changed)."""
    assert _RENDER is not None
    renderer, publisher = _RENDER
    out = []
    try:
        for key in keys:
            code = renderer.site.codes[key]
            out.append((code.path, [publisher.stage(o) for o in renderer.code_page(code)]))
    except TemplateError as exc:  # jinja2's errors do not survive pickling: send ours
        raise template_error(exc) from None
    return out


def render_codes(
    todo: list[tuple[str, str]],
    renderer: Renderer,
    publisher: Publisher,
    snapshot: incremental.Snapshot,
    options: BuildOptions,
) -> None:
    """Render code pages, split over processes when there are many."""
    global _RENDER
    _RENDER = (renderer, publisher)
    try:
        jobs = parallel.workers(options.jobs, len(todo))
        prepare = None
        if jobs > 1 and not os.path.isdir(os.path.join(publisher.out, "site")):

            def prepare(keys: Sequence[tuple[str, str]]) -> None:  # a first build: all new
                publisher.prepare(k for key in keys for k in renderer.page_keys(site.codes[key]))

        site = renderer.site
        with progress(len(todo), "Rendering", options.quiet) as advance:
            for part in parallel.run_chunks(_render_chunk, todo, jobs, 250, prepare):
                for path, files in part:
                    for f in files:
                        publisher.record(*f)
                    snapshot.pages[path] = tuple(f[0] for f in files)
                if advance:
                    advance(len(part))  # type: ignore[operator]
    finally:
        _RENDER = None


def guard_out_dir(site_dir: str, out_dir: str) -> None:
    site = os.path.abspath(site_dir)
    out = os.path.abspath(out_dir)
    for inner in ("content", "layouts", "assets"):
        d = os.path.join(site, inner)
        if out == site or out == d or d.startswith(out + os.sep) or out.startswith(d + os.sep):
            raise BuildError(f"output folder {out_dir!r} would overwrite the site's own files")
