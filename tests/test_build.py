"""Building real sites into real folders: pages, gated fragments, links, sitemaps, safety."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from generator.build import BuildOptions, build
from generator.errors import BuildError, CheckFailed
from generator.load import load_site
from generator.load.parse import read_text
from tests.conftest import ROOT, SITES, codesite, copy_site

DESCRIPTOR_27253 = "Open treatment of hip dislocation, traumatic, without internal fixation"


def make_site(tmp_path: Path, fixture: str) -> Path:
    """A fixture's content with the bundled layouts and assets."""
    site = tmp_path / fixture
    copy_site(SITES / fixture, site)
    copy_site(ROOT, tmp_path / "_bundled")
    for part in ("layouts", "assets"):
        (tmp_path / "_bundled" / part).rename(site / part)
    return site


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


def all_text(folder: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file())


def gated_phrases(site_dir: Path) -> list[str]:
    """A distinctive line of every gated section in the site's content."""
    site = load_site(str(site_dir))
    phrases = []
    for code in site.codes.values():
        for s in code.gated_sections:
            phrases.append(max(re.findall(r"[A-Za-z][A-Za-z ,']+", s.body), key=len).strip()[:60])
    return phrases


# --- the bundled sample -------------------------------------------------------------------


def test_27253_page_has_descriptor_and_copyright_lines(built_sample: Path) -> None:
    page = (built_sample / "site" / "cpt" / "27253" / "index.html").read_text()
    assert "Official Description" in page and "Common Language Description" in page
    assert DESCRIPTOR_27253 in page
    assert "CPT © 2026 American Medical Association. All rights reserved." in page
    assert "Plain-language descriptions and guides © 2026 codesite contributors." in page
    assert "Have a question about 27253?" in page
    assert 'href="mailto:help@codes.example.org"' in page
    assert page.count("Register to view content") == 6
    assert 'href="../27254/index.html"' in page  # the distinct code it must reference


def test_no_other_official_cpt_text_is_shipped() -> None:
    site = load_site(str(ROOT))
    titled = [c.code for c in site.codes.values() if c.system == "cpt" and c.title and c.kind == "code"]
    assert titled == ["27253"]


def test_sample_has_enough_pages_and_hierarchy(built_sample: Path) -> None:
    pages = list((built_sample / "site" / "icd-10-cm").glob("*/index.html"))
    assert len(pages) >= 40
    s73 = (built_sample / "site" / "icd-10-cm" / "S73" / "index.html").read_text()
    assert "Dislocation and sprain of joint and ligaments of hip" in s73
    assert 'href="../S73.0/index.html"' in s73  # child codes
    assert 'href="../S70-S79/index.html"' in s73  # breadcrumb up the hierarchy
    assert "Excludes2" in s73 and "initial encounter" in s73


def test_gated_text_only_in_private(built_sample: Path) -> None:
    phrases = gated_phrases(ROOT)
    assert len(phrases) >= 8
    public = all_text(built_sample / "site")
    private = all_text(built_sample / "private")
    for phrase in phrases:
        assert phrase in private, phrase
        assert phrase not in public, phrase
    assert (built_sample / "private" / "cpt" / "27253" / "coding-tips.html").exists()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src", "action") and value:
                self.links.append(value)


def test_every_internal_link_resolves(built_sample: Path) -> None:
    root = built_sample / "site"
    broken = []
    for page in root.rglob("*.html"):
        if page.name == "404.html":
            continue
        parser = Links()
        parser.feed(page.read_text())
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or link.startswith("#"):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{page.relative_to(root)} -> {link}")
    assert broken == []


def test_nav_sitemap_robots_404(built_sample: Path) -> None:
    root = built_sample / "site"
    home = (root / "index.html").read_text()
    for label in ("Code lookup", "ICD-10-CM", "CPT", "Log in", "Register free account"):
        assert f">{label}</a>" in home
    sitemap = (root / "sitemap.xml").read_text()
    assert "<loc>https://codes.example.org/cpt/27253/</loc>" in sitemap
    pages = len(list(root.rglob("*/index.html")))
    assert sitemap.count("<loc>") == pages - 2 + 1  # not the two account pages; the home page
    assert "Sitemap: https://codes.example.org/sitemap.xml" in (root / "robots.txt").read_text()
    not_found = (root / "404.html").read_text()
    assert "Page not found" in not_found
    css = re.search(r'<link rel="stylesheet" href="/(assets/site\.[0-9a-f]{10}\.css)">', not_found)
    assert css and (root / css.group(1)).read_bytes() == (ROOT / "assets" / "site.css").read_bytes()


