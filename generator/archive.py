"""The offline archive: the whole site in one deterministic zip that works from ``file://``.

The site is built for reading from disk by the usual pipeline (``BuildOptions(file_links=True,
offline=True)``: links end in ``index.html``; no meter banner, account links or crawler
metadata; each gated section holds a "full edition" teaser) into a folder of its own, so the
next archive re-renders only what changed. ``write_archive`` then streams that build into the
zip, one entry at a time, in sorted order, with a fixed timestamp (the build date) and
permissions: the same content and date give the same bytes.

Editions: ``full`` fills each gate from ``private/`` with the edge's own ``fill_gates`` (the
page contract's markers are not written twice); ``public`` ships the teasers, so not one gated
sentence. Left out: the account pages, the 404 page (it is for a web server), the sitemaps
and robots.txt (for crawlers; their URLs are absolute).
"""

from __future__ import annotations

import datetime
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from jinja2 import TemplateError

from edge.contract import GATE_OPEN
from edge.pages import fill_gates

from . import parallel
from .build import BuildOptions, build
from .errors import BuildError
from .load import load_config
from .load.snapshot import Snapshot
from .model.code import Code
from .model.config import SiteConfig, System
from .model.site import Site
from .model.urls import output_path
from .outputs import DAMAGED, read_dict
from .publish import MANIFEST, Report
from .render.assets import asset_names
from .render.pages import Renderer
from .render.stage import template_error
from .zipwriter import Entry, ZipWriter, deflate

EDITIONS = ("full", "public")
ABOUT_URL = "/about-this-archive/"
ABOUT_FILE = output_path(ABOUT_URL)
TEMPLATE = "archive.html"
LEFT_OUT = ("account/", "api/", "404.html", "robots.txt", "sitemap.xml", "sitemaps/")
MODE = 0o100644  # a regular file, rw-r--r--
LEVEL = 6  # zlib's default: on these pages 9 is 0.1% smaller, 1 is 6% larger (and a quarter faster)
CHUNK = 250  # entries a worker makes at a time
GATE_MARK = GATE_OPEN.split("{", 1)[0].encode()  # a quick test before decoding a page (most have none)
INDENT = re.compile(rb"\n\s+")
VERBATIM = re.compile(rb"<(?:pre|textarea|script|style)\b(?![^>]*\bsrc=)", re.I)
KEEP = re.compile(rb"(<(pre|textarea|script|style)\b.*?</\2\s*>)|\n\s+", re.S | re.I)


def archive_build_dir(site_dir: str) -> str:
    """Where ``codesite archive`` builds by default: kept, so the next archive is incremental."""
    return os.path.join(site_dir, "build", "archive")


def build_for_archive(
    site_dir: str, build_dir: str, *, quiet: bool = True, jobs: int | None = None,
    descriptor_files: Sequence[str] = (),
) -> Report:
    """The site rendered for the archive, by the usual pipeline (check first, incremental)."""
    return build(site_dir, BuildOptions(out_dir=build_dir, quiet=quiet, file_links=True, offline=True,
                                        jobs=jobs, descriptor_files=descriptor_files, search=True))


# --- naming and versions ---------------------------------------------------------------------


