"""Check: validate every code against its system and the whole site; collect every problem."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from jinja2 import Environment, FileSystemLoader, TemplateSyntaxError

from . import yamlutil
from .errors import ContentError
from .load.parse import split_front_matter
from .model.code import Code
from .model.config import SiteConfig
from .model.markup_rules import unsafe_markup
from .model.schema import Path
from .model.urls import FIXED_PAGES, OTHER_FILES, key_of, split_code_url, split_whatsnew_url

IDENTITY = ("code", "system", "file")  # the fields that say which code a file is, and where
RESERVED = {"search", "account", "assets", "search-index", "sitemaps", "404"}

Source = Callable[[str], str]
Key = tuple[str, str]


class Checker:
    def __init__(
        self, config: SiteConfig, codes: list[Code], source: Source, reported: frozenset[Key] = frozenset()
    ) -> None:
        self.config = config
        # the keys the names of already reported files give: links to them are not blamed
        self.reported = reported
        self.codes = codes
        self.source = source
        self.errors: list[ContentError] = []
        self._front: dict[str, str] = {}
        self._rooted: set[tuple[str, str]] = set()  # parent chains known to end without a loop

    def mark(self, code: Code, path: Path) -> tuple[int, int]:
        """File line and column of a field; re-reads the file, which only happens on errors."""
        if len(path) == 1 and isinstance(path[0], str) and path[0] in code.lines:
            return code.lines[path[0]], 1
        if code.path not in self._front:
            try:
                self._front[code.path] = split_front_matter(self.source(code.path), code.path)[0]
            except (OSError, ContentError):
                self._front[code.path] = ""
        line, col = yamlutil.locate_mark(self._front[code.path], path)
        return line + 2, col + 1

    def err(self, code: Code, path: Path, field: str, message: str) -> None:
        line, col = self.mark(code, path)
        self.errors.append(ContentError(code.path, line, field, message, col))

    def missing(self, key: Key, index: Mapping[Key, Code]) -> bool:
        return key not in index and key not in self.reported

    def run(self) -> list[ContentError]:
        """Every problem, without knock-on errors: a file already reported does not make others
        report a link to it (a child is not told its parent "does not exist" because the parent's
        file has a code that does not match its name), and a file whose code, system or place is
        wrong is not also called a duplicate (the sound file keeps the code)."""
        index: dict[tuple[str, str], Code] = {}
        folded: dict[tuple[str, str], Code] = {}
        for c in self.codes:
            self.check_one(c)
        unsound = {e.path for e in self.errors if e.field in IDENTITY}
        ordered = sorted(self.codes, key=lambda c: c.path in unsound) if unsound else self.codes
        for c in ordered:  # the sound files first: a duplicate is called so on the unsound one
            key = (c.system, c.code.upper())
            if key not in folded:
                folded[key] = c
                index[c.key] = c
            elif c.path not in unsound:
                self.err(c, ("code",), "code", f"duplicate code '{c.code}' (also in {folded[key].path})")
        self.reported = self.reported | {key_of(e.path) for e in self.errors}
        for c in self.codes:
            self.check_links(c, index)
        return sorted(set(self.errors), key=lambda e: (e.path, e.line, e.field, e.message))

    def check_one(self, c: Code) -> None:
        system = self.config.systems.get(c.system)
        rest, _, name = c.path.rpartition("/")  # content paths use '/' on every platform
        folder = rest.rpartition("/")[2]
        stem = name[: -len(".md")]
        if c.path.count("/") != 3:  # the snapshot finds a code's file from its key
            message = "content files go in content/codes/<system>/, not deeper"
            self.errors.append(ContentError(c.path, 1, "file", message))
        if system is None:
            known = ", ".join(self.config.systems)
            self.err(c, ("system",), "system", f"unknown system '{c.system}' (known: {known})")
        else:
            if folder != c.system:
                self.err(c, ("system",), "system", f"file is in folder '{folder}' but system is '{c.system}'")
            if not system.pattern.fullmatch(c.code):
                self.err(
                    c, ("code",), "code",
                    f"'{c.code}' does not match the {c.system} code pattern {system.pattern.pattern}",
                )
            if c.title is None and not system.licensed_descriptors:
                line = c.lines.get("title", 1)  # an empty "title:" line, as codesite new writes it
                self.errors.append(ContentError(c.path, line, "title", "required field is missing"))
        if stem != c.code:
            self.err(c, ("code",), "code", f"file name '{stem}.md' does not match code '{c.code}'")
        if c.code.lower() in RESERVED:
            self.err(c, ("code",), "code", f"'{c.code}' is a reserved URL segment")
        if c.replaced_by and c.status != "deleted":
            self.err(c, ("replaced_by",), "replaced_by", "only deleted codes are replaced (set status: deleted)")
        seen: set[str] = set()
        for i, s in enumerate(c.sections):
            if s.id in seen:
                self.err(c, ("sections", i, "id"), f"sections[{i}].id", f"duplicate section id '{s.id}'")
            seen.add(s.id)
            for _line, msg in unsafe_markup(s.body):
                self.err(c, ("sections", i, "body"), f"sections[{i}].body", msg)
        for line, msg in unsafe_markup(c.body):
            self.errors.append(ContentError(c.path, c.body_line + line, "body", msg))

    def check_links(self, c: Code, index: Mapping[tuple[str, str], Code]) -> None:
        if c.system not in self.config.systems:  # reported: its links cannot be looked up in it
            self.check_related(c, index)
            return
        if c.parent is not None:
            if self.missing((c.system, c.parent), index):
                self.err(c, ("parent",), "parent", f"parent '{c.parent}' does not exist in {c.system}")
            elif c.parent == c.code or self.loops(c, index):
                self.err(c, ("parent",), "parent", f"parent chain of '{c.code}' loops back to itself")
        self.check_related(c, index)
        for i, code in enumerate(c.replaced_by):
            if self.missing((c.system, code), index):
                self.err(
                    c, ("replaced_by", i), f"replaced_by[{i}]", f"replacement '{code}' does not exist in {c.system}"
                )

    def check_related(self, c: Code, index: Mapping[tuple[str, str], Code]) -> None:
        for i, r in enumerate(c.related):
            system = r.system or c.system
            if r.system is None and c.system not in self.config.systems:
                continue  # the code's own system is reported unknown
            if system not in self.config.systems:
                self.err(c, ("related", i, "system"), f"related[{i}].system", f"unknown system '{system}'")
            elif self.missing((system, r.code), index):
                self.err(
                    c, ("related", i, "code"), f"related[{i}].code",
                    f"related code '{r.code}' does not exist in {system}",
                )

    def loops(self, c: Code, index: Mapping[tuple[str, str], Code]) -> bool:
        """Whether the parent chain of ``c`` comes back to ``c``. Chains found to end are
        remembered, so checking every code walks each link about once."""
        seen = {c.key}
        cur: Code | None = c
        while cur is not None and cur.parent:
            key = (cur.system, cur.parent)
            if key in seen:
                return key == c.key
            if key in self._rooted:
                break
            seen.add(key)
            cur = index.get(key)
        self._rooted |= seen
        return False


def check_site(
    config: SiteConfig, codes: list[Code], source: Source, reported: frozenset[Key] = frozenset()
) -> list[ContentError]:
    """Every problem in the site, sorted by file and line. ``source(path)`` re-reads a file;
    ``reported``: the keys (``key_of``) of files already reported, e.g. those that could not
    be parsed: links to them are not blamed (no knock-on errors)."""
    return Checker(config, codes, source, reported).run()


def check_changed(
    config: SiteConfig, index: Mapping[tuple[str, str], Code], changed: list[Code], source: Source
) -> list[ContentError]:
    """Check what an edit can break when the last build's files all passed and no code came
    or went: the changed codes themselves and their links (a new parent loop must pass
    through a changed code). On any error the caller runs ``check_site`` for the full report."""
    checker = Checker(config, [], source)
    for c in changed:
        checker.check_one(c)
        checker.check_links(c, index)
    return checker.errors


LINK_SCHEMES = ("http://", "https://", "mailto:")


def is_site_page(url: str, config: SiteConfig, codes: Mapping[tuple[str, str], Code], site_dir: str) -> bool:
    """Whether the build makes a page (or file) at ``url``, known before anything renders."""
    path = url.split("#")[0].split("?")[0]
    if path in FIXED_PAGES or path in OTHER_FILES:
        return True
    prefixes = {s.url_prefix: sid for sid, s in config.systems.items()}
    if path.startswith("/") and path.endswith("/") and path.strip("/") in prefixes:
        return True
    news = split_whatsnew_url(path)
    if news is not None and news[0] in prefixes:
        return has_release(codes, prefixes[news[0]], news[1])
    code_page = split_code_url(path)
    if code_page is not None and code_page[0] in prefixes:
        return (prefixes[code_page[0]], code_page[1]) in codes
    if path.startswith("/assets/"):
        rel = path[len("/assets/") :]
        return ".." not in rel.split("/") and os.path.isfile(os.path.join(site_dir, "assets", rel))
    return False


def has_release(codes: Mapping[tuple[str, str], Code], system: str, release: str) -> bool:
    """Whether a code of ``system`` has a history entry of ``release`` (its "What's new" page)."""
    return any(c.system == system and any(str(h.get("release")) == release for h in c.history) for c in codes.values())


def check_nav(
    config: SiteConfig, config_text: str, codes: Mapping[tuple[str, str], Code], site_dir: str, path: str
) -> list[ContentError]:
    """Every navigation link in site.yaml leads to a page of the site (or off the site)."""
    errors: list[ContentError] = []
    for i, (_, href) in enumerate(config.nav):
        if href.startswith(LINK_SCHEMES) or is_site_page(href, config, codes, site_dir):
            continue
        line = yamlutil.locate(config_text, ("nav", i, "url")) + 1
        errors.append(ContentError(path, line, f"nav[{i}].url", f"'{href}' is not a page of the site"))
    return errors


def check_templates(site_dir: str) -> list[ContentError]:
    """Every template in layouts/ compiles (a syntax error found here, not half way through a build)."""
    root = os.path.join(site_dir, "layouts")
    if not os.path.isdir(root):
        return []
    env = Environment(loader=FileSystemLoader(root), autoescape=True)
    errors: list[ContentError] = []
    for name in env.list_templates():
        try:
            source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
            env.parse(source, name, name)
        except TemplateSyntaxError as exc:
            errors.append(ContentError(f"layouts/{name}", exc.lineno or 1, "template", exc.message or "syntax error"))
        except UnicodeDecodeError as exc:
            errors.append(ContentError(f"layouts/{name}", 1, "template", f"not valid UTF-8 ({exc.reason})"))
    return errors


def without_knock_on(reported: list[ContentError], found: list[ContentError]) -> list[ContentError]:
    """``found`` less what follows from ``reported``: a field already reported wrong in a file
    (it was replaced by its default to check the rest) is not reported again, nor its parts."""
    bad = {(e.path, e.field) for e in reported}
    if not bad:
        return found

    def follows(e: ContentError) -> bool:
        field = e.field
        while True:
            if (e.path, field) in bad:
                return True
            cut = max(field.rfind("."), field.rfind("["))
            if cut <= 0:
                return False
            field = field[:cut]

    return [e for e in found if not follows(e)]
