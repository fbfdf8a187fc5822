"""Search: the client index through the real client (Node), the whoosh index, the browser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.build import BuildOptions, build
from generator.cli import main
from generator.errors import CheckFailed, ConfigError
from generator.outputs import read_marshal, write_marshal
from generator.publish import Publisher
from generator.search import client, engine, stage, synonyms
from generator.search import text as analysis
from tests.test_incremental import clean_build, tree

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "tools" / "search.js"


def node_search(site: Path, q: str, *args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        ["node", str(CLIENT), str(site), q, *args], capture_output=True, text=True, check=True
    )
    return [json.loads(line) for line in out.stdout.splitlines()]


def codes(site: Path, q: str, *args: str) -> list[str]:
    return [r["code"] for r in node_search(site, q, *args)]


def node_batch(site: Path, queries: list[str], limit: int = 10) -> list[list[str]]:
    lines = "".join(json.dumps({"q": q}) + "\n" for q in queries)
    out = subprocess.run(
        ["node", str(CLIENT), str(site), "--batch", "--limit", str(limit)],
        input=lines, capture_output=True, text=True, check=True,
    )
    return [json.loads(line)["codes"] for line in out.stdout.splitlines()]


@pytest.fixture(scope="session")
def public(built_sample: Path) -> Path:
    return built_sample / "site"


# --- the text rules (pure) ------------------------------------------------------------------


def test_tokens_fold_case_accents_plurals_and_stop_words() -> None:
    assert analysis.tokens("Fractures of the Hips, INJURIES; Sjögren's") == [
        "fracture", "hip", "injury", "sjogren",
    ]


def test_code_queries_are_normalized() -> None:
    assert analysis.code_query(" s73.0 ") == "S730"
    assert analysis.code_query("S72001A") == "S72001A"
    assert analysis.code_query("27253") == "27253"
    assert analysis.code_query("broken hip") is None
    assert analysis.code_query("hip") is None


def test_typo_limits_by_length_never_codes_or_numbers() -> None:
    assert analysis.max_edits("hip") == 0
    assert analysis.max_edits("femur") == 1
    assert analysis.max_edits("dislocation") == 2
    assert analysis.max_edits("s72001") == 0
    assert analysis.max_edits("27253") == 0
    assert analysis.edit_distance("fractrue", "fracture", 2) == 1  # a transposition is one edit
    assert analysis.edit_distance("abcdef", "uvwxyz", 2) == 3


def test_synonyms_file_parses_and_bad_entries_name_the_line() -> None:
    syn = synonyms.parse_synonyms((ROOT / "content" / "synonyms.yaml").read_text())
    assert len(syn) >= 50
    assert syn["heart attack"] == [["myocardial", "infarction"]]
    with pytest.raises(ConfigError) as err:
        synonyms.parse_synonyms("broken: fracture\nheart attack: {a: b}\n")
    assert str(err.value) == (
        "content/synonyms.yaml:2: synonyms.heart attack: expected a phrase or a list of phrases"
    )


# --- the client index through the real client ---------------------------------------------


@pytest.mark.parametrize("q", ["s730", "S73.0", "S730", "s73.0"])
def test_exact_code_any_case_with_or_without_dot_comes_first(public: Path, q: str) -> None:
    assert codes(public, q)[0] == "S73.0"


def test_full_code_and_other_systems(public: Path) -> None:
    assert codes(public, "s72001a")[0] == "S72.001A"
    assert codes(public, "27253")[0] == "27253"
    assert codes(public, "e0100")[0] == "E0100"


def test_code_prefix_lists_the_family_in_code_order(public: Path) -> None:
    found = codes(public, "S72.0", "--limit", "30")
    assert found[0] == "S72.0"
    assert all(c.replace(".", "").startswith("S720") for c in found)
    assert found == sorted(found)
    assert len(found) == 30


def test_full_text_ranks_and_urls_are_permanent(public: Path) -> None:
    first = node_search(public, "subluxation and dislocation of hip")[0]
    assert first == {
        "code": "S73.0", "title": "Subluxation and dislocation of hip", "url": "/icd-10-cm/S73.0/",
    }


def test_lay_synonyms_from_the_file_and_from_the_code(public: Path) -> None:
    assert codes(public, "broken hip")[0].startswith("S72.0")
    assert codes(public, "walking stick")[0] == "E0100"  # E0100's own synonyms
    assert "27253" in codes(public, "open hip relocation")[:3]
    assert codes(public, "hip popped out")[0] == "S73.0"


def test_typos_are_tolerated_in_words_not_in_codes(public: Path) -> None:
    assert codes(public, "dislocaton hip")[0].startswith("S73")  # one edit, 10 letters
    assert codes(public, "subluxaiton")[0].startswith("S73")  # transposition
    assert any(c.startswith("S72") for c in codes(public, "femer"))  # 5 letters: one edit
    assert codes(public, "hup") == []  # 3 letters: no edit
    assert codes(public, "S74.0") == []  # a code is never corrected to a neighbour


def test_filters_by_system_and_billable(public: Path) -> None:
    cpt = node_search(public, "hip", "--system", "cpt")
    assert cpt and all(r["url"].startswith("/cpt/") for r in cpt)
    billable = codes(public, "S73.0", "--billable", "--limit", "5")
    assert billable and all(len(c.replace(".", "")) == 7 for c in billable)


def test_shards_are_classic_scripts_and_the_manifest_is_small(public: Path) -> None:
    index = public / "search-index"
    files = list(index.rglob("*.js"))
    assert files and all(f.read_bytes().startswith(b"window.__csIdx.push([") for f in files)
    assert (index / "manifest.js").stat().st_size < 20_000


# --- whoosh ---------------------------------------------------------------------------------


QUERY_SET = [
    "s730", "S72.0", "27253", "E0143", "dislocation of hip", "hip dislocation", "broken hip",
    "fracture femur neck", "femoral head fracture", "walking stick", "walker", "cane",
    "posterior dislocation", "subluxation right hip", "dislocaton", "fractrue femur",
    "open treatment hip", "obturator", "central dislocation", "midcervical", "epiphysis",
    "hip out of socket", "anterior subluxation left hip", "sequela", "nondisplaced fracture",
]


def test_whoosh_and_client_agree_on_the_top_ten(public: Path, built_sample: Path) -> None:
    """Both engines rank by the same scores (``search.scores``): the same ten, in order."""
    index_dir = str(built_sample / engine.WHOOSH_DIR)
    client = node_batch(public, QUERY_SET)
    for q, mine in zip(QUERY_SET, client, strict=True):
        theirs = [r["code"] for r in engine.query_whoosh(index_dir, q, 10)]
        assert mine, q
        assert theirs == mine, q


def test_whoosh_ranks_lay_words_as_the_client_does(public: Path, built_sample: Path) -> None:
    """Every lay phrase of the sample (content/synonyms.yaml and the codes' ``synonyms``): the
    same ten, in order. whoosh used to score each field on its own and add up every
    alternative of a phrase: "sprained hip", a synonym of S73.1 Sprain of hip, came after S73
    there, and a lay phrase whose clinical words no code holds all of found nothing at all."""
    from generator.load import load_site

    site = load_site(str(built_sample.parent))
    lay = sorted(set(site_synonyms(built_sample.parent)) | {s for c in site.codes.values() for s in c.synonyms})
    index_dir = str(built_sample / engine.WHOOSH_DIR)
    client = node_batch(public, lay)
    assert len(lay) > 100
    for q, mine in zip(lay, client, strict=True):
        assert [r["code"] for r in engine.query_whoosh(index_dir, q, 10)] == mine, q
    assert codes(public, "sprained hip")[0] == "S73.1"
    assert [r["code"] for r in engine.query_whoosh(index_dir, "sprained hip", 1)] == ["S73.1"]


def site_synonyms(site_dir: Path) -> list[str]:
    """The lay phrases of the site's content/synonyms.yaml, as written."""
    from generator.load.synonyms import read_synonyms

    entries, _, errors = read_synonyms(str(site_dir))
    assert not errors
    return list(entries)


def test_cli_search_answers_from_whoosh(
    built_sample: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index_dir = str(built_sample / engine.WHOOSH_DIR)
    assert main(["search", "S73.0", "--json", "--limit", "2", "--index", index_dir]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["code"] for r in lines] == ["S73.0", "S73.00"]
    assert lines[0]["url"] == "/icd-10-cm/S73.0/"
    assert main(["search", "walking stick", "--index", index_dir]) == 0
    assert capsys.readouterr().out.startswith("E0100")
    assert main(["search", "x", "--site", str(built_sample / "nowhere")]) == 1


def test_an_index_of_another_version_asks_for_a_build(sample_site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = sample_site / "build"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    index_dir = str(out / engine.WHOOSH_DIR)
    meta = Path(index_dir) / engine.META
    data = read_marshal(str(meta))
    write_marshal(str(meta), {**data, "format": data["format"] - 1})
    assert main(["search", "hip", "--index", index_dir]) == 1
    assert "another version's: run 'codesite build'" in capsys.readouterr().err
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.1.md"
    page.write_text(page.read_text().replace("- sprained hip", "- sprained hip\n- qqversioncanary"))
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))  # a fresh index, that answers
    for q in ("qqversioncanary", "sprained hip"):
        assert main(["search", q, "--index", index_dir]) == 0
        assert capsys.readouterr().out.startswith("S73.1 "), q


# --- gated text -----------------------------------------------------------------------------


def test_gated_text_is_never_indexed(sample_site: Path) -> None:
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.0.md"
    text = page.read_text()
    extra = (
        "sections:\n"
        "- {id: tips, title: Tips, gated: true, body: 'qqgatedcanary words'}\n"
        "- {id: more, title: More, body: 'qqpubliccanary words'}\n"
    )
    end = text.index("\n---\n")  # the front matter's own sections are replaced: a field given twice is an error
    start = text.find("\nsections:\n", 0, end)
    page.write_text(text[: (start if start >= 0 else end) + 1] + extra + text[end + 1 :])
    out = sample_site / "build"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    index_files = [
        f for d in (out / "site" / "search-index", out / engine.WHOOSH_DIR) for f in d.rglob("*")
        if f.is_file()
    ]
    blob = b"".join(f.read_bytes() for f in index_files).lower()
    assert b"qqpubliccanary" in blob  # the probe sees indexed text...
    assert b"qqgatedcanary" not in blob  # ...and gated text is not there
    assert codes(out / "site", "qqpubliccanary") == ["S73.0"]
    assert codes(out / "site", "qqgatedcanary") == []


# --- the browser ----------------------------------------------------------------------------


def type_and_open(page: Any, q: str) -> str:
    page.locator("[data-search-page] input[name=q]").press_sequentially(q)
    first = page.locator("[data-search-results] li a").first
    first.wait_for()
    href = first.get_attribute("href")
    first.click()
    page.wait_for_load_state()
    return str(href)


def test_browser_search_page_over_http(browser: Any, static_server: str) -> None:
    page = browser.new_page()
    page.goto(static_server + "/search/")
    href = type_and_open(page, "subluxation of hip")
    assert href.endswith("/icd-10-cm/S73.0/")
    assert page.url == static_server + "/icd-10-cm/S73.0/"
    assert "S73.0" in page.locator("h1").inner_text()
    page.goto(static_server + "/search/?q=broken%20hip&system=icd10cm")
    page.locator("[data-search-results] li").first.wait_for()
    assert "<mark>" in page.locator("[data-search-results]").inner_html()
    page.select_option("[data-search-page] select[name=system]", "cpt")
    page.wait_for_function(
        "[...document.querySelectorAll('[data-search-results] a')]"
        ".every(a => a.href.includes('/cpt/'))"
    )
    assert "system=cpt" in page.url
    page.check("[data-search-page] input[name=billable]")
    page.wait_for_function(  # the range 27193-27269 (not billable) leaves the list
        "(() => { const li = [...document.querySelectorAll('[data-search-results] li')];"
        " return li.length > 0 && li.every(x => x.textContent.includes('billable')); })()"
    )
    assert "billable=1" in page.url
    page.close()


def test_browser_search_page_over_file_url(browser: Any, public: Path) -> None:
    page = browser.new_page()
    page.goto((public / "search" / "index.html").as_uri())
    href = type_and_open(page, "s73.0")
    assert href.endswith("/icd-10-cm/S73.0/index.html")
    assert page.url == (public / "icd-10-cm" / "S73.0" / "index.html").as_uri()
    assert "S73.0" in page.locator("h1").inner_text()
    page.close()


def test_header_popup_keyboard_and_enter(browser: Any, static_server: str) -> None:
    page = browser.new_page()
    page.goto(static_server + "/cpt/27253/")
    box = page.locator("[data-search-input]")
    box.press_sequentially("walking sti")  # the last word is still being typed
    page.locator("[data-search-popup] [role=option]").first.wait_for()
    assert "E0100" in page.locator("[data-search-popup]").inner_text()
    box.press("Enter")
    page.wait_for_url("**/hcpcs/E0100/")
    box = page.locator("[data-search-input]")
    box.press_sequentially("S73.0")
    page.locator("[data-search-popup] [role=option]").nth(1).wait_for()
    box.press("ArrowDown")
    box.press("ArrowDown")
    box.press("Enter")
    page.wait_for_url("**/icd-10-cm/S73.00/")
    page.close()


# --- the two implementations of the text rules agree ----------------------------------------

PARITY_JS = """
const cs = require(process.argv[1]);
const stop = {};
JSON.parse(process.argv[2]).forEach((w) => { stop[w] = true; });
const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(texts.map((t) => {
  const ws = cs.words(t, stop);
  const stems = ws.map(cs.stem);
  return [ws, stems, stems.map(cs.fnv1a), cs.codeQuery(t),
          ws.length > 1 ? cs.editDistance(ws[0], ws[1], 2) : null];
})));
"""

LATIN = st.characters(min_codepoint=32, max_codepoint=0x17F, exclude_categories=("Cs",))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(LATIN, max_size=40), min_size=20, max_size=20))
def test_python_and_javascript_tokenize_alike(texts: list[str]) -> None:
    out = subprocess.run(
        ["node", "-e", PARITY_JS, str(ROOT / "assets" / "search.js"),
         json.dumps(sorted(analysis.STOP_WORDS))],
        input=json.dumps(texts), capture_output=True, text=True, check=True,
    )
    for text, (ws, stems, hashes, code, dist) in zip(texts, json.loads(out.stdout), strict=True):
        assert ws == analysis.words(text), text
        assert stems == [analysis.stem(w) for w in ws]
        assert hashes == [analysis.fnv1a(s) for s in stems]
        assert code == analysis.code_query(text)
        if len(ws) > 1:
            assert dist == analysis.edit_distance(ws[0], ws[1], 2)


