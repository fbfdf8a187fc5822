"""``codesite diff``: what a change does to the published site, against a git revision.

The content at BASE is exported from git into a temporary folder (``git archive``), both trees
are parsed into Codes (the same parser as ``check``), and the pages compared: added, removed,
changed (and which parts), URLs that stop existing (an error unless the code stays, marked
deleted), and the search entries that change. Markdown output fits a pull request comment.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field

from .errors import CodesiteError
from .load.parse import read_codes
from .model.code import Code
from .model.config import CONFIG_PATH, SiteConfig, parse_config_checked
from .model.urls import code_url

Key = tuple[str, str]

PARTS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "description": ("body",),
    "notes": ("notes", "seventh_characters"),
    "sections": ("sections",),
    "links": ("parent", "related", "replaced_by"),
    "synonyms": ("synonyms",),
    "status": ("status", "kind", "billable"),
    "history": ("history",),
}


class DiffError(CodesiteError):
    """The revision could not be read (not a git repository, unknown revision)."""


@dataclass
class Tree:
    config: SiteConfig | None
    codes: dict[Key, Code]


@dataclass
class SiteDiff:
    base: str
    added: list[Code] = field(default_factory=list)
    removed: list[Code] = field(default_factory=list)
    changed: list[tuple[Code, list[str]]] = field(default_factory=list)
    gone_urls: list[str] = field(default_factory=list)  # URLs that stop existing: errors
    deleted: list[Code] = field(default_factory=list)  # newly marked deleted: the page stays
    search: list[str] = field(default_factory=list)  # codes whose search entry changes

    @property
    def ok(self) -> bool:
        return not self.gone_urls


def git(root: str, *args: str, binary: bool = False) -> bytes:
    done = subprocess.run(["git", "-C", root, *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def default_base(root: str) -> str:
    """The merge base with main (or origin/main): what the pull request will be merged into."""
    for branch in ("main", "origin/main"):
        try:
            return git(root, "merge-base", "HEAD", branch).decode().strip()
        except DiffError:
            continue
    raise DiffError("no branch 'main' to compare with: give a revision, e.g. codesite diff HEAD~1")


def export(root: str, rev: str, prefix: str, dest: str) -> None:
    """The site's content folder at ``rev``, written under ``dest``."""
    path = f"{prefix}/content" if prefix else "content"
    data = git(root, "archive", "--format=tar", rev, "--", path)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")


def read_tree(site_dir: str) -> Tree:
    try:
        with open(os.path.join(site_dir, CONFIG_PATH), encoding="utf-8") as f:
            config = parse_config_checked(f.read())[0]
    except (OSError, UnicodeDecodeError):
        config = None
    codes = read_codes(site_dir)[0] if os.path.isdir(os.path.join(site_dir, "content", "codes")) else []
    return Tree(config, {c.key: c for c in codes})


def urls(tree: Tree) -> dict[str, Key | None]:
    """Every page URL the tree publishes: code pages, and the system index pages."""
    if tree.config is None:
        return {}
    out: dict[str, Key | None] = {}
    for sid, s in tree.config.systems.items():
        out[f"/{s.url_prefix}/"] = None
        for key, c in tree.codes.items():
            if key[0] == sid:
                out[code_url(s.url_prefix, c.code)] = key
    return out


def changed_parts(a: Code, b: Code) -> list[str]:
    return [part for part, names in PARTS.items() if any(getattr(a, n) != getattr(b, n) for n in names)]


def search_entry(c: Code) -> tuple[object, ...]:
    from .search.documents import code_fields

    return (c.code, c.status, c.billable, tuple(sorted(code_fields(c, c.title or "").items())))


def compare(base: Tree, head: Tree, label: str) -> SiteDiff:
    out = SiteDiff(label)
    for key in sorted(head.codes.keys() - base.codes.keys()):
        out.added.append(head.codes[key])
        out.search.append(f"{key[0]} {key[1]}")
    for key in sorted(base.codes.keys() - head.codes.keys()):
        out.removed.append(base.codes[key])
        out.search.append(f"{key[0]} {key[1]}")
    for key in sorted(base.codes.keys() & head.codes.keys()):
        a, b = base.codes[key], head.codes[key]
        parts = changed_parts(a, b)
        if parts:
            out.changed.append((b, parts))
            if a.status != "deleted" and b.status == "deleted":
                out.deleted.append(b)
            if search_entry(a) != search_entry(b):
                out.search.append(f"{key[0]} {key[1]}")
    head_urls = urls(head)
    out.gone_urls = sorted(u for u in urls(base) if u not in head_urls)
    return out


def diff_site(site_dir: str, base: str | None = None) -> SiteDiff:
    """Compare the site's working tree with its content at git revision ``base``."""
    site = os.path.abspath(site_dir)
    root = git(site, "rev-parse", "--show-toplevel").decode().strip()
    prefix = os.path.relpath(site, root).replace(os.sep, "/")
    prefix = "" if prefix == "." else prefix
    rev = base or default_base(root)
    label = git(root, "rev-parse", "--short", rev).decode().strip()
    with tempfile.TemporaryDirectory(prefix="codesite-diff-") as tmp:
        export(root, rev, prefix, tmp)
        before = read_tree(os.path.join(tmp, prefix) if prefix else tmp)
    return compare(before, read_tree(site), base or f"merge base {label}")


def title(c: Code) -> str:
    return (c.title or "").replace("|", "\\|")


def markdown(d: SiteDiff, config: SiteConfig | None = None) -> str:
    """The diff as Markdown, for a pull request comment or the job summary."""

    def link(c: Code) -> str:
        s = config.systems.get(c.system) if config else None
        if s is None or config is None:
            return c.code
        return f"[{c.code}]({config.base_url.rstrip('/')}{code_url(s.url_prefix, c.code)})"

    n = len(d.added) + len(d.removed) + len(d.changed)
    lines = [f"## Site changes against {d.base}", ""]
    if not n:
        lines.append("No page changes.")
    else:
        lines.append(f"{len(d.added)} added, {len(d.changed)} changed, {len(d.removed)} removed; "
                     f"{len(d.search)} search entries affected.")
    if d.gone_urls:
        lines += ["", "### Error: URLs that stop existing", "",
                  "Pages are permanent: keep the file and mark the code `status: deleted` "
                  "(with `replaced_by`) instead of removing it.", ""]
        lines += [f"- `{u}`" for u in d.gone_urls]
    if d.added:
        lines += ["", "### Added", "", "| code | system | title |", "|---|---|---|"]
        lines += [f"| {link(c)} | {c.system} | {title(c)} |" for c in d.added]
    if d.changed:
        lines += ["", "### Changed", "", "| code | system | what changed |", "|---|---|---|"]
        for c, parts in d.changed:
            lines.append(f"| {link(c)} | {c.system} | {', '.join(parts)} |")
    if d.deleted:
        lines += ["", "### Marked deleted (the page stays)", ""]
        lines += [f"- {c.system} {c.code}" + (f": replaced by {', '.join(c.replaced_by)}" if c.replaced_by else "")
                  for c in d.deleted]
    if d.removed:
        lines += ["", "### Removed", "", "| code | system | title |", "|---|---|---|"]
        lines += [f"| {c.code} | {c.system} | {title(c)} |" for c in d.removed]
    if d.search:
        lines += ["", "### Search entries affected", "", ", ".join(d.search)]
    return "\n".join(lines) + "\n"
