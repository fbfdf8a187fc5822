"""Lay synonyms (``content/synonyms.yaml``): lay phrase -> clinical phrases, in the token form
both engines use; its digest is an input of every build."""

from __future__ import annotations

import hashlib
import os

import yaml

from .. import yamlutil
from ..config import SYNONYMS_PATH
from ..errors import ConfigError
from .text import tokens

Synonyms = dict[str, list[list[str]]]  # "heart attack" (tokens joined) -> alternatives as tokens


def parse_synonyms(text: str, path: str = SYNONYMS_PATH) -> Synonyms:
    """``lay phrase: clinical phrase`` (or a list of them) -> token form used by both engines."""
    try:
        data = yamlutil.load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(
            path,
            yamlutil.error_line(exc) + 1,
            "synonyms",
            f"malformed YAML: {yamlutil.error_text(exc)}",
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(path, 1, "synonyms", "expected a mapping of lay phrase: clinical phrase(s)")
    out: Synonyms = {}
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, str) and v.strip() for v in values):
            line = yamlutil.locate(text, (key,)) + 1 if isinstance(key, str) else 1
            raise ConfigError(path, line, f"synonyms.{key}", "expected a phrase or a list of phrases")
        k = " ".join(tokens(key))
        if k:
            alts = out.setdefault(k, [])
            alts += [t for t in (tokens(v) for v in values) if t and t not in alts]
    return out


def synonyms_digest(site_dir: str) -> str:
    """Hash of synonyms.yaml: an input of every build (the search indexes depend on it)."""
    try:
        with open(os.path.join(site_dir, SYNONYMS_PATH), "rb") as f:
            return hashlib.blake2b(f.read(), digest_size=16).hexdigest()
    except FileNotFoundError:
        return ""


def load_synonyms(site_dir: str) -> Synonyms:
    try:
        with open(os.path.join(site_dir, SYNONYMS_PATH), encoding="utf-8") as f:
            return parse_synonyms(f.read())
    except FileNotFoundError:
        return {}

