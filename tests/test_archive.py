"""codesite archive: the sample site as one zip, unpacked and opened from file:// in Chromium,
every link checked, the public edition free of gated text, the same bytes twice."""

from __future__ import annotations

import hashlib
import html.parser
import json
import posixpath
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import ROOT, codesite, copy_site

DATE = "2026-12-01"
NAME = "codesite-icd10cm-cpt-hcpcs-2026"
CANARY = "Canary sentence 5f0c2e: never outside the full edition."


def make_site(root: Path) -> Path:
    """The sample site, with a canary sentence added to a gated section."""
    site = copy_site(ROOT, root)
    page = site / "content" / "codes" / "icd10cm" / "S73.0.md"
    text = page.read_text()
    marker = "    - When the hip is both dislocated and fractured, code both injuries.\n"
    assert marker in text
    page.write_text(text.replace(marker, marker + f"    - {CANARY}\n"))
    return site


def archive(site: Path, out: Path, edition: str, *extra: str) -> Path:
    r = codesite("archive", "--site", str(site), "--out", str(out), "--edition", edition, "--date", DATE, *extra)
    assert r.returncode == 0, r.stderr
    path = out / f"{NAME}-{edition}.zip"
    assert str(path) in r.stdout
    return path


def unpack(zip_path: Path, into: Path) -> Path:
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(into)
    return into


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_site(tmp_path_factory.mktemp("archive") / "site")


