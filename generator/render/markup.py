"""Markdown to safe HTML: Python-Markdown, then nh3 (defence in depth behind the check stage)."""

from __future__ import annotations

import markdown
import nh3
from markdown.extensions import Extension
from markdown.extensions.attr_list import AttrListExtension
from markdown.extensions.def_list import DefListExtension
from markdown.extensions.sane_lists import SaneListExtension
from markdown.extensions.tables import TableExtension

from ..model.markup_rules import ALLOWED_ATTRS, ALLOWED_TAGS, URL_SCHEMES


def extensions() -> list[Extension]:
    """Tables, sane lists, attribute lists, definition lists. Given as objects: given by name,
    Python-Markdown looks each one up among every installed package's entry points, 30-60 ms
    of every build that renders a page."""
    # column alignment as ``align`` (allowed on td and th), not a ``style`` the sanitiser removes
    return [TableExtension(use_align_attribute=True), SaneListExtension(), AttrListExtension(), DefListExtension()]


class MarkdownRenderer:
    """One Markdown instance reused across pages (reset between them), as Python-Markdown advises."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(extensions=extensions(), output_format="html")

    def __call__(self, text: str) -> str:
        if not text.strip():
            return ""
        html = self._md.reset().convert(text)
        return nh3.clean(
            html,
            tags=set(ALLOWED_TAGS),
            attributes={k: set(v) for k, v in ALLOWED_ATTRS.items()},
            url_schemes=set(URL_SCHEMES),
            link_rel="noopener",
        )
