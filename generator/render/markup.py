"""Markdown to safe HTML: Python-Markdown, then nh3 (defence in depth behind the check stage)."""

from __future__ import annotations

import markdown
import nh3

from ..model.markup_rules import ALLOWED_ATTRS, ALLOWED_TAGS, URL_SCHEMES

EXTENSIONS = ["tables", "sane_lists", "attr_list", "def_list"]
# column alignment as ``align`` (allowed on td and th), not a ``style`` the sanitiser removes
EXTENSION_CONFIGS = {"tables": {"use_align_attribute": True}}


class MarkdownRenderer:
    """One Markdown instance reused across pages (reset between them), as Python-Markdown advises."""

    def __init__(self) -> None:
        self._md = markdown.Markdown(extensions=EXTENSIONS, extension_configs=EXTENSION_CONFIGS, output_format="html")

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
