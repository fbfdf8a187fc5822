"""Markdown to safe HTML: Python-Markdown, then nh3 (defence in depth behind the check stage)."""

from __future__ import annotations

import markdown
import nh3

EXTENSIONS = ["tables", "sane_lists", "attr_list", "def_list"]
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRS = {"a": {"href", "title"}, "abbr": {"title"}, "td": {"align"}, "th": {"align"}, "*": {"class", "id"}}


class MarkdownRenderer:
    """One Markdown instance reused across pages (reset between them), as Python-Markdown advises."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(extensions=EXTENSIONS, output_format="html")

    def __call__(self, text: str) -> str:
        if not text.strip():
            return ""
        html = self._md.reset().convert(text)
        return nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes={k: set(v) for k, v in ALLOWED_ATTRS.items()},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener",
        )
