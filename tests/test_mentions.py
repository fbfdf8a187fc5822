"""The one code-mention pattern (generator/mentions.py) and its uses: links in notes (render),
the pages a note names (incremental), codes left out of indexed prose and code-like query words
(search). The cases are those where the three old patterns disagreed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from generator.build import BuildOptions, build
from generator.mentions import code_like_word, code_query, mentioned_codes, mentions, without_mentions
from generator.search.text import is_code_like, max_edits, tokens, words
from tests.test_incremental import clean_build, tree


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("see S72.0- for the hip", [("S72.0-", "S72.0")]),  # the dash belongs to the mention
        ("(T84.020, T84.021)", [("T84.020", "T84.020"), ("T84.021", "T84.021")]),
        ("injury of hip (S78.-)", [("S78.-", "S78")]),
        ("concussion S06.0X0A.", [("S06.0X0A", "S06.0X0A")]),
        ("classified to categories R70-R94.", [("R70", "R70"), ("R94", "R94")]),  # a sentence ends
        ("cerebrovascular disease (I69. with final characters -91)", [("I69", "I69")]),
        ("hepatitis B (B16.-, B18.0-B18.1)", [("B16.-", "B16"), ("B18.0", "B18.0"), ("B18.1", "B18.1")]),
        ("lower case s72.0 is prose, not a code", []),
        ("CPT 27253 and HCPCS E0100 are named by title in notes", []),
        ("HIV, NOS, NEC and III are words", []),  # a letter second: never an ICD-10-CM code
        ("S72001A without its dot, S73.0.1", []),
    ],
)
def test_mentions_in_prose(text: str, found: list[tuple[str, str]]) -> None:
    assert [(m.group(0), m.group(1)) for m in mentions(text)] == found
    assert mentioned_codes(text) == {code for _, code in found}


@pytest.mark.parametrize(
    ("text", "indexed"),
    [
        ("fracture of femur (S72.0-)", ["fracture", "femur"]),
        ("hepatitis B (B16.-, B18.0-B18.1)", ["hepatitis"]),  # no stray "1" from the range
        ("Escherichia coli infection (A04.0-A04.4)", ["escherichia", "coli", "infection"]),
        ("excludes S06.0X0A and (T84.020, T84.021)", ["exclude"]),
        ("HIV disease, 3 weeks", ["hiv", "disease", "3", "week"]),  # words that look like codes stay
    ],
)
def test_search_indexes_the_prose_around_mentions(text: str, indexed: list[str]) -> None:
    assert tokens(without_mentions(text)) == indexed


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("S72.0-", "S720-"),
        ("s73.0", "S730"),
        ("S06.0X0A", "S060X0A"),
        ("27253", "27253"),
        ("e0100", "E0100"),
        ("S78.-", "S78-"),
        ("hip", None),  # no digit
        ("s7", None),  # too short
        ("T84.020, T84.021", None),  # two codes are not one code query
    ],
)
def test_a_whole_query_that_is_a_code(query: str, code: str | None) -> None:
    assert code_query(query) == code


@pytest.mark.parametrize(
    ("query", "code_like"),
    [
        ("S72.0-", ["s72", "0"]),
        ("S06.0X0A", ["s06", "0x0a"]),
        ("27253 hip", ["27253"]),
        ("e0100 walker", ["e0100"]),
        ("HIV fracture", []),
    ],
)
def test_code_like_query_words_get_no_typo_tolerance(query: str, code_like: list[str]) -> None:
    ws = words(query)
    assert [w for w in ws if code_like_word(w)] == code_like
    assert [w for w in ws if is_code_like(w)] == code_like
    assert all(max_edits(w) == 0 for w in code_like)


def test_the_renderer_links_mentions_and_a_note_edit_follows_them(sample_site: Path, tmp_path: Path) -> None:
    """The page links what ``mentions`` finds (a code ending a sentence too); the incremental
    build re-renders a page whose note starts naming a code, as a clean build would."""
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.1.md"
    head, body = page.read_text().split("\n---\n", 1)
    note = "notes:\n  excludes1:\n  - dislocation of hip (S73.0-), see S73.01. HIV NOS S73.0.1\n"
    page.write_text(f"{head}\n{note}---\n{body}")
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert tree(out) == clean_build(sample_site, tmp_path)
    html = (out / "site" / "icd-10-cm" / "S73.1" / "index.html").read_text()
    links = re.findall(r'<a href="([^"]*)">([^<]*)</a>', html.split("dislocation of hip", 1)[1].split("</li>", 1)[0])
    assert [text for _, text in links] == ["S73.0-", "S73.01"]
