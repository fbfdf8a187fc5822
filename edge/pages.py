"""Page surgery on built HTML: find a page's metered code, fill its gates, write the banner.

Works on the markers of the page contract (``contract``), which the build writes; fragment
paths are derived from the page's own path and the marker ids, never from the request, so no
URL names a file under ``private/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

from .contract import BANNER, GATE, GATE_CLOSE, GATE_OPEN, has_gates, page_code
from .cookies import Keys
from .core import Decision, Policy, code_key, csrf_token


def metered_code(html: str) -> str | None:
    """The meter key ("system:CODE") of a code page with gated sections; None for any other page."""
    found = page_code(html)
    if found is None or not has_gates(html):
        return None
    return code_key(*found)


def fill_gates(html: str, fragment: Callable[[str], str]) -> str:
    """Replace each gate's placeholder with its fragment (markers kept). ``fragment`` raising
    makes the whole call raise: a page is either whole or the caller serves the teaser."""
    def fill(m: re.Match[str]) -> str:
        gid = m.group(1)
        return GATE_OPEN.format(id=gid) + fragment(gid) + GATE_CLOSE.format(id=gid)

    return GATE.sub(fill, html)


def banner_html(remaining: int, registered: bool, extra_views: int, csrf: str) -> str:
    views = "view" if remaining == 1 else "views"
    text = f'<strong class="meter-count">{remaining} code page {views} remaining</strong>'
    if registered:
        return (
            text + ' <form class="logout" method="post" action="/account/logout/">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit">Log out</button></form>'
        )
    return (
        text + f' <a href="/account/register/">Register free account</a> for {extra_views} more,'
        ' or <a href="/account/login/">log in</a>.'
    )


def with_banner(html: str, banner: str) -> str:
    return html.replace(BANNER, BANNER + banner, 1)


def render(html: str, full: bool, fragment: Callable[[str], str], banner: str) -> str:
    """The page a visitor gets: gates filled when ``full``, the banner in either case."""
    return with_banner(fill_gates(html, fragment) if full else html, banner)


def banner_for(d: Decision, keys: Keys, now: int, policy: Policy) -> str:
    """The meter banner for a decision; registered visitors get a log-out form."""
    csrf = csrf_token(d.state.visitor, keys, now) if d.registered else ""
    return banner_html(d.remaining, d.registered, policy.registered_views, csrf)
