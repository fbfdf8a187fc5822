"""``codesite import``: read an official file, then merge it into the site's content folder."""

from __future__ import annotations

import os

from .. import vocabulary
from ..errors import CodesiteError
from . import icd10cm
from .merge import Summary, merge_folder


def import_icd10cm(
    site_dir: str,
    source: str | None = None,
    code_list: str | None = None,
    into: str | None = None,
    release: str | None = None,
    quiet: bool = False,
) -> Summary:
    """Import (or re-import, as a merge) the ICD-10-CM tabular XML.

    Without ``source`` the package's XML and its list of valid codes are used; with it, the
    7th-character expansions are filtered only when ``code_list`` is given. The terms of
    ``vocabulary/icd10cm.yaml`` go to the synonyms of the codes they name; if the file has an
    error, or names a code the release does not have, nothing is written (CheckFailed).
    """
    from ..console import progress

    try:
        if source is None:
            source = icd10cm.default_tabular()
            code_list = code_list or icd10cm.default_code_list()
        valid = icd10cm.read_code_list(code_list) if code_list else None
        release = release or icd10cm.tabular_version(source) or "unknown"
        entries = {e.code: icd10cm.official_front(e) for e in icd10cm.parse_tabular(source, valid)}
    except FileNotFoundError as exc:
        raise CodesiteError(str(exc)) from None
    except OSError as exc:
        raise CodesiteError(f"{source}: {exc.strerror}") from None
    except icd10cm.ET.ParseError as exc:
        raise CodesiteError(f"{source}: not a tabular XML file ({exc})") from None
    terms = vocabulary.load(site_dir, "icd10cm", entries)
    into = into or os.path.join(site_dir, "content", "codes", "icd10cm")
    with progress(len(entries), "Importing", quiet) as advance:
        return merge_folder(entries, into, release, advance, vocabulary.synonyms_by_code(terms))  # type: ignore[arg-type]