def test_whoosh_follows_edits_without_a_rebuild(sample_site: Path) -> None:
    out = sample_site / "build"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    index_dir = str(out / engine.WHOOSH_DIR)
    segments = {p.name for p in Path(index_dir).glob("*.seg")}
    page = sample_site / "content" / "codes" / "hcpcs" / "E0143.md"
    page.write_text(page.read_text().replace("synonyms: [", "synonyms: [zimmer frame, "))
    (sample_site / "content" / "codes" / "hcpcs" / "E0100.md").unlink()
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert segments <= {p.name for p in Path(index_dir).glob("*.seg")}  # updated, not rebuilt
    clean = sample_site / "clean"
    build(str(sample_site), BuildOptions(out_dir=str(clean), quiet=True))
    assert stored_keys(index_dir) == stored_keys(str(clean / engine.WHOOSH_DIR))  # each once, none left
    assert [r["code"] for r in engine.query_whoosh(index_dir, "zimmer frame")] == ["E0143"]
    assert engine.query_whoosh(index_dir, "E0100") == []
    assert codes(out / "site", "zimmer frame") == ["E0143"]


def stored_keys(index_dir: str) -> list[str]:
    """Every live document's key in a whoosh index, sorted (a key twice: a document kept twice)."""
    ix = engine.whoosh_index().open_dir(index_dir)
    with ix.searcher() as s:
        return sorted(fields["key"] for fields in s.all_stored_fields())


