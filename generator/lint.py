"""Warnings: what makes a page worse without breaking the build (``codesite check --strict``).

Pure: codes in, warnings out (``source`` re-reads a file only to find a warning's line).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from . import load  # noqa: F401 - load imports check (a cycle): load first
from .check import Checker, Source
from .errors import ContentWarning
from .mentions import mentions
from .messages import M
from .model.code import Code
from .model.config import SiteConfig
from .model.schema import Path

Key = tuple[str, str]

# text past these lengths is cut off in lists, search results and the page's <title>
LIMITS = {"title": 200, "synonym": 60, "section title": 80, "description": 4000}


class Linter:
    def __init__(
        self, config: SiteConfig, codes: Iterable[Code], source: Source, reported: frozenset[Key] = frozenset()
    ) -> None:
        self.config = config
        self.reported = reported  # files with errors: a note naming one is not warned about
        self.codes = list(codes)
        self.index: dict[Key, Code] = {c.key: c for c in self.codes}
        self.locator = Checker(config, [], source)
        self.found: list[ContentWarning] = []

    def warn(self, c: Code, path: Path, field: str, message: str) -> None:
        line, col = self.locator.mark(c, path)
        self.found.append(ContentWarning(c.path, line, field, message, col))

    def run(self) -> list[ContentWarning]:
        for c in self.codes:
            self.description(c)
            self.lengths(c)
            self.notes(c)
        self.synonyms()
        return sorted(set(self.found), key=lambda e: (e.path, e.line, e.field, e.message))

    def description(self, c: Code) -> None:
        if c.body.strip() or c.status == "deleted" or c.is_range:
            return
        gated = [i for i, s in enumerate(c.sections) if s.gated]
        if gated and all(s.gated for s in c.sections):
            i = gated[0]
            self.warn(c, ("sections", i), f"sections[{i}]", M.NO_TEASER.format(id=c.sections[i].id))
        else:
            line = max(c.body_line - 1, 1)  # the closing '---': the description goes below it
            self.found.append(ContentWarning(c.path, line, "body", M.NO_DESCRIPTION.text))

    def lengths(self, c: Code) -> None:
        def over(path: Path, field: str, what: str, text: str | None, limit: int) -> None:
            if text is not None and len(text) > limit:
                self.warn(c, path, field, M.TOO_LONG.format(what=what, length=len(text), limit=limit))

        over(("title",), "title", "the title", c.title, LIMITS["title"])
        for i, s in enumerate(c.synonyms):
            over(("synonyms", i), f"synonyms[{i}]", "the synonym", s, LIMITS["synonym"])
        for i, sec in enumerate(c.sections):
            over(("sections", i, "title"), f"sections[{i}].title", "the section title", sec.title,
                 LIMITS["section title"])
        if len(c.body) > LIMITS["description"]:
            message = M.TOO_LONG.format(what="the description", length=len(c.body), limit=LIMITS["description"])
            self.found.append(ContentWarning(c.path, c.body_line, "body", message))

    def notes(self, c: Code) -> None:
        system = self.config.systems.get(c.system)
        if system is None:
            return
        for kind, notes in c.notes.items():
            for i, note in enumerate(notes):
                for m in mentions(note):
                    code = m.group(1)
                    named = any(ch.isdigit() for ch in code) and system.pattern.fullmatch(code)
                    key = (c.system, code)
                    if named and key not in self.index and key not in self.reported:  # (not "NOS": no digit)
                        message = M.NOTE_TARGET.format(code=code, system=c.system)
                        self.warn(c, ("notes", kind, i), f"notes.{kind}[{i}]", message)

    def synonyms(self) -> None:
        claims: dict[str, list[tuple[Code, int]]] = defaultdict(list)
        for c in self.codes:
            for i, s in enumerate(c.synonyms):
                claims[" ".join(s.lower().split())].append((c, i))
        for phrase, owners in claims.items():
            for c, i in owners:
                other = next((o for o, _ in owners if o is not c and not self.kin(c, o)), None)
                if other is not None:
                    message = M.SHARED_SYNONYM.format(synonym=phrase, other=f"{other.system} {other.code}")
                    self.warn(c, ("synonyms", i), f"synonyms[{i}]", message)

    def kin(self, a: Code, b: Code) -> bool:
        """Whether two codes are one's ancestor of the other, or related either way."""
        if any((r.system or a.system, r.code) == b.key for r in a.related):
            return True
        if any((r.system or b.system, r.code) == a.key for r in b.related):
            return True
        return self.ancestor(a, b) or self.ancestor(b, a)

    def ancestor(self, a: Code, b: Code) -> bool:
        seen: set[Key] = set()
        cur: Code | None = b
        while cur is not None and cur.parent and cur.key not in seen:
            seen.add(cur.key)
            if (cur.system, cur.parent) == a.key:
                return True
            cur = self.index.get((cur.system, cur.parent))
        return False


def lint(
    config: SiteConfig, codes: Iterable[Code] | Mapping[Key, Code], source: Source,
    reported: frozenset[Key] = frozenset(),
) -> list[ContentWarning]:
    """Every warning about the site's codes, sorted by file and line. ``reported``: the keys the
    names of files with errors give (``key_of``): a note naming one of them is not warned about."""
    values = codes.values() if isinstance(codes, Mapping) else codes
    return Linter(config, values, source, reported).run()
