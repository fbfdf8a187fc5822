"""URLs and output paths. Permanent and flat: /<prefix>/<CODE>/; links are relative."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

from ..errors import BuildError

_PLAIN = re.compile(r"[A-Za-z0-9._-]+").fullmatch  # what quote() leaves as it is


def key_of(path: str) -> tuple[str, str]:
    """The (system, code) a content file's place names: content/codes/<system>/<code>.md (the key
    of a file that passed the checks; of a file already reported, the code its links may name)."""
    d = path.rindex("/")
    return path[path.rindex("/", 0, d) + 1 : d], path[d + 1 : -3]


def path_of(key: tuple[str, str]) -> str:
    return f"content/codes/{key[0]}/{key[1]}.md"


def code_urls(prefixes: dict[str, str], keys: Iterable[tuple[str, str]]) -> list[str]:
    """``code_url`` of every (system, code) key, with one check that none needs quoting."""
    keys = list(keys)
    if _PLAIN("".join(code for _, code in keys)):
        return [f"/{prefixes[sid]}/{code}/" for sid, code in keys]
    return [code_url(prefixes[sid], code) for sid, code in keys]


def code_url(prefix: str, code: str) -> str:
    if _PLAIN(code):  # nearly every code: nothing to quote
        return f"/{prefix}/{code}/"
    return f"/{prefix}/{quote(code, safe='.-_')}/"


def output_path(url: str) -> str:
    """Relative file path of a URL: /a/b/ -> a/b/index.html; /sitemap.xml -> sitemap.xml."""
    path = url.lstrip("/")
    if not path or path.endswith("/"):
        path += "index.html"
    return path


_ROOTS: dict[str, str] = {}  # absolute roots, normalised (asked once per output file)
# a relative path that ``normpath`` leaves as it is and that stays inside: names that do not
# start with a dot, one slash between them, no backslash or NUL (a third of ``normpath``'s time)
_INSIDE = re.compile(r"[^/.\\\x00][^/\\\x00]*(?:/[^/.\\\x00][^/\\\x00]*)*")


def safe_join(root: str, rel: str) -> str:
    """Join without escaping ``root`` (Pelican's sanitised_join)."""
    base = _ROOTS.get(root)
    if base is None:
        base = os.path.abspath(root)
        if os.path.isabs(root):  # a relative one depends on the working folder
            _ROOTS[root] = base
    if _INSIDE.fullmatch(rel) and base != "/":  # every output file's path: normalised already, inside
        return f"{base}/{rel}"
    norm = posixpath.normpath(rel)
    if norm.startswith("../") or norm == ".." or posixpath.isabs(norm) or "\\" in rel or "\x00" in rel:
        raise BuildError(f"refusing to write outside the output folder: {rel!r}")
    full = base if norm == "." else os.path.join(base, norm)  # normalised: both parts are
    if full != base and not full.startswith(base + os.sep):
        raise BuildError(f"refusing to write outside the output folder: {rel!r}")
    return full


def relative(from_url: str, to_url: str, file_links: bool = False) -> str:
    """Link from the page at ``from_url`` to ``to_url``, relative so the site works anywhere.

    With ``file_links`` directory URLs end in ``index.html`` (for file://).
    """
    if to_url.startswith(("http://", "https://", "mailto:", "#")):
        return to_url
    frag = ""
    if "#" in to_url:
        to_url, frag = to_url.split("#", 1)
        frag = "#" + frag
    from_parts = from_url.split("/")[1:-1]  # "/a/b/" -> ["a", "b"]; "/x.html" -> []
    to_parts = to_url.split("/")[1:]  # "/a/c/" -> ["a", "c", ""]
    common = 0
    while common < len(from_parts) and common < len(to_parts) - 1 and from_parts[common] == to_parts[common]:
        common += 1
    target = "/".join(to_parts[common:])
    if file_links and (target == "" or target.endswith("/")):
        target += "index.html"
    out = "../" * (len(from_parts) - common) + target
    return (out or "./") + frag


# The pages every site has besides its codes and systems: URL -> template. The renderer writes
# them; the check knows them, so a nav link to one is found before anything renders.
FIXED_PAGES = {
    "/": "home.html",
    "/search/": "search.html",
    "/account/login/": "login.html",
    "/account/register/": "register.html",
    "/404.html": "404.html",
}
OTHER_FILES = ("/sitemap.xml", "/robots.txt")


def whatsnew_url(url_prefix: str, release: str) -> str:
    """The "What's new in <release>" page of a code system."""
    return f"/{url_prefix}/whats-new/{quote(release, safe='')}/"


def split_whatsnew_url(url: str) -> tuple[str, str] | None:
    """(url prefix, release) of a "What's new" page's URL; None for any other."""
    parts = url.split("/")
    if len(parts) == 5 and parts[0] == "" and parts[2] == "whats-new" and parts[4] == "" and parts[1] and parts[3]:
        return parts[1], unquote(parts[3])
    return None


def split_code_url(url: str) -> tuple[str, str] | None:
    """(url prefix, code) of a code page's URL "/<prefix>/<CODE>/"; None for any other."""
    parts = url.split("/")
    if len(parts) == 4 and parts[0] == "" and parts[3] == "" and parts[1] and parts[2]:
        return parts[1], unquote(parts[2])
    return None
