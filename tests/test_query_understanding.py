"""Query understanding (generator/search/understand.py), in both engines on the sample site:
noise words, numbers and range pages, encounter and laterality words."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.search import engine, understand
from generator.search import text as analysis
from tests.test_search import node_batch

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def public(built_sample: Path) -> Path:
    return built_sample / "site"


@pytest.fixture(scope="session")
def both(public: Path, built_sample: Path):  # type: ignore[no-untyped-def]
    """q -> (client top 10, whoosh top 10)."""
    index_dir = str(built_sample / engine.WHOOSH_DIR)

    def answer(*queries: str) -> list[tuple[list[str], list[str]]]:
        client = node_batch(public, list(queries))
        return [(mine, [r["code"] for r in engine.query_whoosh(index_dir, q, 10)])
                for q, mine in zip(queries, client, strict=True)]

    return answer


# --- the rules (pure) -----------------------------------------------------------------------


def axis_of(words: str) -> tuple[list[str], str, str, bool]:
    kept, axis = understand.understand(words.split())
    assert axis.terms == tuple(analysis.stem(w) for w in kept)
    return kept, axis.seventh, axis.side, axis.context


def test_noise_words_go_when_other_words_remain() -> None:
    assert axis_of("which icd 10 code is hip dislocation") == (["is", "hip", "dislocation"], "", "", False)
    assert axis_of("icd 10 code 10 weeks") == (["10", "weeks"], "", "", False)
    assert axis_of("diagnosis codes") == (["diagnosis", "codes"], "", "", False)  # nothing else


def test_axis_words() -> None:
    # the side word is scored too
    assert axis_of("closed fracture left femur initial encounter") == (
        ["closed", "fracture", "left", "femur"], "A", "left", False)
    assert axis_of("open fracture initial encounter")[1] == "B"
    assert axis_of("sprain subsequent encounter") == (["sprain"], "D", "", False)
    assert axis_of("sequela burn bilateral")[1:3] == ("S", "bilateral")
    assert axis_of("encounter immunization") == (["encounter", "immunization"], "", "", False)
    assert axis_of("sequela") == (["sequela"], "S", "", False)  # kept: nothing else
    assert axis_of("malunion fracture subsequent encounter") == (["malunion", "fracture"], "P", "", False)
    assert axis_of("hypertension in pregnancy")[3] is True


def test_side_rank_reads_the_title() -> None:
    assert understand.side_rank("Fracture of left femur", "left") == 0
    assert understand.side_rank("Fracture of femur", "left") == 1
    assert understand.side_rank("Fracture of right femur", "left") == 2
    assert understand.side_rank("Fracture of right femur", "") == 1


UNDERSTAND_JS = r"""
const cs = require(process.argv[1]);
const rules = JSON.parse(process.argv[2]);
const lists = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = lists.map((ws) => { const u = cs.understand(ws, rules); return [u.words, u.axis]; });
process.stdout.write(JSON.stringify(out));
"""

WORDS = st.sampled_from([*understand.NOISE_WORDS, *understand.SEVENTH, *understand.ENCOUNTER, *understand.SIDES,
                         *understand.SEVENTH_HEALING, "pregnancy", "newborn", "open", "10", "9", "hip", "fractures",
                         "burns", "closed"])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(WORDS, max_size=8), min_size=30, max_size=30))
def test_python_and_javascript_understand_alike(lists: list[list[str]]) -> None:
    out = subprocess.run(
        ["node", "-e", UNDERSTAND_JS, str(ROOT / "assets" / "search.js"), json.dumps(understand.RULES)],
        input=json.dumps(lists), capture_output=True, text=True, check=True,
    )
    for ws, (kept, axis) in zip(lists, json.loads(out.stdout), strict=True):
        expected = understand.understand(ws)
        assert (kept, axis["seventh"], axis["side"], axis["context"], tuple(axis["terms"])) == (
            expected[0], expected[1].seventh, expected[1].side, expected[1].context, expected[1].terms), ws


# --- both engines on the sample -------------------------------------------------------------


def test_noise_words_rank_like_the_plain_query(both) -> None:  # type: ignore[no-untyped-def]
    plain, *noisy = both("hip dislocation", "icd 10 code for hip dislocation", "which icd-10 code is hip dislocation",
                         "hip dislocation diagnosis code icd10")
    for answer in noisy:
        assert answer == plain


def test_a_number_never_brings_a_range_page_first(both, public: Path) -> None:  # type: ignore[no-untyped-def]
    for mine, theirs in both("fracture 19", "injury 19", "dislocation 10"):
        assert mine and theirs
        assert mine[0] not in ("19", "S70-S79") and theirs[0] not in ("19", "S70-S79")
    manifest = (public / "search-index" / "manifest.js").read_text()
    assert '"rules":' in manifest
    # the range pages are flagged in their postings (impact*4 + range*2 + billable)
    shards = [json.loads(f.read_text()[len("window.__csIdx.push(") : -3])[1]
              for f in (public / "search-index" / "t").glob("*.js")]
    values = [v for shard in shards for flat in shard.values() for v in flat[1::2]]
    assert any(v & 2 for v in values) and any(not v & 2 for v in values)


def test_range_pages_follow_the_codes(both) -> None:  # type: ignore[no-untyped-def]
    for answer in both("injuries to the hip and thigh", "injury poisoning external causes", "hip injury"):
        for found in answer:
            ranges = [i for i, c in enumerate(found) if c in ("19", "S70-S79")]
            codes = [i for i, c in enumerate(found) if c not in ("19", "S70-S79")]
            assert not ranges or not codes or min(ranges) > max(codes), found


def test_initial_encounter_brings_the_7_character_code_first(both) -> None:  # type: ignore[no-untyped-def]
    for mine, theirs in both("closed fracture of left femur initial encounter", "fracture neck of left femur initial"):
        for found in (mine, theirs):
            assert found[0].startswith("S72.0") and found[0].endswith("A") and len(found[0]) == 8, found
    for mine, theirs in both("posterior dislocation right hip subsequent encounter"):
        assert mine[0] == theirs[0] == "S73.014D"


def test_sequela_and_laterality(both) -> None:  # type: ignore[no-untyped-def]
    (mine, theirs), = both("anterior subluxation of left hip sequela")
    assert mine[0] == theirs[0] == "S73.032S"
    (mine, theirs), = both("central dislocation hip right")
    assert mine[0] == theirs[0] == "S73.044"  # Central dislocation of right hip


def test_pregnancy_and_newborn_codes_follow_unless_asked() -> None:
    head = [understand.Cand(1, "O10.01", "Pre-existing essential hypertension complicating pregnancy", "icd10cm"),
            understand.Cand(2, "I10", "Essential (primary) hypertension", "icd10cm"),
            understand.Cand(3, "P23", "Congenital pneumonia", "icd10cm"),
            understand.Cand(4, "P2028", "A pathology code of another system", "hcpcs")]
    plain = understand.understand(["essential", "hypertension"])[1]
    assert [c.code for c in understand.reorder(head, lambda c: [], plain)] == ["I10", "P2028", "O10.01", "P23"]
    asked = understand.understand(["hypertension", "pregnancy"])[1]
    assert [c.code for c in understand.reorder(head, lambda c: [], asked)] == ["O10.01", "I10", "P23", "P2028"]


def test_the_7_character_codes_brought_in_hold_the_query_words() -> None:
    parent = understand.Cand(1, "T38.3X", "Poisoning by, adverse effect of and underdosing of insulin", "icd10cm")
    kids = [understand.Cand(i, f"T38.3X{n}{c}", f"{what} insulin, {enc}", "icd10cm")
            for i, (n, what) in enumerate([(1, "Poisoning by"), (2, "Intentional poisoning by"),
                                           (5, "Adverse effect of"), (6, "Underdosing of")], start=2)
            for c, enc in (("A", "initial encounter"), ("D", "subsequent encounter"))]
    axis = understand.understand("adverse effect of insulin initial encounter".split())[1]
    found = understand.reorder([parent], lambda c: kids, axis)
    assert [c.code for c in found] == ["T38.3X5A", "T38.3X1A", "T38.3X"]