def test_json_ld_marks_gated_parts(built_sample: Path) -> None:
    page = (built_sample / "site" / "cpt" / "27253" / "index.html").read_text()
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))
    assert data["isAccessibleForFree"] is False
    assert data["hasPart"][0]["cssSelector"] == ".gated-section"
    assert data["mainEntity"] == {"@type": "MedicalCode", "codeValue": "27253", "codingSystem": "CPT"}


# --- fixture sites ------------------------------------------------------------------------


def test_valid_fixture_builds_and_canaries_stay_private(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    build(str(site), BuildOptions(quiet=True))
    out = site / "build"
    public = all_text(out / "site")
    assert "GATED-CANARY" not in public
    assert "GATED-CANARY-7F3A" in (out / "private" / "icd-10-cm" / "S73.0" / "coding-tips.html").read_text()
    assert "Everyone may read this." in (out / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
    deleted = (out / "site" / "icd-10-cm" / "S73.1" / "index.html").read_text()
    assert "This code has been deleted." in deleted and 'href="../S73.0/index.html"' in deleted


def test_second_build_writes_nothing(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    first = build(str(site), BuildOptions(quiet=True))
    before = snapshot(site / "build")
    second = build(str(site), BuildOptions(quiet=True))
    assert first.written > 0 and second.written == 0 and second.unchanged == first.written
    assert snapshot(site / "build") == before


def test_failed_build_leaves_previous_build_untouched(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    build(str(site), BuildOptions(quiet=True))
    before = snapshot(site / "build")
    page = site / "content" / "codes" / "icd10cm" / "S73.0.md"
    page.write_text(page.read_text().replace("parent: S73", "parent: S99") + "\nChanged body.\n")
    with pytest.raises(CheckFailed) as exc:
        build(str(site), BuildOptions(quiet=True))
    assert [str(e) for e in exc.value.errors] == [
        "content/codes/icd10cm/S73.0.md:5: parent: parent 'S99' does not exist in icd10cm"
    ]
    assert snapshot(site / "build") == before
    # a template error half way through rendering leaves it untouched too
    page.write_text(page.read_text().replace("parent: S99", "parent: S73"))
    (site / "layouts" / "code.html").write_text("{% extends 'base.html' %}{% block main %}{{ nope }}{% endblock %}")
    with pytest.raises(BuildError, match="template error: 'nope' is undefined"):
        build(str(site), BuildOptions(quiet=True))
    assert snapshot(site / "build") == before


def test_edit_rewrites_only_changed_files_and_removes_stale(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    build(str(site), BuildOptions(quiet=True))
    (site / "content" / "codes" / "icd10cm" / "S73.1.md").unlink()
    s730 = site / "content" / "codes" / "icd10cm" / "S73.0.md"
    s730.write_text(s730.read_text().replace("The ball of the thigh bone", "The head of the femur"))
    report = build(str(site), BuildOptions(quiet=True))
    assert not (site / "build" / "site" / "icd-10-cm" / "S73.1").exists()
    assert "The head of the femur" in (site / "build" / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
    assert report.removed == 2  # S73.1's page, and the "What's new in 2027" page only it was on
    assert not (site / "build" / "site" / "icd-10-cm" / "whats-new" / "2027").exists()
    assert "site/icd-10-cm/S73.0/index.html" in report.files


def test_out_dir_may_not_overwrite_sources(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    for bad in (site, site / "content", site / "layouts" / "x"):
        with pytest.raises(BuildError, match="would overwrite the site's own files"):
            build(str(site), BuildOptions(out_dir=str(bad), quiet=True))


def test_an_output_folder_that_cannot_be_made_is_named_not_a_traceback(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    build(str(site), BuildOptions(quiet=True))
    before = snapshot(site / "build")
    blocked = site / "build" / "site" / "index.html" / "out"  # under a file: no folder can be made there
    result = codesite("build", "--site", str(site), "--out", str(blocked))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr == f"error: Not a directory: {blocked}\n"
    assert snapshot(site / "build") == before


def test_nav_link_to_missing_page_is_an_error(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    cfg = site / "content" / "site.yaml"
    cfg.write_text(cfg.read_text().replace("url: /icd-10-cm/}", "url: /glossary/}"))
    with pytest.raises(CheckFailed) as exc:
        build(str(site), BuildOptions(quiet=True))
    assert [str(e) for e in exc.value.errors] == [
        "content/site.yaml:7: nav[1].url: '/glossary/' is not a page of the site"
    ]


def test_licensed_descriptors_file_fills_cpt_titles(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    (site / "content" / "codes" / "cpt" / "27254.md").write_text(
        "---\ncode: '27254'\nsystem: cpt\n---\nOur own words.\n"
    )
    data = tmp_path / "cpt.tsv"
    data.write_text("code\tdescriptor\n27254\tLICENSED DESCRIPTOR TEXT\n")
    build(str(site), BuildOptions(quiet=True))
    page = site / "build" / "site" / "cpt" / "27254" / "index.html"
    assert "licensed text" in page.read_text()
    build(str(site), BuildOptions(quiet=True, descriptor_files=[f"cpt={data}"]))
    assert "LICENSED DESCRIPTOR TEXT" in page.read_text()


def test_file_links_end_in_index_html(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    build(str(site), BuildOptions(quiet=True, file_links=True))
    page = (site / "build" / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
    assert 'href="../S73/index.html"' in page and 'href="../../index.html"' in page


def test_sitemap_splits_above_50000_urls(tmp_path: Path) -> None:
    from generator.render.sitemap import sitemaps

    codes = [f"/x/AA{i:06d}/" for i in range(50_001)] + ["/x/B1/", "/y/B1/"]
    outputs = {o.path: o.data.decode() for o in sitemaps("https://s.example", ["/", "/search/"], codes)}
    assert sorted(outputs) == ["robots.txt", "sitemap.xml", "sitemaps/pages.xml", "sitemaps/x-aa-1.xml",
                               "sitemaps/x-aa-2.xml", "sitemaps/x-b1.xml", "sitemaps/y-b1.xml"]
    assert "<sitemapindex" in outputs["sitemap.xml"]
    assert outputs["sitemap.xml"].count("<loc>") == 5
    assert outputs["sitemaps/x-aa-1.xml"].count("<loc>") == 50_000
    assert outputs["sitemaps/x-aa-2.xml"].count("<loc>") == 1
    assert outputs["sitemaps/pages.xml"].count("<loc>") == 2


def test_make_build_prints_where_to_open(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    result = codesite("build", "--site", str(site))
    assert result.returncode == 0, result.stderr
    assert f"open {site / 'build' / 'site' / 'index.html'}" in result.stdout
    assert read_text(str(site), "build/site/index.html").startswith("<!doctype html>")


def test_search_index_follows_no_search_and_noop_builds(tmp_path: Path) -> None:
    site = make_site(tmp_path, "valid-basic")
    out = site / "build"
    build(str(site), BuildOptions(quiet=True, search=False))
    assert not (out / "site" / "search-index").exists()
    build(str(site), BuildOptions(quiet=True))  # nothing changed, but no index yet: it is made
    index = sorted(p.relative_to(out) for p in (out / "site" / "search-index").rglob("*") if p.is_file())
    assert index and (site / "search_index").is_dir()
    before = snapshot(out)
    assert build(str(site), BuildOptions(quiet=True)).written == 0  # a no-op keeps it as it is
    assert snapshot(out) == before
    (site / "content" / "codes" / "icd10cm" / "S73.1.md").unlink()
    build(str(site), BuildOptions(quiet=True))
    assert "S73.1" not in all_text(out / "site" / "search-index")
    assert "S73.0" in all_text(out / "site" / "search-index")


def test_the_command_leaves_without_the_teardown_and_loses_no_output(tmp_path: Path) -> None:
    """As the program, ``codesite`` exits as soon as its command is done, without the
    interpreter's teardown (no atexit handler runs: freeing a large site's objects one by one
    would take half a second), and all it printed reaches a pipe, on success and on failure."""
    program = ("import atexit, sys; atexit.register(print, 'teardown ran'); "
               "from generator.cli import main; sys.argv[0] = 'codesite'; main()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    site = make_site(tmp_path, "valid-basic")
    ok = subprocess.run([sys.executable, "-c", program, "build", "--site", str(site)],
                        capture_output=True, text=True, env=env, check=False)
    assert ok.returncode == 0 and " written, " in ok.stdout and "teardown ran" not in ok.stdout, ok
    bad = subprocess.run([sys.executable, "-c", program, "build", "--site", str(tmp_path / "nowhere")],
                         capture_output=True, text=True, env=env, check=False)
    assert bad.returncode == 1 and "site.yaml" in bad.stderr and "teardown ran" not in bad.stdout, bad


def test_the_build_command_never_turns_the_collector_back_on(tmp_path: Path) -> None:
    """As the program, ``codesite build`` leaves right after the build: the collector, off
    while it builds, is not turned back on, whose first pass would go over everything the
    build made (1.2 s of a full build's CPU). A pass on its own starts at 701 new objects."""
    program = ("import gc, sys; from generator.cli import main; sys.argv[0] = 'codesite'; "
               "gc.callbacks.append(lambda phase, info: phase == 'start' and gc.get_count()[0] > 5000 "
               "and print('a pass over', gc.get_count()[0], 'objects', file=sys.stderr)); main()")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    site = copy_site(ROOT, tmp_path / "site")
    done = subprocess.run([sys.executable, "-c", program, "build", "--site", str(site), "--jobs", "1"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0 and " written, " in done.stdout, done
    assert "a pass over" not in done.stderr, done.stderr
