"""Pages: each code page as a public teaser plus its gated fragments, and the site's other pages."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any, NamedTuple

from jinja2 import BytecodeCache, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from edge.contract import BANNER, GATE_CLOSE, GATE_OPEN, code_attributes

from ..mentions import all_mentions
from ..model.code import Code, Key, summary
from ..model.schema import NOTE_KINDS, RELATIONS
from ..model.site import Site
from ..model.urls import code_url, key_of, path_of, whatsnew_url
from ..outputs import Output
from .crosslinks import CodeLinker
from .links import AbsoluteLinks, Links
from .markup import MarkdownRenderer
from .once import Header, PerCode
from .shared import FROM_TOP, HEADER_URL, MARK_SEVENTH, NOTES_FILE, SEVENTH_FILE, reference, script
from .sitemap import Moved, by_key, ordered_code_urls, sitemaps, warm_urls
from .templating import PageEnvironment, render_bytes

Descriptors = Mapping[tuple[str, str], str]


NoteList = list[tuple[str, str, list[Markup]]]  # (kind, label, linked notes), in NOTE_KINDS order


class NoteGroup(NamedTuple):
    """An ancestor's notes as a page below it shows them: "From S72: ..."."""

    source: Code
    href: str
    label: str
    title: str | None
    notes: NoteList


class ShownGroup(NamedTuple):
    source: Code
    html: Markup  # the group, rendered by the layouts' ``note_group`` macro


class SeventhRow(NamedTuple):
    char: str
    meaning: str
    notes: list[Markup]  # the character's own notes (H34.81's "2 stable")
    current: bool  # the page's own 7th character


class SeventhTable(NamedTuple):
    source: Code | None  # the ancestor the page takes its 7th character from; None: its own
    href: str
    rows: list[SeventhRow]
    # the table's HTML, rendered once for the pages that show it alike (``once``), or in the
    # archive the source's seventh.js in place of the table
    shared: Markup | None = None


class ListItem(NamedTuple):
    code: Code
    href: str  # relative to the page that lists it
    label: str
    title: str | None


def entry_label(code: Code) -> str:
    return f"Chapter {code.code}" if code.kind == "chapter" else code.code


# A code page's JSON-LD, as ``json.dumps(the dict, ensure_ascii=False, separators=(",", ":"))``
# writes it (tests/test_pages.py holds the dict): written out, each string by json's own C
# function, as json's encoder costs more to set up than the whole text takes to write.
_CODE_LD = ('{"@context":"https://schema.org","@type":"WebPage","name":%s,"url":%s,'
            '"mainEntity":{"@type":"MedicalCode","codeValue":%s,"codingSystem":%s}%s}')
_GATED_LD = (',"isAccessibleForFree":false,"hasPart":[{"@type":"WebPageElement",'
             '"isAccessibleForFree":false,"cssSelector":".gated-section"}]')


def code_json_ld(name: str, url: str, code: str, system: str, gated: bool) -> Markup:
    """A code page's schema.org WebPage of a MedicalCode; gated: marked not free, with its part."""
    text = _CODE_LD % (encode_basestring(name), encode_basestring(url), encode_basestring(code),
                       encode_basestring(system), _GATED_LD if gated else "")
    return script_json(text)


def script_json(text: str) -> Markup:
    """JSON inside a script element: no character can end it."""
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


