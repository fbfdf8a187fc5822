"""``codesite new``: a new content file with every field of the schema explained in comments.

The parent is the longest existing code that begins the new one (S73.01 -> S73.0), else the
narrowest range that holds it (27254 -> 27193-27269); ``kind`` and ``billable`` follow the
system's rules (its ``kinds`` in content/site.yaml, else the built-in ones: ``config.DEFAULT_KINDS``).
The file passes ``codesite check`` once its title is filled in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable

from .errors import CodesiteError
from .load import load_config
from .load.parse import read_codes
from .model.code import Code
from .model.config import SiteConfig
from .model.schema import CODE_FIELDS, Key, Record
from .outputs import atomic_write

# what to show, commented out, for the fields a new code usually leaves empty
EXAMPLES: dict[str, list[str]] = {
    "status": ["status: active"],
    "replaced_by": ["replaced_by: [S73.0]"],
    "history": ["history:", '  - {release: "2027", action: added}'],
    "synonyms": ["synonyms: [lay term patients use, another one]"],
    "notes": ["notes:", "  excludes1: [text of the note (A00.0)]"],
    "seventh_characters": ["seventh_characters: {A: initial encounter, D: subsequent encounter, S: sequela}"],
    "related": ["related:", "  - {code: S72.0, relation: see_also, note: Why it is related.}"],
    "sections": [
        "sections:",
        "  - id: coding-tips",
        "    title: Coding tips",
        "    gated: true",
        "    body: Our own advice, in Markdown.",
    ],
}


class ScaffoldError(CodesiteError):
    """``codesite new`` refused (the message says why)."""


def is_range(code: str) -> bool:
    return "-" in code


def in_range(code: str, rng: str) -> bool:
    first, _, last = rng.partition("-")
    head = code.replace(".", "")[: len(first)]
    return len(first) == len(last) and first <= head <= last


def infer_parent(code: str, codes: Iterable[Code]) -> str | None:
    """The longest existing code that begins ``code``, else the narrowest range holding it."""
    known = [c for c in codes if c.code != code]
    prefixes = [c.code for c in known if not is_range(c.code) and code.startswith(c.code)]
    if prefixes:
        return max(prefixes, key=len)
    if is_range(code):
        return None
    ranges = [c for c in known if is_range(c.code) and in_range(code, c.code)]
    if not ranges:
        return None
    depth = {c.code: 0 for c in ranges}
    by_code = {c.code: c for c in known}
    for c in ranges:  # the narrowest: the one deepest in the hierarchy
        cur, seen = c, set()
        while cur.parent and cur.parent in by_code and cur.parent not in seen:
            seen.add(cur.parent)
            depth[c.code] += 1
            cur = by_code[cur.parent]
    return max(ranges, key=lambda c: (depth[c.code], -len(c.code))).code


def comment(name: str, key: Key) -> list[str]:
    """The comment lines that explain a field (and the fields of its items)."""
    spec = key.spec
    doc = key.doc or spec.doc
    head = f"# {name}: {spec.describe()}{' (required)' if key.required else ''}. {doc}".rstrip()
    lines = [head]
    item = getattr(spec, "item", spec)
    if isinstance(item, Record):
        for sub, subkey in item.keys.items():
            subdoc = subkey.doc or ""
            req = " (required)" if subkey.required else ""
            lines.append(f"#   {sub}: {subkey.spec.describe()}{req}. {subdoc}".rstrip())
    return lines


def yaml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted string


def render(system: str, code: str, title: str | None, parent: str | None, kind: str, billable: bool) -> str:
    values = {
        "code": yaml_str(code),
        "system": system,
        "title": yaml_str(title) if title else "",
        "kind": kind,
        "parent": yaml_str(parent) if parent else None,
        "billable": "true" if billable else "false",
    }
    out = ["---", "# Fill in the title, then write a plain-language description below the closing ---.",
           "# Lines starting with # are comments: remove the # to use a field. See docs/content-schema.md."]
    for name, key in CODE_FIELDS.items():
        out += comment(name, key)
        value = values.get(name)
        if value is not None:
            out.append(f"{name}: {value}".rstrip())
        else:
            out += ["# " + line for line in EXAMPLES.get(name, [f"{name}:"])]
    out += ["---", ""]
    return "\n".join(out)


def new_code(
    site_dir: str, system: str, code: str, parent: str | None = None, title: str | None = None
) -> str:
    """Write content/codes/<system>/<code>.md; return its path. ScaffoldError on refusal."""
    config: SiteConfig = load_config(site_dir)
    sys_ = config.systems.get(system)
    if sys_ is None:
        raise ScaffoldError(f"unknown system '{system}' (known: {', '.join(config.systems)})")
    if not sys_.pattern.fullmatch(code):
        raise ScaffoldError(f"'{code}' does not match the {system} code pattern {sys_.pattern.pattern}")
    folder = os.path.join(site_dir, "content", "codes", system)
    rel = f"content/codes/{system}/{code}.md"
    path = os.path.join(site_dir, rel)
    if os.path.exists(path):
        raise ScaffoldError(f"{rel} already exists: edit it instead")
    files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    clash = [f for f in files if f.endswith(".md") and f[:-3].upper() == code.upper()]
    if clash:
        raise ScaffoldError(f"content/codes/{system}/{clash[0]} already exists: edit it instead")
    codes = read_codes(site_dir, [f"content/codes/{system}/{f}" for f in files if f.endswith(".md")])[0]
    if parent is None:
        parent = infer_parent(code, codes)
    elif parent not in {c.code for c in codes}:
        raise ScaffoldError(f"parent '{parent}' does not exist in {system}: add it first, or leave out --parent")
    kind, billable = sys_.guess_kind(code)
    os.makedirs(folder, exist_ok=True)
    atomic_write(path, render(system, code, title, parent, kind, billable).encode("utf-8"))
    return rel
