"""`codesite serve` as the editors' live preview: a real server subprocess on 127.0.0.1, real
file edits, real headless Chromium connected over LiveReload."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from generator.serve.devserver import DevServer, Settings
from generator.serve.overlay import ERRORS_URL
from generator.serve.watch import Batch, ChangeKind, kind_of
from tests.conftest import ROOT
from tests.servers import port_of, running, serve_command
from tests.test_editors import git
from tests.test_incremental import clean_build, tree

CODE = "content/codes/icd10cm/S73.0.md"
CODE_URL = "/icd-10-cm/S73.0/"
WAIT = 30.0  # a guard against hanging, never a measurement


@dataclass
class Dev:
    base: str
    site: Path
    out: Path
    log: list[str]

    def rebuilds(self) -> list[str]:
        return [x for x in self.log if " rebuilt in " in x or " error(s) after " in x]

    def wait_log(self, ok: Callable[[list[str]], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if ok(list(self.log)):
                return
            time.sleep(0.02)
        raise AssertionError(f"server never logged {what}:\n{''.join(self.log)}")

    def wait_rebuilds(self, n: int) -> None:
        self.wait_log(lambda _: len(self.rebuilds()) >= n, f"{n} rebuild(s)")

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return r.read().decode()

    def edit(self, rel: str, change: Callable[[str], str]) -> None:
        p = self.site / rel
        p.write_text(change(p.read_text()))


def start(site: Path, out: Path, *extra: str) -> Iterator[Dev]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log: list[str] = []
    with running([*serve_command(str(site), str(out)), *extra], "serving http://", env, log=log) as line:
        yield Dev(f"http://127.0.0.1:{port_of(line)}", site, out, log)


@pytest.fixture
def dev(sample_site: Path, tmp_path: Path) -> Iterator[Dev]:
    yield from start(sample_site, tmp_path / "out")


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


def open_live(page: Any, dev: Dev, path: str) -> None:
    """Open a page and wait until its LiveReload handshake is done: the server has had the
    page's hello, so it sends the page what comes next (a page still connecting misses it)."""
    page.goto(dev.base + path)
    page.wait_for_function("() => (window.LiveReload?.connector?.protocol || 0) > 0", timeout=WAIT * 1000)


def append_body(text: str) -> Callable[[str], str]:
    return lambda s: s.rstrip("\n") + f"\n\n{text}\n"


def test_the_page_reloads_with_the_new_text(dev: Dev, page: Any) -> None:
    open_live(page, dev, CODE_URL)
    page.evaluate("window.codesiteMarker = 1")
    dev.edit(CODE, append_body("Reloaded by the dev server."))
    expect(page.locator("main")).to_contain_text("Reloaded by the dev server.", timeout=WAIT * 1000)
    assert page.evaluate("window.codesiteMarker") is None  # a new document


def test_a_reload_fetches_the_page_and_nothing_it_can_do_without(dev: Dev, page: Any) -> None:
    """After a save the page reloads; the browser fetches the page again and takes the
    stylesheet and every script from its cache."""
    open_live(page, dev, CODE_URL)
    page.evaluate("window.codesiteMarker = 1")
    dev.edit(CODE, append_body("Reloaded once more."))
    expect(page.locator("main")).to_contain_text("Reloaded once more.", timeout=WAIT * 1000)
    assert page.evaluate("window.codesiteMarker") is None
    page.wait_for_load_state("load")
    got = page.evaluate("""() => performance.getEntriesByType('resource')
        .map(e => [new URL(e.name).pathname, e.initiatorType, e.transferSize, e.encodedBodySize])""")
    scripts = [g for g in got if g[1] == "script"]
    sheets = [g for g in got if g[1] == "link" and g[0].endswith(".css")]
    assert {s[0].rsplit("/", 1)[-1].split(".")[0] for s in scripts} >= {"search", "overlay", "livereload"}, got
    assert [s for s in scripts if s[2] != 0] == [], got  # from the cache: nothing transferred
    assert sheets and [s for s in sheets if s[2] != 0] == [], got