def release_key(release: str) -> tuple[tuple[int, int | str], ...]:
    """Releases compare by their numbers: "2026.10" is newer than "2026.2"."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[^\d\W_]+", release))


def newest_releases(codes: Iterable[Code]) -> dict[str, str]:
    """The newest ``history`` release of each code system."""
    out: dict[str, str] = {}
    for c in codes:
        for h in c.history:
            r = str(h.get("release", ""))
            if r and (c.system not in out or release_key(r) > release_key(out[c.system])):
                out[c.system] = r
    return out


def system_releases(
    config: SiteConfig, counts: Mapping[str, int], codes: Callable[[], Iterable[Code]]
) -> dict[str, str]:
    """Each code system's release: its ``release`` in site.yaml, else the newest release its
    codes' ``history`` names (a first import records none: set ``release``). The codes are
    read only when a system with pages has no ``release``."""
    out = {sid: s.release for sid, s in config.systems.items() if s.release}
    if any(counts.get(sid) and sid not in out for sid in config.systems):
        out = {**newest_releases(codes()), **out}
    return out


def content_version(releases: Mapping[str, str], counts: Mapping[str, int]) -> str:
    """The newest release of the code systems with pages (e.g. "2026"); "unreleased" without one."""
    found = [r for sid, r in releases.items() if r and counts.get(sid)]
    return max(found, key=release_key) if found else "unreleased"


def slug(text: str) -> str:
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "site"


def archive_name(config: SiteConfig, counts: Mapping[str, int], version: str, edition: str) -> str:
    """site, the code systems with pages, content version, edition: codesite-icd10cm-2026-full."""
    systems = [sid for sid in config.systems if counts.get(sid)]
    return "-".join(slug(p) for p in (config.name, *systems, version, edition))


def build_date(given: str | None = None, environ: Mapping[str, str] = os.environ) -> datetime.date:
    """``--date``, else SOURCE_DATE_EPOCH (reproducible builds), else today (UTC)."""
    if given:
        try:
            return datetime.date.fromisoformat(given)
        except ValueError:
            raise BuildError(f"--date: {given!r} is not a date (YYYY-MM-DD)") from None
    epoch = environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), datetime.UTC).date()
        except (ValueError, OverflowError, OSError):
            raise BuildError(f"SOURCE_DATE_EPOCH: {epoch!r} is not a number of seconds") from None
    return datetime.datetime.now(datetime.UTC).date()


# --- the entries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class About:
    """What the "About this archive" page says."""

    edition: str
    version: str
    date: str
    pages: int
    systems: list[tuple[System, str, int]]  # each system with its newest release and its pages
    licensed: list[str]  # names of the systems whose official descriptors are licensed text


def public_files(build_dir: str) -> list[str]:
    """The built public files that go into the archive, sorted (paths relative to ``site/``):
    those the build's manifest names (it wrote them; listing 98k page folders instead costs
    seconds)."""
    path = os.path.join(build_dir, MANIFEST)
    try:
        manifest = read_dict(path)
    except DAMAGED:
        raise BuildError(f"{path}: the build's list of files is missing or damaged (build again)") from None
    return sorted(k[5:] for k in manifest if k.startswith("site/") and not k[5:].startswith(LEFT_OUT))


def with_gates(html: bytes, private_dir: str, rel: str) -> bytes:
    """A page of the full edition: each gate filled with its fragment (a missing one is an error:
    the full edition is whole or not made)."""
    if GATE_MARK not in html:
        return html
    base = posixpath.dirname(rel)

    def fragment(gid: str) -> str:
        path = os.path.join(private_dir, *base.split("/"), gid + ".html")
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except OSError as exc:
            raise BuildError(f"{path}: gated section missing from the build ({exc.strerror})") from None

    return fill_gates(html.decode("utf-8"), fragment).encode("utf-8")


def squeeze(html: bytes) -> bytes:
    """A page without the indentation and blank lines of its templates (one newline stays, so
    it renders the same), but for what is shown or run verbatim: pre, textarea, inline scripts
    and styles. About 5% off the zip."""
    if VERBATIM.search(html) is None:
        return INDENT.sub(b"\n", html)
    return KEEP.sub(lambda m: m.group(1) or b"\n", html)


def entry_maker(build_dir: str, edition: str, about: bytes) -> Callable[[Sequence[str]], list[Entry]]:
    """What makes entries from their names: each file read, (in the full edition) filled,
    squeezed and deflated; the About page from its bytes."""
    site_root = os.path.join(build_dir, "site")
    private_dir = os.path.join(build_dir, "private")

    def make(names: Sequence[str]) -> list[Entry]:
        out = []
        for rel in names:
            if rel == ABOUT_FILE:
                data = about
            else:
                with open(os.path.join(site_root, *rel.split("/")), "rb") as f:
                    data = f.read()
                if edition == "full" and rel.endswith(".html"):
                    data = with_gates(data, private_dir, rel)
            out.append(deflate(rel, squeeze(data) if rel.endswith(".html") else data, LEVEL))
        return out

    return make


def entries(
    build_dir: str, files: list[str], edition: str, about: bytes, jobs: int | None = None
) -> Iterator[Entry]:
    """The zip's entries in name order, made in chunks by forked workers (one per core on a
    large site), a few chunks ahead of the writer; each file is read once and never kept."""
    names = sorted({*files, ABOUT_FILE})
    make = entry_maker(build_dir, edition, about)
    for part in parallel.run_chunks(make, names, parallel.workers(jobs, len(names)), CHUNK, ordered=True):
        yield from part


# --- the zip ---------------------------------------------------------------------------------


def render_about(site_dir: str, config: SiteConfig, counts: Mapping[str, int], about: About) -> bytes:
    site = Site(site_dir, config, {}, {}, {}, dict(counts))
    renderer = Renderer(site, os.path.join(site_dir, "layouts"), file_links=True, offline=True,
                        assets=asset_names(site_dir))
    if not os.path.isfile(os.path.join(site_dir, "layouts", TEMPLATE)):
        raise BuildError(f"layouts/{TEMPLATE}: missing (the archive's About page)")
    try:
        return renderer.page(TEMPLATE, ABOUT_URL, f"About this archive - {config.name}", archive=about).data
    except TemplateError as exc:
        raise template_error(exc) from exc


def write_archive(
    site_dir: str, build_dir: str, dist_dir: str, edition: str = "full", date: datetime.date | None = None,
    jobs: int | None = None,
) -> str:
    """Stream the offline build in ``build_dir`` into DIST/<name>.zip; returns its path.

    ``index.html`` is at the top of the zip (no folder around the site: 5% of the zip would be
    that folder's name, twice per entry). Written to a temporary name and renamed: nothing
    half-written is left under the final name.
    """
    if edition not in EDITIONS:
        raise BuildError(f"edition must be one of {', '.join(EDITIONS)}, not {edition!r}")
    config = load_config(site_dir)
    snapshot = Snapshot.read(build_dir)
    site_root = os.path.join(build_dir, "site")
    home = os.path.join(site_root, "index.html")
    if snapshot is None or not os.path.isfile(home):
        raise BuildError(f"{build_dir}: no finished build to archive")
    with open(home, "rb") as f:
        if ABOUT_FILE.encode() not in f.read():
            raise BuildError(f"{build_dir}: not an offline build (build it with codesite archive)")
    releases = system_releases(config, snapshot.counts, snapshot.codes)
    version = content_version(releases, snapshot.counts)
    day = date or build_date()
    files = public_files(build_dir)
    about = About(
        edition=edition,
        version=version,
        date=day.isoformat(),
        pages=sum(1 for f in files if f.endswith("index.html")) + 1,
        systems=[(s, releases.get(sid, ""), snapshot.counts.get(sid, 0)) for sid, s in config.systems.items()],
        licensed=[s.name for s in config.systems.values() if s.licensed_descriptors and snapshot.counts.get(s.id)],
    )
    page = render_about(site_dir, config, snapshot.counts, about)
    name = archive_name(config, snapshot.counts, version, edition)
    os.makedirs(dist_dir, exist_ok=True)
    path = os.path.join(dist_dir, name + ".zip")
    tmp = path + ".partial"
    stamp = (max(day.year, 1980), day.month, day.day, 0, 0, 0)  # zip dates start in 1980
    try:
        with open(tmp, "wb") as out:
            zf = ZipWriter(out, stamp, MODE)
            for entry in entries(build_dir, files, edition, page, jobs):
                zf.add(entry)
            zf.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path
