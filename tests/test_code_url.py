"""Code URLs: the plain-code shortcut gives what quoting gives, for any code."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.model.urls import code_url


@settings(deadline=None)
@given(st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,10}", fullmatch=True), st.text(min_size=1, max_size=10)))
def test_a_code_url_is_the_quoted_code(code: str) -> None:
    assert code_url("icd-10-cm", code) == f"/icd-10-cm/{quote(code, safe='.-_')}/"


def test_plain_and_quoted_codes() -> None:
    assert code_url("icd-10-cm", "S72.001A") == "/icd-10-cm/S72.001A/"
    assert code_url("cpt", "A B/é") == "/cpt/A%20B%2F%C3%A9/"