def test_a_page_that_missed_the_reload_reloads_when_it_connects_again(dev: Dev, page: Any) -> None:
    """A page whose LiveReload connection is down when a rebuild tells the pages to reload (a
    network blip, a reconnection in progress, a hello not yet answered) would stay stale: it
    reloads as soon as its connection is up again, the site having a newer generation than
    the one it was served with."""
    open_live(page, dev, CODE_URL)
    page.evaluate("window.LiveReload.connector.disconnect()")
    page.evaluate("window.codesiteMarker = 1")
    dev.edit(CODE, append_body("Changed while it was away."))
    dev.wait_rebuilds(1)
    assert "Changed while it was away." in dev.get(CODE_URL)
    assert page.evaluate("window.codesiteMarker") == 1  # no reload reached it
    page.evaluate("window.LiveReload.connector.connect()")
    expect(page.locator("main")).to_contain_text("Changed while it was away.", timeout=WAIT * 1000)
    assert page.evaluate("window.codesiteMarker") is None


def test_stale_never_served(dev: Dev) -> None:
    """What the browser may keep cannot go stale: fingerprinted names and versioned scripts
    are kept, everything else is revalidated, and a changed stylesheet is sent again."""
    html = dev.get(CODE_URL)
    assert "/assets/site.css?v=" in html and "/assets/search." in html and '/assets/search.js"' not in html
    sheet = "/assets/site.css?v=" + html.split("/assets/site.css?v=")[1].split('"')[0]

    def head(path: str, etag: str = "") -> tuple[int, dict[str, str]]:
        request = urllib.request.Request(dev.base + path, headers={"If-None-Match": etag} if etag else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, dict(r.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers)

    for src in [x.split('"')[0] for x in html.split('src="')[1:]]:
        if src.startswith("/assets/") or "?v=" in src:
            assert "immutable" in head(src)[1]["Cache-Control"], src
    assert "immutable" in head(sheet)[1]["Cache-Control"]  # the version the page names
    status, headers = head("/assets/site.css")
    assert status == 200 and headers["Cache-Control"] == "no-cache"
    assert head("/assets/site.css", headers["ETag"])[0] == 304
    dev.edit("assets/site.css", lambda s: s + "\n/* changed */\n")
    dev.wait_rebuilds(1)
    assert head("/assets/site.css", headers["ETag"])[0] == 200
    assert head(sheet)[1]["Cache-Control"] == "no-cache"  # the old version's URL: never kept with new bytes
    assert sheet not in dev.get(CODE_URL)  # the page now names the new version


def test_a_yaml_error_shows_in_an_overlay_until_fixed(dev: Dev, page: Any) -> None:
    open_live(page, dev, CODE_URL)
    good = (dev.site / CODE).read_text()
    dev.edit(CODE, lambda s: s.replace("billable: false", "billable: [unclosed", 1))
    overlay = page.locator("#codesite-overlay")
    expect(overlay).to_contain_text(f"{CODE}:7: billable:", timeout=WAIT * 1000)
    assert "Subluxation and dislocation of hip" in dev.get(CODE_URL)  # the last good site
    opened = page.context.new_page()  # a page opened while broken shows it at once
    opened.goto(dev.base + "/")
    expect(opened.locator("#codesite-overlay")).to_contain_text(f"{CODE}:7: billable:")
    (dev.site / CODE).write_text(good)
    expect(overlay).to_have_count(0, timeout=WAIT * 1000)
    dev.wait_log(lambda log: any(f"{CODE}:7: billable:" in x for x in log), "the error")  # the terminal too


def test_css_changes_apply_without_a_navigation(dev: Dev, page: Any) -> None:
    open_live(page, dev, CODE_URL)
    page.evaluate("window.codesiteMarker = 1")
    dev.edit("assets/site.css", lambda s: s + "\nh1 { color: rgb(1, 2, 3) !important; }\n")
    page.wait_for_function(
        "getComputedStyle(document.querySelector('h1')).color === 'rgb(1, 2, 3)'", timeout=WAIT * 1000
    )
    assert page.evaluate("window.codesiteMarker") == 1
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1


class LiveReloadClient:
    """A page's side of LiveReload over a plain socket: the websocket handshake, hello, then
    the server's commands as they come."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=WAIT)
        self.sock.sendall(b"GET /livereload HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.rfile = self.sock.makefile("rb")
        while self.rfile.readline() not in (b"\r\n", b""):
            pass
        hello = json.dumps({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"]})
        payload = hello.encode()
        mask = b"\x01\x02\x03\x04"
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask
                          + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
        assert self.command()["command"] == "hello"

    def command(self) -> dict[str, Any]:
        head = self.rfile.read(2)
        n = head[1] & 0x7F
        if n == 126:
            n = int.from_bytes(self.rfile.read(2), "big")
        return dict(json.loads(self.rfile.read(n)))

    def close(self) -> None:
        self.sock.close()


def test_a_page_told_to_reload_is_served_the_rebuilt_site(dev: Dev) -> None:
    # the pages are told as a code file's rebuild starts; what they ask for waits for it
    client = LiveReloadClient(dev.base)
    try:
        dev.edit(CODE, append_body("Served once rebuilt."))
        assert client.command()["path"] == "/"
        assert "Served once rebuilt." in dev.get(CODE_URL)
        # a rebuild that fails: the page asked for is the last good one, with the errors
        dev.edit(CODE, lambda s: s.replace("parent: S73\n", "parent: S99\n", 1))
        assert client.command()["path"] == "/"
        html = dev.get(CODE_URL)
        assert "Served once rebuilt." in html and f"{CODE}:6: parent:" in html
        assert client.command()["path"] == ERRORS_URL
        dev.edit(CODE, lambda s: s.replace("parent: S99\n", "parent: S73\n", 1))
        assert client.command()["path"] == "/"
        assert f"{CODE}:6: parent:" not in dev.get(CODE_URL)
    finally:
        client.close()


BREAKS: list[tuple[str, str, Callable[[Path], Callable[[], None]]]] = []


def breaks(name: str, expected: str) -> Callable[[Callable[[Path], Callable[[], None]]], Any]:
    """A way to break the site: does it, returns how to undo it; ``expected`` in the overlay."""
    def add(f: Callable[[Path], Callable[[], None]]) -> Any:
        BREAKS.append((name, expected, f))
        return f
    return add


def rewrite(path: Path, text: str | bytes) -> Callable[[], None]:
    old = path.read_bytes()
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return lambda: path.write_bytes(old)


@breaks("template syntax error", "layouts/code.html:")
def _template(site: Path) -> Callable[[], None]:
    p = site / "layouts" / "code.html"
    return rewrite(p, p.read_text().replace("{% block main %}", "{% block main %}{% if %}", 1))


@breaks("missing parent", f"{CODE}:6: parent:")
def _parent(site: Path) -> Callable[[], None]:
    p = site / CODE
    return rewrite(p, p.read_text().replace("parent: S73\n", "parent: S99\n", 1))


@breaks("deleted site.yaml", "content/site.yaml:1: site: not found")
def _config(site: Path) -> Callable[[], None]:
    p = site / "content" / "site.yaml"
    old = p.read_bytes()
    p.unlink()
    return lambda: p.write_bytes(old)


@breaks("unreadable file", f"{CODE}:1:")
def _unreadable(site: Path) -> Callable[[], None]:
    p = site / CODE
    return rewrite(p, p.read_bytes().replace(b"Subluxation", b"Sub\xffluxation", 1))


@pytest.mark.parametrize(("name", "expected", "how"), BREAKS, ids=[b[0] for b in BREAKS])
def test_a_broken_site_shows_every_error_and_the_server_survives(
    dev: Dev, page: Any, name: str, expected: str, how: Callable[[Path], Callable[[], None]]
) -> None:
    open_live(page, dev, CODE_URL)
    undo = how(dev.site)
    overlay = page.locator("#codesite-overlay")
    expect(overlay).to_contain_text(expected, timeout=WAIT * 1000)
    dev.wait_log(lambda log: any(expected in x for x in log), expected)  # the terminal too (read apart)
    assert "Subluxation and dislocation of hip" in dev.get(CODE_URL)  # the last good site
    undo()
    expect(overlay).to_have_count(0, timeout=WAIT * 1000)
    dev.edit(CODE, append_body("Still alive."))  # and it keeps rebuilding
    expect(page.locator("main")).to_contain_text("Still alive.", timeout=WAIT * 1000)


def test_a_burst_of_writes_is_one_rebuild(sample_site: Path, tmp_path: Path) -> None:
    # 250 ms: on this shared machine the writing process can be held off the CPU for more than
    # the default 30 ms mid-burst, which would (rightly) make two batches
    for dev in start(sample_site, tmp_path / "out", "--debounce", "250"):
        burst(dev)


def test_a_git_checkout_of_500_files_is_one_rebuild(sample_site: Path, tmp_path: Path) -> None:
    """An editor switches branches: git rewrites 500 code files; one rebuild shows them all
    (the debounce as in the burst above: the machine may hold git off the CPU mid-checkout)."""
    git(sample_site, "init", "-q", "-b", "main")
    git(sample_site, "add", "-A")
    git(sample_site, "commit", "-qm", "site")
    git(sample_site, "checkout", "-qb", "edits")
    files = sorted((sample_site / "content" / "codes" / "icd10cm").glob("*.md"))[:500]
    for p in files:
        p.write_text(p.read_text().rstrip("\n") + "\n\nOn the edits branch.\n")
    git(sample_site, "commit", "-qam", "500 edits")
    git(sample_site, "checkout", "-q", "main")
    for dev in start(sample_site, tmp_path / "out", "--debounce", "250"):
        git(sample_site, "checkout", "-q", "edits")
        dev.wait_rebuilds(1)
        time.sleep(1.0)  # room for a second rebuild, should the checkout have been split
        assert len(dev.rebuilds()) == 1 and "500 content files" in dev.rebuilds()[0], dev.rebuilds()
        assert "On the edits branch." in dev.get(f"/icd-10-cm/{files[-1].stem}/")


def burst(dev: Dev) -> None:
    files = sorted((dev.site / "content" / "codes" / "icd10cm").glob("S72.*.md"))[:10]
    assert len(files) == 10
    texts = [p.read_text().rstrip("\n") for p in files]
    writes = [(files[i % 10], f"{texts[i % 10]}\n\nBurst {i}.\n".encode()) for i in range(50)]
    for p, data in writes:  # as fast as a git checkout writes them
        p.write_bytes(data)
    dev.wait_rebuilds(1)
    time.sleep(1.0)  # room for a second rebuild, should the burst have been split
    assert len(dev.rebuilds()) == 1, dev.rebuilds()
    assert "Burst 49." in dev.get("/icd-10-cm/" + files[9].stem + "/")


def test_write_temp_then_rename_is_seen(dev: Dev) -> None:
    target = dev.site / CODE
    tmp = target.with_name(".S73.0.md.tmp")
    tmp.write_text(target.read_text().rstrip("\n") + "\n\nSaved by renaming.\n")
    os.replace(tmp, target)
    dev.wait_rebuilds(1)
    assert "Saved by renaming." in dev.get(CODE_URL)


def test_deleted_and_recreated_is_one_rebuild_and_a_new_code_appears(dev: Dev) -> None:
    target = dev.site / CODE
    text = target.read_text()
    target.unlink()
    target.write_text(text.rstrip("\n") + "\n\nRecreated.\n")
    dev.wait_rebuilds(1)
    assert "Recreated." in dev.get(CODE_URL)
    new = dev.site / "content" / "codes" / "icd10cm" / "S73.09.md"
    new.write_text(text.replace("code: S73.0\n", "code: S73.09\n").replace("parent: S73\n", "parent: S73.0\n")
                   .replace("title: Subluxation and dislocation of hip", "title: A brand new code"))
    dev.wait_rebuilds(2)
    assert "A brand new code" in dev.get("/icd-10-cm/S73.09/")
    assert "S73.09" in dev.get(CODE_URL)  # the parent's children list
    assert "/icd-10-cm/S73.09/" in dev.get("/sitemap.xml") + "".join(
        p.read_text() for p in (dev.out / "site" / "sitemaps").glob("*.xml")
    )
    new.unlink()
    dev.wait_rebuilds(3)
    assert "S73.09" not in dev.get(CODE_URL)
    assert not (dev.out / "site" / "icd-10-cm" / "S73.09").exists()


def test_edits_through_the_server_equal_a_clean_build(dev: Dev, tmp_path: Path) -> None:
    codes = dev.site / "content" / "codes" / "icd10cm"
    steps: list[Callable[[], None]] = [
        lambda: dev.edit(CODE, append_body("An edited body.")),
        lambda: dev.edit(CODE, lambda s: s.replace("title: Subluxation", "title: Edited subluxation", 1)),
        lambda: dev.edit(CODE, lambda s: s.replace("- hip popped out\n", "- hip popped out\n- jumped hip\n", 1)),
        lambda: (codes / "S73.09.md").write_text(
            (dev.site / CODE).read_text().replace("code: S73.0\n", "code: S73.09\n")
            .replace("parent: S73\n", "parent: S73.0\n")
        ),
        lambda: dev.edit(CODE, lambda s: s.replace("billable: false", "billable: [", 1)),  # broken
        lambda: dev.edit(CODE, lambda s: s.replace("billable: [", "billable: false", 1)),  # fixed
        lambda: dev.edit("layouts/code.html", lambda s: s.replace("{% block main %}", "{% block main %}<!-- e -->", 1)),
        lambda: dev.edit("assets/site.css", lambda s: s + "\n/* edited */\n"),
        lambda: dev.edit("content/site.yaml", lambda s: s.replace("tagline: ", "tagline: Edited. ", 1)),
        lambda: (codes / "S73.09.md").unlink(),
        lambda: dev.edit("content/synonyms.yaml", lambda s: s + "\n"),
    ]
    for i, step in enumerate(steps, 1):
        step()
        dev.wait_rebuilds(i)
    assert not (dev.out / ".staging").exists()
    # what the rebuilds replaced (the staging folders, the layout change's pages, the search
    # indexes) is removed once the pages had time to load
    for _ in range(100):
        left = list(dev.out.glob("*.old-*"))
        if not left:
            break
        time.sleep(0.1)
    assert not left, left
    # the code that came and the one that went took the incremental path: not every code read
    total = len(list((dev.site / "content" / "codes").rglob("*.md")))
    for line in (dev.rebuilds()[3], dev.rebuilds()[9]):
        assert "S73.09.md" in line and int(line.split(" removed, ")[1].split()[0]) < total // 4, line
    clean = clean_build(dev.site, tmp_path)
    assert isinstance(clean, dict), clean
    served = tree(dev.out)
    assert served.keys() == clean.keys()
    assert [k for k in clean if served[k] != clean[k]] == []


def test_no_meter_shows_every_gated_section(sample_site: Path, tmp_path: Path) -> None:
    for d in start(sample_site, tmp_path / "out", "--no-meter"):
        for _ in range(3):  # a guest would see one code page in full
            for code in ("cpt/27253", "icd-10-cm/S73.0"):
                html = d.get(f"/{code}/")
                assert "code page views remaining" not in html
                assert "traumatic hip dislocation" in d.get("/cpt/27253/")


def test_no_watch_serves_the_production_app_alone(sample_site: Path, tmp_path: Path) -> None:
    for d in start(sample_site, tmp_path / "out", "--no-watch"):
        html = d.get("/")
        assert "livereload" not in html and "codesite-overlay" not in html
        assert not any("watching" in x for x in d.log)
    for d in start(sample_site, tmp_path / "out"):
        html = d.get("/")
        assert html.count('<script src="/livereload.js?v=') == 1
        assert html.rstrip().endswith("</html>")


@contextlib.contextmanager
def serving_process(site: Path, out: Path) -> Iterator[subprocess.Popen[str]]:
    """``codesite serve`` as a process, once it serves; killed at the end if still running."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(serve_command(str(site), str(out)), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if "serving http://" in line:
                break
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def test_sigint_stops_it_with_exit_0_and_no_staging_folder(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with serving_process(sample_site, out) as proc:
        (sample_site / CODE).write_text((sample_site / CODE).read_text() + "\nA last edit.\n")
        time.sleep(0.1)  # the rebuild may well be under way
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0, proc.stdout.read() if proc.stdout else ""
    assert not (out / ".staging").exists()


def test_sigint_before_the_state_is_saved_leaves_it_saved(sample_site: Path, tmp_path: Path) -> None:
    """Ctrl-C right after a rebuild, before its build state was written: the server exits 0 at
    once, and the state is written all the same (by a child process): a build that follows
    finds nothing to do."""
    out = tmp_path / "out"
    meta = out / ".cache" / "meta"
    with serving_process(sample_site, out) as proc:
        assert proc.stdout is not None
        saved = meta.stat().st_mtime_ns
        (sample_site / CODE).write_text((sample_site / CODE).read_text() + "\nSaved after Ctrl-C.\n")
        for line in proc.stdout:
            if " rebuilt in " in line:
                break
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=WAIT) == 0, proc.stdout.read()
    deadline = time.monotonic() + WAIT
    while meta.stat().st_mtime_ns == saved and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the meta file is the save's last write
    assert "Saved after Ctrl-C." in (out / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    again = subprocess.run([sys.executable, "-m", "generator.cli", "build", "--site", str(sample_site),
                            "--out", str(out)], env=env, capture_output=True, text=True, check=True)
    assert ": 0 written, " in again.stdout, again.stdout


_REMOVALS: list[str] | None = None  # while a list: the removals this process makes


def _note_removals(event: str, args: tuple[Any, ...]) -> None:
    if _REMOVALS is not None and event in ("shutil.rmtree", "os.rmdir", "os.remove"):
        _REMOVALS.append(f"{event} {args[0]}")


sys.addaudithook(_note_removals)


def test_the_folders_a_layout_change_replaced_are_removed_by_another_process(
    sample_site: Path, tmp_path: Path
) -> None:
    """The server leaves the removal of what its builds replaced to a process of its own (``rm
    -rf``): on the full set a layout change replaces the pages' folders whole, and listing their
    98k folders in the server's process held 73 MB for as long as the removal took (minutes on
    a slow disk), and left the server larger with each change."""
    global _REMOVALS
    out = tmp_path / "out"
    server = DevServer(Settings(str(sample_site), str(out), port=0, quiet=True), io.StringIO())
    server.trash += server.build().trash
    server.save()
    layout = sample_site / "layouts" / "base.html"
    layout.write_text(layout.read_text().replace("</body>", "<!-- replaced --></body>", 1))
    server.trash += server.build_batch(Batch({"layouts/base.html": ChangeKind.LAYOUT})).trash
    replaced = [Path(t) for t in server.trash]
    assert any(t.is_dir() for t in replaced), [(t, t.exists()) for t in replaced]
    try:
        _REMOVALS = []
        server.empty()
        deadline = time.monotonic() + WAIT
        while any(t.exists() for t in replaced) and time.monotonic() < deadline:
            time.sleep(0.05)
        here = _REMOVALS
    finally:
        _REMOVALS = None
    assert [t for t in replaced if t.exists()] == []
    assert here == []
    assert server.trash == [] and [n for n in os.listdir(out) if ".old-" in n or n.startswith(".staging")] == []


FINALIZER_TAKES_THE_SIGNAL = """
import os, signal, sys
from generator.serve.devserver import DevServer, Settings


class Finalizer:
    def __del__(self):
        os.kill(os.getpid(), signal.SIGTERM)
        n = 0
        for _ in range(100000):  # the handler runs here, between bytecodes of the finalizer
            n += 1


class Out:
    def write(self, text):
        sys.stdout.write(text)
        if text.startswith("serving http://"):
            Finalizer()  # freed at once, in the main thread
        return len(text)

    def flush(self):
        sys.stdout.flush()


sys.exit(DevServer(Settings(sys.argv[1], sys.argv[2], port=0, quiet=True), Out()).run())
"""


def test_sigterm_landing_in_a_finalizer_still_stops_it(sample_site: Path, tmp_path: Path) -> None:
    """SIGTERM while the main thread runs a finalizer (as a whoosh lock's ``__del__`` runs at
    a garbage collection): the KeyboardInterrupt the handler raises there is printed and
    dropped by Python; the server stops all the same, with exit 0."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", FINALIZER_TAKES_THE_SIGNAL, str(sample_site), str(tmp_path / "out")],
                          env=env, capture_output=True, text=True, timeout=WAIT * 2)
    assert "Exception ignored in" in proc.stderr and "KeyboardInterrupt" in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.rstrip().endswith("stopped"), proc.stdout


def test_changes_are_sorted_by_kind() -> None:
    assert kind_of("content/codes/icd10cm/S73.0.md") is ChangeKind.CONTENT
    assert kind_of("content/codes/icd10cm/.S73.0.md.swp") is None
    assert kind_of("content/codes/icd10cm/notes.txt") is None
    assert kind_of("content/site.yaml") is ChangeKind.CONFIG
    assert kind_of("content/synonyms.yaml") is ChangeKind.CONFIG
    assert kind_of("layouts/partials/list.html") is ChangeKind.LAYOUT
    assert kind_of("assets/site.css") is ChangeKind.ASSET
    b = Batch({"assets/site.css": ChangeKind.ASSET, "layouts/code.html": ChangeKind.LAYOUT})
    assert b.kinds == {ChangeKind.ASSET, ChangeKind.LAYOUT}
    assert b.summary() == "1 layout, 1 asset files"


def test_help_names_the_options() -> None:
    done = subprocess.run([sys.executable, "-m", "generator.cli", "serve", "--help"], capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    for option in ("--no-meter", "--open", "--no-watch", "--host", "--port", "--debounce", "127.0.0.1"):
        assert option in done.stdout


FREED_IN_THREADS = """
import sys, threading
from generator.serve import devserver
if sys.argv[1] == "bounded":
    devserver.bound_malloc()
first = bytearray(4 << 20)  # glibc maps a block this big, and once it is freed it raises the
del first                   # size it maps from (as the server's first reads do), unless it was set
kept = []
together = threading.Barrier(8)
def work():  # as whoosh copies an index's parts into memory for one search, then frees them
    parts = []
    for _ in range(20):
        parts.append(bytearray(2 << 20))
        kept.append(bytearray(200 << 10))  # what lives on, between the parts
    together.wait()  # 8 searches at once, as 8 requests are
    del parts
for _ in range(3):
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
print(int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20)
"""


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="Linux's /proc")
def test_memory_freed_in_the_servers_threads_goes_back(tmp_path: Path) -> None:
    """The server's threads (one a request) free what a search read; glibc kept it in an arena
    per thread (200 MB after 8 searches of the full set): bounded, the process keeps little."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def rss(mode: str) -> int:
        done = subprocess.run([sys.executable, "-c", FREED_IN_THREADS, mode], env=env, capture_output=True,
                              text=True, check=True)
        return int(done.stdout)

    plain, bounded = rss("plain"), rss("bounded")
    assert bounded + 200 < plain, (bounded, plain)  # 96 MB live in both; 8 x 40 MB held at once
