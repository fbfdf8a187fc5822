"""Parts of code pages that many pages show alike, rendered once for them.

The layouts still define every part (a macro, a partial); the renderer renders a part once for
the pages that show it alike and hands them the HTML, where each page ran the template's loops
again before (a 7th-character table has 16 rows; 98k pages show one). A part is shared only where
its output provably does not depend on the page: what its template can see is checked here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from jinja2 import Environment, meta, nodes
from markupsafe import Markup, escape

# The names the site's header may use and still be rendered once per page folder level: the
# page's links (by target), the page's URL (in equality tests only) and the site's config.
HEADER_NAMES = frozenset({"links", "page_url", "site", "systems", "offline"})

# Stands for the page's code while a part is rendered once for many pages (YAML cannot hold
# a NUL character, so no content can): replaced by each page's code, escaped.
CODE_SLOT = "\x00code\x00"


class Header:
    """When the site's header (``partials/header.html``) is the same on every page of a folder
    level, and the strings that would make it differ for one page."""

    def __init__(self, env: Environment, name: str, nav: Iterable[tuple[str, str]]) -> None:
        targets = header_targets(env, name)
        self.known = targets is not None
        self.targets = (targets or set()) | {href for _, href in nav}
        # every folder a target is in, at any depth ("/a/b/c" -> "/", "/a/", "/a/b/")
        self.folders = {t[: i + 1] for t in self.targets for i, ch in enumerate(t) if ch == "/"}

    def shared(self, page_url: str, own: str) -> bool:
        """Whether the page at ``page_url`` (its folder ``own``) shows the header as the other
        pages of its folder level do: no target of the header is in its folder (a link from
        there is the page's own) and none equals its URL (the current nav entry)."""
        return self.known and own not in self.folders and page_url not in self.targets


def header_targets(env: Environment, name: str) -> set[str] | None:
    """The strings the header compares the page's URL with or links to, as far as the template
    says: its string constants. None when the header can depend on the page in another way
    (another variable, the page's URL used but in ``==``/``!=``, ``links`` but by ``[target]``,
    another template included or imported)."""
    try:
        source, _, _ = env.loader.get_source(env, name) if env.loader else ("", None, None)
    except Exception:  # no header: the page includes nothing, or fails as it did
        return None
    # the answer depends on the source and on how the environment parses it: worked out once
    # per source (each of the dev server's builds asks: 5 ms of parsing)
    key = (source, env.lexer, tuple(sorted(env.extensions)))
    if key not in _TARGETS:
        if len(_TARGETS) >= 16:
            _TARGETS.clear()
        _TARGETS[key] = _targets_in(env, source)
    found = _TARGETS[key]
    return None if found is None else set(found)


_TARGETS: dict[tuple[str, Any, tuple[str, ...]], frozenset[str] | None] = {}


def _targets_in(env: Environment, source: str) -> frozenset[str] | None:
    ast = env.parse(source)
    if not meta.find_undeclared_variables(ast) <= HEADER_NAMES or any(meta.find_referenced_templates(ast)):
        return None
    compared = {
        id(n) for c in ast.find_all(nodes.Compare) if all(o.op in ("eq", "ne") for o in c.ops)
        for n in (c.expr, *(o.expr for o in c.ops))
    }
    looked_up = {id(g.node) for g in ast.find_all(nodes.Getitem)}
    for n in ast.find_all(nodes.Name):
        if (n.name == "page_url" and id(n) not in compared) or (n.name == "links" and id(n) not in looked_up):
            return None
    return frozenset(c.value for c in ast.find_all(nodes.Const) if isinstance(c.value, str))


class PerCode:
    """A part rendered once for the pages that show it alike but for their own code, which the
    part shows as it is (escaped): rendered with ``CODE_SLOT`` for the code, then each page's
    code put in its place. The first page checks the result against the part rendered for it:
    a part that does more with the code than show it is rendered for each page."""

    __slots__ = ("render", "html")

    def __init__(self, render: Callable[[str], str], code: str) -> None:
        self.render = render
        once = str(render(CODE_SLOT))
        own = str(render(code))
        self.html: str | None = once if once.replace(CODE_SLOT, str(escape(code))) == own else None

    def __call__(self, code: str) -> Markup:
        if self.html is None:
            return Markup(self.render(code))
        return Markup(self.html.replace(CODE_SLOT, str(escape(code))))
