"""What Markdown may produce, written once: the sanitiser (``markup``) keeps exactly this, and the
check (``unsafe_markup``) reports, at its line, everything in a Markdown text the sanitiser would
remove, so an editor is told instead of finding it silently gone.

Markdown carries no ``id`` or ``class`` (the layouts own them: a body could otherwise fake the
page's ``<div id="meter-banner">``), no attributes from attribute lists, no images, no comments,
and links only to http, https, mailto or a path. URLs are read as a browser reads them: character
references decoded, tabs and newlines inside dropped, so ``&#106;avascript:`` and
``java&#9;script:`` are what they are.
"""

from __future__ import annotations

import re
from html import unescape

from ..messages import M

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
})  # fmt: skip
ALLOWED_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "title"}),
    "abbr": frozenset({"title"}),
    "td": frozenset({"align"}),
    "th": frozenset({"align"}),
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "data"})

# a raw HTML tag as Python-Markdown passes it on (``<img/src=x>`` included): name, then the rest
RAW_TAG = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)(?=[\s/>]|$)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)", re.S)
ATTRIBUTE = re.compile(r"(?:^|(?<=[\s/\"']))([^\s/>\"'=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]*)))?")
COMMENT = re.compile(r"<!--")
AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.-]*:[^\s<>]*)>")
INLINE_URL = re.compile(r"\]\(\s*(?:<([^>\n]*)>|([^\s)]*))")
REFERENCE = re.compile(r"^[ ]{0,3}\[[^\]\n]+\]:[ \t]*(?:<([^>\n]*)>|(\S+))", re.M)
IMAGE = re.compile(r"!\[[^\]\n]*\]\s*[\(\[]")
# attr_list: ``{: #id .class key=value}``, the colon optional; any id, class or key=value in it
ATTR_LIST = re.compile(r"\{:?[ ]*([^}\n ][^}\n]*?)[ ]*\}")
ATTR_LIST_SETS = re.compile(r"(?:^|\s)(?:[#.][^\s}]|[^\s=}]+=)")
IGNORED_IN_URL = re.compile(r"[\t\n\r]")
SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def url_scheme(url: str) -> str | None:
    """The scheme a browser would see in ``url`` (lower case), or None for a relative URL."""
    url = IGNORED_IN_URL.sub("", unescape(url)).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c"
                                                     "\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19"
                                                     "\x1a\x1b\x1c\x1d\x1e\x1f\x20")
    m = SCHEME.match(url)
    return m.group(1).lower() if m else None


def url_problem(url: str) -> str | None:
    scheme = url_scheme(url)
    if scheme is None or scheme in URL_SCHEMES:
        return None
    if scheme in SCRIPT_SCHEMES:
        return M.UNSAFE_URL.text
    return M.UNSAFE_SCHEME.format(scheme=scheme)


def _tag_problems(m: re.Match[str]) -> list[tuple[int, str]]:
    closing, name, rest = m.group(1), m.group(2).lower(), m.group(3)
    found: list[tuple[int, str]] = []
    if name not in ALLOWED_TAGS:
        found.append((m.start(), M.UNSAFE_TAG.format(name=name)))
    if closing:
        return found
    allowed = ALLOWED_ATTRS.get(name, frozenset())
    for a in ATTRIBUTE.finditer(rest):
        attr = a.group(1).lower()
        value = next((v for v in a.group(2, 3, 4) if v is not None), "")
        if attr.startswith("on"):
            found.append((m.start(), M.UNSAFE_HANDLER.format(name=attr)))
        elif name in ALLOWED_TAGS and attr not in allowed:
            found.append((m.start(), M.UNSAFE_ATTRIBUTE.format(name=attr, tag=name)))
        elif attr == "href" and (problem := url_problem(value)):
            found.append((m.start(), problem))
    return found


def unsafe_markup(text: str) -> list[tuple[int, str]]:
    """(0-based line, message) of everything in Markdown ``text`` the sanitiser would remove or
    change: raw tags and attributes outside the allow-lists, event handlers, comments, images,
    attribute lists, and links (inline, reference-style, autolinks, raw) to other schemes."""
    if not ("<" in text or "](" in text or "]:" in text or "{" in text or "![" in text):
        return []  # none of the patterns below can match: most text is done here
    found: list[tuple[int, str]] = []
    if "<" in text:
        for m in RAW_TAG.finditer(text):
            found += _tag_problems(m)
        found += [(m.start(), M.HTML_COMMENT.text) for m in COMMENT.finditer(text)]
        for m in AUTOLINK.finditer(text):
            if problem := url_problem(m.group(1)):
                found.append((m.start(), problem))
    for rx in (INLINE_URL, REFERENCE):
        for m in rx.finditer(text):
            if problem := url_problem(m.group(1) if m.group(1) is not None else m.group(2)):
                found.append((m.start(), problem))
    found += [(m.start(), M.IMAGE.text) for m in IMAGE.finditer(text)]
    for m in ATTR_LIST.finditer(text):
        if ATTR_LIST_SETS.search(m.group(1)):
            found.append((m.start(), M.ATTRIBUTE_LIST.format(text=m.group(0))))
    return sorted({(text.count("\n", 0, at), message) for at, message in found})
