"""content/synonyms.yaml: lay phrase -> clinical phrase(s), read and checked with the content.

This module checks the file's shape and reports problems at their line; the search stage
turns the phrases into its tokens (``search.synonyms``).
"""

from __future__ import annotations

import os

import yaml

from .. import yamlutil
from ..errors import ConfigError
from ..model.config import SYNONYMS_PATH
from ..outputs import digest

RawSynonyms = dict[str, list[str]]  # lay phrase -> clinical phrases, as written


def parse_synonyms(text: str, path: str = SYNONYMS_PATH) -> tuple[RawSynonyms, list[ConfigError]]:
    """The entries and every problem (an entry with a problem is left out)."""
    try:
        data = yamlutil.load(text) or {}
    except yaml.YAMLError as exc:
        line = yamlutil.error_line(exc) + 1
        return {}, [ConfigError(path, line, "synonyms", f"malformed YAML: {yamlutil.error_text(exc)}")]
    if not isinstance(data, dict):
        return {}, [ConfigError(path, 1, "synonyms", "expected a mapping of lay phrase: clinical phrase(s)")]
    out: RawSynonyms = {}
    errors: list[ConfigError] = []
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(key, str) or not all(isinstance(v, str) and v.strip() for v in values):
            line = yamlutil.locate(text, (key,)) + 1 if isinstance(key, str) else 1
            errors.append(ConfigError(path, line, f"synonyms.{key}", "expected a phrase or a list of phrases"))
            continue
        out[key] = list(values)
    return out, errors


def read_synonyms(site_dir: str) -> tuple[RawSynonyms, str, list[ConfigError]]:
    """The site's synonyms, the digest of the file's bytes ("" without one), and its problems."""
    try:
        with open(os.path.join(site_dir, SYNONYMS_PATH), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return {}, "", []
    except OSError as exc:
        return {}, "", [ConfigError(SYNONYMS_PATH, 1, "synonyms", f"cannot read ({exc.strerror})")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, digest(data), [ConfigError(SYNONYMS_PATH, 1, "synonyms", f"not valid UTF-8 ({exc.reason})")]
    entries, errors = parse_synonyms(text)
    return entries, digest(data), errors