# --- an edit updates the indexes in place ----------------------------------------------------


def search_written(report: Any) -> list[str]:
    return [k for k in report.files if k.startswith(f"site/{client.INDEX_DIR}/")]


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("S73.01.md", "socket, typically", "socket, typically qqeditcanary"),  # the body
        ("S73.01.md", "title: Posterior", "title: Qqeditcanary posterior"),
        ("S72.001A.md", "billable: true\nsynonyms:", "billable: false\nsynonyms:\n- qqeditcanary"),
    ],
)
def test_an_edit_rewrites_a_few_index_files_as_a_clean_build_would(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, old: str, new: str
) -> None:
    out = tmp_path / "out"
    first = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    index_dir = str(out / engine.WHOOSH_DIR)
    segments = {p.name for p in Path(index_dir).glob("*.seg")}
    page = sample_site / "content" / "codes" / "icd10cm" / name
    assert old in page.read_text()
    page.write_text(page.read_text().replace(old, new, 1))
    with monkeypatch.context() as m:  # the edit's build makes no document but the edited one
        m.setattr(stage, "documents", None)
        m.setattr(client, "documents", None)
        report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    written = search_written(report)
    assert 0 < len(written) <= 30 < len(search_written(first)), written
    assert tree(out) == clean_build(sample_site, tmp_path)
    code = name.removesuffix(".md")
    assert codes(out / "site", "qqeditcanary") == [code]
    assert segments <= {p.name for p in Path(index_dir).glob("*.seg")}  # updated, not rebuilt
    assert [r["code"] for r in engine.query_whoosh(index_dir, "qqeditcanary")] == [code]


