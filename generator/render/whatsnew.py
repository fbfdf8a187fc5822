""""What's new in <release>": one page per code system and release, from the codes' ``history``
(added, revised, deleted with their replacements), linked from the system's index page."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ..model.code import Code
from ..model.urls import whatsnew_url
from ..outputs import Output
from .pages import ListItem, Renderer

ACTIONS = ("added", "revised", "deleted")


@dataclass
class Release:
    name: str
    codes: dict[str, list[Code]] = field(default_factory=lambda: {a: [] for a in ACTIONS})
    notes: dict[tuple[str, str], str] = field(default_factory=dict)  # (action, code) -> our note


def releases(codes: Iterable[Code]) -> dict[str, dict[str, Release]]:
    """system id -> release name -> what the release did, newest release first."""
    found: dict[str, dict[str, Release]] = defaultdict(dict)
    for c in codes:
        for h in c.history:
            name, action = str(h.get("release", "")), h.get("action", "")
            if not name or action not in ACTIONS:
                continue
            rel = found[c.system].setdefault(name, Release(name))
            rel.codes[action].append(c)
            if h.get("note"):
                rel.notes[(action, c.code)] = str(h["note"])
    return {sid: dict(sorted(rels.items(), key=lambda kv: kv[0], reverse=True)) for sid, rels in found.items()}


def whatsnew_pages(renderer: Renderer, found: dict[str, dict[str, Release]]) -> Iterator[Output]:
    for sid, rels in found.items():
        system = renderer.config.systems.get(sid)
        if system is None:
            continue
        for rel in rels.values():
            url = whatsnew_url(system.url_prefix, rel.name)
            links = renderer.links(url)

            def items(codes: list[Code]) -> list[ListItem]:
                return renderer.entries(sorted(codes, key=lambda c: c.code), links)  # noqa: B023

            index = renderer.site.codes
            deleted = [
                (item, renderer.entries([index[(sid, r)] for r in item.code.replaced_by if (sid, r) in index], links))
                for item in items(rel.codes["deleted"])
            ]
            yield renderer.page(
                "whatsnew.html", url, f"What's new in {system.name} {rel.name}", system=system,
                release=rel.name, added=items(rel.codes["added"]), revised=items(rel.codes["revised"]),
                deleted=deleted, notes=rel.notes,
            )
