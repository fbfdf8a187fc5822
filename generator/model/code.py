"""The content model: a code page's data as frozen objects, made only by ``load.parse``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Key = tuple[str, str]  # (system, code): a code's identity across the site

@dataclass(frozen=True, slots=True)
class Section:
    id: str
    title: str
    gated: bool
    body: str


@dataclass(frozen=True, slots=True)
class Related:
    code: str
    relation: str
    system: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    system: str
    title: str | None
    kind: str
    parent: str | None
    billable: bool
    status: str
    replaced_by: tuple[str, ...]
    history: tuple[dict[str, str], ...]
    synonyms: tuple[str, ...]
    notes: dict[str, tuple[str, ...]]
    seventh_characters: dict[str, str]
    related: tuple[Related, ...]
    sections: tuple[Section, ...]
    body: str
    path: str
    body_line: int = 1
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)
    # a 7th character's own notes in the tabular file (H34.81's "2 stable": "Old central retinal
    # vein occlusion"), by character; last so that records without it still load
    seventh_notes: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.system, self.code)

    @property
    def is_range(self) -> bool:
        return self.kind in ("chapter", "block")

    @property
    def gated_sections(self) -> tuple[Section, ...]:
        return tuple(s for s in self.sections if s.gated)


_MARKUP = re.compile(r"\[([^\]]*)\]\([^)]*\)|[*_`#>]")


def summary(body: str, limit: int = 110) -> str:
    """The first sentence of a plain-language body as plain text, cut at a word near ``limit``:
    what a list shows of a code whose official descriptor is licensed text not in the build."""
    text = " ".join(_MARKUP.sub(lambda m: m.group(1) or "", body.strip().split("\n\n", 1)[0]).split())
    end = text.find(". ")
    if end != -1:
        text = text[: end + 1]
    if len(text) > limit:
        text = text[: text.rfind(" ", 0, limit)].rstrip(",;:") + "…"
    return text
