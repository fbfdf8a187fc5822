"""The render stage: code pages (split over processes on large sites) and the other pages."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

from jinja2 import TemplateError, TemplateNotFound, TemplateSyntaxError

from .. import parallel
from ..console import progress
from ..errors import BuildError
from ..publish import Publisher
from .pages import Renderer

PAGE_TEMPLATES = ("code.html", "hierarchy.html")

_RENDER: tuple[Renderer, Publisher, bool] | None = None  # and: in workers


def template_error(exc: TemplateError) -> BuildError:
    where = f"layouts/{exc.name}:{exc.lineno}: " if isinstance(exc, TemplateSyntaxError) else ""
    return BuildError(f"{where}template error: {exc.message}")


def _render_chunk(keys: Sequence[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    """Render code pages and stage their files (runs in a worker process); returns, per
    code, its path and its files as (key, hash, changed)."""
    assert _RENDER is not None
    renderer, publisher, workers = _RENDER
    out = []
    try:
        for key in keys:
            code = renderer.site.codes[key]
            out.append((code.path, [publisher.stage(o) for o in renderer.code_page(code)]))
    except TemplateError as exc:  # jinja2's errors do not survive pickling: send ours
        raise template_error(exc) from None
    if workers:
        # what pages share, kept for the next chunk, held 60 MB in each worker by the end of
        # the 98k-code set: in the dev server, 120 MB of its peak (a layout change)
        renderer.forget()
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
    site = renderer.site
    workers = parallel.workers(jobs, len(todo))
    _RENDER = (renderer, publisher, workers > 1)
    try:
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
