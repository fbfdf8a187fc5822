"""The render stage: code pages (split over processes on large sites) and the other pages."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

from .. import parallel
from ..console import progress
from ..errors import BuildError
from ..outputs import Output
from ..publish import Publisher
from .pages import Renderer

PAGE_TEMPLATES = ("code.html", "hierarchy.html")

_RENDER: tuple[Renderer, Publisher] | None = None


def template_error(exc: TemplateError) -> BuildError:
    where = f"layouts/{exc.name}:{exc.lineno}: " if isinstance(exc, TemplateSyntaxError) else ""
    return BuildError(f"{where}template error: {exc.message}")


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
    pages: dict[str, tuple[str, ...]],
    jobs: int | None,
    quiet: bool,
) -> None:
    """Render code pages into ``publisher``, split over processes when there are many;
    ``pages`` receives each content file's output files."""
    global _RENDER
    if len(todo) >= parallel.PARALLEL_MIN:  # compiled before the workers fork, not in each
        for name in PAGE_TEMPLATES:
            with contextlib.suppress(TemplateNotFound):
                renderer.env.get_template(name)
    _RENDER = (renderer, publisher)
    site = renderer.site
    try:
        workers = parallel.workers(jobs, len(todo))
        prepare = None
        if workers > 1 and not os.path.isdir(os.path.join(publisher.out, "site")):

            def prepare(keys: Sequence[tuple[str, str]]) -> None:  # a first build: all new
                publisher.prepare(k for key in keys for k in renderer.page_keys(site.codes[key]))

        with progress(len(todo), "Rendering", quiet) as advance:
            for part in parallel.run_chunks(_render_chunk, todo, workers, 250, prepare):
                for path, files in part:
                    for f in files:
                        publisher.record(*f)
                    pages[path] = tuple(f[0] for f in files)
                if advance:
                    advance(len(part))
    finally:
        _RENDER = None


def asset_outputs(site_dir: str) -> Iterator[Output]:
    """The files of assets/, published as they are, never through a symbolic link (the check
    refuses them; this holds even for one made after it ran: linked folders are not entered,
    and a file is opened with O_NOFOLLOW, which fails on a link)."""
    root = os.path.join(site_dir, "assets")
    if os.path.islink(root):
        raise BuildError("assets: symlink: the assets folder is a symbolic link; it is not followed")
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not enter linked folders
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            try:
                fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError as exc:
                message = f"assets/{rel}: cannot read ({exc.strerror}; symbolic links are not followed)"
                raise BuildError(message) from None
            with os.fdopen(fd, "rb") as f:
                yield Output("site", f"assets/{rel}", f.read())
