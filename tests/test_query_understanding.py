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
from generator.search.understand import Axis
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


def test_noise_words_go_when_other_words_remain() -> None:
    assert understand.understand("which icd 10 code is hip dislocation".split()) == (
        ["is", "hip", "dislocation"], Axis())
    assert understand.understand(["icd", "10", "code", "10", "weeks"]) == (["10", "weeks"], Axis())
    assert understand.understand(["diagnosis", "codes"]) == (["diagnosis", "codes"], Axis())  # nothing else


def test_axis_words() -> None:
    words, axis = understand.understand("closed fracture left femur initial encounter".split())
    assert words == ["closed", "fracture", "left", "femur"]  # the side word is scored too
    assert axis == Axis("A", "left")
    assert understand.understand("open fracture initial encounter".split())[1].seventh == "B"
    assert understand.understand("sprain subsequent encounter".split()) == (["sprain"], Axis("D"))
    assert understand.understand(["sequela", "burn", "bilateral"])[1] == Axis("S", "bilateral")
    assert understand.understand(["encounter", "immunization"]) == (["encounter", "immunization"], Axis())
    assert understand.understand(["sequela"]) == (["sequela"], Axis("S"))  # kept: nothing else


def test_side_rank_reads_the_title() -> None:
    assert understand.side_rank("Fracture of left femur", "left") == 0
    assert understand.side_rank("Fracture of femur", "left") == 1
    assert understand.side_rank("Fracture of right femur", "left") == 2
    assert understand.side_rank("Fracture of right femur", "") == 1


UNDERSTAND_JS = r"""
const cs = require(process.argv[1]);
const rules = JSON.parse(process.argv[2]);
const lists = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(lists.map((ws) => { const u = cs.understand(ws, rules); return [u.words, u.axis]; })));
"""

WORDS = st.sampled_from([*understand.NOISE_WORDS, *understand.SEVENTH, *understand.ENCOUNTER, *understand.SIDES,
                         "open", "10", "9", "hip", "fracture", "burn", "closed"])


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(WORDS, max_size=8), min_size=30, max_size=30))
def test_python_and_javascript_understand_alike(lists: list[list[str]]) -> None:
    out = subprocess.run(
        ["node", "-e", UNDERSTAND_JS, str(ROOT / "assets" / "search.js"), json.dumps(understand.RULES)],
        input=json.dumps(lists), capture_output=True, text=True, check=True,
    )
    for ws, (kept, axis) in zip(lists, json.loads(out.stdout), strict=True):
        assert (kept, Axis(axis["seventh"], axis["side"])) == understand.understand(ws), ws


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
    assert '"rules":' in manifest and '"ranges":' in manifest


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
