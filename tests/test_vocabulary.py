"""The lay vocabulary (vocabulary/icd10cm.yaml): parsed with lines, checked against the CMS set,
merged into the content files' synonyms by a real ``codesite import``, and found by search."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from generator import vocabulary
from generator.errors import CheckFailed
from generator.importers.run import import_icd10cm
from generator.load import load_site
from tests.conftest import ROOT, codesite, copy_site
from tests.test_import import V1, V2, front
from tests.test_import import site as plain_site  # noqa: F401  (a fixture)

PATH = "vocabulary/icd10cm.yaml"


def errors_of(text: str) -> list[str]:
    return [str(e) for e in vocabulary.parse(text, PATH)[1]]


# --- parsing --------------------------------------------------------------------------------


def test_parse_reads_terms_with_their_lines() -> None:
    text = (
        "# chapter 19: injuries\n"
        "dislocated hip: [S73.0]\n"
        "\n"
        "hip  out of  joint: S73.0\n"
        "sprained hip:\n"
        "  - S73.1\n"
        "  - S73\n"
    )
    terms, errors = vocabulary.parse(text, PATH)
    assert errors == []
    assert terms == [
        vocabulary.Term("dislocated hip", ("S73.0",), 2),
        vocabulary.Term("hip out of joint", ("S73.0",), 4),
        vocabulary.Term("sprained hip", ("S73.1", "S73"), 5),
    ]
    assert vocabulary.synonyms_by_code(terms) == {
        "S73.0": ["dislocated hip", "hip out of joint"],
        "S73.1": ["sprained hip"],
        "S73": ["sprained hip"],
    }
    assert vocabulary.parse("", PATH) == ([], [])
    assert vocabulary.parse("# only comments\n", PATH) == ([], [])


def test_parse_reports_every_problem_with_its_line() -> None:
    text = (
        "dislocated hip: [S73.0]\n"  # 1
        "Dislocated  Hip: [S73.1]\n"  # 2 duplicate, case and spacing aside
        "sprained hip: [s73.1]\n"  # 3 not as CMS writes it
        "hip pain: []\n"  # 4
        "hip: [S73.0, S73.0]\n"  # 5
        "thigh:\n"  # 6
        "  - S70\n"  # 7
        "  - S70-S79\n"  # 8 a block is not a code
        "123: [S73]\n"  # 9 a number, not words
        "leg: {S80: x}\n"  # 10
        "knee: [S80, [S81]]\n"  # 11
    )
    assert errors_of(text) == [
        f"{PATH}:2: Dislocated Hip: duplicate term (first on line 1)",
        f"{PATH}:3: sprained hip: 's73.1' is not a code (write it as CMS does: E11.9)",
        f"{PATH}:4: hip pain: expected one or more codes",
        f"{PATH}:5: hip: S73.0 is listed twice",
        f"{PATH}:8: thigh: 'S70-S79' is not a code (write it as CMS does: E11.9)",
        f"{PATH}:9: 123: a term must be words",
        f"{PATH}:10: leg: 'a nested value' is not a code (write it as CMS does: E11.9)",
        f"{PATH}:11: knee: 'a nested value' is not a code (write it as CMS does: E11.9)",
    ]


def test_parse_reports_malformed_yaml_and_a_file_that_is_not_a_mapping() -> None:
    assert errors_of("a: [S73.0]\nb: [S73\n") == [
        f"{PATH}:3: vocabulary: malformed YAML: while parsing a flow sequence "
        "did not find expected ',' or ']'"
    ]
    assert errors_of("# terms\n- S73.0\n") == [f"{PATH}:2: vocabulary: expected a mapping of term: [CODE, ...]"]


def test_check_names_codes_missing_from_the_set() -> None:
    terms, _ = vocabulary.parse("hip: [S73.0, S73.9]\nthigh: [S74]\n", PATH)
    assert [str(e) for e in vocabulary.check(terms, {"S73.0", "S73"}, PATH)] == [
        f"{PATH}:1: hip: S73.9 is not a code of the set",
        f"{PATH}:2: thigh: S74 is not a code of the set",
    ]


def test_merge_synonyms_adds_without_duplicates_and_keeps_the_editors_terms() -> None:
    merge = vocabulary.merge_synonyms
    assert merge(["Hip out of joint", "our term"], ["hip out of  joint", "dislocated hip"]) == [
        "Hip out of joint",
        "our term",
        "dislocated hip",
    ]
    assert merge(None, ["a", "A", "b"]) == ["a", "b"]
    assert merge(["a", "b"], ["b", "a"]) == ["a", "b"]


# --- through a real import ------------------------------------------------------------------


@pytest.fixture
def site(plain_site: Path, tmp_path: Path) -> Path:  # noqa: F811
    """test_import's site folder (no content yet) with a vocabulary, and its two releases."""
    s = plain_site
    (s / "vocabulary").mkdir()
    (s / "vocabulary" / "icd10cm.yaml").write_text(
        "# chapter 19\nhip out of joint: [S73.0]\nputting the hip out: [S73.0, S73]\nwrenched hip: [S73.1]\n"
    )
    (tmp_path / "v1.xml").write_text(V1)
    (tmp_path / "v2.xml").write_text(V2)  # S73.1 gone, S73.2 new
    return s


