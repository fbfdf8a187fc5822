"""Sitemaps and robots.txt: every public page's absolute URL; past 50,000, in parts that a code
that comes or goes changes one of."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Collection, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from markupsafe import escape

from ..model.urls import code_url, code_urls, key_of
from ..outputs import Output, digest

SITEMAP_LIMIT = 50_000
KEPT_MOVES = 1000  # past this many codes come or gone, the list is made again whole


@dataclass
class _Kept:
    prefixes: dict[str, str]
    key_of: Callable[[Any], tuple[str, str]]
    names: set[Hashable]
    urls: list[str]  # in order
    source: object = None  # what held the names (``ordered_code_urls``); None: not known


class Moved(NamedTuple):
    """The names of codes that came and went since the names ``base`` held."""

    base: object
    came: Collection[Hashable]
    went: Collection[Hashable]


_KEPT: list[_Kept] = []  # the last list made in this process (the dev server builds again and again)


def ordered_code_urls(
    prefixes: dict[str, str],
    names: Collection[Hashable],
    key_of: Callable[[Any], tuple[str, str]],
    source: object = None,
    moved: Moved | None = None,
    keep: bool = True,
) -> list[str]:
    """Every code page's URL, in order. ``names`` identify the codes (keys, or content paths:
    whichever the caller holds without a cost), ``key_of`` gives a name's key. The last list
    made is kept: when a few codes came or went since, it is patched (an editor's new code:
    98k URLs made and sorted again took 0.1 s) instead of made again. ``source``: the object
    that holds ``names`` (kept, not read); ``moved``: how they differ from those of an earlier
    ``source``, which saves looking for what came and went among them all (98k names: 10-30
    ms) when the list kept is that one's. The result is the caller's to read, not to change.
    ``keep``: False when no build follows in this process (the list and the set of names: 12
    MB of the full set's, else held through the build's peak of memory, at its end)."""
    kept = _KEPT[0] if _KEPT and keep else None
    if kept is not None and kept.prefixes == prefixes and kept.key_of is key_of:
        if moved is not None and kept.source is not None and kept.source is moved.base:
            came = [n for n in moved.came if n not in kept.names]
            went = {n for n in moved.went if n in kept.names}
        else:
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
            kept.source = source
            return kept.urls
    names = list(names) if keep else names  # read twice when kept
    urls = sorted(code_urls(prefixes, map(key_of, names)))
    _KEPT[:] = [_Kept(dict(prefixes), key_of, set(names), urls, source)] if keep else []
    return urls


def warm_urls(prefixes: dict[str, str], paths: Mapping[str, object], moved: Moved | None = None) -> list[str]:
    """Make (or patch) the code pages' URLs now, for the next build in this process to patch
    (the dev server: a code that comes then costs a few milliseconds), named as an edit's build
    names the codes: by their content ``paths`` (the keys; ``moved`` as ``ordered_code_urls``
    takes it). Returns them (the caller's to read)."""
    kept = _KEPT[0] if _KEPT else None
    if kept is None or kept.source is not paths:
        return ordered_code_urls(prefixes, paths.keys(), key_of, paths, moved)
    return kept.urls


def warm_parts(base: str, codes: list[str]) -> None:
    """Make the sitemap's parts of the code pages' URLs ``codes`` now, for the next build in
    this process to reuse (the dev server: a code that comes then makes its own part again,
    not all 263 of the full set: 60 ms of the first new code's build)."""
    for _ in sitemaps(base, [], codes):
        pass


def by_key(key: tuple[str, str]) -> tuple[str, str]:
    """``ordered_code_urls``' ``key_of`` for names that are keys."""
    return key


_MADE: dict[str, tuple[str, list[str], Output]] = {}  # a part's path: its base, URLs and file, last made
_NAME_OUT = re.compile(r"[^a-z0-9-]+")


def code_parts(codes: list[str]) -> list[tuple[str, list[str]]]:
    """The sitemap parts of the code pages' URLs (in order): one a system and the code's first
    two characters (icd-10-cm-s7: about 4k URLs in the full set), so that a code that comes or
    goes changes one part; a part past ``SITEMAP_LIMIT`` is cut into numbered ones. Each is a
    run of the sorted list, found by bisection (no pass over 98k URLs)."""
    named: dict[str, list[str]] = {}
    i, n = 0, len(codes)
    while i < n:
        cut = codes[i].find("/", 1) + 3  # /icd-10-cm/S7
        head = codes[i][:cut]
        j = bisect.bisect_right(codes, head + "\U0010ffff", i)
        name = _NAME_OUT.sub("_", head.strip("/").lower().replace("/", "-"))
        named.setdefault(name, []).extend(codes[i:j])  # case or sign folded into one name: one part
        i = j
    parts = []
    for name, urls in named.items():
        if len(urls) <= SITEMAP_LIMIT:
            parts.append((name, urls))
        else:
            parts += [(f"{name}-{k // SITEMAP_LIMIT + 1}", urls[k : k + SITEMAP_LIMIT])
                      for k in range(0, len(urls), SITEMAP_LIMIT)]
    return parts


def sitemaps(base: str, pages: list[str], codes: list[str], keep: bool = True) -> Iterator[Output]:
    """sitemap.xml and robots.txt. Past ``SITEMAP_LIMIT`` URLs, sitemap.xml is an index of parts:
    the other pages, and the code pages' parts (``code_parts``). A part made from the same URLs
    as last time in this process is the same file, not made again (the dev server); ``keep``:
    False when no build follows in this process (nothing kept)."""
    if not keep:
        _MADE.clear()

    def urlset(path: str, urls: list[str]) -> Output:
        made = _MADE.get(path)
        if made is not None and made[0] == base and made[1] == urls:
            return made[2]
        # escaped once, whole (98k calls of escape() took 0.1 s): a URL holds no line break
        body = str(escape("\n".join(base + u for u in urls))).replace("\n", "</loc></url>\n<url><loc>")
        body = f"<url><loc>{body}</loc></url>\n" if urls else ""
        data = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n' + body + "</urlset>\n").encode()
        out = Output("site", path, data, digest(data))
        if keep:
            _MADE[path] = (base, urls, out)
        return out

    if len(pages) + len(codes) <= SITEMAP_LIMIT:
        yield urlset("sitemap.xml", pages + codes)
    else:
        parts = [("pages", pages), *code_parts(codes)]
        index = "".join(f"<sitemap><loc>{escape(base)}/sitemaps/{name}.xml</loc></sitemap>\n" for name, _ in parts)
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
        for name, urls in parts:
            yield urlset(f"sitemaps/{name}.xml", urls)
    robots = f"User-agent: *\nDisallow: /account/\nSitemap: {base}/sitemap.xml\n"
    yield Output("site", "robots.txt", robots.encode())
