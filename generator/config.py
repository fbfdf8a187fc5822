"""content/site.yaml: the site's name, base URL, code systems and meter limits."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import yaml

from . import yamlutil
from .content import field_name
from .errors import CheckFailed, ConfigError, ContentError
from .schema import SITE

CONFIG_PATH = "content/site.yaml"
SYNONYMS_PATH = "content/synonyms.yaml"


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



def parse_config(text: str, path: str = CONFIG_PATH) -> SiteConfig:
    """Parse and validate site.yaml; raises CheckFailed listing every problem."""
    try:
        data = yamlutil.load(text)
    except yaml.YAMLError as exc:
        raise CheckFailed(
            [
                ConfigError(
                    path,
                    yamlutil.error_line(exc) + 1,
                    "site",
                    f"malformed YAML: {yamlutil.error_text(exc)}",
                )
            ]
        ) from None
    errors: list[ContentError] = [
        ConfigError(path, yamlutil.locate(text, p) + 1, field_name(p), msg)
        for p, msg in SITE.validate(data, ())
    ]
    systems: dict[str, System] = {}
    raw_systems = data.get("systems") if isinstance(data, dict) else None
    for i, s in enumerate(raw_systems if isinstance(raw_systems, list) else []):
        if not isinstance(s, dict):
            continue
        def where(i: int = i) -> int:  # a line is only looked for on an error
            return yamlutil.locate(text, ("systems", i)) + 1

        try:
            pattern = re.compile(s["pattern"]) if isinstance(s.get("pattern"), str) else None
        except re.error as exc:
            line = yamlutil.locate(text, ("systems", i, "pattern")) + 1
            errors.append(
                ConfigError(
                    path, line, f"systems[{i}].pattern", f"invalid regular expression: {exc}"
                )
            )
            continue
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
            )
    if errors:
        raise CheckFailed(errors)
    d = SITE.with_defaults(data)
    m = SITE.keys["meter"].spec.with_defaults(d["meter"])  # type: ignore[attr-defined]
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
    )


def load_config(site_dir: str) -> SiteConfig:
    full = os.path.join(site_dir, CONFIG_PATH)
    try:
        with open(full, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise CheckFailed(
            [ConfigError(CONFIG_PATH, 1, "site", f"not found (is '{site_dir}' a codesite folder?)")]
        ) from None
    return parse_config(text)
