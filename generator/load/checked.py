"""Load and check, the first stage of every command that reads a site: the one function.

``load_and_check`` is the one road from the site folder to a checked ``Site``: ``codesite
check``, ``codesite build``, ``codesite serve`` (and the dev server and the archive) all call
it. It reads the config, every content file (parsing only what changed since the build state
in ``out_dir``, when there is one), the synonyms and the layouts, and checks everything that can
make a build fail, collecting every problem as ``path:line: field: message`` before raising
``CheckFailed``. Nothing is rendered before it returns.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import parallel
from ..check import check_nav, check_templates
from ..errors import CheckFailed, ContentError
from ..model.config import CONFIG_PATH, SiteConfig, parse_config_checked
from ..model.site import Site
from .digests import env_digest, layouts_digest
from .loader import Changes, ContentCheckFailed, load_codes
from .scan import Prescan, Scanned
from .snapshot import Snapshot
from .symlinks import refuse_symlinks
from .synonyms import RawSynonyms, read_synonyms


@dataclass
class Loaded:
    """A checked site, what changed since the last build, and the inputs read with it."""

    site: Site
    changes: Changes
    synonyms: RawSynonyms
    layouts: str  # digest of the layouts folder


def read_config(site_dir: str) -> tuple[SiteConfig, str]:
    """The parsed site.yaml and its text; CheckFailed with its problems."""
    config, text, problems = read_config_checked(site_dir)
    if problems:
        raise CheckFailed(problems)
    assert config is not None
    return config, text


def read_config_checked(site_dir: str) -> tuple[SiteConfig | None, str, list[ContentError]]:
    """The parsed site.yaml (None when it cannot be used), its text and its problems."""
    from ..errors import ConfigError

    try:
        with open(os.path.join(site_dir, CONFIG_PATH), encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        message = f"not found (is '{site_dir}' a codesite folder?)"
        raise CheckFailed([ConfigError(CONFIG_PATH, 1, "site", message)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else f"not valid UTF-8 ({exc.reason})"
        raise CheckFailed([ConfigError(CONFIG_PATH, 1, "site", f"cannot read ({reason})")]) from None
    config, problems = _parsed(text)
    return config, text, list(problems)


# the site.yaml text this process parsed last: parsed again only when it changed (each of the
# dev server's edits parsed it: 2 ms of YAML); its config is frozen, its problems copied out
_parsed = functools.lru_cache(maxsize=1)(parse_config_checked)


def load_and_check(
    site_dir: str,
    out_dir: str | None = None,
    *,
    inputs: Callable[[SiteConfig], Any] | None = None,
    jobs: int | None = None,
    prescan: Prescan | Scanned | None = None,
    previous: Snapshot | None = None,
) -> Loaded:
    """Load and check the whole site; raise CheckFailed with every problem, all at once.

    ``out_dir``: a build's output folder, whose build state lets unchanged files go unparsed
    (None: parse everything, as ``codesite check`` does). ``inputs(config)``: the build's other
    inputs (options, descriptors), part of the digest every page depends on. ``previous``: the
    last build's state, when the caller kept it in memory (the dev server).
    """
    refuse_symlinks(site_dir)  # before anything is read through one
    config, config_text, config_errors = read_config_checked(site_dir)
    if config is None:  # the content cannot be checked against it: its problems alone
        raise CheckFailed(config_errors)
    synonyms, synonyms_digest, synonym_errors = read_synonyms(site_dir)
    layouts = layouts_digest(os.path.join(site_dir, "layouts"))
    errors: list[ContentError] = [*config_errors, *synonym_errors]
    extra = (inputs(config) if inputs else None, synonyms_digest)
    env = env_digest(site_dir, config.digest, extra)
    content_errors: Sequence[ContentError] = ()
    site = changes = checked = None
    with parallel.loading():
        try:
            site, changes = load_codes(
                site_dir, out_dir, config, env, layouts, jobs, prescan=prescan, previous=previous
            )
        except ContentCheckFailed as exc:
            content_errors, checked = exc.errors, exc.site
        else:
            checked = site
    if changes is None or changes.old is None or changes.old.layouts != layouts:
        errors += check_templates(site_dir)  # else the last good build checked these very templates
    if checked is not None:  # nav targets need the codes: every file parsed (no knock-on errors)
        errors += check_nav(config, config_text, checked.codes, site_dir, CONFIG_PATH)
    if errors or content_errors:
        raise CheckFailed([*errors, *content_errors])
    assert site is not None and changes is not None
    return Loaded(site, changes, synonyms, layouts)


def load_config(site_dir: str) -> SiteConfig:
    return read_config(site_dir)[0]


def load_site(site_dir: str) -> Site:
    """The checked site, every file parsed (``codesite check``)."""
    return load_and_check(site_dir).site
