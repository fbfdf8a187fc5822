"""Page surgery on built HTML: find a page's metered code, fill its gates, write the banner.

Works on the markers of the page contract (``contract``), which the build writes; fragment
paths are derived from the page's own path and the marker ids, never from the request, so no
URL names a file under ``private/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape

from .contract import BANNER, GATE, GATE_CLOSE, GATE_OPEN, GUEST_VIEWS, REGISTER_FORM, has_gates, page_code
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


_STATE = re.compile(r"<!--meter-state:(guest|registered)-->")
_OFFER = re.compile(r"<!--offer-->.*?<!--/offer-->", re.S)


def banner_html(
    remaining: int, registered: bool, extra_views: int, csrf: str, guest_views: int = GUEST_VIEWS
) -> str:
    """The banner's count and offer; ``render`` puts the page's state in front of it (the code
    page read in full or locked), ``with_banner`` drops the offer on the register page."""
    views = "view" if remaining == 1 else "views"
    text = f'<!--meter-state:{"registered" if registered else "guest"}-->'
    text += f'<strong class="meter-count">{remaining} code page {views} remaining</strong>'
    if registered:
        return (
            text + ' <form class="logout" method="post" action="/account/logout/">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            '<button type="submit">Log out</button></form>'
        )
    limit = f"{guest_views} page view" + ("" if guest_views == 1 else "s")
    more = f"{extra_views} more view" + ("" if extra_views == 1 else "s")
    return (
        text + f". Guest accounts are limited to {limit}. "
        f'<!--offer--><a href="/account/register/">Register free account</a><!--/offer--> to get {more},'
        ' or <a href="/account/login/">log in</a>.'
    )


def with_banner(html: str, banner: str) -> str:
    if REGISTER_FORM in html:  # the register page does not offer itself
        banner = _OFFER.sub("Register below", banner)
    return html.replace(BANNER, BANNER + _STATE.sub("", banner), 1)


def state_sentence(full: bool, code: str, registered: bool) -> str:
    if not full:
        return "This page's coding sections are locked. "
    if registered:
        return f"You are reading {escape(code)} in full. "
    return f"You are reading your free view of {escape(code)}. "


def render(html: str, full: bool, fragment: Callable[[str], str], banner: str) -> str:
    """The page a visitor gets: gates filled when ``full``, the banner in either case, saying
    on a metered code page whether this page is read in full or locked."""
    found = page_code(html) if has_gates(html) else None
    if found is not None:
        banner = _STATE.sub(lambda m: state_sentence(full, found[1], m.group(1) == "registered"), banner, 1)
    return with_banner(fill_gates(html, fragment) if full else html, banner)


def banner_for(d: Decision, keys: Keys, now: int, policy: Policy) -> str:
    """The meter banner for a decision; registered visitors get a log-out form."""
    csrf = csrf_token(d.state.visitor, keys, now) if d.registered else ""
    return banner_html(d.remaining, d.registered, policy.registered_views, csrf, policy.guest_views)
