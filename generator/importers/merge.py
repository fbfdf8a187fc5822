"""Apply an official release to a folder of content files: a merge, as a yearly release is applied.

Official fields come from the release; everything else in a file (body, synonyms, sections,
related codes, the editors' history entries) belongs to the editors and is never touched. A code
missing from the release is marked deleted (its page stays, with a history entry); a new code is
added. The terms of the site's lay vocabulary (``generator.vocabulary``) are added to the
``synonyms`` of the codes they name (added only: the editors' own synonyms stay, first).
``merge_front`` is the pure decision for one file; ``merge_folder`` does the reading and the
(atomic, only-if-changed) writing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from .. import yamlutil
from ..errors import CheckFailed, ContentError
from ..load.parse import split_front_matter
from ..vocabulary import merge_synonyms
from .files import render_file, write_if_changed

# The fields a release owns. Anything else in a file is the editors'.
OFFICIAL = ("title", "kind", "parent", "billable", "notes", "seventh_characters")
ACTIONS = ("added", "updated", "deleted", "unchanged")

Front = dict[str, Any]


@dataclass
class Summary:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0

    def count(self, action: str) -> None:
        setattr(self, action, getattr(self, action) + 1)

    def __str__(self) -> str:
        return ", ".join(f"{getattr(self, a)} {a}" for a in ACTIONS)


def _empty(v: Any) -> bool:
    return v is None or v == [] or v == {} or v == ""


def normal(front: Front) -> Front:
    """Front matter without empty values: what a file means, whatever way it spells it."""
    return {k: v for k, v in front.items() if not _empty(v)}


def _log(front: Front, release: str, action: str, note: str | None = None) -> None:
    entry = {"release": release, "action": action, **({"note": note} if note else {})}
    history = list(front.get("history") or [])
    if entry not in history:
        history.append(entry)
    front["history"] = history


def merge_front(
    old: Front | None, official: Front | None, release: str, log_new: bool, terms: Iterable[str] = ()
) -> tuple[Front, str]:
    """The file's new front matter and what happened to it (one of ``ACTIONS``).

    ``old`` is the file's current front matter (None: no file); ``official`` the release's
    entry (None: the release no longer has the code). ``log_new`` adds an "added" history
    entry to new codes; a first import leaves it off, since it cannot know when they came.
    ``terms``: the vocabulary's lay terms for the code, added to its synonyms if missing.
    """
    if old is None:
        assert official is not None
        front = dict(official)
        if terms:
            front["synonyms"] = merge_synonyms([], terms)
        if log_new:
            _log(front, release, "added")
        return front, "added"
    front = dict(old)
    if official is None:
        if front.get("status") == "deleted":
            return front, "unchanged"
        front["status"] = "deleted"
        _log(front, release, "deleted")
        return front, "deleted"
    if front.get("status") == "deleted":  # back in the release: no longer deleted or replaced
        front.pop("status")
        front.pop("replaced_by", None)
        _log(front, release, "added", "reinstated")
    old_title = front.get("title")
    for k in OFFICIAL:
        if _empty(official.get(k)):
            front.pop(k, None)
        else:
            front[k] = official[k]
    if old_title and old_title != front.get("title"):
        _log(front, release, "revised", "official title changed")
    if terms:
        front["synonyms"] = merge_synonyms(front.get("synonyms"), terms)
    return front, ("unchanged" if normal(front) == normal(old) else "updated")


def read_folder(into: str) -> tuple[dict[str, tuple[Front, str, str]], list[ContentError]]:
    """Every content file in ``into``: code -> (front matter, body, text). Errors, collected."""
    found: dict[str, tuple[Front, str, str]] = {}
    errors: list[ContentError] = []
    if not os.path.isdir(into):
        return found, errors
    for name in sorted(os.listdir(into)):
        if not name.endswith(".md"):
            continue
        path = os.path.join(into, name)
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            front_text, body, _ = split_front_matter(text, path)
            front = yamlutil.load(front_text) or {}
        except ContentError as exc:
            errors.append(exc)
            continue
        except UnicodeDecodeError as exc:
            errors.append(ContentError(path, 1, "file", f"not valid UTF-8 ({exc.reason})"))
            continue
        except yaml.YAMLError as exc:
            line = yamlutil.error_line(exc) + 2
            errors.append(
                ContentError(
                    path, line, "front matter", f"malformed YAML: {yamlutil.error_text(exc)}"
                )
            )
            continue
        if not isinstance(front, dict):
            errors.append(ContentError(path, 2, "front matter", "expected a mapping"))
            continue
        found[name[: -len(".md")]] = (front, body, text)
    return found, errors


def merge_folder(
    official: Mapping[str, Front],
    into: str,
    release: str,
    advance: Callable[[int], None] | None = None,
    synonyms: Mapping[str, list[str]] | None = None,
) -> Summary:
    """Merge the release ``official`` (code -> official front matter) into the folder ``into``;
    ``synonyms`` (code -> lay terms) are added to the codes' own.

    Reads and parses every existing file first: if any cannot be read, nothing is written
    (CheckFailed lists them all). Files are written only when their text changes.
    """
    existing, errors = read_folder(into)
    if errors:
        raise CheckFailed(errors)
    os.makedirs(into, exist_ok=True)
    log_new = bool(existing)
    summary = Summary()
    codes: Iterable[str] = list(official) + sorted(c for c in existing if c not in official)
    for code in codes:
        old = existing.get(code)
        terms = (synonyms or {}).get(code, ())
        front, action = merge_front(old[0] if old else None, official.get(code), release, log_new, terms)
        summary.count(action)
        if action != "unchanged":
            write_if_changed(
                os.path.join(into, f"{code}.md"),
                render_file(front, old[1] if old else ""),
                old[2] if old else None,
            )
        if advance:
            advance(1)
    return summary
