"""Render: one Jinja2 environment; each code page as a public teaser plus its gated fragments."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape

from .content import Code
from .markup import MarkdownRenderer
from .schema import NOTE_KINDS, RELATIONS
from .site import Site
from .urls import code_url, relative

CODE_TOKEN = re.compile(r"\b([A-Z][0-9A-Z][0-9A-Z](?:\.[0-9A-Z]{1,4})?)(\.?-)?(?![\w.])")
GATE_OPEN = "<!--gated:{id}-->"
GATE_CLOSE = "<!--/gated:{id}-->"
BANNER = "<!--meter-banner-->"
SITEMAP_LIMIT = 50_000

Descriptors = Mapping[tuple[str, str], str]


@dataclass(frozen=True)
class Output:
    """One file of the build: ``area`` is "site" (public) or "private" (gated fragments)."""

    area: str
    path: str
    data: bytes


def entry_label(code: Code) -> str:
    return f"Chapter {code.code}" if code.kind == "chapter" else code.code


def json_ld(data: Any) -> Markup:
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


class Renderer:
    def __init__(
        self, site: Site, layouts: str, *, file_links: bool = False, descriptors: Descriptors | None = None
    ) -> None:
        self.site = site
        self.config = site.config
        self.file_links = file_links
        self.descriptors = descriptors or {}
        self.md = MarkdownRenderer()
        self._links: dict[tuple[object, str], str] = {}
        self._urls: dict[tuple[str, str], str] = {}
        self.env = Environment(
            loader=FileSystemLoader(layouts),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.globals.update(
            site=self.config,
            systems=list(self.config.systems.values()),
            url=self._url,
            note_kinds=NOTE_KINDS,
            relations=RELATIONS,
            label=entry_label,
            gate_open=GATE_OPEN,
            gate_close=GATE_CLOSE,
            banner=Markup(BANNER),
        )

    @pass_context
    def _url(self, ctx: Context, target: str) -> str:
        given = ctx.parent  # the render call's variables: a plain dict, quicker than ctx.get
        if given.get("absolute_links"):
            return target
        page = given["page_url"]
        # Links are memoised: every page links the same navigation, assets and system pages.
        # Into another section (first URL segment) a link depends only on the page's depth;
        # within its own section on the page itself (links are shortest relative paths).
        depth = page.count("/") if page.endswith("/") else page.rsplit("/", 1)[0].count("/") + 1
        first = page[: page.find("/", 1) + 1]
        key: tuple[object, str] = (page, target) if len(first) > 1 and target.startswith(first) else (depth, target)
        link = self._links.get(key)
        if link is None:
            link = self._links[key] = relative(page, target, self.file_links)
        return link

    # --- helpers ------------------------------------------------------------------------

    def url_of(self, code: Code) -> str:
        """Memoised: a code's URL is asked for on its own page, its parent's, its children's."""
        url = self._urls.get(code.key)
        if url is None:
            prefix = self.config.systems[code.system].url_prefix
            url = self._urls[code.key] = code_url(prefix, code.code)
        return url

    def title_of(self, code: Code) -> str | None:
        return code.title or self.descriptors.get(code.key)

    def link_codes(self, text: str, code: Code, page_url: str) -> Markup:
        """Escape a note and link the codes in it that have a page."""
        out: list[str] = []
        pos = 0
        for m in CODE_TOKEN.finditer(text):
            target = self.site.get(code.system, m.group(1))
            if target is None or target is code:
                continue
            out.append(str(escape(text[pos : m.start()])))
            href = relative(page_url, self.url_of(target), self.file_links)
            out.append(f'<a href="{escape(href)}">{escape(m.group(0))}</a>')
            pos = m.end()
        out.append(str(escape(text[pos:])))
        return Markup("".join(out))

    # --- code pages ---------------------------------------------------------------------

    @staticmethod
    def template_for(code: Code) -> str:
        return "hierarchy.html" if code.is_range else "code.html"

    def page_keys(self, code: Code) -> list[str]:
        """The files ``code_page`` writes for a code (publisher keys), known without rendering."""
        base = self.url_of(code).strip("/")
        gated = (f"private/{base}/{s.id}.html" for s in code.gated_sections)
        return [f"site/{base}/index.html", *gated]

    def code_page(self, code: Code) -> list[Output]:
        system = self.config.systems[code.system]
        url = self.url_of(code)
        title = self.title_of(code)
        related = []
        for r in code.related:
            target = self.site.get(r.system or code.system, r.code)
            if target is not None:
                related.append({"rel": r, "code": target, "url": self.url_of(target), "title": self.title_of(target)})
        sections = []
        fragments: list[Output] = []
        base = url.strip("/")
        for s in code.sections:
            html = Markup(self.md(s.body))
            if s.gated:
                fragments.append(Output("private", f"{base}/{s.id}.html", str(html).encode()))
                html = Markup("")
            sections.append({"id": s.id, "title": s.title, "gated": s.gated, "html": html})
        notes = [
            (kind, label, [self.link_codes(n, code, url) for n in code.notes[kind]])
            for kind, label in NOTE_KINDS.items()
            if kind in code.notes
        ]
        ld: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "WebPage",
            "name": f"{system.name} {code.code}" + (f": {title}" if title else ""),
            "url": self.config.base_url + url,
            "mainEntity": {
                "@type": "MedicalCode",
                "codeValue": code.code,
                "codingSystem": system.name,
            },
        }
        if code.gated_sections:
            ld["isAccessibleForFree"] = False
            ld["hasPart"] = [
                {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".gated-section"}
            ]
        template = self.template_for(code)
        ctx = {
            "page_url": url,
            "page_title": f"{system.name} {entry_label(code)}" + (f" - {title}" if title else ""),
            "description": (title or "")[:300],
            "code": code,
            "system": system,
            "title": title,
            "ancestors": [(a, self.url_of(a), self.title_of(a)) for a in self.site.ancestors(code)],
            "children": [(c, self.url_of(c), self.title_of(c)) for c in self.site.children.get(code.key, [])],
            "related": related,
            "replaced_by": [
                (c, self.url_of(c), self.title_of(c))
                for c in (self.site.get(code.system, r) for r in code.replaced_by)
                if c is not None
            ],
            "body_html": Markup(self.md(code.body)),
            "notes": notes,
            "sections": sections,
            "json_ld": json_ld(ld),
        }
        page = self.env.get_template(template).render(ctx)
        return [Output("site", f"{base}/index.html", page.encode()), *fragments]

    # --- other pages --------------------------------------------------------------------

    def page(self, template: str, url: str, title: str, **extra: Any) -> Output:
        ctx = {"page_url": url, "page_title": title, "description": self.config.tagline, **extra}
        path = url.lstrip("/") + "index.html" if url.endswith("/") else url.lstrip("/")
        return Output("site", path, self.env.get_template(template).render(ctx).encode())

    def system_pages(self) -> Iterator[Output]:
        for sid, system in self.config.systems.items():
            tops = [(c, self.url_of(c), self.title_of(c)) for c in self.site.tops.get(sid, [])]
            yield self.page("system.html", f"/{system.url_prefix}/", f"{system.name} codes", system=system, tops=tops)

    def fixed_pages(self) -> Iterator[Output]:
        counts = {sid: self.site.counts.get(sid, 0) for sid in self.config.systems}
        yield self.page("home.html", "/", self.config.name, counts=counts)
        yield self.page("search.html", "/search/", f"Search - {self.config.name}")
        yield self.page("login.html", "/account/login/", f"Log in - {self.config.name}")
        yield self.page("register.html", "/account/register/", f"Register - {self.config.name}")
        yield self.page("404.html", "/404.html", f"Page not found - {self.config.name}", absolute_links=True)

    def sitemaps(self, urls: list[str]) -> Iterator[Output]:
        base = self.config.base_url
        chunks = [urls[i : i + SITEMAP_LIMIT] for i in range(0, len(urls), SITEMAP_LIMIT)] or [[]]

        def urlset(chunk: list[str]) -> bytes:
            body = "".join(f"<url><loc>{escape(base + u)}</loc></url>\n" for u in chunk)
            return (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + body + "</urlset>\n"
            ).encode()

        if len(chunks) == 1:
            yield Output("site", "sitemap.xml", urlset(chunks[0]))
        else:
            index = "".join(
                f"<sitemap><loc>{escape(base)}/sitemaps/sitemap-{i + 1}.xml</loc></sitemap>\n"
                for i in range(len(chunks))
            )
            yield Output(
                "site",
                "sitemap.xml",
                (
                    '<?xml version="1.0" encoding="UTF-8"?>\n'
                    '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n'
                    + index
                    + "</sitemapindex>\n"
                ).encode(),
            )
            for i, chunk in enumerate(chunks):
                yield Output("site", f"sitemaps/sitemap-{i + 1}.xml", urlset(chunk))
        robots = f"User-agent: *\nDisallow: /account/\nSitemap: {base}/sitemap.xml\n"
        yield Output("site", "robots.txt", robots.encode())

    def sitemap_urls(self) -> list[str]:
        urls = ["/", "/search/"]
        urls += [f"/{s.url_prefix}/" for s in self.config.systems.values()]
        urls += sorted(self.url_of(c) for c in self.site.codes.values())
        return urls
