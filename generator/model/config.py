"""content/site.yaml: the site's name, base URL, code systems and meter limits."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from edge.contract import MAX_OPENED

from .. import yamlutil
from ..errors import ConfigError, ContentError
from ..messages import M
from .schema import SITE, Path, field_name

CONFIG_PATH = "content/site.yaml"
SYNONYMS_PATH = "content/synonyms.yaml"


@dataclass(frozen=True, slots=True)
class KindRule:
    """A code that matches ``pattern`` (None: any code) is a ``kind``, billable or not."""

    pattern: re.Pattern[str] | None
    kind: str
    billable: bool

    def matches(self, code: str) -> bool:
        return self.pattern is None or self.pattern.fullmatch(code) is not None


RANGE = r".+-.+"  # a range id: 27193-27269, S70-S79
# The rules of a system whose site.yaml entry has no ``kinds``, by its id (other ids: OTHER_KINDS),
# as (pattern, kind, billable). ICD-10-CM: chapters are numbered, blocks are ranges, categories
# have three characters (billable only once they have no subcodes: left to the editor).
DEFAULT_KINDS: dict[str, tuple[tuple[str | None, str, bool], ...]] = {
    "icd10cm": (
        (r"[0-9]+", "chapter", False),
        (RANGE, "block", False),
        (r"[A-Z][0-9A-Z]{2}", "category", False),
        (None, "code", True),
    ),
    "cpt": ((RANGE, "block", False), (None, "code", True)),
    "hcpcs": ((RANGE, "block", False), (None, "code", True)),
}
OTHER_KINDS: tuple[tuple[str | None, str, bool], ...] = ((RANGE, "block", False), (None, "code", True))


def default_kinds(system_id: str) -> tuple[KindRule, ...]:
    rules = DEFAULT_KINDS.get(system_id, OTHER_KINDS)
    return tuple(KindRule(re.compile(p) if p is not None else None, k, b) for p, k, b in rules)


@dataclass(frozen=True, slots=True)
class System:
    id: str
    name: str
    url_prefix: str
    pattern: re.Pattern[str]
    copyright: str
    description: str
    licensed_descriptors: bool
    release: str = ""  # the official release the content follows (the archive's content version)
    kinds: tuple[KindRule, ...] = ()  # site.yaml's rules, else ``default_kinds(id)``

    def guess_kind(self, code: str) -> tuple[str, bool]:
        """(kind, billable) of a new code: the first rule that matches it (the schema's defaults,
        code and not billable, when none does)."""
        for rule in self.kinds:
            if rule.matches(code):
                return rule.kind, rule.billable
        return "code", False


@dataclass(frozen=True, slots=True)
class Meter:
    guest_views: int
    registered_views: int
    period_days: int


@dataclass(frozen=True, slots=True)
class SiteConfig:
    name: str
    base_url: str
    tagline: str
    copyright: str
    help_url: str
    nav: tuple[tuple[str, str], ...]
    systems: dict[str, System]
    meter: Meter
    digest: str  # hash of the file's text: every page depends on it

    @property
    def url_prefixes(self) -> dict[str, str]:
        """Each system's URL prefix, by system id."""
        return {sid: s.url_prefix for sid, s in self.systems.items()}



def parse_config_checked(text: str, path: str = CONFIG_PATH) -> tuple[SiteConfig | None, list[ContentError]]:
    """The config and its problems. The config is None when it cannot be used to check the
    content (a field of the wrong type); with a problem of values only (meter limits) it is
    given, so the content is checked in the same run."""
    try:
        data = yamlutil.load(text)
    except yaml.YAMLError as exc:
        line = yamlutil.error_line(exc) + 1
        return None, [ConfigError(path, line, "site", f"malformed YAML: {yamlutil.error_text(exc)}")]
    errors: list[ContentError] = [
        ConfigError(path, yamlutil.locate(text, p) + 1, field_name(p), msg)
        for p, msg in SITE.validate(data, ())
    ]

    def compiled(where: Path, value: Any) -> re.Pattern[str] | None:
        """The pattern at ``where`` compiled (None, reported, when it is not a valid one)."""
        try:
            return re.compile(value) if isinstance(value, str) else None
        except re.error as exc:
            line = yamlutil.locate(text, where) + 1
            errors.append(ConfigError(path, line, field_name(where), M.BAD_REGEX.format(detail=exc)))
            return None

    systems: dict[str, System] = {}
    raw_systems = data.get("systems") if isinstance(data, dict) else None
    for i, s in enumerate(raw_systems if isinstance(raw_systems, list) else []):
        if not isinstance(s, dict):
            continue
        def where(i: int = i) -> int:  # a line is only looked for on an error
            return yamlutil.locate(text, ("systems", i)) + 1

        pattern = compiled(("systems", i, "pattern"), s.get("pattern"))
        if pattern is None and isinstance(s.get("pattern"), str):
            continue
        kinds = default_kinds(str(s.get("id")))
        if isinstance(s.get("kinds"), list):
            kinds = tuple(
                KindRule(compiled(("systems", i, "kinds", j, "pattern"), r.get("pattern")), str(r.get("kind")),
                         r.get("billable") is True)
                for j, r in enumerate(s["kinds"]) if isinstance(r, dict)
            )
        if s.get("id") in systems:
            errors.append(
                ConfigError(path, where(), f"systems[{i}].id", f"duplicate system '{s['id']}'")
            )
        if any(o.url_prefix == s.get("url_prefix") for o in systems.values()):
            errors.append(
                ConfigError(
                    path,
                    where(),
                    f"systems[{i}].url_prefix",
                    f"duplicate URL prefix '{s['url_prefix']}'",
                )
            )
        if pattern is not None:
            systems[str(s.get("id"))] = System(
                id=str(s.get("id")),
                name=str(s.get("name")),
                url_prefix=str(s.get("url_prefix")),
                pattern=pattern,
                copyright=str(s.get("copyright")),
                description=s.get("description") or "",
                licensed_descriptors=bool(s.get("licensed_descriptors")),
                release=str(s.get("release") or ""),
                kinds=kinds,
            )
    d = SITE.with_defaults(data) if not errors else {}
    m = SITE.keys["meter"].spec.with_defaults(d["meter"]) if d else {}  # type: ignore[attr-defined]
    if m and m["guest_views"] + m["registered_views"] > MAX_OPENED:
        line = yamlutil.locate(text, ("meter", "registered_views")) + 1
        message = (
            f"guest_views + registered_views must be at most {MAX_OPENED}"
            f" (a meter cookie holds {MAX_OPENED} codes)"
        )
        errors.append(ConfigError(path, line, "meter", message))
    if not d:
        return None, errors
    return SiteConfig(
        name=d["name"],
        base_url=d["base_url"].rstrip("/"),
        tagline=d["tagline"] or "",
        copyright=d["copyright"],
        help_url=d["help_url"],
        nav=tuple((n["title"], n["url"]) for n in d["nav"]),
        systems=systems,
        meter=Meter(m["guest_views"], m["registered_views"], m["period_days"]),
        digest=hashlib.sha256(text.encode()).hexdigest()[:16],
    ), errors
