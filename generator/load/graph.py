"""Who shows whom, by key: the hierarchy and the links between pages.

Enough to find the pages an edit changes, and to render them, without loading every code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..model.code import Code
from ..model.site import Site, sort_key
from .records import Key


@dataclass
class Graph:
    """Who shows whom, by key: enough to find the pages an edit changes, and to render them,
    without loading every code. ``Site.assemble`` makes the same lists from all the codes."""

    children: dict[Key, tuple[Key, ...]] = field(default_factory=dict)
    tops: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    linked: dict[Key, tuple[Key, ...]] = field(default_factory=dict)  # key -> pages that link it

    @classmethod
    def of(cls, site: Site) -> Graph:
        linked: dict[Key, set[Key]] = {}
        for c in site.codes.values():
            for t in link_targets(c):
                linked.setdefault(t, set()).add(c.key)
        return cls(
            {k: tuple(c.key for c in kids) for k, kids in site.children.items()},
            {s: tuple(c.key for c in top) for s, top in site.tops.items()},
            {k: tuple(sorted(v)) for k, v in linked.items()},
        )

    def edited(self, before: Iterable[Code], after: Iterable[Code]) -> Graph:
        """The graph after edits that keep every key (parents, links and order updated);
        ``before`` and ``after``: the same files' codes, in the same order."""
        moved = [
            (b, a)
            for b, a in zip(before, after, strict=True)
            if (b.parent, link_targets(b)) != (a.parent, link_targets(a))
        ]
        if not moved:
            return self
        before, after = [b for b, _ in moved], [a for _, a in moved]
        children, tops, linked = dict(self.children), dict(self.tops), dict(self.linked)

        def under(c: Code) -> tuple[dict[Any, tuple[Key, ...]], Any]:
            return (children, (c.system, c.parent)) if c.parent else (tops, c.system)

        for c in before:
            lists, at = under(c)
            lists[at] = tuple(k for k in lists.get(at, ()) if k != c.key)
            if not lists[at] and lists is children:
                del lists[at]
            for t in link_targets(c):
                linked[t] = tuple(k for k in linked.get(t, ()) if k != c.key)
                if not linked[t]:
                    del linked[t]
        for c in after:
            lists, at = under(c)
            lists[at] = tuple(sorted((*lists.get(at, ()), c.key), key=lambda k: sort_key(k[1])))
            for t in link_targets(c):
                linked[t] = tuple(sorted({*linked.get(t, ()), c.key}))
        return Graph(children, tops, linked)

    def descendants(self, key: Key) -> Iterator[Key]:
        stack = list(self.children.get(key, ()))
        while stack:
            k = stack.pop()
            yield k
            stack.extend(self.children.get(k, ()))

    def dump(self) -> tuple[Any, ...]:
        return (self.children, self.tops, self.linked)


def link_targets(c: Code) -> set[Key]:
    """The codes a page shows by name and title besides its parent and children."""
    out = {(r.system or c.system, r.code) for r in c.related}
    out.update((c.system, r) for r in c.replaced_by)
    return out