class Renderer:
    def __init__(
        self,
        site: Site,
        layouts: str,
        *,
        file_links: bool = False,
        descriptors: Descriptors | None = None,
        bytecode_cache: BytecodeCache | None = None,
        offline: bool = False,
        assets: Mapping[str, str] | None = None,
    ) -> None:
        """``bytecode_cache``: compiled templates kept between builds. With one, the renderer
        belongs to one build: templates are not re-checked on disk for every page."""
        self.site = site
        self.config = site.config
        self.file_links = file_links
        self.offline = offline
        self.descriptors = descriptors or {}
        self.assets = assets or {}  # asset URL -> its fingerprinted URL (render.assets)
        self.md = MarkdownRenderer()
        self.forget()
        self._header: Header | None = None
        self.env = PageEnvironment(
            loader=FileSystemLoader(layouts),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            auto_reload=bytecode_cache is None,
            bytecode_cache=bytecode_cache,
            # Jinja2's own plain-dict cache (any negative size): its default LRU cache takes a
            # lock and reorders its queue at each of a code page's five template lookups
            # (the page, its layout, the macros it imports), 700 ns each against 270
            cache_size=-1,
        )
        self.env.globals.update(
            site=self.config,
            systems=list(self.config.systems.values()),
            url=self._url,
            asset=self._asset,
            note_kinds=NOTE_KINDS,
            relations=RELATIONS,
            label=entry_label,
            gate_open=GATE_OPEN,
            gate_close=GATE_CLOSE,
            banner=Markup(BANNER),
            code_attributes=lambda c: Markup(code_attributes(c.system, c.code)),  # the page contract's
            offline=offline,  # for the offline archive: no meter, accounts or crawler metadata
        )

    def forget(self) -> None:
        """Start the memos of what pages share afresh (a worker, between chunks of pages: they
        grow with the pages rendered, and a chunk shares little with the last one)."""
        self._links: dict[str, dict[str, str]] = {}  # memos of Links, by the page folder's parent
        self._urls: dict[tuple[str, str], str] = {}
        self._crumbs: dict[tuple[tuple[str, str | None], int], list[ListItem]] = {}
        # an ancestor's notes, rendered once for all the pages below it: (key, links memo) ->
        # (html, the codes its notes name: a page among them links the others, not itself)
        self._groups: dict[tuple[tuple[str, str], int], tuple[Markup | None, frozenset[str]]] = {}
        self._seventh_names: dict[tuple[str, str], frozenset[str]] = {}
        # what siblings share, by parent (and links memo): the ancestors, and the groups of
        # inherited notes and the 7th-character table, unless their text names the page's code
        self._ancestors: dict[Key, list[Code]] = {}
        self._inherited: dict[tuple[Key, int], tuple[list[ShownGroup], list[ShownGroup], frozenset[str]]] = {}
        self._sevenths: dict[tuple[Key, str | None, int], tuple[SeventhTable, PerCode]] = {}
        # parts rendered once for the pages that show them alike (``once``): the breadcrumb by
        # parent and links memo, the site's header by links memo
        self._breadcrumbs: dict[tuple[tuple[str, str | None], int], Markup] = {}
        self._headers: dict[int, Markup] = {}
        # memos keyed by a links memo's id(): all of them go with the links memos
        self.linker = CodeLinker(self.site, self.url_for)

    @pass_context
    def _url(self, ctx: Context, target: str) -> str:
        """``url(target)`` for template authors; our own templates use ``links[target]``."""
        links: Links = ctx.parent["links"]  # the render call's variables: a plain dict
        return links[target]

    @pass_context
    def _asset(self, ctx: Context, target: str) -> str:
        """``asset('/assets/site.css')``: the link to the asset's fingerprinted copy."""
        links: Links = ctx.parent["links"]
        return links[self.assets.get(target, target)]

    def links(self, page_url: str) -> Links:
        own = page_url[: page_url.rfind("/") + 1]  # the page's folder: /a/b/ or /a/ of /a/x.html
        parent = own[: own.rstrip("/").rfind("/") + 1]
        memo = self._links.get(parent)
        if memo is None:
            memo = self._links[parent] = {}
        return Links(page_url, own, memo, self.file_links)

    def entries(self, codes: Iterable[Code], links: Links) -> list[ListItem]:
        """Codes as lists show them: the code, its href from the page, its label and title."""
        return [ListItem(c, links[self.url_of(c)], entry_label(c), self.title_of(c)) for c in codes]

    def ancestor_entries(self, code: Code, links: Links) -> list[ListItem]:
        """The breadcrumb's entries: siblings share them (kept by parent and links memo)."""
        key = ((code.system, code.parent), id(links.memo))
        entries = self._crumbs.get(key)
        if entries is None:
            entries = self._crumbs[key] = self.entries(self.ancestors(code), links)
        return entries

    def breadcrumb(self, code: Code, links: Links) -> Markup:
        """The layouts' ``breadcrumb`` macro, rendered once for siblings: a macro sees only what
        it is given, and siblings give it the same (their links to anything outside their own
        folders are the same: one links memo)."""
        key = ((code.system, code.parent), id(links.memo))
        html = self._breadcrumbs.get(key)
        if html is None:
            system = self.config.systems[code.system]
            html = self._breadcrumbs[key] = self.macro("breadcrumb")(system, self.ancestor_entries(code, links), links)
        return html

    def header(self, page_url: str, links: Links) -> Markup | None:
        """The site's header (``partials/header.html``) as the page shows it, rendered once for
        the pages with the same links memo; None where it is the page's own (``once.Header``)."""
        if self._header is None:
            self._header = Header(self.env, "partials/header.html", self.config.nav)
        if not self._header.shared(page_url, links.own):
            return None
        html = self._headers.get(id(links.memo))
        if html is None:
            page = self.env.get_template("partials/header.html").render(links=links, page_url=page_url)
            html = self._headers[id(links.memo)] = Markup(page)
        return html

    def ancestors(self, code: Code) -> list[Code]:
        """``Site.ancestors``, kept by parent: siblings share them (the list is not to be changed)."""
        if not code.parent:
            return []
        parent = (code.system, code.parent)
        found = self._ancestors.get(parent)
        if found is None:
            found = self._ancestors[parent] = self.site.ancestors(code)
        return found

    # --- helpers ------------------------------------------------------------------------

    def url_of(self, code: Code) -> str:
        """Memoised: a code's URL is asked for on its own page, its parent's, its children's."""
        return self.url_for(code.key)

    def url_for(self, key: Key) -> str:
        url = self._urls.get(key)
        if url is None:
            system, code = key
            url = self._urls[key] = code_url(self.config.systems[system].url_prefix, code)
        return url

    def title_of(self, code: Code) -> str | None:
        title = code.title or self.descriptors.get(code.key)
        if title and code.is_range and title.endswith(f" ({code.code})"):  # "Injuries to the hip (S70-S79)"
            return title[: -len(code.code) - 3]
        return title

    def link_codes(self, text: str, code: Code, links: Links) -> Markup:
        """Escape a note and link the codes in it that have a page."""
        return self.linker.text(text, code, links)

    def notes_of(self, owner: Code, page: Code, links: Links) -> NoteList:
        return [
            (kind, label, [self.link_codes(n, page, links) for n in owner.notes[kind]])
            for kind, label in NOTE_KINDS.items()
            if kind in owner.notes
        ] if owner.notes else []

    def inherited_notes(
        self, code: Code, ancestors: list[Code], links: Links
    ) -> tuple[list[ShownGroup], list[ShownGroup]]:
        """The notes of every level above a code, nearest first: of codes and categories (shown
        open), and of its block and chapter (shown collapsed). Each ancestor's are rendered once
        for the pages below it (a category's for its thousand codes), and the lists once for
        siblings whose code the notes do not name."""
        key = ((code.system, code.parent or ""), id(links.memo))
        found = self._inherited.get(key)
        if found is not None and code.code not in found[2]:
            return found[0], found[1]
        near: list[ShownGroup] = []
        ranges: list[ShownGroup] = []
        named: set[str] = set()
        for a in reversed(ancestors):
            if a.notes:
                (ranges if a.is_range else near).append(ShownGroup(a, self.note_group(a, code, links)))
                named.update(self._groups[(a.key, id(links.memo))][1])
        if found is None and code.code not in named:
            self._inherited[key] = (near, ranges, frozenset(named))
        return near, ranges

    def note_group(self, owner: Code, page: Code, links: Links) -> Markup:
        key = (owner.key, id(links.memo))
        found = self._groups.get(key)
        if found is None:
            named = self.note_names(owner)
            found = self._groups[key] = (self.shared_notes(owner, links, named), named)
        shared, named = found
        if page.code in named:
            return self.render_group(owner, page, links)
        if shared is None:
            shared = self.render_group(owner, page, links)
            self._groups[key] = (shared, named)
        return shared

    def render_group(self, owner: Code, page: Code, links: Links) -> Markup:
        group = NoteGroup(owner, links[self.url_of(owner)], entry_label(owner), self.title_of(owner),
                          self.notes_of(owner, page, links))
        return Markup(self.macro("note_group")(group))

    @staticmethod
    def note_names(owner: Code) -> frozenset[str]:
        """The codes an ancestor's notes name: a page among them links the others, not itself."""
        return frozenset(m.group(1) for ns in owner.notes.values() for n in ns for m in all_mentions(n))

    def seventh_names(self, source: Code) -> frozenset[str]:
        """The codes the notes of a code's 7th characters name (memoised: asked on each page)."""
        found = self._seventh_names.get(source.key)
        if found is None:
            found = self._seventh_names[source.key] = frozenset(
                m.group(1) for ns in source.seventh_notes.values() for n in ns for m in all_mentions(n))
        return found

    def macro(self, name: str) -> Any:
        return getattr(self.env.get_template("partials/list.html").module, name)

    # --- parts shared by the archive's pages (render.shared) ------------------------------

    def shares(self, owner: Code, links: Links) -> bool:
        """Whether pages with these links show ``owner``'s parts from its script files: in the
        archive, when the part's links are the same from them as from ``owner``'s own page."""
        return self.offline and links.memo is self.links(self.url_of(owner)).memo

    def proxy(self, owner: Code, named: frozenset[str]) -> Code | None:
        """A page below ``owner`` that its part's text does not name: the part is rendered as
        it shows there (and on every other such page: only a page's own code is not linked)."""
        return next((c for c in self.site.children.get(owner.key, ()) if c.code not in named), None)

    def shared_notes(self, owner: Code, links: Links, named: frozenset[str]) -> Markup | None:
        """An ancestor's notes as a reference to its notes.js; None where they are rendered on each
        page (on the site)."""
        if not self.shares(owner, links) or self.proxy(owner, named) is None:
            return None
        base = self.url_of(owner)
        fallback = (f'<p class="shared-part"><a href="{escape(links[base] + "#notes")}">'
                    f"Notes from {escape(entry_label(owner))}</a></p>")
        return reference(links[base + NOTES_FILE], Markup(fallback))

    def shared_files(self, code: Code) -> list[Output]:
        """The archive's script files of a code's parts that the pages below it show, rendered
        as a page below it shows them (its links, not those of the code's own page)."""
        if not self.offline:
            return []
        base = self.url_of(code).strip("/")
        out = []
        proxy = self.proxy(code, self.note_names(code)) if code.notes else None
        if proxy is not None:
            html = self.render_group(code, proxy, self.links(self.url_of(proxy)))
            out.append(Output("site", f"{base}/{NOTES_FILE}", script(html)))
        proxy = self.proxy(code, self.seventh_names(code)) if code.seventh_characters else None
        if proxy is not None:
            rows = self.seventh_rows(code, proxy, None, self.links(self.url_of(proxy)))
            table = self.macro("seventh_table")(rows, "")
            out.append(Output("site", f"{base}/{SEVENTH_FILE}", script(table, MARK_SEVENTH)))
        return out

    def seventh_table(self, code: Code, ancestors: list[Code], links: Links) -> SeventhTable | None:
        """The 7th characters a code defines, or those of the nearest level above that defines
        them, with the code's own 7th character marked (S72.001A: the "A" of S72's table)."""
        source = code if code.seventh_characters else next(
            (a for a in reversed(ancestors) if a.seventh_characters), None
        )
        if source is None:
            return None
        plain = code.code.replace(".", "")
        own = plain[-1] if source is not code and len(plain) == 7 else None
        if source is code:
            return SeventhTable(None, "", self.seventh_rows(code, code, own, links))
        url = self.url_of(source)
        names = self.seventh_names(source)
        if self.shares(source, links) and code.code not in names and self.proxy(source, names) is not None:
            meaning = source.seventh_characters.get(own or "")
            mine = f"{escape(own)}: {escape(meaning)}. " if own and meaning else ""
            fallback = (f'<p class="shared-part">{mine}<a href="{escape(links[url] + "#seventh-characters")}">'
                        f"All 7th characters of {escape(source.code)}</a></p>")
            shared = reference(links[url + SEVENTH_FILE], Markup(fallback), char=own or "", code=code.code)
            return SeventhTable(source, links[url], [], shared)
        if code.code in names:  # its own row's notes are not linked
            return SeventhTable(source, links[url], self.seventh_rows(source, code, own, links))
        key = (source.key, own, id(links.memo))
        found = self._sevenths.get(key)
        if found is None:
            table = SeventhTable(source, links[url], self.seventh_rows(source, code, own, links))
            once = PerCode(lambda page: self.macro("seventh_table")(table.rows, page), code.code)
            found = self._sevenths[key] = (table, once)
        table, once = found
        return SeventhTable(table.source, table.href, table.rows, once(code.code))

    def seventh_rows(self, source: Code, page: Code, own: str | None, links: Links) -> list[SeventhRow]:
        return [
            SeventhRow(ch, meaning, [self.link_codes(n, page, links) for n in source.seventh_notes.get(ch, ())],
                       ch == own)
            for ch, meaning in source.seventh_characters.items()
        ]

    # --- code pages ---------------------------------------------------------------------

    @staticmethod
    def template_for(code: Code) -> str:
        return "hierarchy.html" if code.is_range else "code.html"

    def page_keys(self, code: Code) -> list[str]:
        """The files ``code_page`` writes for a code (publisher keys), known without rendering."""
        base = self.url_of(code).strip("/")
        gated = (f"private/{base}/{s.id}.html" for s in code.gated_sections)
        return [f"site/{base}/index.html", *gated]  # and, in the archive, its shared_files (same folder)

    def code_page(self, code: Code) -> list[Output]:
        system = self.config.systems[code.system]
        url = self.url_of(code)
        links = self.links(url)
        title = self.title_of(code)
        related = []
        for r in code.related:
            target = self.site.get(r.system or code.system, r.code)
            if target is not None:
                related.append({
                    "rel": r,
                    "code": target,
                    "href": links[self.url_of(target)],
                    "title": self.title_of(target),
                    "summary": summary(target.body),
                    "system": self.config.systems[target.system],
                    "note": self.link_codes(r.note, code, links) if r.note else None,
                })
        sections = []
        fragments: list[Output] = []
        base = url.strip("/")
        for s in code.sections:
            html = self.linker.html(self.md(s.body), code, links)
            if s.gated:
                fragments.append(Output("private", f"{base}/{s.id}.html", str(html).encode()))
                html = Markup("")
            sections.append({"id": s.id, "title": s.title, "gated": s.gated, "html": html})
        notes = self.notes_of(code, code, links)
        ancestors = self.ancestors(code)
        inherited, range_notes = self.inherited_notes(code, ancestors, links)
        name = f"{system.name} {code.code}" + (f": {title}" if title else "")
        ld = code_json_ld(name, self.config.base_url + url, code.code, system.name, bool(code.gated_sections))
        template = self.template_for(code)
        ctx = {
            "page_url": url,
            "links": links,
            "page_title": f"{system.name} {entry_label(code)}" + (f" - {title}" if title else ""),
            "description": (title or "")[:300],
            "code": code,
            "system": system,
            "title": title,
            "ancestors": self.ancestor_entries(code, links),
            "breadcrumb_html": self.breadcrumb(code, links),
            "children": self.entries(self.site.children.get(code.key, []), links),
            "related": related,
            "replaced_by": self.entries(
                (c for c in (self.site.get(code.system, r) for r in code.replaced_by) if c is not None), links
            ) if code.replaced_by else [],
            "body_html": self.linker.html(self.md(code.body), code, links),
            "notes": notes,
            "inherited_notes": inherited,
            "range_notes": range_notes,
            "seventh": self.seventh_table(code, ancestors, links),
            "sections": sections,
            "json_ld": ld,
        }
        if self.offline:
            ctx["shared_header"] = reference(links[HEADER_URL])
        else:
            header = self.header(url, links)
            if header is not None:
                ctx["shared_header"] = header
        page = render_bytes(self.env.get_template(template), ctx)
        return [Output("site", f"{base}/index.html", page), *fragments, *self.shared_files(code)]

    # --- other pages --------------------------------------------------------------------

    def page(self, template: str, url: str, title: str, **extra: Any) -> Output:
        links = AbsoluteLinks() if extra.get("absolute_links") else self.links(url)
        ctx = {"page_url": url, "links": links, "page_title": title, "description": self.config.tagline, **extra}
        path = url.lstrip("/") + "index.html" if url.endswith("/") else url.lstrip("/")
        return Output("site", path, render_bytes(self.env.get_template(template), ctx))

    def system_pages(self, releases: Mapping[str, list[str]] | None = None) -> Iterator[Output]:
        """Each system's index; ``releases``: its "What's new" pages to link, newest first."""
        for sid, system in self.config.systems.items():
            url = f"/{system.url_prefix}/"
            links = self.links(url)
            tops = self.entries(self.site.tops.get(sid, []), links)
            news = [(r, links[whatsnew_url(system.url_prefix, r)]) for r in (releases or {}).get(sid, [])]
            yield self.page("system.html", url, f"{system.name} codes", system=system, tops=tops, releases=news)

    def fixed_pages(self) -> Iterator[Output]:
        counts = {sid: self.site.counts.get(sid, 0) for sid in self.config.systems}
        if self.offline:  # the header of the archive's code pages, its links from the top folder
            header = self.env.get_template("partials/header.html").render(links=self.links("/"), page_url="")
            yield Output("site", HEADER_URL.lstrip("/"), script(header, FROM_TOP))
        yield self.page("home.html", "/", self.config.name, counts=counts)
        yield self.page("search.html", "/search/", f"Search - {self.config.name}")
        yield self.page("login.html", "/account/login/", f"Log in - {self.config.name}")
        yield self.page("register.html", "/account/register/", f"Register - {self.config.name}")
        yield self.page("404.html", "/404.html", f"Page not found - {self.config.name}", absolute_links=True)

    def sitemaps(self, extra: Iterable[str] = (), keep: bool = True) -> Iterator[Output]:
        """The sitemap of every page: the fixed ones, the system indexes, ``extra`` and the codes'
        (``keep``: what makes it, for the next build in this process; see ``ordered_code_urls``)."""
        pages = ["/", "/search/", *(f"/{s.url_prefix}/" for s in self.config.systems.values()), *extra]
        codes, prefixes = self.site.codes, self.config.url_prefixes
        files = getattr(codes, "files", None)  # codes read lazily (load.lazy): named by content path
        if files is None:
            urls = ordered_code_urls(prefixes, codes.keys(), by_key, keep=keep)
        else:
            urls = ordered_code_urls(prefixes, files.keys(), key_of, files, self._moved(), keep=keep)
        return sitemaps(self.config.base_url, pages, urls, keep=keep)

    def warm_sitemap(self) -> None:
        """Make the code pages' URLs now, for the next build in this process (``warm_urls``)."""
        files = getattr(self.site.codes, "files", None)
        if files is None:
            warm_urls(self.config.url_prefixes, dict.fromkeys(map(path_of, self.site.codes)))
        else:
            warm_urls(self.config.url_prefixes, files, self._moved())

    def _moved(self) -> Moved:
        """The codes read lazily (``load.lazy``): those that came and went since the last build's."""
        codes: Any = self.site.codes
        return Moved(codes.snapshot.files, codes.came, codes.went)
