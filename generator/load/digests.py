"""Digests of the inputs that are not content files: the config, the build options, our own
source, the libraries that make HTML, and the layouts (a digest per page template with
everything it extends, includes or imports)."""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
from collections.abc import Iterable
from typing import Any

from jinja2 import Environment, meta

from ..outputs import digest


def env_digest(site_dir: str, config_digest: str, extra: Any) -> str:
    """Everything every page depends on, content files and templates aside: the site's
    place, its config, build options, our source and the versions of the libraries that
    turn text into HTML."""
    versions = repr([library_stamp(m) for m in ("jinja2", "markupsafe", "markdown", "nh3", "yaml")])
    parts = (os.path.abspath(site_dir), config_digest, repr(extra), source_digest(), versions)
    return digest("\0".join(parts).encode())


def library_stamp(module: str) -> tuple[str, int, int]:
    """Where a library is and when it was installed: a new version changes it. (Cheaper than
    importlib.metadata, which costs a fresh process 20 ms of imports.)"""
    path = getattr(importlib.import_module(module), "__file__", None) or module
    try:
        st = os.stat(path)
    except OSError:
        return (path, 0, 0)
    return (path, st.st_mtime_ns, st.st_size)


@functools.cache
def source_digest() -> str:
    """Hash of the generator's own source, and of the page contract it writes (``edge.contract``):
    a new codesite version renders everything again. Read once a process (the dev server's
    edits read 80 files each before): the code it runs is the code it imported."""
    import edge.contract

    h = hashlib.blake2b(digest_size=16)
    pkg = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the whole generator package
    for dirpath, dirnames, filenames in os.walk(pkg):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                with open(os.path.join(dirpath, name), "rb") as f:
                    h.update(os.path.relpath(os.path.join(dirpath, name), pkg).encode() + b"\0" + f.read())
    with open(edge.contract.__file__ or "", "rb") as f:
        h.update(b"edge/contract.py\0" + f.read())
    return h.hexdigest()


def layouts_digest(layouts: str) -> str:
    """Hash of every file in the layouts folder: while it holds, so do the template digests."""
    h = hashlib.blake2b(digest_size=16)
    for dirpath, dirnames, filenames in os.walk(layouts):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                h.update(os.path.relpath(full, layouts).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def template_digests(env: Environment, names: Iterable[str]) -> dict[str, str]:
    """Per template, a hash of its source and of every template it extends, includes or imports.

    A template that names another through a variable depends on all of them.
    """
    loader = env.loader
    assert loader is not None
    sources: dict[str, str] = {}
    refs: dict[str, set[str]] = {}

    def visit(name: str) -> None:
        if name in sources:
            return
        source = loader.get_source(env, name)[0]
        sources[name] = source
        found = set(meta.find_referenced_templates(env.parse(source)))
        if None in found:
            found = set(loader.list_templates())
        refs[name] = {n for n in found if n is not None}
        for n in refs[name]:
            visit(n)

    out: dict[str, str] = {}
    for name in names:
        visit(name)
        closure: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n not in closure:
                closure.add(n)
                stack.extend(refs[n])
        h = hashlib.blake2b(digest_size=16)
        for n in sorted(closure):
            h.update(n.encode() + b"\0" + sources[n].encode() + b"\0")
        out[name] = h.hexdigest()
    return out
