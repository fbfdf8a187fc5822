"""``codesite check``: every error and warning of the site, printed for a person (text), for a
pull request (GitHub workflow commands) or for another tool (JSON lines).

Given paths, the whole site is still loaded and checked (a new file's parent lives elsewhere),
and only the problems in those files are printed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import TextIO

from . import vocabulary
from .errors import CheckFailed, ContentError
from .lint import lint
from .load import load_and_check, read_config_checked
from .load.parse import read_codes, read_text
from .model.code import Code
from .model.urls import key_of

FORMATS = ("text", "github", "json")


def escape_data(text: str) -> str:
    """A workflow command's message, escaped as GitHub's runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(e: ContentError, file: str) -> str:
    props = {"file": file, "line": str(e.line), "col": str(e.col), "title": e.field}
    joined = ",".join(f"{k}={escape_property(v)}" for k, v in props.items())
    return f"::{e.severity} {joined}::{escape_data(e.message)}"


def json_line(e: ContentError, file: str) -> str:
    return json.dumps(
        {"file": file, "line": e.line, "col": e.col, "field": e.field, "message": e.message, "severity": e.severity},
        ensure_ascii=False,
    )


def site_relative(site_dir: str, paths: Iterable[str]) -> set[str]:
    """The given files as the site names them (content/codes/...), '/'-separated."""
    root = os.path.abspath(site_dir)
    return {os.path.relpath(os.path.abspath(p), root).replace(os.sep, "/") for p in paths}


def problems(site_dir: str, with_warnings: bool = True) -> tuple[list[ContentError], list[ContentError], int]:
    """(errors, warnings, codes checked) of the whole site, the lay vocabulary's errors included."""
    return problems_and_terms(site_dir, with_warnings)[:3]


def problems_and_terms(
    site_dir: str, with_warnings: bool = True
) -> tuple[list[ContentError], list[ContentError], int, int]:
    """``problems``, and how many lay vocabulary terms the site has (its files read once)."""
    errors, warnings, count = site_problems(site_dir, with_warnings)
    terms = 0
    try:
        terms = vocabulary.check_site(site_dir)
    except CheckFailed as exc:
        errors = [*errors, *exc.errors]
    return errors, warnings, count, terms


def site_problems(site_dir: str, with_warnings: bool) -> tuple[list[ContentError], list[ContentError], int]:
    codes: list[Code] = []
    try:
        site = load_and_check(site_dir).site
        codes, config = list(site.codes.values()), site.config
        errors: list[ContentError] = []
    except CheckFailed as exc:
        errors = exc.errors
        if any(e.field == "symlink" for e in errors):  # nothing more is read while a link is there
            return errors, [], 0
        found = read_config_checked(site_dir)[0] if not any(e.path == "content/site.yaml" for e in errors) else None
        if found is None:
            return errors, [], 0
        config = found
        codes = read_codes(site_dir)[0]  # warnings about what could be read, beside the errors
    if not with_warnings:
        return errors, [], len(codes)
    reported = frozenset(key_of(e.path) for e in errors if e.path.startswith("content/codes/"))
    warnings: list[ContentError] = list(lint(config, codes, lambda rel: read_text(site_dir, rel), reported))
    return errors, warnings, len(codes)


def run_check(
    site_dir: str, fmt: str = "text", strict: bool = False, paths: Sequence[str] = (),
    out: TextIO = sys.stdout, err: TextIO = sys.stderr, with_warnings: bool = True,
) -> int:
    """Print the problems; exit status 1 on errors (or on warnings, when strict)."""
    errors, warnings, count, terms = problems_and_terms(site_dir, with_warnings)
    if paths:
        wanted = site_relative(site_dir, paths)
        errors = [e for e in errors if e.path in wanted]
        warnings = [w for w in warnings if w.path in wanted]
    failed = bool(errors) or (strict and bool(warnings))
    if fmt == "text":
        # warnings are listed for the files asked about, or all with --strict; else counted
        listed = strict or (bool(paths) and not errors)
        for e in [*errors, *(warnings if listed else [])]:
            print(f"{e} (warning)" if e.severity == "warning" else e, file=err)
        tail = f", {len(warnings)} warning(s)" if warnings and (strict or not errors) else ""
        hint = " (codesite check --strict lists them)" if tail and not listed else ""
        if errors:
            print(f"{len(errors)} error(s){tail}", file=err)
        else:
            vocab = f", {terms} vocabulary terms" if terms else ""
            summary = f"{'failed' if failed else 'ok'}: {count} codes checked{vocab}{tail}{hint}"
            print(summary, file=err if failed else out)
        return 1 if failed else 0
    for e in [*errors, *warnings]:
        file = os.path.relpath(os.path.join(site_dir, e.path)).replace(os.sep, "/")
        print(github_line(e, file) if fmt == "github" else json_line(e, file), file=out)
    if fmt == "github":
        print(f"{len(errors)} error(s), {len(warnings)} warning(s) in {count} codes", file=err)
    return 1 if failed else 0
