"""The search benchmark's query set (bench/queries-*.yaml): two halves of real ICD-10-CM codes.

Every expected code must exist in the CMS set (the simple-icd-10-cm package's tabular, as the
importer reads it),
every kind must be large enough in each half to be scored on its own, no query may sit in both
halves, and the encounter/laterality queries must expect codes whose 7th character and side
match their words.
"""

from __future__ import annotations

import re

import pytest

from bench.search import HALVES, load_queries, norm
from generator.vocabulary import official_icd10cm

# kind -> the least number of queries it needs in each half
KINDS = {
    "code": 20,
    "prefix": 5,
    "clinical": 20,
    "lay": 20,
    "abbreviation": 20,
    "typo": 20,
    "question": 20,
    "encounter": 20,
}
OFFICIAL = official_icd10cm()
CODES = {c for c, (kind, _, _) in OFFICIAL.items() if kind in ("category", "code")}
# 7th characters by the encounter word in the query
SEVENTH = {
    "initial encounter": set("AB") | {"C"},
    "subsequent encounter": set("DEFGHJKMNPQR"),
    "sequela": {"S"},
}


@pytest.fixture(scope="module", params=HALVES)
def half(request: pytest.FixtureRequest) -> dict[str, dict[str, list[str]]]:
    return load_queries(request.param)


def test_every_expected_code_exists_in_the_cms_set(half: dict[str, dict[str, list[str]]]) -> None:
    bad = [
        f"{kind}: {q}: {c}"
        for kind, qs in half.items()
        for q, expected in qs.items()
        for c in expected
        if c not in CODES
    ]
    assert not bad, "codes not in the ICD-10-CM set (write them dotted, as CMS does):\n" + "\n".join(bad)


def test_every_kind_is_large_enough_in_each_half(half: dict[str, dict[str, list[str]]]) -> None:
    counts = {kind: len(half.get(kind, {})) for kind in KINDS}
    print(counts, sum(counts.values()))
    assert set(half) == set(KINDS), "unknown or missing kinds"
    short = {k: n for k, n in counts.items() if n < KINDS[k]}
    assert not short, f"kinds below their minimum: {short}"
    assert sum(counts.values()) >= 150


def test_the_halves_share_no_query_and_make_300() -> None:
    dev, test = (load_queries(h) for h in HALVES)
    flat = [[q for qs in d.values() for q in qs] for d in (dev, test)]
    assert not {q.lower() for q in flat[0]} & {q.lower() for q in flat[1]}
    assert len(flat[0]) + len(flat[1]) >= 300
    both = load_queries()  # the bench's default: both halves
    assert sum(len(qs) for qs in both.values()) == len(flat[0]) + len(flat[1])


def test_code_queries_are_forms_of_their_code(half: dict[str, dict[str, list[str]]]) -> None:
    for kind in ("code", "prefix"):
        for q, expected in half[kind].items():
            assert norm(q) == norm(expected[0]) and len(expected) == 1, q


def test_encounter_queries_expect_the_seventh_character_and_side_they_name(
    half: dict[str, dict[str, list[str]]],
) -> None:
    named = 0
    for q, expected in half["encounter"].items():
        for words, chars in SEVENTH.items():
            if words in q:
                named += 1
                for c in expected:
                    if c.startswith(("V", "W", "X", "Y")) and "initial" in words:
                        assert c.endswith("A"), (q, c)
                        continue
                    assert len(norm(c)) == 7 and c[-1] in chars, (q, c)
        for side in ("left", "right", "bilateral"):
            if re.search(rf"\b{side}\b", q):
                for c in expected:  # an external cause (V-Y) has no side
                    assert c[0] in "VWXY" or side in OFFICIAL[c][1].lower(), (q, c)
    assert named >= len(half["encounter"]) // 2  # most name an encounter, not only a side
