"""Parts many archive pages share, written once as a script file beside the page they come from.

A category's notes and 7th-character table are shown on every code below it: on the full
ICD-10-CM set that repeats them on tens of thousands of pages, and each page of the zip is
deflated on its own, so nothing is shared between them (232 MB of zip). In the offline archive
(``Renderer(offline=True)``) the category's page writes its group of notes once as
``notes.js`` and its 7th-character table as ``seventh.js``; each page below it loads them with
a classic ``<script src>`` (it works from ``file://``, as the archive's search does), which
inserts the very HTML the site shows inline right where the script stands, before the page is
first painted. Without JavaScript a ``<noscript>`` link leads to the part on the category's page.

The site's header (brand, search box, menu) is the same on every code page: they load it from
``header.js`` at the top of the archive. Without JavaScript its search box would not work (the
archive's search needs it) and the breadcrumb still leads home and to the code system.

The hosted site keeps everything inline: its pages are not touched.
"""

from __future__ import annotations

import json

from markupsafe import Markup, escape

NOTES_FILE = "notes.js"
SEVENTH_FILE = "seventh.js"
HEADER_URL = "/header.js"

# The script inserts the part before itself (``document.currentScript``: parser-inserted,
# synchronous, so the part is there before the rest of the page is parsed).
_INSERT = "(function(s){s.insertAdjacentHTML('beforebegin',%s);%s})(document.currentScript);\n"

# The page's own 7th character, marked as the site marks it (layouts/partials/list.html,
# ``seventh_table``): the row's class and aria-current, and "◀ CODE" after the character.
MARK_SEVENTH = (
    "var c=s.getAttribute('data-char'),k=s.getAttribute('data-code'),"
    "r=s.previousElementSibling.tBodies[0].rows;"
    "for(var i=0;i<r.length;i++){var d=r[i].cells[0];if(c&&d.textContent===c){"
    "r[i].className='current';r[i].setAttribute('aria-current','true');"
    "var m=document.createElement('span');m.className='this-code';m.textContent='\\u25c0 '+k;"
    "d.appendChild(document.createTextNode(' '));d.appendChild(m);}}"
)


# The site's header, its links written relative to the archive's top folder (where header.js
# is): made absolute from the script's own address, as search.js does. (No code page is in the
# menu, so none is marked as the current one.)
FROM_TOP = (
    "var t=s.src.replace(/[^/]*$/,''),e=s.previousElementSibling.querySelectorAll('[href],[action]');"
    "for(var i=0;i<e.length;i++){var n=e[i].hasAttribute('href')?'href':'action';"
    "e[i].setAttribute(n,new URL(e[i].getAttribute(n),t).href);}"
)


def script(html: str, then: str = "") -> bytes:
    """The script file of a shared part: ``html`` inserted where the script stands, then the
    script ``then`` run (``s``: the script element). ASCII only: a script file read from disk
    takes the page's encoding only by convention."""
    return (_INSERT % (json.dumps(html, ensure_ascii=True), then)).encode()


def reference(src: str, fallback: Markup | None = None, **data: str) -> Markup:
    """Where a page shows a shared part: the script, and what readers without JavaScript see
    instead (``fallback``: a link to the part on the page it comes from)."""
    attrs = "".join(f' data-{k}="{escape(v)}"' for k, v in data.items())
    tag = f'<script src="{escape(src)}"{attrs}></script>'
    return Markup(tag + f"<noscript>{fallback}</noscript>" if fallback else tag)
