"""The lay vocabulary of a code set: ``vocabulary/<system>.yaml``, lay terms -> official codes.

Editors write it (``term: [CODE, ...]``, one line a term, grouped by chapter with comments);
``codesite import`` merges each term into the ``synonyms`` of the codes it names, which both
search engines index as a document field. The file lives beside ``content/`` because its codes
are those of the whole official set, of which a site's content may hold only a slice.

Pure functions: ``parse`` (text -> terms, errors with lines), ``check`` (codes that do not exist
in a given set), ``synonyms_by_code`` and ``merge_synonyms`` (a code's terms added to what its
file already lists, without duplicates, editors' own terms kept). ``load`` reads the file.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass

import yaml

from . import yamlutil
from .errors import CheckFailed, ContentError

FOLDER = "vocabulary"
# A code as CMS writes it: a letter, a digit or letter, a digit or letter, then up to four after a dot.
CODE = re.compile(r"[A-Z][0-9A-Z][0-9A-Z](\.[0-9A-Z]{1,4})?")


def path_for(system: str) -> str:
    return f"{FOLDER}/{system}.yaml"


@dataclass(frozen=True)
class Term:
    term: str
    codes: tuple[str, ...]
    line: int  # 1-based


def key(term: str) -> str:
    """What makes two terms the same: case and spacing do not count."""
    return " ".join(term.lower().split())


def parse(text: str, path: str) -> tuple[list[Term], list[ContentError]]:
    """The terms of a vocabulary file, and every problem found in it (``path:line: term: ...``).

    Each entry is ``term: [CODE, ...]`` (or ``term: CODE``); a term may appear once.
    """
    try:
        root = yaml.compose(text, Loader=yamlutil.Loader)
    except yaml.YAMLError as exc:
        line = yamlutil.error_line(exc) + 1
        return [], [ContentError(path, line, "vocabulary", f"malformed YAML: {yamlutil.error_text(exc)}")]
    if root is None:
        return [], []
    if not isinstance(root, yaml.MappingNode):
        return [], [
            ContentError(path, root.start_mark.line + 1, "vocabulary", "expected a mapping of term: [CODE, ...]")
        ]
    terms: list[Term] = []
    errors: list[ContentError] = []
    seen: dict[str, int] = {}
    for k, v in root.value:
        line = k.start_mark.line + 1
        term = k.value if isinstance(k, yaml.ScalarNode) and k.tag.endswith(":str") else None
        if term is None or not term.strip():
            errors.append(ContentError(path, line, str(getattr(k, "value", "?")), "a term must be words"))
            continue
        term = " ".join(term.split())
        if key(term) in seen:
            errors.append(ContentError(path, line, term, f"duplicate term (first on line {seen[key(term)]})"))
            continue
        seen[key(term)] = line
        items = v.value if isinstance(v, yaml.SequenceNode) else [v]
        codes: list[str] = []
        bad = False
        for item in items:
            if not isinstance(item, yaml.ScalarNode) or not CODE.fullmatch(item.value):
                shown = item.value if isinstance(item, yaml.ScalarNode) else "a nested value"
                errors.append(
                    ContentError(
                        path, item.start_mark.line + 1, term, f"{shown!r} is not a code (write it as CMS does: E11.9)"
                    )
                )
                bad = True
            elif item.value in codes:
                errors.append(ContentError(path, item.start_mark.line + 1, term, f"{item.value} is listed twice"))
                bad = True
            else:
                codes.append(item.value)
        if not codes and not bad:
            errors.append(ContentError(path, line, term, "expected one or more codes"))
        elif not bad:
            terms.append(Term(term, tuple(codes), line))
    return terms, errors


def check(terms: Iterable[Term], codes: Container[str], path: str) -> list[ContentError]:
    """Errors for every code a term names that is not in ``codes`` (the official set)."""
    return [
        ContentError(path, t.line, t.term, f"{c} is not a code of the set")
        for t in terms
        for c in t.codes
        if c not in codes
    ]


def load(site_dir: str, system: str, codes: Container[str] | None) -> list[Term]:
    """The site's vocabulary for ``system`` checked against ``codes`` (None: the format only);
    none if it has no file. Raises CheckFailed with every problem, so that an import writes
    nothing on a bad file."""
    rel = path_for(system)
    try:
        with open(os.path.join(site_dir, rel), encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise CheckFailed([ContentError(rel, 1, "vocabulary", f"not valid UTF-8 ({exc.reason})")]) from None
    terms, errors = parse(text, rel)
    if codes is not None:
        errors += check(terms, codes, rel)
    if errors:
        raise CheckFailed(errors)
    return terms


def synonyms_by_code(terms: Iterable[Term]) -> dict[str, list[str]]:
    """code -> the terms that name it, in the file's order."""
    out: dict[str, list[str]] = {}
    for t in terms:
        for c in t.codes:
            out.setdefault(c, []).append(t.term)
    return out


def merge_synonyms(own: Iterable[str] | None, vocabulary: Iterable[str]) -> list[str]:
    """A file's synonyms with the vocabulary's terms added: its own first, none twice."""
    out = list(own or [])
    seen = {key(s) for s in out if isinstance(s, str)}
    for term in vocabulary:
        if key(term) not in seen:
            seen.add(key(term))
            out.append(term)
    return out


def check_site(site_dir: str) -> int:
    """``codesite check``: every vocabulary file of the site, its codes checked against the
    official set when that set is installed (else the format only). The number of terms;
    CheckFailed with every problem."""
    folder = os.path.join(site_dir, FOLDER)
    names = sorted(n for n in os.listdir(folder) if n.endswith(".yaml")) if os.path.isdir(folder) else []
    errors: list[ContentError] = []
    count = 0
    for name in names:
        system = name[: -len(".yaml")]
        if system not in OFFICIAL_SETS:
            known = ", ".join(sorted(OFFICIAL_SETS))
            errors.append(ContentError(path_for(system), 1, "vocabulary", f"no code set {system!r} (known: {known})"))
            continue
        try:
            codes: Container[str] | None = OFFICIAL_SETS[system]()
        except FileNotFoundError:  # the set's package is not installed: check the format only
            codes = None
        try:
            count += len(load(site_dir, system, codes))
        except CheckFailed as exc:
            errors += exc.errors
    if errors:
        raise CheckFailed(errors)
    return count


# --- the official set -----------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def official_icd10cm() -> Mapping[str, tuple[str, str, str | None]]:
    """The CMS ICD-10-CM set the importer reads by default: code -> (kind, title, parent), for
    chapters, blocks, categories and codes (7th-character codes included)."""
    from .importers import icd10cm

    valid = icd10cm.read_code_list(icd10cm.default_code_list())
    return {e.code: (e.kind, e.title, e.parent) for e in icd10cm.parse_tabular(icd10cm.default_tabular(), valid)}


def chapter_of(code: str, entries: Mapping[str, tuple[str, str, str | None]]) -> str:
    """The chapter number of an entry of ``official_icd10cm()``."""
    while True:
        kind, _, parent = entries[code]
        if kind == "chapter" or parent is None:
            return code
        code = parent


# system -> its official set of codes, for ``check_site``
OFFICIAL_SETS: dict[str, Callable[[], Container[str]]] = {"icd10cm": official_icd10cm}
