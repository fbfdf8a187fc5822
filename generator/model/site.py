"""The one object that goes through the stages: config + codes + the hierarchy derived from them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from .code import Code
from .config import SiteConfig


def sort_key(code: str) -> tuple[int, str]:
    """Chapters (numbers) in numeric order, then codes and ranges in code order."""
    return (int(code), "") if code.isdigit() else (1000, code)


@dataclass
class Site:
    root: str
    config: SiteConfig
    codes: Mapping[tuple[str, str], Code]  # a dict, or read from the last build's snapshot as needed
    children: Mapping[tuple[str, str], list[Code]] = field(default_factory=dict)
    tops: Mapping[str, list[Code]] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)  # codes per system

    @classmethod
    def assemble(cls, root: str, config: SiteConfig, codes: list[Code]) -> Site:
        index = {c.key: c for c in codes}
        children: dict[tuple[str, str], list[Code]] = defaultdict(list)
        tops: dict[str, list[Code]] = {s: [] for s in config.systems}
        for c in codes:
            if c.parent and (c.system, c.parent) in index:
                children[(c.system, c.parent)].append(c)
            else:
                tops.setdefault(c.system, []).append(c)
        for lst in (*children.values(), *tops.values()):
            lst.sort(key=lambda c: sort_key(c.code))
        counts = {s: 0 for s in config.systems}
        for c in codes:
            counts[c.system] = counts.get(c.system, 0) + 1
        return cls(root, config, index, dict(children), tops, counts)

    def get(self, system: str, code: str) -> Code | None:
        return self.codes.get((system, code))

    def ancestors(self, code: Code) -> list[Code]:
        """From the top of the hierarchy down to the code's parent."""
        chain: list[Code] = []
        seen = {code.key}
        cur = code
        while cur.parent:
            p = self.codes.get((cur.system, cur.parent))
            if p is None or p.key in seen:
                break
            chain.append(p)
            seen.add(p.key)
            cur = p
        return chain[::-1]
