"""Fingerprinted assets: every file of ``assets/`` is published twice, as it is
(``assets/site.css``, for layouts and links that name it) and under a name that carries its
content's digest (``assets/site.3f2a1c9b0d.css``), which a server may cache for ever.

The names are known before any page renders (``asset_names``); templates link them with
``asset('/assets/site.css')``. A changed asset is a new name, so every page that links it
renders again (the names are part of the build's inputs).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from edge.contract import FINGERPRINT_LEN

from ..errors import BuildError
from ..outputs import Output, digest


def fingerprinted(rel: str, data: bytes) -> str:
    """``css/site.css`` -> ``css/site.<digest>.css`` (``LICENSE`` -> ``LICENSE.<digest>``)."""
    folder, name = rel.rpartition("/")[0], rel.rpartition("/")[2]
    stem, dot, ext = name.rpartition(".")
    if not stem:  # no extension, or a dot file
        stem, dot, ext = name, "", ""
    new = f"{stem}.{digest(data)[:FINGERPRINT_LEN]}{dot}{ext}"
    return f"{folder}/{new}" if folder else new


def read_assets(site_dir: str) -> Iterator[tuple[str, bytes]]:
    """(path under assets/, bytes) of every file of the site's assets/, in a stable order, never
    through a symbolic link (the check refuses them; this holds even for one made after it ran:
    linked folders are not entered, and a file is opened with O_NOFOLLOW, which fails on a link)."""
    root = os.path.join(site_dir, "assets")
    if os.path.islink(root):
        raise BuildError("assets: symlink: the assets folder is a symbolic link; it is not followed")
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not enter linked folders
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            try:
                fd = os.open(full, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            except OSError as exc:
                message = f"assets/{rel}: cannot read ({exc.strerror}; symbolic links are not followed)"
                raise BuildError(message) from None
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            yield rel, without_comments(data) if rel.endswith(".js") else data


def without_comments(js: bytes) -> bytes:
    """A script as published: whole-line comments, blank lines and indentation left out (a fifth
    of search.js's gzip bytes, on every page's first view). Only whole lines go: a line that
    starts with ``//``, or a ``/* ... */`` block whose first line starts with ``/*``; code,
    strings and comments after code stay as written."""
    try:
        text = js.decode("utf-8")
    except UnicodeDecodeError:
        return js
    out: list[str] = []
    in_block = False
    for line in text.split("\n"):
        t = line.strip()
        if in_block:
            in_block = not t.endswith("*/")
        elif t.startswith("/*"):
            in_block = not t.endswith("*/")
        elif t and not t.startswith("//") and "`" not in t:
            out.append(t)
        elif "`" in t:  # a template literal may span lines: keep such a line whole
            out.append(line)
    return ("\n".join(out) + "\n").encode("utf-8")


Assets = list[tuple[str, bytes]]  # ``read_assets``' files, read once for a build's names and outputs


def asset_names(site_dir: str, files: Assets | None = None) -> dict[str, str]:
    """URL of each asset -> URL of its fingerprinted copy: ``/assets/site.css`` -> ``/assets/site.<digest>.css``."""
    found = read_assets(site_dir) if files is None else files
    return {f"/assets/{rel}": f"/assets/{fingerprinted(rel, data)}" for rel, data in found}


def asset_outputs(site_dir: str, files: Assets | None = None) -> Iterator[Output]:
    """The files of assets/, each as it is and under its fingerprinted name."""
    for rel, data in read_assets(site_dir) if files is None else files:
        yield Output("site", f"assets/{rel}", data)
        yield Output("site", f"assets/{fingerprinted(rel, data)}", data)
