"""The pipeline: load -> check -> render -> publish, one Site object through the stages."""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from jinja2 import TemplateError, TemplateSyntaxError

from . import search
from .check import check_site
from .config import CONFIG_PATH, SiteConfig, load_config
from .content import read_codes, read_text
from .errors import BuildError, CheckFailed, ConfigError, ContentError
from .publish import Publisher, Report
from .render import Descriptors, Output, Renderer
from .site import Site
from .urls import output_path

T = TypeVar("T")


@dataclass
class BuildOptions:
    out_dir: str | None = None
    quiet: bool = False
    file_links: bool = False
    descriptor_files: Sequence[str] = field(default_factory=tuple)  # "cpt=path/to/file.csv"


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


def check_nav(site: Site, outputs: set[str]) -> None:
    """Every navigation link in site.yaml must lead to a page of the site."""
    errors: list[ContentError] = []
    text = read_text(site.root, CONFIG_PATH)
    from . import yamlutil

    for i, (_, href) in enumerate(site.config.nav):
        if href.startswith(("http://", "https://", "mailto:")):
            continue
        if output_path(href.split("#")[0].split("?")[0]) not in outputs:
            line = yamlutil.locate(text, ("nav", i, "url")) + 1
            errors.append(ConfigError(CONFIG_PATH, line, f"nav[{i}].url", f"'{href}' is not a page of the site"))
    if errors:
        raise CheckFailed(errors)


def build(site_dir: str, options: BuildOptions | None = None) -> Report:
    options = options or BuildOptions()
    site = load_site(site_dir)
    descriptors: Descriptors = read_descriptors(options.descriptor_files, site.config)
    out_dir = options.out_dir or os.path.join(site_dir, "build")
    guard_out_dir(site_dir, out_dir)
    renderer = Renderer(site, os.path.join(site_dir, "layouts"), file_links=options.file_links, descriptors=descriptors)
    searchable = search.prepare(site)
    publisher = Publisher(out_dir)
    publisher.begin()
    try:
        codes = list(site.codes.values())
        with progress(len(codes), "Rendering", options.quiet) as advance:
            for code in codes:
                publisher.add_all(renderer.code_page(code))
                if advance:
                    advance()  # type: ignore[operator]
        publisher.add_all(renderer.system_pages())
        publisher.add_all(renderer.fixed_pages())
        publisher.add_all(renderer.sitemaps(renderer.sitemap_urls()))
        publisher.add_all(copy_assets(site_dir))
        publisher.add_all(search.client_index(site, searchable))
        check_nav(site, {k.split("/", 1)[1] for k in publisher.new if k.startswith("site/")})
    except TemplateError as exc:
        publisher.abort()
        where = f"layouts/{exc.name}:{exc.lineno}: " if isinstance(exc, TemplateSyntaxError) else ""
        raise BuildError(f"{where}template error: {exc.message}") from exc
    except BaseException:
        publisher.abort()
        raise
    report = publisher.commit()
    search.build_whoosh(searchable, search.whoosh_dir(site_dir, options.out_dir))
    return report


def guard_out_dir(site_dir: str, out_dir: str) -> None:
    site = os.path.abspath(site_dir)
    out = os.path.abspath(out_dir)
    for inner in ("content", "layouts", "assets"):
        d = os.path.join(site, inner)
        if out == site or out == d or d.startswith(out + os.sep) or out.startswith(d + os.sep):
            raise BuildError(f"output folder {out_dir!r} would overwrite the site's own files")
