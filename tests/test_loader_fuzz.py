"""Hypothesis: whatever the front matter, the loader returns a Code or raises ContentError."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import yamlutil
from generator.errors import ContentError
from generator.load.parse import parse_code
from generator.model.code import Code
from generator.model.schema import CODE_FIELDS

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


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, values, max_size=10), st.text(max_size=50))
def test_structured_front_matter_never_crashes(front: dict[str, object], body: str) -> None:
    check("---\n" + yaml.safe_dump(front, allow_unicode=True) + "---\n" + body)


@settings(max_examples=300, deadline=None)
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


# The fast reader of flat front matter must agree with the YAML loader wherever it answers.
tricky_words = st.sampled_from([
    "yes", "No", "ON", "off", "true", "False", "null", "Null", "~", "1", "0x1F", "0o17", "1_000", "1.5",
    "1e3", "1.0e+3", ".inf", ".NaN", "2001-12-14", "12:30", "-1", "+1", "S73.0", "27253", "<<", "=",
])
plain_word = st.builds(  # mostly what a plain scalar may hold, in a shape it may take
    lambda first, rest: first + rest, st.sampled_from("aZ09(-['"), st.text("aZ09.,()'\"-[]{}&*!|>%@`~?=<\\/_+")
)
flat_text = st.one_of(
    tricky_words,
    st.lists(st.one_of(plain_word, tricky_words), min_size=1, max_size=3).map(" ".join),
    st.text(alphabet="aZ09 .,()'\"-:#\t[]{}&*!|>%@`~?=<\\/_+\u00e9\u2028", max_size=12),
    st.builds(lambda a, b: f"{a} {b}", tricky_words, tricky_words),
)
flat_entry = st.builds(  # a key line, then maybe lines that continue its value (or do not)
    lambda key, text, more: f"{key}: {text}" + "".join(f"\n{' ' * n}{t}" for n, t in more),
    st.one_of(st.sampled_from(sorted(CODE_FIELDS)), tricky_words, st.text("ab_1 -", max_size=3)),
    flat_text,
    st.lists(st.tuples(st.integers(0, 2), flat_text), max_size=2),
)
flat_lines = st.lists(flat_entry, min_size=1, max_size=3)


@settings(max_examples=2000)
@given(flat_lines)
def test_flat_reader_agrees_with_yaml(lines: list[str]) -> None:
    text = "\n".join(lines)
    fast = yamlutil.load_flat(text)
    if fast is not None:
        slow = yaml.load(text, Loader=yamlutil.Loader)  # noqa: S506 - a safe loader
        assert [(k, type(v), v) for k, v in fast.items()] == [(k, type(v), v) for k, v in slow.items()]


# ... and in the blocks it takes: a list under a top-level key, a mapping of text and lists at
# column 2 (the notes), each item's text continued on following lines at any indentation
def _item_lines(column: int, items: list[tuple[str, list[tuple[int, str]]]]) -> str:
    return "".join(f"\n{' ' * column}- {t}" + "".join(f"\n{' ' * n}{m}" for n, m in more) for t, more in items)


continued = st.lists(st.tuples(st.integers(0, 5), flat_text), max_size=2)
block_items = st.lists(st.tuples(flat_text, continued), min_size=1, max_size=3)
sub_entry = st.one_of(
    st.builds(lambda k, t, more: f"\n  {k}: {t}" + "".join(f"\n{' ' * n}{m}" for n, m in more),
              st.one_of(st.sampled_from(["excludes1", "A", "note"]), tricky_words), flat_text, continued),
    st.builds(lambda k, col, items: f"\n  {k}:" + _item_lines(col, items),
              st.one_of(st.sampled_from(["excludes1", "code_first"]), tricky_words), st.sampled_from([0, 2, 4]),
              block_items),
)
block_entry = st.one_of(
    flat_entry,
    st.builds(lambda k, col, items: f"{k}:" + _item_lines(col, items),
              st.sampled_from(["synonyms", "replaced_by", "yes"]), st.sampled_from([0, 2]), block_items),
    st.builds(lambda k, subs: f"{k}:" + "".join(subs), st.sampled_from(["notes", "seventh_characters", "on"]),
              st.lists(sub_entry, min_size=0, max_size=3)),
)


@settings(max_examples=3000)
@given(st.lists(block_entry, min_size=1, max_size=3))
def test_block_reader_agrees_with_yaml(lines: list[str]) -> None:
    text = "\n".join(lines)
    fast = yamlutil.load_flat(text)
    if fast is not None:
        slow = yaml.load(text, Loader=yamlutil.Loader)  # noqa: S506 - a safe loader
        assert repr(fast) == repr(slow)  # the same keys in the same order, the same types


def test_block_reader_takes_what_dump_writes() -> None:
    front = {"code": "S72.0", "title": "Fracture of head and neck of femur", "synonyms": ["broken hip", "hip fracture"],
             "notes": {"inclusion_terms": ["Fracture of hip NOS"],
                       "excludes2": ["physeal fracture of capital epiphysis of femur (S79.01-)",
                                     ("a longer note " * 12).strip()]},
             "seventh_characters": {"A": "initial encounter for closed fracture", "D": "subsequent encounter"}}
    text = yamlutil.dump(front).rstrip("\n")  # as front matter holds it
    assert "\n    " in text  # the long note is folded onto a further line
    assert yamlutil.load_flat(text) == front


def test_flat_reader_takes_the_common_shape() -> None:
    text = "code: S72.001A\nsystem: icd10cm\ntitle: Fracture of right femur, initial\n  encounter\nbillable: true"
    assert yamlutil.load_flat(text) == {
        "code": "S72.001A", "system": "icd10cm", "title": "Fracture of right femur, initial encounter",
        "billable": True,
    }
