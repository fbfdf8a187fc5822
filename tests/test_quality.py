"""The quality gate on the sample site, served like a real site by ``codesite serve`` (the edge):
axe-core and the Nu HTML Checker at zero, a usable 375 px layout, screenshots for a person to
look at, the first view's weight, and assets served fingerprinted, compressed and cached.

The npm tools live in ``tools/node_modules`` (``make test`` runs ``npm ci`` in ``tools/``); the
Nu HTML Checker needs Java (``default-jre-headless``)."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge.delivery import accepts_gzip
from tests.conftest import ROOT, codesite, copy_site
from tests.servers import port_of, running, serve_command

TOOLS = ROOT / "tools" / "node_modules"
AXE = TOOLS / "axe-core" / "axe.min.js"
VNU = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"
SHOTS = ROOT / "build" / "screenshots"
WIDTHS = (375, 1280)

# (name, path): visited in this order in one browser context per width, so the first code page
# is the guest's free view and the second is locked.
PAGES = (
    ("home", "/"),
    ("code-full", "/cpt/27253/"),
    ("code-locked", "/icd-10-cm/S72.001A/"),
    ("hierarchy", "/icd-10-cm/S72/"),
    ("search", "/search/?q=hip"),
    ("register", "/account/register/"),
    ("404", "/no/such/page/"),
)
# Each visible search box: [id, width, the room its placeholder needs, the room it has] in px.
MEASURE_INPUTS = """es => es.filter(e => e.offsetParent).map(e => {
  const st = getComputedStyle(e, '::placeholder'), ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${st.fontStyle} ${st.fontWeight} ${st.fontSize} ${st.fontFamily}`;
  const box = getComputedStyle(e);
  const room = e.clientWidth - parseFloat(box.paddingLeft) - parseFloat(box.paddingRight);
  return [e.id, e.getBoundingClientRect().width, ctx.measureText(e.placeholder).width, room];
})"""
Visits = dict[tuple[str, int], dict[str, Any]]
FIRST_VIEW_LIMIT = 15 * 1024  # gzip bytes of a code page's HTML + CSS + JS


def need(path: Path, what: str) -> None:
    if not path.exists():
        pytest.fail(f"{path} is missing: {what}")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The sample site built and served by ``codesite serve --no-watch`` (the production app, no
    live preview); yields (base URL, output folder)."""
    site = copy_site(ROOT, tmp_path_factory.mktemp("quality") / "site")
    out = site / "build"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [*serve_command(str(site), str(out)), "--no-watch"]  # the production app, as deployed
    with running(command, "127.0.0.1:", env, timeout=120) as line:
        yield f"http://127.0.0.1:{port_of(line)}", out


@pytest.fixture(scope="module")
def visits(served: tuple[str, Path], browser: Any) -> dict[tuple[str, int], dict[str, Any]]:
    """Every page at every width in real Chromium: axe's violations, the served HTML, layout
    measurements; screenshots written to build/screenshots/."""
    need(AXE, "cd tools && npm ci (make test does)")
    base, _ = served
    axe = AXE.read_text(encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    found: Visits = {}
    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 800})
        try:
            page = context.new_page()
            for name, path in PAGES:
                response = page.goto(base + path, wait_until="load")
                assert response is not None
                page.wait_for_load_state("networkidle")
                page.add_script_tag(content=axe)
                result = page.evaluate(
                    "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
                    " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
                    " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }"
                )
                page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
                found[name, width] = {
                    "status": response.status,
                    "html": response.body(),
                    "violations": result,
                    "gates": page.locator(".gated-section .gate").count(),
                    "gated": page.locator(".gated-section").count(),
                    "header": page.eval_on_selector(".site-header", "e => e.getBoundingClientRect().height"),
                    "inputs": page.eval_on_selector_all("input[type=search]", MEASURE_INPUTS),
                    "overflow": page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth"),
                }
        finally:
            context.close()
    return found


def test_the_pages_are_what_they_claim(visits: Visits) -> None:
    """The guest reads the first code page in full and finds the second locked (the meter works
    through the edge), so axe and vnu see both states."""
    for width in WIDTHS:
        assert visits["404", width]["status"] == 404
        assert all(visits[n, width]["status"] == 200 for n, _ in PAGES if n != "404")
        assert visits["code-full", width]["gated"] > 0 and visits["code-full", width]["gates"] == 0
        assert visits["code-locked", width]["gates"] == visits["code-locked", width]["gated"] > 0


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [n for n, _ in PAGES])
def test_axe_finds_no_violation_of_any_impact(visits: Visits, name: str, width: int) -> None:
    violations = visits[name, width]["violations"]
    assert violations == [], json.dumps(violations, indent=1)


@pytest.mark.parametrize("name", [n for n, _ in PAGES])
def test_375_px_is_usable(visits: Visits, name: str) -> None:
    v = visits[name, 375]
    assert v["overflow"] <= 0, f"{name}: the page scrolls sideways by {v['overflow']} px"
    assert v["header"] <= 130, f"{name}: the header is {v['header']} px high (more than two lines)"
    for input_id, width, needs, room in v["inputs"]:
        assert width >= 200, f"{name}: #{input_id} is {width} px wide"
        assert needs <= room, f"{name}: #{input_id}'s placeholder needs {needs} px, has {room}"


def test_the_search_page_query_box_is_wide_at_375_px(visits: Visits) -> None:
    widths = {i[0]: i[1] for i in visits["search", 375]["inputs"]}
    assert widths and min(widths.values()) >= 200, widths


def test_screenshots_are_written(visits: Visits) -> None:
    for name, _ in PAGES:
        for width in WIDTHS:
            shot = SHOTS / f"{name}-{width}.png"
            assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def vnu_messages(files: list[Path]) -> list[dict[str, Any]]:
    need(VNU, "cd tools && npm ci (make test does)")
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is missing: apt-get install -y default-jre-headless (make test does)")
    run = subprocess.run(
        [java, "-jar", str(VNU), "--format", "json", "--also-check-css", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    messages: list[dict[str, Any]] = json.loads(run.stderr or run.stdout)["messages"]
    return messages


def test_nu_html_checker_passes_the_built_and_the_served_pages(
    served: tuple[str, Path], visits: Visits, tmp_path: Path
) -> None:
    _, out = served
    files = []
    for name, path in PAGES:
        built = out / "site" / (path.split("?")[0].strip("/") or ".") / "index.html"
        if name == "404":
            built = out / "site" / "404.html"
        elif name == "code-locked" or not built.exists():
            built = out / "site" / path.split("?")[0].strip("/") / "index.html"
        files.append(built)
        for width in WIDTHS:
            as_served = tmp_path / f"{name}-{width}.html"
            as_served.write_bytes(visits[name, width]["html"])
            files.append(as_served)
    files += sorted((out / "site" / "assets").glob("*.css"))  # the stylesheets, as published
    messages = vnu_messages(files)
    assert messages == [], json.dumps(messages, indent=1)


def fetch(url: str, gzip_ok: bool = True) -> tuple[int, dict[str, str], bytes]:
    """One GET: status, headers (lower-case names), the body as sent (not decoded)."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip"} if gzip_ok else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


def linked_assets(html: str) -> list[str]:
    return re.findall(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"', html)


def test_assets_are_fingerprinted_cached_for_a_year_and_gzipped(served: tuple[str, Path]) -> None:
    base, out = served
    status, headers, body = fetch(base + "/cpt/27253/")
    assert status == 200 and headers["content-encoding"] == "gzip" and "Accept-Encoding" in headers["vary"]
    html = gzip.decompress(body).decode()
    assets = linked_assets(html)
    assert len(assets) == 2, assets
    for href in assets:
        url = urllib.parse.urljoin(base + "/cpt/27253/", href)
        name = url.rsplit("/", 1)[1]
        assert re.fullmatch(r"(site|search)\.[0-9a-f]{10}\.(css|js)", name), name
        plain = (out / "site" / "assets" / re.sub(r"\.[0-9a-f]{10}\.", ".", name)).read_bytes()  # as published
        status, headers, body = fetch(url)
        assert status == 200 and headers["cache-control"] == "public, max-age=31536000, immutable"
        assert headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
        assert gzip.decompress(body) == plain and len(body) < len(plain) / 2
        status, headers, body = fetch(url, gzip_ok=False)
        assert body == plain and "content-encoding" not in headers and headers["vary"] == "Accept-Encoding"
    # the plain names are still there (for links that name them), cached for minutes only
    status, headers, body = fetch(base + "/assets/site.css")
    assert status == 200 and headers["cache-control"] == "public, max-age=300"
    assert gzip.decompress(body) == (ROOT / "assets" / "site.css").read_bytes()


def test_a_code_page_first_view_is_at_most_15_kb_gzip(served: tuple[str, Path]) -> None:
    """HTML + CSS + JS as sent to a new guest's browser (gzip), for the heaviest sample pages."""
    base, _ = served
    for path in ("/cpt/27253/", "/icd-10-cm/S72.001A/", "/hcpcs/E0143/"):
        _, headers, page = fetch(base + path)
        assert headers["content-encoding"] == "gzip"
        total = len(page)
        for href in linked_assets(gzip.decompress(page).decode()):
            _, headers, body = fetch(urllib.parse.urljoin(base + path, href))
            assert headers["content-encoding"] == "gzip"
            total += len(body)
        assert total <= FIRST_VIEW_LIMIT, f"{path}: {total} bytes gzip on first view"


def test_a_changed_asset_gets_a_new_name_and_every_page_links_it(sample_site: Path) -> None:
    out = sample_site / "build"
    assert codesite("build", "--site", str(sample_site), "--out", str(out), "--quiet").returncode == 0
    page = out / "site" / "cpt" / "27253" / "index.html"
    before = linked_assets(page.read_text())
    with (sample_site / "assets" / "site.css").open("a") as f:
        f.write("\n.new-rule { color: red; }\n")
    assert codesite("build", "--site", str(sample_site), "--out", str(out), "--quiet").returncode == 0
    after = linked_assets(page.read_text())
    assert before[1] == after[1] and before[0] != after[0]  # the script did not change; the stylesheet did
    css = (page.parent / after[0]).resolve()
    assert css.read_text().endswith(".new-rule { color: red; }\n")
    for other in (out / "site" / "index.html", out / "site" / "icd-10-cm" / "S72" / "index.html"):
        assert f"assets/{css.name}" in other.read_text()


def test_fingerprinted_assets_load_from_file_urls(sample_site: Path, browser: Any) -> None:
    """A --file-links build opened from disk: the stylesheet applies and search.js finds its
    index beside the fingerprinted script."""
    out = sample_site / "build"
    assert codesite("build", "--site", str(sample_site), "--out", str(out), "--quiet", "--file-links").returncode == 0
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto((out / "site" / "cpt" / "27253" / "index.html").as_uri())
        background = page.eval_on_selector(".site-header", "e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(11, 92, 173)"
        page.fill("#q-header", "hip")
        page.wait_for_selector("[data-search-popup] a", timeout=15000)
        assert "S73" in page.inner_text("[data-search-popup]")
    finally:
        context.close()


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        ("gzip", True),
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8", True),
        ("GZIP", True),
        ("*", True),
        ("", False),
        ("br", False),
        ("gzip;q=0", False),
        ("*, gzip;q=0", False),
        ("identity", False),
        ("gzip;q=nonsense", False),
    ],
)
def test_accept_encoding_is_read_as_http_says(header: str, ok: bool) -> None:
    assert accepts_gzip(header) is ok


def test_the_checker_reports_what_is_wrong(tmp_path: Path) -> None:
    """The gate can fail: a stray end tag, a page without a language and a misspelt CSS
    property are each reported."""
    page = tmp_path / "bad.html"
    page.write_text("<!doctype html><html><head><title>x</title></head><body><p>x</span></body></html>")
    css = tmp_path / "bad.css"
    css.write_text("a { colr: red; }\n")
    found = {(m["type"], m.get("subType"), m["url"].rsplit("/", 1)[1]) for m in vnu_messages([page, css])}
    assert found == {("error", None, "bad.html"), ("info", "warning", "bad.html"), ("error", None, "bad.css")}


def test_published_scripts_lose_whole_line_comments_only() -> None:
    """The asset stage leaves comment lines, blank lines and indentation out of scripts; the
    result still parses (node --check); the browser tests run it."""
    import subprocess

    from generator.render.assets import without_comments

    source = (ROOT / "assets" / "search.js").read_bytes()
    published = without_comments(source)
    assert len(gzip.compress(published)) < len(gzip.compress(source))
    assert b"\n/*" not in published and b"\n//" not in published
    check = subprocess.run(["node", "--check", "-"], input=published, capture_output=True, check=False)
    assert check.returncode == 0, check.stderr
    assert b"function Engine(load)" in published and b"Engine.prototype.search = function (q, opts)" in published