def test_edits_across_a_build_without_search_or_a_lost_state(sample_site: Path, tmp_path: Path) -> None:
    """The indexes of a build that skipped search (or whose saved state is gone) are made
    whole again, not updated from a state that missed an edit."""
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    folder = sample_site / "content" / "codes" / "icd10cm"
    for i, (name, options) in enumerate([("S73.01.md", {"search": False}), ("S73.02.md", {}), ("S73.0.md", {})]):
        page = folder / name
        page.write_text(page.read_text() + f"\nqqstep{i} words.\n")
        if i == 2:
            for f in (out / ".cache").glob("search*"):
                f.unlink()
        build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, **options))
    assert tree(out) == clean_build(sample_site, tmp_path)
    assert codes(out / "site", "qqstep0") == ["S73.01"]
    assert [r["code"] for r in engine.query_whoosh(str(out / engine.WHOOSH_DIR), "qqstep0")] == ["S73.01"]


# --- the whoosh index is staged and swapped in with the site ----------------------------------


def folder_bytes(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_a_failed_build_leaves_both_indexes_and_the_site_of_the_last_one(sample_site: Path, tmp_path: Path) -> None:
    """A build that fails once both indexes are staged (a navigation link to no page is found
    after them) changes nothing: not the site, not the client index, not a byte of whoosh (an
    edit's staging folder starts as hard links to the live files)."""
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    index_dir = out / engine.WHOOSH_DIR
    before, whoosh_before = tree(out), folder_bytes(index_dir)
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    page.write_text(page.read_text().replace("title: Posterior", "title: Qqfailedcanary posterior", 1))
    config = sample_site / "content" / "site.yaml"
    good = config.read_text()
    config.write_text(good.replace("nav:\n", "nav:\n  - {title: Gone, url: /no-such-page/}\n", 1))
    with pytest.raises(CheckFailed) as failed:
        build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert "'/no-such-page/' is not a page of the site" in str(failed.value.errors[0])
    assert tree(out) == before
    assert folder_bytes(index_dir) == whoosh_before
    assert not (out / ".staging").exists()
    assert engine.query_whoosh(str(index_dir), "qqfailedcanary") == []
    assert codes(out / "site", "qqfailedcanary") == []

    config.write_text(good)
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert [r["code"] for r in engine.query_whoosh(str(index_dir), "qqfailedcanary")] == ["S73.01"]
    assert codes(out / "site", "qqfailedcanary") == ["S73.01"]
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(engine.WHOOSH_DIR)) == [engine.WHOOSH_DIR]


def test_the_publisher_swaps_a_staged_folder_in_at_commit_only(tmp_path: Path) -> None:
    live = tmp_path / "index"
    live.mkdir()
    (live / "a").write_text("old")
    for commit in (False, True):
        publisher = Publisher(str(tmp_path / "out"))
        publisher.begin()
        staged = Path(publisher.stage_folder(str(live)))
        staged.mkdir()
        (staged / "a").write_text("new")
        unmade = publisher.stage_folder(str(tmp_path / "other"))  # never made: nothing happens
        if commit:
            publisher.commit()
        else:
            publisher.abort()
        assert (live / "a").read_text() == ("new" if commit else "old")
        assert not Path(unmade).exists() and not (tmp_path / "other").exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["index", "out"]