@pytest.fixture(scope="module")
def zips(site: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    return {e: archive(site, out, e) for e in ("full", "public")}


@pytest.fixture(scope="module")
def full(zips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(zips["full"], tmp_path_factory.mktemp("full"))


@pytest.fixture(scope="module")
def public(zips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return unpack(zips["public"], tmp_path_factory.mktemp("public"))


# --- the browser journey ---------------------------------------------------------------------


class Watch:
    """Everything a page does that an offline archive must not: requests other than file://,
    files that fail to load, console errors, uncaught exceptions."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on("request", self.request)
        page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}"))
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.route(re.compile(r"^(?!file:)"), self.block)

    def request(self, r: Any) -> None:
        if not r.url.startswith("file://"):
            self.problems.append(f"network: {r.url}")

    def block(self, route: Any) -> None:
        self.problems.append(f"network: {route.request.url}")
        route.abort()


def breadcrumb(page: Any) -> list[str]:
    return page.locator("nav.breadcrumb a").evaluate_all("links => links.map(a => a.textContent)")


@pytest.mark.parametrize("edition", ["full", "public"])
def test_browser_journey_from_file_urls(browser: Any, full: Path, public: Path, edition: str) -> None:
    root = full if edition == "full" else public
    ctx = browser.new_context()
    page = ctx.new_page()
    watch = Watch(page)
    page.goto((root / "index.html").as_uri())
    assert page.locator("h1").inner_text() == "codesite"

    box = page.locator("[data-search-input]")
    box.click()
    box.press_sequentially("hip dislocation")
    first = page.locator("[data-search-popup] [role=option]").first
    first.wait_for()
    options = page.locator("[data-search-popup] [role=option]").all_inner_texts()
    assert any("S73.0" in o for o in options), options
    page.locator("[data-search-popup] [role=option]", has_text="S73.0").first.click()
    page.wait_for_url("**/icd-10-cm/S73.0/index.html")
    assert (root / "icd-10-cm" / "S73.0" / "index.html").as_uri() == page.url
    gated = page.locator("#coding-tips").inner_text()
    assert (CANARY in gated) == (edition == "full")
    assert ("In the full edition" in gated) == (edition == "public")

    # up the breadcrumb, one level at a time, to the system index
    crumbs = breadcrumb(page)
    assert crumbs[:2] == ["Home", "ICD-10-CM"] and crumbs[2:] == ["Chapter 19", "S70-S79", "S73"]
    while len(crumbs) > 2:
        parent = crumbs[-1]
        page.locator("nav.breadcrumb a").last.click()
        page.wait_for_load_state()
        assert parent in page.locator("h1").inner_text()
        crumbs = breadcrumb(page)
    page.locator("nav.breadcrumb a", has_text="ICD-10-CM").click()
    page.wait_for_url("**/icd-10-cm/index.html")
    assert page.locator("h1").inner_text() == "ICD-10-CM codes"

    # a hierarchy page from the system index
    page.locator(".code-list a").first.click()
    page.wait_for_url("**/icd-10-cm/19/index.html")
    assert page.locator("article.range-page").count() == 1
    assert "S70-S79" in page.locator("#child-codes").inner_text()

    # the search page, from the header form, and the About page from the footer
    page.locator("a", has_text="About this archive").click()
    page.wait_for_url("**/about-this-archive/index.html")
    facts = page.locator("table.archive-facts").inner_text()
    assert "2026" in facts and DATE in facts and edition.capitalize() in facts
    page.goto((root / "search" / "index.html").as_uri() + "?q=hip%20dislocation")
    page.locator("[data-search-results] li").first.wait_for()
    page.locator("[data-search-results] li a").first.click()
    page.wait_for_load_state()
    assert page.url.startswith(root.as_uri()) and page.url.endswith("/index.html")
    ctx.close()
    assert watch.problems == []


# --- parts the pages share (notes and 7th characters from above) ------------------------------


@pytest.fixture(scope="module")
def site_build(site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site's own build (default: file links), to compare the archive's pages with."""
    out = tmp_path_factory.mktemp("site-build")
    r = codesite("build", "--site", str(site), "--out", str(out), "--quiet", "--no-search")
    assert r.returncode == 0, r.stderr
    return out / "site"


SHOWN = """([sel, top]) => { const e = document.querySelector(sel); if (!e) return null;
  const c = e.cloneNode(true); c.querySelectorAll('script, noscript').forEach(x => x.remove());
  c.querySelectorAll('[href], [action]').forEach(x => { const n = x.hasAttribute('href') ? 'href' : 'action';
    x.setAttribute(n, new URL(x.getAttribute(n), location.href).href.replace(top, '')); });
  return c.innerHTML.replace(/>\\s+</g, '><').replace(/\\s+/g, ' ').trim(); }"""


def shown(browser: Any, root: Path, rel: str, selectors: tuple[str, ...]) -> tuple[dict[str, str | None], list[str]]:
    """What a page opened from file:// shows in each part (scripts run; links as paths from
    the top folder), and its problems."""
    ctx = browser.new_context()
    page = ctx.new_page()
    watch = Watch(page)
    page.goto((root / rel).as_uri())
    top = root.as_uri() + "/"
    parts = {sel: page.evaluate(SHOWN, [sel, top]) for sel in selectors}
    ctx.close()
    return parts, watch.problems


def test_inherited_notes_and_7th_characters_show_in_the_archive(browser: Any, full: Path) -> None:
    """S72.001A's page in the unpacked archive shows S72's Excludes1 and its 7th-character
    table with its own "A" marked, from the category's script files, offline and error-free."""
    page = full / "icd-10-cm" / "S72.001A" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert 'src="../S72/notes.js"' in html and 'src="../S72/seventh.js"' in html
    assert "traumatic amputation of hip and thigh" not in html  # written once, in S72/notes.js
    ctx = browser.new_context()
    tab = ctx.new_page()
    watch = Watch(tab)
    tab.goto(page.as_uri())
    excludes1 = tab.locator("#notes-from-S72 .note-excludes1")
    assert excludes1.is_visible()
    assert "traumatic amputation of hip and thigh (S78.-)" in excludes1.inner_text()
    assert tab.locator("#notes-from-19").count() == 1  # the chapter's, in the collapsed part
    current = tab.locator("#seventh-characters tr.current")
    assert current.count() == 1 and current.get_attribute("aria-current") == "true"
    assert " ".join(current.inner_text().split()) == "A ◀ S72.001A initial encounter for closed fracture"
    assert tab.locator("#seventh-characters tbody tr").count() == 16
    # the header (from header.js): its search box works from a code page
    box = tab.locator("header [data-search-input]")
    box.click()
    box.press_sequentially("hip dislocation")
    tab.locator("[data-search-popup] [role=option]", has_text="S73.0").first.click()
    tab.wait_for_url("**/icd-10-cm/S73.0/index.html")
    tab.locator("header nav a", has_text="ICD-10-CM").click()
    tab.wait_for_url("**/icd-10-cm/index.html")
    ctx.close()
    assert watch.problems == []


@pytest.mark.parametrize("code", ["S72.001A", "S72.0", "S73.001A", "S73.0", "S72", "S70-S79"])
def test_archive_pages_show_what_the_site_shows(browser: Any, full: Path, site_build: Path, code: str) -> None:
    """The header, notes and 7th characters of a page, as Chromium shows them, are the site's."""
    parts = ("header.site-header", "#notes", "#seventh-characters")
    rel = f"icd-10-cm/{code}/index.html"
    archived, problems = shown(browser, full, rel, parts)
    hosted, _ = shown(browser, site_build, rel, parts)
    # the archive leaves the account pages out (test_left_out_of_the_archive)
    accounts = r'<li><a href="account/[^"]*">[^<]*</a></li>'
    hosted["header.site-header"] = re.sub(accounts, "", hosted["header.site-header"] or "")
    assert archived == hosted
    assert archived["#notes"] and archived["header.site-header"] and problems == []


def test_an_edit_to_notes_reaches_the_pages_below(site: Path, tmp_path: Path) -> None:
    """An incremental archive: a category's changed notes and a code's first notes reach the
    pages below them (the scripts are rewritten; the pages gain their script tags)."""
    build = tmp_path / "b"
    archive(site, tmp_path / "d1", "public", "--build-dir", str(build))
    s72, s72001 = (site / "content" / "codes" / "icd10cm" / f"{c}.md" for c in ("S72", "S72.001"))
    before = {p: p.read_text() for p in (s72, s72001)}
    try:
        s72.write_text(before[s72].replace("  excludes1:\n", "  excludes1:\n  - an added exclusion (S79.0-)\n", 1))
        s72001.write_text(before[s72001].replace("billable: false\n", "billable: false\nnotes:\n  note:\n"
                                                 "  - a first note of S72.001\n", 1))
        unpacked = unpack(archive(site, tmp_path / "d2", "public", "--build-dir", str(build)), tmp_path / "u")
    finally:
        for p, text in before.items():
            p.write_text(text)
    page = parse(unpacked / "icd-10-cm" / "S72.001A" / "index.html")
    shown = page.text
    assert "an added exclusion" in shown and "a first note of S72.001" in shown
    assert "an added exclusion" in (unpacked / "icd-10-cm" / "S72" / "notes.js").read_text()


def test_without_javascript_the_shared_parts_are_links(browser: Any, full: Path) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    page.goto((full / "icd-10-cm" / "S72.001A" / "index.html").as_uri())
    fallback = page.locator("#seventh-characters .shared-part")
    assert fallback.inner_text() == "A: initial encounter for closed fracture. All 7th characters of S72"
    page.locator("#notes").get_by_role("link", name="Notes from S72", exact=True).click()
    page.wait_for_url("**/icd-10-cm/S72/index.html#notes")
    assert "traumatic amputation of hip and thigh" in page.locator("#notes").inner_text()
    ctx.close()


# --- every link, every fragment --------------------------------------------------------------


class Links(html.parser.HTMLParser):
    """The links, resources, ids and text of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.text = ""

    def handle_data(self, data: str) -> None:
        self.text += data

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name") and (name == "id" or tag == "a"):
                self.ids.add(value)
            if name in ("href", "src", "action", "srcset", "poster", "data"):
                self.links.append((tag, name, value))


SHARED = re.compile(r'<script src="([^"]*?)((?:notes|seventh|header)\.js)"[^>]*></script>')
INSERT = "(function(s){s.insertAdjacentHTML('beforebegin',"
FROM_TOP = re.compile(r'\b(href|action)="(?![a-z]+:|#)')


def with_shared_parts(path: Path, text: str) -> str:
    """A page as the browser shows it: each shared part's script replaced by the HTML it inserts
    (the part's links and ids are the page's; the header's links lead from the top folder)."""

    def inserted(m: re.Match[str]) -> str:
        script = (path.parent / (m.group(1) + m.group(2))).read_text(encoding="utf-8")
        assert script.startswith(INSERT), script[:80]
        html = str(json.JSONDecoder().raw_decode(script, len(INSERT))[0])
        return FROM_TOP.sub(lambda a: f'{a.group(1)}="{m.group(1)}', html) if m.group(2) == "header.js" else html

    return SHARED.sub(inserted, text)


def parse(path: Path) -> Links:
    p = Links()
    p.feed(with_shared_parts(path, path.read_text(encoding="utf-8")))
    return p


def pages(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.html"))


def link_problems(root: Path) -> list[str]:
    """Broken links, links to folders, absolute URLs, requests to the network, missing #ids."""
    parsed = {p: parse(p) for p in pages(root)}
    problems = []
    for page, links in parsed.items():
        rel = page.relative_to(root).as_posix()
        for tag, attr, value in links.links:
            where = f"{rel}: <{tag} {attr}={value!r}>"
            url = urlsplit(value)
            if url.scheme in ("mailto",):
                continue
            if url.scheme in ("http", "https"):
                if tag != "a":  # a reader may follow a link out; the page itself loads nothing
                    problems.append(f"{where}: a request to the network")
                continue
            if url.scheme or value.startswith("/") or url.netloc:
                problems.append(f"{where}: not a relative link")
                continue
            target = page.parent / unquote(url.path) if url.path else page
            if url.path and (url.path.endswith("/") or target.is_dir()):
                problems.append(f"{where}: a link to a folder")
                continue
            if not target.is_file():
                problems.append(f"{where}: no such file")
                continue
            if not target.resolve().is_relative_to(root.resolve()):
                problems.append(f"{where}: outside the archive")
                continue
            if url.fragment:
                ids = parsed[target.resolve()].ids if target.resolve() in parsed else set()
                if target.suffix == ".html" and target.resolve() not in parsed:
                    ids = parse(target).ids
                if unquote(url.fragment) not in ids:
                    problems.append(f"{where}: no element #{url.fragment}")
    return problems


@pytest.mark.parametrize("edition", ["full", "public"])
def test_every_link_and_fragment_resolves(full: Path, public: Path, edition: str) -> None:
    root = (full if edition == "full" else public).resolve()
    assert (root / "index.html").is_file()
    n = sum(1 for _ in pages(root))
    assert n > 800  # every page of the sample, the About page included
    assert link_problems(root) == []


def test_the_link_checker_finds_what_it_should(tmp_path: Path) -> None:
    root = tmp_path / "a"
    (root / "x").mkdir(parents=True)
    (root / "x" / "index.html").write_text('<p id="here">x</p>')
    (root / "index.html").write_text(
        '<a href="x/index.html#here">ok</a><a href="x/">folder</a><a href="/x/index.html">abs</a>'
        '<a href="x/index.html#gone">frag</a><a href="y/index.html">missing</a>'
        '<script src="https://cdn.example.org/a.js"></script><a href="https://example.org/">out</a>'
    )
    problems = link_problems(root)
    assert len(problems) == 5, problems
    assert [p.split(": ")[-1] for p in problems] == [
        "a link to a folder", "not a relative link", "no element #gone", "no such file", "a request to the network",
    ]


def test_no_request_of_our_own_in_css_or_js(full: Path) -> None:
    for f in sorted([*full.rglob("*.js"), *full.rglob("*.css")]):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"https?://", text), f
        assert "/api/" not in text, f


def test_left_out_of_the_archive(full: Path, public: Path) -> None:
    for root in (full, public):
        names = {p.relative_to(root).as_posix() for p in root.rglob("*")}
        assert not any(n.startswith(("account", "api", "sitemap")) for n in names)
        assert "404.html" not in names and "robots.txt" not in names
        for page in pages(root):
            text = page.read_text(encoding="utf-8")
            assert "meter-banner" not in text and "account/" not in text, page
            assert "Register free account" not in text and "og:url" not in text, page


# --- editions --------------------------------------------------------------------------------


def gated_fragments(site: Path) -> dict[str, str]:
    """The gated sections of the site's archive build: fragment file -> its HTML."""
    private = site / "build" / "archive" / "private"
    out = {p.relative_to(private).as_posix(): p.read_text(encoding="utf-8") for p in private.rglob("*.html")}
    assert len(out) >= 8
    return out


def sentences(fragment: str) -> list[str]:
    """The text of a fragment, piece by piece (between tags), the pieces long enough to be telling."""
    text = re.sub(r"<[^>]+>", "\n", fragment)
    return [t.strip() for t in text.split("\n") if len(t.strip()) >= 24]


def test_public_edition_has_not_one_gated_sentence(site: Path, zips: dict[str, Path]) -> None:
    fragments = gated_fragments(site)
    canaries = [s for f in fragments.values() for s in sentences(f)]
    assert any(CANARY in s for s in canaries) and len(canaries) > 20
    with zipfile.ZipFile(zips["public"]) as zf:
        for info in zf.infolist():
            data = zf.read(info).decode("utf-8")
            found = [s for s in canaries if s in data]
            assert found == [], info.filename


def spaced(text: str) -> str:
    return " ".join(text.split())


def test_full_edition_has_every_gated_section_in_place(site: Path, full: Path) -> None:
    for rel, fragment in gated_fragments(site).items():
        folder, gid = posixpath.split(rel)
        page = (full / folder / "index.html").read_text(encoding="utf-8")
        assert spaced(f"<!--gated:{gid[:-5]}-->{fragment}<!--/gated:{gid[:-5]}-->") in spaced(page)


def test_pages_lose_indentation_but_not_verbatim_text() -> None:
    from generator.archive import squeeze

    page = b"<ul>\n  <li>a</li>\n\n  <li>b</li>\n</ul>\n"
    assert squeeze(page) == b"<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n"
    pre = b"<div>\n  <pre><code>x = 1\n    y = 2\n</code></pre>\n  <textarea>\n  t</textarea>\n</div>"
    assert squeeze(pre) == b"<div>\n<pre><code>x = 1\n    y = 2\n</code></pre>\n<textarea>\n  t</textarea>\n</div>"
    script = b'<p>\n  <script src="a.js"></script>\n  <script>var s = `a\n  b`;</script>\n</p>'
    assert squeeze(script) == b'<p>\n<script src="a.js"></script>\n<script>var s = `a\n  b`;</script>\n</p>'


def test_about_page(full: Path, public: Path) -> None:
    text = (full / "about-this-archive" / "index.html").read_text(encoding="utf-8")
    for s in ("Content version</th><td>2026", f"Build date</th><td>{DATE}", "Licensed content",
              "CPT © 2026 American Medical Association", "ICD-10-CM is published by",
              "HCPCS Level II is maintained by", "Plain-language descriptions and guides ©"):
        assert s in text
    assert "Licensed content" not in (public / "about-this-archive" / "index.html").read_text(encoding="utf-8")


# --- deterministic ---------------------------------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_content_same_bytes(site: Path, zips: dict[str, Path], tmp_path: Path) -> None:
    # a second archive from a fresh build folder, in another output folder
    again = archive(site, tmp_path / "dist", "full", "--build-dir", str(tmp_path / "b"))
    assert digest(again) == digest(zips["full"])
    with zipfile.ZipFile(again) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert "index.html" in names and "about-this-archive/index.html" in names
    assert {i.date_time for i in infos} == {(2026, 12, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o100644}
    assert {i.compress_type for i in infos} == {zipfile.ZIP_DEFLATED}
    # and an edit makes another archive
    page = site / "content" / "codes" / "icd10cm" / "S73.1.md"
    before = page.read_text()
    try:
        page.write_text(before.rstrip("\n") + "\n\nAn edit.\n")
        edited = archive(site, tmp_path / "edited", "full", "--build-dir", str(tmp_path / "b"))
        assert digest(edited) != digest(zips["full"])
    finally:
        page.write_text(before)


def test_source_date_epoch_pins_the_date(site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")  # 2025-12-01T00:00:00Z
    r = codesite("archive", "--site", str(site), "--out", str(tmp_path), "--edition", "public")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(tmp_path / f"{NAME}-public.zip") as zf:
        assert {i.date_time for i in zf.infolist()} == {(2025, 12, 1, 0, 0, 0)}


# --- the command line ------------------------------------------------------------------------


def test_bad_content_writes_no_zip(tmp_path: Path) -> None:
    site = copy_site(ROOT, tmp_path / "site")
    (site / "content" / "codes" / "icd10cm" / "S73.0.md").write_text("---\ncode: S73.0\n---\n")
    r = codesite("archive", "--site", str(site), "--out", str(tmp_path / "dist"))
    assert r.returncode == 1
    assert "content/codes/icd10cm/S73.0.md:" in r.stderr and "nothing was written" in r.stderr
    assert not (tmp_path / "dist").exists() or list((tmp_path / "dist").iterdir()) == []


def test_bad_date_and_edition(site: Path, tmp_path: Path) -> None:
    r = codesite("archive", "--site", str(site), "--out", str(tmp_path), "--date", "2026-13-01")
    assert r.returncode == 1 and "--date: '2026-13-01' is not a date (YYYY-MM-DD)" in r.stderr
    r = codesite("archive", "--site", str(site), "--out", str(tmp_path), "--edition", "guest")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_help_explains() -> None:
    r = codesite("archive", "--help")
    assert r.returncode == 0
    for s in ("--edition {full,public}", "--out DIR", "--date YYYY-MM-DD", "licensed text", "file://"):
        assert s in " ".join(r.stdout.split()), s


# --- naming ----------------------------------------------------------------------------------


def test_content_version_from_history_without_releases(tmp_path: Path) -> None:
    """Without ``release`` in site.yaml, the codes' history names the version (the sample's
    27253 was added in 2026); without either, "unreleased"."""
    site = copy_site(ROOT, tmp_path / "site")
    config = site / "content" / "site.yaml"
    config.write_text(re.sub(r'\n    release: "2026"', "", config.read_text()))
    archive_from = archive(site, tmp_path / "dist", "public")
    assert archive_from.name == f"{NAME}-public.zip"
    for f in (site / "content" / "codes").rglob("*.md"):
        f.write_text(re.sub(r"history:.*\n(?: *- .*\n)*", "", f.read_text()))
    r = codesite("archive", "--site", str(site), "--out", str(tmp_path / "dist2"), "--date", DATE)
    assert r.returncode == 0, r.stderr
    assert [p.name for p in (tmp_path / "dist2").iterdir()] == ["codesite-icd10cm-cpt-hcpcs-unreleased-full.zip"]


def test_release_order_and_names() -> None:
    from generator.archive import content_version, release_key, slug

    assert sorted(["2026.10", "2025", "2026.2", "2026"], key=release_key) == ["2025", "2026", "2026.2", "2026.10"]
    assert content_version({"icd10cm": "2026", "cpt": "2027"}, {"icd10cm": 5, "cpt": 0}) == "2026"
    assert content_version({}, {"icd10cm": 5}) == "unreleased"
    assert slug("Code Site: ICD/CPT") == "code-site-icd-cpt"
