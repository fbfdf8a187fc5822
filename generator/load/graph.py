"""Who shows whom, by key: the hierarchy and the links between pages.

Enough to find the pages an edit changes, and to render them, without loading every code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..mentions import all_mentions, mentioned_codes
from ..model.code import Code
from ..model.site import Site, sort_key
from .records import Key

Mentions = dict[str, tuple[Key, ...]]  # a code (of any system) -> the pages that name it


@dataclass
class Graph:
    """Who shows whom, by key: enough to find the pages an edit changes, and to render them,
    without loading every code. ``Site.assemble`` makes the same lists from all the codes."""

    children: dict[Key, tuple[Key, ...]] = field(default_factory=dict)
    tops: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    linked: dict[Key, tuple[Key, ...]] = field(default_factory=dict)  # key -> pages that link it
    # pages whose text names a code (linked while it has a page: a code that comes or goes
    # changes them), and those of them whose notes name it (their notes show on the pages below)
    named: Mentions = field(default_factory=dict)
    noted: Mentions = field(default_factory=dict)

    @classmethod
    def of(cls, site: Site) -> Graph:
        linked: dict[Key, set[Key]] = {}
        named: dict[str, set[Key]] = {}
        noted: dict[str, set[Key]] = {}
        for c in site.codes.values():
            if not (c.related or c.replaced_by or c.notes or c.seventh_notes or c.body or c.sections):
                continue  # most codes: nothing to look at (a fifth of the graph's time went here)
            for t in link_targets(c):
                linked.setdefault(t, set()).add(c.key)
            for code in page_targets(c):
                named.setdefault(code, set()).add(c.key)
            for code in note_targets(c):
                noted.setdefault(code, set()).add(c.key)
        return cls(
            {k: tuple(c.key for c in kids) for k, kids in site.children.items()},
            {s: tuple(c.key for c in top) for s, top in site.tops.items()},
            {k: tuple(sorted(v)) for k, v in linked.items()},
            {k: tuple(sorted(v)) for k, v in named.items()},
            {k: tuple(sorted(v)) for k, v in noted.items()},
        )

    def edited(self, before: Mapping[str, Code], after: Mapping[str, Code]) -> Graph:
        """The graph after an edit (parents, links, mentions and order updated); ``before``
        and ``after``: the changed files' codes by path (a path on one side only: a code that
        went or came)."""
        pairs = [(before.get(p), after.get(p)) for p in sorted(before.keys() | after.keys())]
        moved = [(b, a) for b, a in pairs if b is None or a is None or shape(b) != shape(a)]
        if not moved:
            return self
        gone, came = [b for b, _ in moved if b is not None], [a for _, a in moved if a is not None]
        children, tops = dict(self.children), dict(self.tops)
        linked: dict[Any, tuple[Key, ...]] = dict(self.linked)
        named: dict[Any, tuple[Key, ...]] = dict(self.named)
        noted: dict[Any, tuple[Key, ...]] = dict(self.noted)

        def under(c: Code) -> tuple[dict[Any, tuple[Key, ...]], Any]:
            return (children, (c.system, c.parent)) if c.parent else (tops, c.system)

        for c in gone:
            lists, at = under(c)
            lists[at] = tuple(k for k in lists.get(at, ()) if k != c.key)
            if not lists[at] and lists is children:
                del lists[at]
            for index, targets in ((linked, link_targets(c)), (named, page_targets(c)), (noted, note_targets(c))):
                for t in targets:
                    index[t] = tuple(k for k in index.get(t, ()) if k != c.key)
                    if not index[t]:
                        del index[t]
        for c in came:
            lists, at = under(c)
            lists[at] = tuple(sorted((*lists.get(at, ()), c.key), key=lambda k: sort_key(k[1])))
            for index, targets in ((linked, link_targets(c)), (named, page_targets(c)), (noted, note_targets(c))):
                for t in targets:
                    index[t] = tuple(sorted({*index.get(t, ()), c.key}))
        return Graph(children, tops, linked, named, noted)

    def descendants(self, key: Key) -> Iterator[Key]:
        stack = list(self.children.get(key, ()))
        while stack:
            k = stack.pop()
            yield k
            stack.extend(self.children.get(k, ()))

    def dump(self) -> tuple[Any, ...]:
        return (self.children, self.tops, self.linked, self.named, self.noted)


def link_targets(c: Code) -> set[Key]:
    """The codes a page shows by name and title besides its parent and children."""
    out = {(r.system or c.system, r.code) for r in c.related}
    out.update((c.system, r) for r in c.replaced_by)
    return out


def shape(c: Code) -> tuple[Any, ...]:
    """What of a code the graph holds."""
    return (c.parent, link_targets(c), page_targets(c), note_targets(c))


def note_targets(c: Code) -> set[str]:
    """The codes a page's notes name (and link, when they have a page)."""
    return {code for notes in c.notes.values() for n in notes for code in mentioned_codes(n)}


def page_targets(c: Code) -> set[str]:
    """Every code a page links when it has a page: named in its notes, 7th-character notes,
    body, sections or related-code notes."""
    texts = [n for notes in c.notes.values() for n in notes]
    texts += [n for notes in c.seventh_notes.values() for n in notes]
    texts += [c.body, *(s.body for s in c.sections), *(r.note for r in c.related if r.note)]
    return {m.group(1) for t in texts for m in all_mentions(t)}
