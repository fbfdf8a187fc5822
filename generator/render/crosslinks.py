"""Codes named in text become links: in notes (plain text) and in Markdown bodies and sections
(HTML, text nodes only: never inside an existing link, an attribute, ``<code>`` or ``<pre>``).

One pattern finds the codes (``mentions.all_mentions``); only codes that have a page become
links, looked up in the page's own code system first, then in the others (a CPT page's
crosswalk names ICD-10-CM codes).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape

from ..mentions import all_mentions
from ..model.code import Code, Key
from ..model.site import Site
from .links import Links

_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][A-Za-z0-9]*)\b[^>]*>", re.S)
_NO_LINKS = frozenset({"a", "code", "pre", "script", "style"})


class CodeLinker:
    def __init__(self, site: Site, url_for: Callable[[Key], str]) -> None:
        self.site = site
        self.url_for = url_for
        self.systems = list(site.config.systems)
        self._memo: dict[tuple[int, str, str], Markup] = {}

    def target(self, system: str, code: str) -> Key | None:
        """The page a code names: in ``system`` first, then in the other code systems. Only
        keys: a link needs no more, and an edit's build reads no code it does not render."""
        codes = self.site.codes
        if (system, code) in codes:
            return (system, code)
        for other in self.systems:
            if other != system and (other, code) in codes:
                return (other, code)
        return None

    def _link(self, text: str, page: Code, links: Links) -> str:
        """``text`` (already HTML: escaped text) with the codes that have a page linked."""
        out: list[str] = []
        pos = 0
        for m in all_mentions(text):
            t = self.target(page.system, m.group(1))
            if t is None or t == page.key:
                continue
            out.append(text[pos : m.start()])
            out.append(f'<a href="{escape(links[self.url_for(t)])}">{m.group(0)}</a>')
            pos = m.end()
        if not out:
            return text
        out.append(text[pos:])
        return "".join(out)

    def text(self, text: str, page: Code, links: Links) -> Markup:
        """Escape plain text (a note) and link the codes in it. Notes repeat on every page below
        the code that carries them: kept per links memo (the same hrefs) and text."""
        key = (id(links.memo), page.system, text)
        if page.code in text:  # the page's own code is not linked: not shared with others
            return Markup(self._link(str(escape(text)), page, links))
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = Markup(self._link(str(escape(text)), page, links))
        return found

    def html(self, html: str, page: Code, links: Links) -> Markup:
        """Link the codes in the text nodes of sanitised HTML (Markdown's output after nh3)."""
        if not html:  # most pages: no body
            return Markup("")
        out: list[str] = []
        pos = 0
        skip = 0
        for m in _TAG.finditer(html):
            chunk = html[pos : m.start()]
            out.append(chunk if skip else self._link(chunk, page, links))
            name = (m.group(2) or "").lower()
            if name in _NO_LINKS and not m.group(0).endswith("/>"):
                skip = max(0, skip - 1) if m.group(1) else skip + 1
            out.append(m.group(0))
            pos = m.end()
        tail = html[pos:]
        out.append(tail if skip else self._link(tail, page, links))
        return Markup("".join(out))
