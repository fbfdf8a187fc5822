"""Code URLs: the plain-code shortcut gives what quoting gives, for any code; output paths
joined as they always were."""

from __future__ import annotations

import os
import posixpath
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.errors import BuildError
from generator.model.urls import code_url, safe_join


@settings(deadline=None)
@given(st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,10}", fullmatch=True), st.text(min_size=1, max_size=10)))
def test_a_code_url_is_the_quoted_code(code: str) -> None:
    assert code_url("icd-10-cm", code) == f"/icd-10-cm/{quote(code, safe='.-_')}/"


def test_plain_and_quoted_codes() -> None:
    assert code_url("icd-10-cm", "S72.001A") == "/icd-10-cm/S72.001A/"
    assert code_url("cpt", "A B/é") == "/cpt/A%20B%2F%C3%A9/"


def reference_join(root: str, rel: str) -> str:
    """safe_join as it was, every path worked out whole each time."""
    norm = posixpath.normpath(rel)
    if norm.startswith("../") or norm == ".." or posixpath.isabs(norm) or "\\" in rel or "\x00" in rel:
        raise BuildError("outside")
    full, base = os.path.abspath(os.path.join(root, norm)), os.path.abspath(root)
    if full != base and not full.startswith(base + os.sep):
        raise BuildError("outside")
    return full


@settings(deadline=None, max_examples=300)
@given(
    st.sampled_from(["/tmp/out/.staging", "/tmp/out/site/", "/tmp//out/./x/..", "out/.staging", "/"]),
    st.lists(st.sampled_from(["a", "b.html", ".", "..", "", "S72.0", "\\", "/x", "...", ".x", "x.", "a\x00"]),
             min_size=1, max_size=5),
)
def test_safe_join_is_the_join_it_was(root: str, parts: list[str]) -> None:
    """The root normalised once per root: the same paths, the same refusals."""
    rel = "/".join(parts)
    try:
        expected = reference_join(root, rel)
    except BuildError:
        with pytest.raises(BuildError):
            safe_join(root, rel)
        return
    assert safe_join(root, rel) == expected
