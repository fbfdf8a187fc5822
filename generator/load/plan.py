"""Plan: from what changed since the last build, the pages to render again.

- the page of a changed file;
- when a code's public face (code, kind, title, status, billable, parent) changes, appears or
  goes: its old and new parent (child lists), all its descendants (breadcrumbs), every page
  relating to it or replaced by it, and, when it appears or goes, every page whose notes
  name it (notes, bodies, sections and related-code notes link the codes that have a page);
- when what a code shows on the pages below it (notes, 7th characters) changes: its descendants;
- every page of a template whose digest changed; every page when the rest of the inputs did.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model.code import Code
from ..model.site import Site
from ..publish import Publisher
from .graph import Graph
from .loader import Changes
from .records import Key, face, shown_below


def affected(graph: Graph, old: dict[str, Code], new: dict[str, Code]) -> set[Key]:
    """Keys of the pages an edit can change. ``old``/``new``: changed files' codes by path,
    before and after (a path missing on one side was added or removed); ``graph`` as it is
    after the edit (it knows the pages that name a code that appeared or went)."""
    out: set[Key] = set()
    moved: set[Key] = set()  # keys whose public face changed, appeared or went
    appeared_or_gone: set[Key] = set()
    for path in old.keys() | new.keys():
        o, n = old.get(path), new.get(path)
        if n is not None:
            out.add(n.key)
        if o is not None and n is not None and face(o) == face(n):
            if shown_below(o) != shown_below(n):
                out.update(graph.descendants(n.key))
            continue
        for c in (o, n):
            if c is None:
                continue
            moved.add(c.key)
            if c.parent:
                out.add((c.system, c.parent))
        if o is None or n is None or o.key != n.key:
            appeared_or_gone.update(c.key for c in (o, n) if c is not None)
    for key in moved:
        out.update(graph.descendants(key))
        out.update(graph.linked.get(key, ()))
    for code in {code for _, code in appeared_or_gone}:  # a page links codes of every system
        out.update(graph.named.get(code, ()))
        for key in graph.noted.get(code, ()):  # its notes show on the pages below it
            out.update(graph.descendants(key))
    return out


def plan(site: Site, changes: Changes, publisher: Publisher, template_for: Callable[[Code], str]) -> list[Key]:
    """The pages to render; the others' outputs are carried over in ``publisher``."""
    old = changes.old
    if old is None:
        return list(site.codes)
    render = affected(changes.new.graph, changes.before, changes.after)
    if changes.lazy:  # templates are the same; every other page's files are carried over whole
        if not publisher.old:  # the manifest is gone: render every page (reading every code)
            return list(site.codes)
        todo = sorted(k for k in render if k in site.codes)
        shown = [site.codes[key].path for key in todo] + [p for p in changes.before if p not in changes.after]
        drop = {k for path in shown if path in old.files for k in old.entry(path)[1]}
        publisher.carry(drop, old.others)
        return todo
    todo = []
    stale = {t for t, d in changes.new.templates.items() if old.templates.get(t) != d}
    if stale:
        render.update(k for k, c in site.codes.items() if template_for(c) in stale)
    for key, code in site.codes.items():
        keys = old.entry(code.path)[1] if code.path in old.files else None
        if key in render or keys is None or not publisher.keep(keys):
            todo.append(key)
        else:
            changes.new.pages[code.path] = keys
    return todo
