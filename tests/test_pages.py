"""What a code page and the search page show, on the sample site: inherited notes, the marked 7th
character, codes linked everywhere, a build that opens from file://, the search page, polish."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from generator import yamlutil
from generator.build import BuildOptions, build
from generator.errors import ContentError
from generator.importers.run import import_icd10cm
from generator.load import load_site
from generator.load.parse import parse_code, split_front_matter
from tests.conftest import ROOT, copy_site
from tests.test_incremental import clean_build, tree


class Anchors(HTMLParser):
    """Every <a href> with its text, and whether it sits inside a <details> or the <main>."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append(("".join(self._text), self._href))
            self._href = None


def anchors(html: str) -> list[tuple[str, str]]:
    p = Anchors()
    p.feed(html)
    return p.links


def target_file(page: Path, href: str) -> Path:
    """The file an href on ``page`` (a file in the output) opens from disk."""
    path = unquote(urlsplit(href).path)
    full = Path(os.path.normpath(page.parent / path)) if path else page
    return full / "index.html" if full.is_dir() else full


def text_of(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


# --- 1. inherited notes and the 7th character -------------------------------------------------


def test_code_page_shows_notes_from_every_level_above_nearest_first(built_sample: Path) -> None:
    html = (built_sample / "site" / "icd-10-cm" / "S72.001A" / "index.html").read_text()
    notes = html[html.index('id="notes"') :]
    froms = re.findall(r'<h3 class="from">From <a href="[^"]+">([^<]+)</a>', notes)
    assert froms == ["S72.00", "S72.0", "S72", "S70-S79", "Chapter 19"]  # nearest first
    s72 = notes[notes.index("From <a") :]
    for phrase in ("traumatic amputation of hip and thigh", "fracture of foot", "Gustilo open fracture"):
        assert phrase in s72  # S72's Excludes1, Excludes2 and notes
    block_and_chapter = notes[notes.index("<details") : notes.index("</details>")]
    assert "From <a" in block_and_chapter and "S70-S79" in block_and_chapter and "Chapter 19" in block_and_chapter
    assert "birth trauma" in block_and_chapter and "birth trauma" not in notes[: notes.index("<details")]
    assert "<details open" not in html


def test_seventh_character_table_marks_the_pages_own_character(built_sample: Path, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto((built_sample / "site" / "icd-10-cm" / "S72.001A" / "index.html").as_uri())
        rows = page.locator("#seventh-characters tbody tr")
        assert rows.count() == 16
        current = page.locator("#seventh-characters tr[aria-current]")
        assert current.count() == 1
        assert current.locator("td").first.inner_text().startswith("A")
        assert "S72.001A" in current.inner_text() and current.is_visible()
        assert "from S72" in page.locator("#seventh-characters h2").inner_text()
        # the block's and chapter's notes: collapsed until opened
        assert not page.get_by_text("birth trauma (P10-P15)").is_visible()
        page.locator("details.range-notes summary").click()
        assert page.get_by_text("birth trauma (P10-P15)").is_visible()
        # a 6-character code shows the table it takes its 7th character from, nothing marked
        page.goto((built_sample / "site" / "icd-10-cm" / "S72.001" / "index.html").as_uri())
        assert page.locator("#seventh-characters tbody tr").count() == 16
        assert page.locator("#seventh-characters tr[aria-current]").count() == 0
    finally:
        page.close()


@pytest.mark.parametrize(
    "edit",
    [
        lambda f: f["notes"].__setitem__("excludes1", ["EDITED-EXCLUDES traumatic amputation (S78.-)"]),
        lambda f: f["seventh_characters"].__setitem__("A", "EDITED-SEVENTH initial encounter"),
        lambda f: f["seventh_characters"].__setitem__(
            "A", {"meaning": "initial encounter", "notes": ["EDITED-CHAR-NOTE see S72.0"]}
        ),
    ],
    ids=["excludes1", "seventh-meaning", "seventh-note"],
)
def test_ancestor_edit_rerenders_descendants(sample_site: Path, tmp_path: Path, edit: object) -> None:
    out = sample_site / "build"
    build(str(sample_site), BuildOptions(quiet=True))
    path = sample_site / "content" / "codes" / "icd10cm" / "S72.md"
    front, body, _ = split_front_matter(path.read_text(), str(path))
    data = yamlutil.load(front)
    edit(data)  # type: ignore[operator]
    from generator.importers.files import render_file

    path.write_text(render_file(data, body))
    build(str(sample_site), BuildOptions(quiet=True))
    page = (out / "site" / "icd-10-cm" / "S72.001A" / "index.html").read_text()
    assert "EDITED-" in page
    clean = clean_build(sample_site, tmp_path)
    assert isinstance(clean, dict)
    assert tree(out) == clean


def test_code_named_in_a_body_that_appears_becomes_a_link(sample_site: Path, tmp_path: Path) -> None:
    out = sample_site / "build"
    build(str(sample_site), BuildOptions(quiet=True))
    fragment = out / "private" / "cpt" / "27253" / "icd-10-cm-crosswalk.html"
    assert "T84.02-" in fragment.read_text() and "T84.02/" not in fragment.read_text()
    (sample_site / "content" / "codes" / "icd10cm" / "T84.02.md").write_text(
        "---\ncode: T84.02\nsystem: icd10cm\ntitle: Dislocation of internal joint prosthesis\nkind: code\n---\n"
    )
    build(str(sample_site), BuildOptions(quiet=True))
    assert '../../icd-10-cm/T84.02/index.html">T84.02-</a>' in fragment.read_text()
    clean = clean_build(sample_site, tmp_path)
    assert isinstance(clean, dict)
    assert tree(out) == clean


# --- 2. the 7th characters' own notes ---------------------------------------------------------

TABULAR = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2026</version>
  <chapter>
    <name>7</name>
    <desc>Diseases of the eye and adnexa (H00-H59)</desc>
    <sectionIndex><sectionRef first="H30" last="H36" id="H30-H36">Disorders</sectionRef></sectionIndex>
    <section id="H30-H36">
      <desc>Disorders of choroid and retina (H30-H36)</desc>
      <diag>
        <name>H34</name>
        <desc>Retinal vascular occlusions</desc>
        <diag>
          <name>H34.8</name>
          <desc>Other retinal vascular occlusions</desc>
          <diag>
            <name>H34.81</name>
            <desc>Central retinal vein occlusion</desc>
            <sevenChrNote><note>One of the following 7th characters is to be assigned</note></sevenChrNote>
            <sevenChrDef>
              <extension char="0">with macular edema</extension>
              <extension char="1">with retinal neovascularization</extension>
              <extension char="2">stable</extension>
              <note>Old central retinal vein occlusion</note>
            </sevenChrDef>
            <diag><name>H34.811</name><desc>Central retinal vein occlusion, right eye</desc></diag>
          </diag>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""


def test_seventh_character_notes_are_imported_and_shown(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "content").mkdir(parents=True)
    shutil.copy(ROOT / "content" / "site.yaml", site / "content" / "site.yaml")
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part)
    (tmp_path / "tab.xml").write_text(TABULAR)
    import_icd10cm(str(site), str(tmp_path / "tab.xml"), quiet=True)
    into = site / "content" / "codes" / "icd10cm"
    front, _, _ = split_front_matter((into / "H34.81.md").read_text(), "H34.81.md")
    assert yamlutil.load(front)["seventh_characters"] == {
        "0": "with macular edema",
        "1": "with retinal neovascularization",
        "2": {"meaning": "stable", "notes": ["Old central retinal vein occlusion"]},
    }
    assert load_site(str(site)).get("icd10cm", "H34.81").seventh_notes == {  # type: ignore[union-attr]
        "2": ("Old central retinal vein occlusion",)
    }
    build(str(site), BuildOptions(quiet=True))
    pages = site / "build" / "site" / "icd-10-cm"
    stable = (pages / "H34.8112" / "index.html").read_text()
    row = re.search(r'<tr class="current"[^>]*>(.*?)</tr>', stable, re.S)
    assert row and "stable" in row.group(1) and "Old central retinal vein occlusion" in row.group(1)
    for other in ("H34.8110", "H34.811", "H34.81"):  # the table shows it; no row marked
        page = (pages / other / "index.html").read_text()
        assert "Old central retinal vein occlusion" in page
    assert '<tr class="current"' not in (pages / "H34.811" / "index.html").read_text()
    marked = re.search(r'<tr class="current"[^>]*>(.*?)</tr>', (pages / "H34.8110" / "index.html").read_text(), re.S)
    assert marked and "with macular edema" in marked.group(1) and "Old central" not in marked.group(1)


def test_seventh_character_shapes_old_and_new_are_valid_and_bad_ones_are_errors() -> None:
    head = "---\ncode: S99\nsystem: icd10cm\ntitle: T\nkind: category\nseventh_characters:\n"
    old = parse_code(head + "  A: initial encounter\n---\n", "content/codes/icd10cm/S99.md")
    assert old.seventh_characters == {"A": "initial encounter"} and old.seventh_notes == {}
    new = parse_code(head + "  A: {meaning: initial, notes: [a note]}\n---\n", "content/codes/icd10cm/S99.md")
    assert new.seventh_characters == {"A": "initial"} and new.seventh_notes == {"A": ("a note",)}
    with pytest.raises(ContentError) as bad:
        parse_code(head + "  A: {notes: [x]}\n---\n", "content/codes/icd10cm/S99.md")
    assert str(bad.value) == "content/codes/icd10cm/S99.md:7: seventh_characters.A.meaning: required field is missing"
    with pytest.raises(ContentError) as bad:
        parse_code(head + "  A: 5\n---\n", "content/codes/icd10cm/S99.md")
    assert str(bad.value).endswith("seventh_characters.A: expected a string, got a number")


# --- 3. codes linked everywhere -----------------------------------------------------------------

WORD = re.compile(r"[A-Z0-9][A-Z0-9.]{2,8}")


def named_codes(text: str, codes: set[str]) -> set[str]:
    """The codes of the site a text names (a word that is a code, a trailing dot or dash aside)."""
    return {w.rstrip(".-") for w in WORD.findall(text) if w.rstrip(".-") in codes}


def test_every_code_named_in_a_body_note_or_section_is_a_link_that_resolves(built_sample: Path) -> None:
    site = load_site(str(ROOT))
    by_code = {c.code: c for c in site.codes.values()}
    prefix = {s: cfg.url_prefix for s, cfg in site.config.systems.items()}
    checked: set[tuple[str, str, bool]] = set()
    for c in site.codes.values():
        base = built_sample / "site" / prefix[c.system] / c.code
        page = base / "index.html"
        public_texts = [c.body, *(n for ns in c.notes.values() for n in ns), *(r.note or "" for r in c.related)]
        public_texts += [s.body for s in c.sections if not s.gated]
        parts = [(False, page.read_text(), public_texts)]
        for s in c.gated_sections:
            fragment = built_sample / "private" / prefix[c.system] / c.code / f"{s.id}.html"
            parts.append((True, fragment.read_text(), [s.body]))  # fragments sit in the page
        for gated, html, texts in parts:
            links = anchors(html)
            for name in set().union(*(named_codes(t, set(by_code)) for t in texts)) - {c.code}:
                t = by_code[name]
                want = (built_sample / "site" / prefix[t.system] / t.code / "index.html").resolve()
                hrefs = [h for text, h in links if text.rstrip(".-") == name]
                assert hrefs, f"{c.code}: {name} is not a link"
                assert all(target_file(page, h).resolve() == want for h in hrefs), (c.code, name, hrefs)
                checked.add((c.code, name, gated))
    assert len(checked) >= 10
    # in gated sections (a table cell, a CPT code in a list) and a related-code note
    assert {("27253", "S73.014A", True), ("27253", "27254", True), ("27253", "27254", False)} <= checked


def test_code_links_stay_out_of_code_elements_links_and_attributes(sample_site: Path) -> None:
    path = sample_site / "content" / "codes" / "icd10cm" / "S72.md"
    text = path.read_text()
    body = (
        "\nSee S72.0 and `S72.0 in code` and [S72.0 linked](https://example.org/S72.0) and"
        ' <abbr title="S72.0">S72.0</abbr>.\n\n| a | b |\n|---|---|\n| S72.0 | 27253 |\n'
    )
    path.write_text(text + body)
    build(str(sample_site), BuildOptions(quiet=True))
    html = (sample_site / "build" / "site" / "icd-10-cm" / "S72" / "index.html").read_text()
    prose = html[html.index('id="common-language-description"') :]
    prose = prose[: prose.index("</section>")]
    assert prose.count('<a href="../S72.0/index.html">S72.0</a>') == 3  # text, abbr's text, table
    assert "<code>S72.0 in code</code>" in prose
    assert '<a href="https://example.org/S72.0" rel="noopener">S72.0 linked</a>' in prose
    assert 'title="S72.0"' in prose
    assert '<a href="../../cpt/27253/index.html">27253</a>' in prose  # a CPT code, in another system


# --- 4. a default build opens from disk ------------------------------------------------------------


def internal_hrefs(folder: Path) -> Iterator[tuple[Path, str]]:
    for page in folder.rglob("*.html"):
        if page.name == "404.html":  # served at any address: absolute links
            continue
        for _, href in anchors(page.read_text()):
            if not href.startswith(("http:", "https:", "mailto:", "#")):
                yield page, href


def test_default_build_has_no_folder_links(built_sample: Path) -> None:
    hrefs = list(internal_hrefs(built_sample / "site"))
    assert len(hrefs) > 500
    folders = [(str(p.relative_to(built_sample)), h) for p, h in hrefs if urlsplit(h).path.endswith("/")]
    assert folders == []
    assert all(target_file(p, h).is_file() for p, h in hrefs)
    page = (built_sample / "site" / "cpt" / "27253" / "index.html").read_text()
    assert '<link rel="canonical" href="https://codes.example.org/cpt/27253/">' in page
    sitemap = (built_sample / "site" / "sitemap.xml").read_text()
    assert "<loc>https://codes.example.org/cpt/27253/</loc>" in sitemap and "index.html" not in sitemap


def test_default_build_clicks_through_from_file_in_chromium(built_sample: Path, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto((built_sample / "site" / "icd-10-cm" / "S72.001A" / "index.html").as_uri())
        crumbs = page.locator("nav.breadcrumb a")
        labels = crumbs.all_inner_texts()
        assert labels[:3] == ["Home", "ICD-10-CM", "Chapter 19"] and labels[-1] == "S72.001"
        for i in range(len(labels) - 1, -1, -1):  # climb the breadcrumb from the parent to Home
            page.goto((built_sample / "site" / "icd-10-cm" / "S72.001A" / "index.html").as_uri())
            page.locator("nav.breadcrumb a").nth(i).click()
            assert page.url.startswith("file://") and page.url.endswith("/index.html"), page.url
            assert page.locator("h1").count() == 1 and "Index of" not in page.title()
        nav = page.locator("nav.site-nav a")
        for i in range(nav.count()):
            nav.nth(i).click()
            assert page.url.endswith("/index.html"), page.url
            assert page.locator("h1").count() == 1 and "Index of" not in page.title()
    finally:
        page.close()


def test_default_build_works_over_http(static_server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto(static_server + "/cpt/27253/")
        page.locator("nav.breadcrumb a", has_text="CPT").click()
        assert page.url == static_server + "/cpt/index.html" and page.locator("h1").count() == 1
        page.goto(static_server + "/icd-10-cm/S72.001A/index.html")
        page.locator("#seventh-characters h2 a").click()
        assert page.url == static_server + "/icd-10-cm/S72/index.html"
    finally:
        page.close()


def test_dir_links_build_prints_where_to_serve(tmp_path: Path) -> None:
    from tests.conftest import codesite

    site = copy_site(ROOT, tmp_path / "site")
    result = codesite("build", "--site", str(site), "--dir-links", "--no-search")
    assert result.returncode == 0, result.stderr
    assert "codesite serve" in result.stdout and "open " not in result.stdout
    page = (site / "build" / "site" / "cpt" / "27253" / "index.html").read_text()
    assert 'href="../27254/"' in page


# --- 6. the search page -----------------------------------------------------------------------------


def test_search_page_lists_results_with_systems_and_pages(built_sample: Path, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto((built_sample / "site" / "cpt" / "27253" / "index.html").as_uri())
        page.fill("#q-header", "S72.0")
        page.locator(".header-search button[type=submit]").click()
        page.wait_for_url(re.compile(r"/search/index\.html\?q=S72\.0$"))
        results = page.locator("[data-search-results] li")
        results.first.wait_for()
        assert results.count() == 50
        assert page.locator("[data-search-status]").inner_text().startswith("Results 1–50 of ")
        assert results.first.locator(".result-system").inner_text() == "ICD-10-CM"
        total = int(re.search(r"of (\d+)", page.locator("[data-search-status]").inner_text()).group(1))  # type: ignore[union-attr]
        assert total > 50
        first_page = results.all_inner_texts()
        page.get_by_role("button", name=re.compile(r"^Next")).click()
        page.wait_for_function("document.querySelector('[data-search-status]').textContent.startsWith('Results 51')")
        assert results.count() == min(50, total - 50)
        assert not set(results.all_inner_texts()) & set(first_page)
        assert page.locator("[data-search-results]").get_attribute("start") == "51"
        assert "page=2" in page.url
        page.get_by_role("button", name=re.compile(r"^Previous")).click()
        page.wait_for_function("document.querySelector('[data-search-status]').textContent.startsWith('Results 1–')")
        page.fill("#q", "27253")
        page.wait_for_function("document.querySelector('[data-search-status]').textContent.includes('27253')")
        assert page.locator("[data-search-results] .result-system").first.inner_text() == "CPT"
    finally:
        page.close()


def test_search_says_it_is_not_built_after_a_no_search_build(tmp_path: Path, browser: object) -> None:
    site = copy_site(ROOT, tmp_path / "site")
    build(str(site), BuildOptions(quiet=True, search=False))
    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.goto((site / "build" / "site" / "search" / "index.html").as_uri() + "?q=hip")
        status = page.locator("[data-search-status]")
        status.filter(has_text="not built").wait_for()
        assert "Search is not built" in status.inner_text()
        page.goto((site / "build" / "site" / "index.html").as_uri())
        page.fill("#q-header", "hip")
        popup = page.locator("[data-search-popup]")
        popup.filter(has_text="not built").wait_for()
        assert popup.is_visible() and "Search is not built" in popup.inner_text()
    finally:
        page.close()


# --- 7. polish -----------------------------------------------------------------------------------------


def test_polish(built_sample: Path) -> None:
    cpt = (built_sample / "site" / "cpt" / "27253" / "index.html").read_text()
    descriptor = "Open treatment of hip dislocation, traumatic, without internal fixation"
    headings = re.findall(r"<h[1-6][^>]*>(.*?)</h[1-6]>", cpt, re.S)
    assert sum(descriptor in h for h in headings) == 1  # in the h1; the section quotes it as text
    related = cpt[cpt.index('id="related-codes"') :]
    item = text_of(related[related.index("<li>") : related.index("</li>")])
    assert item.startswith("27254 The same open operation on a traumatically dislocated hip") and "CPT code" not in item
    block = (built_sample / "site" / "icd-10-cm" / "S70-S79" / "index.html").read_text()
    h1 = text_of(re.search(r"<h1>(.*?)</h1>", block, re.S).group(1))  # type: ignore[union-attr]
    assert h1 == "S70-S79 Injuries to the hip and thigh"
    assert "<title>ICD-10-CM S70-S79 - Injuries to the hip and thigh</title>" in block
    assert re.search(r'<link rel="icon" href="\.\./\.\./assets/favicon\.[0-9a-f]{10}\.svg"', cpt)  # fingerprinted
    assert (built_sample / "site" / "assets" / "favicon.svg").is_file()
    register = (built_sample / "site" / "account" / "register" / "index.html").read_text()
    assert "at least 10 characters" in register
    # a gated section's table sits in .prose (bordered) once the edge fills the gate
    assert re.search(r'<div class="prose"><!--gated:icd-10-cm-crosswalk-->', cpt)
    css = (built_sample / "site" / "assets" / "site.css").read_text()
    assert ".prose th, .prose td" in css and "border: 1px solid" in css


def test_last_card_clear_of_the_footer_and_section_tables_bordered(
    built_sample: Path, tmp_path: Path, browser: object
) -> None:
    from edge.pages import render

    # the page as the edge serves it in full: its gates filled from private/
    pages = built_sample / "site" / "cpt" / "27253"
    full = render(
        (pages / "index.html").read_text(), True,
        lambda gid: (built_sample / "private" / "cpt" / "27253" / f"{gid}.html").read_text(), "",
    )
    (tmp_path / "cpt" / "27253").mkdir(parents=True)
    (tmp_path / "cpt" / "27253" / "index.html").write_text(full)
    shutil.copytree(built_sample / "site" / "assets", tmp_path / "assets")
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    try:
        page.goto((tmp_path / "cpt" / "27253" / "index.html").as_uri())
        card = page.locator(".question-box").bounding_box()
        footer = page.locator(".site-footer").bounding_box()
        assert card and footer and footer["y"] - (card["y"] + card["height"]) >= 16
        cell = page.locator("#icd-10-cm-crosswalk table td").first
        assert "S73.014A" in cell.inner_text()
        assert cell.evaluate("e => getComputedStyle(e).borderTopStyle") == "solid"
        assert cell.locator("a").count() == 2  # "S73.014A / S73.015A", both links
    finally:
        page.close()