def test_import_merges_the_vocabulary_into_synonyms_and_is_idempotent(site: Path) -> None:
    into = site / "content" / "codes" / "icd10cm"
    v1 = str(site.parent / "v1.xml")
    import_icd10cm(str(site), v1, quiet=True)
    assert front(into / "S73.0.md")[0]["synonyms"] == ["hip out of joint", "putting the hip out"]
    assert front(into / "S73.md")[0]["synonyms"] == ["putting the hip out"]
    assert front(into / "S73.1.md")[0]["synonyms"] == ["wrenched hip"]
    assert "synonyms" not in front(into / "S73.01.md")[0]

    # an editor adds a term of their own, and one the vocabulary has in other words
    path = into / "S73.0.md"
    path.write_text(path.read_text().replace("- putting the hip out\n", "- putting the hip out\n- Hip Popped Out\n"))
    s731 = into / "S73.1.md"
    s731.write_text(s731.read_text().replace("synonyms:\n- wrenched hip\n", "synonyms:\n- Wrenched  Hip\n"))
    before = {p.name: p.read_text() for p in into.iterdir()}
    again = import_icd10cm(str(site), v1, quiet=True)
    assert again.updated == again.added == again.deleted == 0
    assert {p.name: p.read_text() for p in into.iterdir()} == before

    # a new release and the vocabulary updated for it: terms added, the editors' kept, none twice
    voc = site / "vocabulary" / "icd10cm.yaml"
    voc.write_text(voc.read_text().replace("wrenched hip: [S73.1]\n", "hip popped out: [S73.0, S73.01]\n"))
    summary = import_icd10cm(str(site), str(site.parent / "v2.xml"), quiet=True)
    edited = front(path)[0]
    assert edited["synonyms"] == ["hip out of joint", "putting the hip out", "Hip Popped Out"]
    assert edited["title"] == "Subluxation and dislocation of the hip"
    assert front(into / "S73.01.md")[0]["synonyms"] == ["hip popped out"]
    assert front(s731)[0]["synonyms"] == ["Wrenched  Hip"]  # deleted from the release, kept
    assert front(s731)[0]["status"] == "deleted"
    assert (summary.added, summary.updated, summary.deleted) == (3, 3, 3)  # S73.01: a first term
    assert load_site(str(site)).codes[("icd10cm", "S73.01")].synonyms == ("hip popped out",)

    # the vocabulary's words reach search (whoosh, through the command line)
    built = codesite("build", "--site", str(site), "--quiet")
    assert built.returncode == 0, built.stderr
    found = codesite("search", "--site", str(site), "--json", "popped")
    assert found.returncode == 0, found.stderr
    assert '"code": "S73.01"' in found.stdout and '"code": "S73.0"' in found.stdout


def test_a_bad_vocabulary_stops_the_import_before_any_write(site: Path) -> None:
    voc = site / "vocabulary" / "icd10cm.yaml"
    voc.write_text(voc.read_text() + "pulled hip: [S73.9]\nhip out of joint: [S73.01]\n")
    with pytest.raises(CheckFailed) as info:
        import_icd10cm(str(site), str(site.parent / "v1.xml"), quiet=True)
    assert [str(e) for e in info.value.errors] == [
        f"{PATH}:5: pulled hip: S73.9 is not a code of the set",
        f"{PATH}:6: hip out of joint: duplicate term (first on line 2)",
    ]
    assert not (site / "content" / "codes").exists()

    done = codesite("import", "icd10cm", "--site", str(site), "--from", str(site.parent / "v1.xml"))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{PATH}:5: pulled hip: S73.9 is not a code of the set",
        f"{PATH}:6: hip out of joint: duplicate term (first on line 2)",
        "2 error(s); nothing was written",
    ]
    assert not (site / "content" / "codes").exists()


def test_codesite_check_checks_the_vocabulary_against_the_cms_set(tmp_path: Path) -> None:
    site = copy_site(ROOT / "tests" / "sites" / "valid-basic", tmp_path / "site")
    (site / "vocabulary").mkdir()
    voc = site / "vocabulary" / "icd10cm.yaml"
    voc.write_text("# lay words\nheart attack: [I21, I22]\nbroke my hip: [S72.0]\n")
    done = codesite("check", "--site", str(site), "--no-warnings")  # warnings: tests/test_editors.py
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok: 4 codes checked, 2 vocabulary terms"

    voc.write_text(voc.read_text() + "pulled hip: [S73.9]\nHeart Attack: [I25.2]\n")
    (site / "vocabulary" / "icd9.yaml").write_text("heart attack: [410]\n")
    done = codesite("check", "--site", str(site))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{PATH}:4: pulled hip: S73.9 is not a code of the set",
        f"{PATH}:5: Heart Attack: duplicate term (first on line 2)",
        "vocabulary/icd9.yaml:1: vocabulary: no code set 'icd9' (known: icd10cm)",
        "3 error(s)",
    ]


# --- the project's vocabulary ---------------------------------------------------------------


def test_the_vocabulary_names_only_cms_codes_and_covers_every_chapter() -> None:
    with open(os.path.join(ROOT, PATH), encoding="utf-8") as f:
        terms, errors = vocabulary.parse(f.read(), PATH)
    official = vocabulary.official_icd10cm()
    errors += vocabulary.check(terms, official, PATH)
    assert [str(e) for e in errors] == []
    chapters = [c for c, (kind, _, _) in official.items() if kind == "chapter"]
    per_chapter: Counter[str] = Counter()
    for t in terms:
        for ch in {vocabulary.chapter_of(c, official) for c in t.codes}:
            per_chapter[ch] += 1
    print(f"\nvocabulary: {len(terms)} terms, {sum(len(t.codes) for t in terms)} term-code links")
    for ch in chapters:
        print(f"  chapter {ch:>2} {per_chapter[ch]:5}  {official[ch][1][:70]}")
    assert len(chapters) == 22
    thin = {ch: per_chapter[ch] for ch in chapters if per_chapter[ch] < 30}
    assert not thin, f"chapters with fewer than 30 terms: {thin}"
    assert len(terms) >= 2000
