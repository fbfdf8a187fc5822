"""Sitemaps and robots.txt: every public page's absolute URL, split past 50,000 a file."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Collection, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from ..model.urls import code_url, code_urls
from ..outputs import Output

SITEMAP_LIMIT = 50_000
KEPT_MOVES = 1000  # past this many codes come or gone, the list is made again whole


@dataclass
class _Kept:
    prefixes: dict[str, str]
    key_of: Callable[[Any], tuple[str, str]]
    names: set[Hashable]
    urls: list[str]  # in order


_KEPT: list[_Kept] = []  # the last list made in this process (the dev server builds again and again)


def ordered_code_urls(
    prefixes: dict[str, str], names: Collection[Hashable], key_of: Callable[[Any], tuple[str, str]]
) -> list[str]:
    """Every code page's URL, in order. ``names`` identify the codes (keys, or content paths:
    whichever the caller holds without a cost), ``key_of`` gives a name's key. The last list
    made is kept: when a few codes came or went since, it is patched (an editor's new code:
    98k URLs made and sorted again took 0.1 s) instead of made again. The result is the
    caller's to read, not to change."""
    kept = _KEPT[0] if _KEPT else None
    if kept is not None and kept.prefixes == prefixes and kept.key_of is key_of:
        came = [n for n in names if n not in kept.names]
        gone = len(kept.names) + len(came) - len(names)  # how many went: looked for only then
        went = kept.names.difference(names) if gone else set()
        if len(came) + len(went) <= KEPT_MOVES:

            def url(name: Hashable) -> str:
                system, code = key_of(name)
                return code_url(prefixes[system], code)

            for n in went:
                del kept.urls[bisect.bisect_left(kept.urls, url(n))]
            for n in came:
                bisect.insort(kept.urls, url(n))
            kept.names.difference_update(went)
            kept.names.update(came)
            return kept.urls
    names = list(names)
    _KEPT[:] = [_Kept(dict(prefixes), key_of, set(names), sorted(code_urls(prefixes, map(key_of, names))))]
    return _KEPT[0].urls


def kept_urls(key_of: Callable[[Any], tuple[str, str]]) -> bool:
    """Whether this process holds a list of URLs from a build before, its codes named as
    ``key_of`` reads them."""
    return bool(_KEPT) and _KEPT[0].key_of is key_of


def by_key(key: tuple[str, str]) -> tuple[str, str]:
    """``ordered_code_urls``' ``key_of`` for names that are keys."""
    return key


def sitemaps(base: str, urls: list[str]) -> Iterator[Output]:
    """sitemap.xml (an index of parts past ``SITEMAP_LIMIT`` URLs) and robots.txt."""
    chunks = [urls[i : i + SITEMAP_LIMIT] for i in range(0, len(urls), SITEMAP_LIMIT)] or [[]]

    def urlset(chunk: list[str]) -> bytes:
        # escaped once, whole (98k calls of escape() took 0.1 s): a URL holds no line break
        body = str(escape("\n".join(base + u for u in chunk))).replace("\n", "</loc></url>\n<url><loc>")
        body = f"<url><loc>{body}</loc></url>\n" if chunk else ""
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
