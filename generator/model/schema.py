"""The declared schemas: one description of each field, used to validate and to document.

A spec validates a parsed YAML value and returns the problems it found as ``(path, message)``
pairs, where ``path`` is a tuple of keys and list indexes (``("sections", 1, "gated")``). The
caller turns a path into a line in the file. Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from edge.contract import GUEST_VIEWS, PERIOD_DAYS, REGISTERED_VIEWS

from ..messages import M

Path = tuple[str | int, ...]
Problem = tuple[Path, str]


def type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True, kw_only=True)
class Spec:
    doc: str = ""

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:  # pragma: no cover
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Str(Spec):
    choices: tuple[str, ...] = ()
    pattern: str = ""
    nonempty: bool = True

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, str):
            yield path, f"expected a string, got {type_name(value)}"
            return
        if self.nonempty and not value.strip():
            yield path, "must not be empty"
        elif self.choices and value not in self.choices:
            yield path, f"'{value}' is not one of: {', '.join(self.choices)}"
        elif self.pattern and not re.fullmatch(self.pattern, value):
            yield path, f"'{value}' does not match the pattern {self.pattern}"

    def describe(self) -> str:
        if self.choices:
            return " | ".join(self.choices)
        return "string"


URL_SCHEMES = ("http", "https", "mailto")
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
URL_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True)
class Url(Str):
    """A link written into every page: a path on the site (``/search/``, ``#top``) or an absolute
    URL with a scheme from the allow-list. Spaces, control characters and backslashes are refused
    outright: browsers drop or rewrite them, so ``java\tscript:`` would be ``javascript:``."""

    schemes: tuple[str, ...] = URL_SCHEMES

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        problems = list(super().validate(value, path))
        if problems:
            yield from problems
            return
        allowed = ", ".join(self.schemes)
        shown = re.sub(r"[\x00-\x1f\x7f]", lambda c: f"\\x{ord(c.group()):02x}", value)
        if URL_BAD_CHARS.search(value):
            yield path, M.URL_CHARACTERS.format(url=shown)
        elif (m := URL_SCHEME.match(value)) and m.group(1).lower() not in self.schemes:
            scheme = m.group(1).lower()
            yield path, M.URL_SCHEME.format(url=shown, scheme=scheme, allowed=allowed)

    def describe(self) -> str:
        return f"URL ({', '.join(self.schemes)}, or a path on the site)"


@dataclass(frozen=True)
class Bool(Spec):
    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, bool):
            yield path, f"expected true or false, got {type_name(value)}"

    def describe(self) -> str:
        return "true | false"


@dataclass(frozen=True)
class Int(Spec):
    minimum: int = 0

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, int) or isinstance(value, bool):
            yield path, f"expected a whole number, got {type_name(value)}"
        elif value < self.minimum:
            yield path, f"must be at least {self.minimum}"

    def describe(self) -> str:
        return "whole number"


@dataclass(frozen=True)
class List(Spec):
    item: Spec = field(default_factory=Str)

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, list):
            yield path, f"expected a list, got {type_name(value)}"
            return
        for i, v in enumerate(value):
            yield from self.item.validate(v, (*path, i))

    def describe(self) -> str:
        return f"list of {self.item.describe()}"


@dataclass(frozen=True)
class Key:
    """One field of a :class:`Record`."""

    spec: Spec
    required: bool = False
    default: Any = None
    doc: str = ""


def nearest(word: str, names: Iterable[str]) -> str | None:
    """The one name ``word`` is a near miss of (None if none, or two are as near)."""
    import difflib  # only when a field name is wrong: not in every build's imports

    scored = sorted(((difflib.SequenceMatcher(None, word.lower(), n).ratio(), n) for n in names), reverse=True)
    if scored and scored[0][0] >= 0.75 and (len(scored) == 1 or scored[1][0] < scored[0][0]):
        return scored[0][1]
    return None


@dataclass(frozen=True)
class Record(Spec):
    """A mapping with declared keys; unknown keys are errors."""

    keys: Mapping[str, Key] = field(default_factory=dict)
    name: str = "mapping"

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield path, f"expected a mapping, got {type_name(value)}"
            return
        for k, key in self.keys.items():
            if k not in value or value[k] is None:
                if key.required:
                    yield (*path, k), "required field is missing"
                continue
            yield from key.spec.validate(value[k], (*path, k))
        allowed = ", ".join(self.keys)
        for k in value:
            if k not in self.keys:
                near = nearest(str(k), self.keys)
                if near and near not in value:
                    yield (*path, str(k)), f"unknown field: did you mean '{near}'?"
                else:
                    yield (*path, str(k)), f"unknown field (allowed: {allowed})"

    def describe(self) -> str:
        return self.name

    def with_defaults(self, value: dict[str, Any]) -> dict[str, Any]:
        out = {k: key.default for k, key in self.keys.items()}
        out.update({k: v for k, v in value.items() if v is not None})
        return out


@dataclass(frozen=True)
class Dict(Spec):
    """A free mapping from strings to values of one spec."""

    value: Spec = field(default_factory=Str)
    key_pattern: str = ""

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if not isinstance(value, dict):
            yield path, f"expected a mapping, got {type_name(value)}"
            return
        for k, v in value.items():
            if not isinstance(k, str) or (self.key_pattern and not re.fullmatch(self.key_pattern, k)):
                yield (*path, str(k)), f"key '{k}' does not match the pattern {self.key_pattern}"
                continue
            yield from self.value.validate(v, (*path, k))

    def describe(self) -> str:
        return f"mapping of string to {self.value.describe()}"


@dataclass(frozen=True)
class StrOr(Spec):
    """A string, or a record that says more (an old file's string stays valid)."""

    record: Record = field(default_factory=Record)

    def validate(self, value: Any, path: Path) -> Iterator[Problem]:
        if isinstance(value, dict):
            yield from self.record.validate(value, path)
        else:  # the usual form; its messages are the string's
            yield from Str().validate(value, path)

    def describe(self) -> str:
        return f"string or {self.record.describe()}"


# --- the content schema -------------------------------------------------------------------

NOTE_KINDS: dict[str, str] = {
    "inclusion_terms": "Inclusion terms",
    "includes": "Includes",
    "excludes1": "Excludes1",
    "excludes2": "Excludes2",
    "code_first": "Code first",
    "use_additional_code": "Use additional code",
    "code_also": "Code also",
    "note": "Note",
    "seventh_character_note": "7th character",
}

RELATIONS: dict[str, str] = {
    "see_also": "See also",
    "distinct_from": "Distinct from",
    "crosswalk": "Crosswalk",
    "add_on": "Add-on code",
    "replaces": "Replaces",
}

SECTION_ID = r"[a-z0-9]+(?:-[a-z0-9]+)*"

HISTORY = Record(
    name="history entry",
    keys={
        "release": Key(Str(), required=True, doc="The code set release, e.g. \"2026\"."),
        "action": Key(Str(choices=("added", "revised", "deleted")), required=True),
        "note": Key(Str(), doc="What changed, in our words."),
    },
)

RELATED = Record(
    name="related code",
    keys={
        "code": Key(Str(), required=True, doc="The related code."),
        "relation": Key(Str(choices=tuple(RELATIONS)), default="see_also"),
        "system": Key(Str(), doc="Its code system, when not the same as this code's."),
        "note": Key(Str(), doc="Why it is related, in our words."),
    },
)

SECTION = Record(
    name="section",
    keys={
        "id": Key(Str(pattern=SECTION_ID), required=True, doc="Slug, unique on the page."),
        "title": Key(Str(), required=True),
        "gated": Key(Bool(), default=False, doc="Metered: only readers with views left see it."),
        "body": Key(Str(), required=True, doc="Markdown."),
    },
)

NOTES = Record(
    name="notes",
    keys={k: Key(List(Str()), doc=f"{label} notes, one string each.") for k, label in NOTE_KINDS.items()},
)

SEVENTH = Record(
    name="mapping {meaning, notes}",
    keys={
        "meaning": Key(Str(), required=True, doc="What the character means, e.g. \"stable\"."),
        "notes": Key(List(Str()), default=[], doc="The tabular file's notes on this character."),
    },
)

KINDS = ("chapter", "block", "category", "code")

CODE_FIELDS: dict[str, Key] = {
    "code": Key(Str(), required=True, doc="The code exactly as published; the file is named after it."),
    "system": Key(Str(), required=True, doc="A code system id from content/site.yaml."),
    "title": Key(
        Str(),
        doc="The official descriptor. Required, except in systems whose official text comes "
        "from a licensed data file at build time (CPT).",
    ),
    "kind": Key(
        Str(choices=KINDS),
        default="code",
        doc="Where the entry sits in the hierarchy; chapters and blocks are range pages.",
    ),
    "parent": Key(Str(), doc="The code or range id of the parent, in the same system."),
    "billable": Key(Bool(), default=False, doc="True when the code is valid for claims."),
    "status": Key(Str(choices=("active", "deleted")), default="active"),
    "replaced_by": Key(List(Str()), default=[], doc="For deleted codes: the codes that replace it."),
    "history": Key(List(HISTORY), default=[]),
    "synonyms": Key(List(Str()), default=[], doc="Lay terms patients use, fed to search."),
    "notes": Key(NOTES, default={}, doc="Instructional notes (ICD-10-CM), lists of text."),
    "seventh_characters": Key(
        Dict(StrOr(SEVENTH), key_pattern=r"[0-9A-Z]"),
        default={},
        doc="7th-character values and their meaning, e.g. {A: initial encounter}; a character "
        "with notes of its own: {'2': {meaning: stable, notes: [Old central retinal vein occlusion]}}.",
    ),
    "related": Key(List(RELATED), default=[]),
    "sections": Key(List(SECTION), default=[], doc="Extra sections; gated ones are metered."),
}

CODE = Record(name="code front matter", keys=CODE_FIELDS)


# --- the site.yaml schema -------------------------------------------------------------------

KIND_RULE = Record(
    name="kind rule",
    keys={
        "pattern": Key(Str(), doc="Regular expression the whole code must match; left out: any code."),
        "kind": Key(Str(choices=KINDS), required=True, doc="The `kind` a matching code gets."),
        "billable": Key(Bool(), default=False, doc="The `billable` a matching code gets."),
    },
)

SYSTEM = Record(
    name="code system",
    keys={
        "id": Key(Str(pattern=r"[a-z0-9]+"), required=True, doc="Folder name under content/codes."),
        "name": Key(Str(), required=True, doc="Display name, e.g. ICD-10-CM."),
        "url_prefix": Key(Str(pattern=r"[a-z0-9-]+"), required=True, doc="First URL segment."),
        "pattern": Key(Str(), required=True, doc="Regular expression every code must match."),
        "copyright": Key(Str(), required=True, doc="Printed under the official description."),
        "description": Key(Str(), default="", doc="One line for the home page."),
        "licensed_descriptors": Key(
            Bool(), default=False, doc="Official text comes from a data file given at build time."
        ),
        "release": Key(Str(), default="", doc="The official release the content follows, e.g. 2026 "
                       "(names the offline archive)."),
        "kinds": Key(
            List(KIND_RULE),
            doc="How `codesite new` fills in a new code's `kind` and `billable`: the first rule whose "
            "pattern matches the code. Left out: the built-in rules of the system's id (see below).",
        ),
    },
)

NAV = Record(
    name="navigation link",
    keys={"title": Key(Str(), required=True), "url": Key(Url(), required=True)},
)

METER = Record(
    name="meter",
    keys={
        "guest_views": Key(Int(minimum=0), default=GUEST_VIEWS, doc="Full code pages a guest may open."),
        "registered_views": Key(
            Int(minimum=0), default=REGISTERED_VIEWS, doc="Further pages for a registered account."
        ),
        "period_days": Key(Int(minimum=1), default=PERIOD_DAYS, doc="How long a meter cookie lives."),
    },
)

SITE = Record(
    name="site.yaml",
    keys={
        "name": Key(Str(), required=True),
        "base_url": Key(Str(pattern=r"https?://[^\s/]+(?:/[^\s]*)?"), required=True),
        "tagline": Key(Str(), default=""),
        "copyright": Key(Str(), required=True, doc="Printed under our own prose."),
        "help_url": Key(Url(), required=True, doc="Where \"Have a question?\" links to."),
        "nav": Key(List(NAV), default=[]),
        "systems": Key(List(SYSTEM), required=True),
        "meter": Key(METER, default={}),
    },
)


def document(record: Record, heading: str) -> str:
    """Markdown table of a record's fields: the same declaration that validates documents."""
    rows = [f"### {heading}", "", "| field | type | required | meaning |", "|---|---|---|---|"]
    for name, key in record.keys.items():
        doc = key.doc or key.spec.doc
        if key.default not in (None, [], {}, ""):
            doc = f"{doc} Default: `{key.default}`.".strip()
        kind = key.spec.describe().replace("|", "\\|")  # "true | false" in a table cell
        rows.append(f"| `{name}` | {kind} | {'yes' if key.required else ''} | {doc} |")
    return "\n".join(rows)


def field_name(path: Path) -> str:
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out or "front matter"
