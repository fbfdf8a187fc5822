"""Hypothesis: whatever the front matter, the loader returns a Code or raises ContentError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.content import Code, parse_code
from generator.errors import ContentError
from generator.schema import CODE_FIELDS

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from(["S73.0", "27253", "active", "deleted", "code", "icd10cm", "see_also", "A"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(["code", "id", "title", "body", "gated", "relation"]),
                                  st.text(max_size=8)), inner, max_size=4),
    ),
    max_leaves=12,
)
keys = st.one_of(st.sampled_from(sorted(CODE_FIELDS)), st.text(max_size=10))


def check(text: str) -> None:
    try:
        result = parse_code(text, "content/codes/icd10cm/S73.0.md")
    except ContentError as exc:
        assert exc.path == "content/codes/icd10cm/S73.0.md"
        assert exc.line >= 1
        assert str(exc).startswith("content/codes/icd10cm/S73.0.md:")
    else:
        assert isinstance(result, Code)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=10), st.text(max_size=50))
def test_structured_front_matter_never_crashes(front: dict[str, object], body: str) -> None:
    check("---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_arbitrary_text_never_crashes(text: str) -> None:
    check("---\n" + text + "\n---\nbody")
    check(text)


printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1)


@given(st.fixed_dictionaries({"code": st.just("S73.0"), "system": st.just("icd10cm"), "title": printable}))
def test_minimal_valid_files_load(front: dict[str, object]) -> None:
    text = "---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n"
    try:
        code = parse_code(text, "x.md")
    except ContentError as exc:
        assert exc.field == "title"  # only a blank title may be refused
    else:
        assert code.title == front["title"]
