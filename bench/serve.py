"""Benchmark: the dev server on the full ICD-10-CM set, seen from a real browser.

Imports the set into a temporary site (as bench/build_full.py does), builds it once with
``codesite build`` (an editor's usual starting point), starts ``codesite serve`` on it, opens a
code page in headless Chromium and times, for each of 20 edits of different kinds, the save (the
file written) until the page in the browser shows the result: the new body text, the new title,
a reloaded page after a synonym edit (the new synonym is then checked to be in the search
index), a new code in its parent's children list. Then a layout change, the same way. Prints
p50/p95 of the edits, each kind's median, the layout change, the cold build for comparison, and
the server's peak memory (the largest sum of RSS and of PSS of the server process and its
children: RSS sampled every 20 ms, PSS every 0.5 s; and the kernel's high-water mark of the server process).

With ``hugo`` on PATH (Debian's package), ``hugo server`` on the same entries (the minimal Hugo site
of bench/build_full.py) gets the same body edits in the same browser, in its default fast-render
mode and with ``--disableFastRender``: its start-up, save -> page shows it, and peak memory.

    python bench/serve.py [--work DIR] [--edits 20] [--hugo-edits 5] [--hugo-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from build_full import codesite, env, hugo_site, imported_site, run  # noqa: E402

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.servers import port_of  # noqa: E402

CODE = "S72.001A"  # a leaf: body, title and synonym edits
PARENT = "S72.001"  # its parent: new codes appear in its children list
KINDS = ("body", "title", "synonym", "new code")
SHOWS = "t => document.body !== null && document.body.innerText.includes(t)"


def tree_of(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def field_kib(path: str, name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Memory:
    """Samples the server's process tree every 20 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rss = self.pss = self.hwm = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        """RSS every 20 ms; PSS every 0.5 s, and when the tree's RSS passes its peak by 5%:
        reading smaps_rollup walks every process's page tables, and every 20 ms on a server of
        800 MiB it took most of a core (the bench measured its own load)."""
        tick = 0
        while not self.stop.wait(0.02):
            tick += 1
            pids = tree_of(self.pid)
            rss = sum(field_kib(f"/proc/{p}/status", "VmRSS") for p in pids)
            if rss > 1.05 * self.rss or tick % 25 == 0:
                self.pss = max(self.pss, sum(field_kib(f"/proc/{p}/smaps_rollup", "Pss") for p in pids))
            self.rss = max(self.rss, rss)
            self.hwm = max(self.hwm, field_kib(f"/proc/{self.pid}/status", "VmHWM"))

    def done(self) -> None:
        self.stop.set()
        self.thread.join()


Started = tuple["subprocess.Popen[str]", Memory, list[str], str]


def start_server(cmd: list[str], ready: str, environ: dict[str, str] | None = None, cwd: str | None = None) -> Started:
    """A server process, its memory sampler, its log (read on in a thread) and its line holding
    ``ready`` (RuntimeError with the log if it ends before printing one)."""
    proc = subprocess.Popen(cmd, env=environ, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    memory = Memory(proc.pid)
    log: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line)
        if ready in line:
            break
    else:
        memory.done()
        raise RuntimeError("".join(log[-20:]))
    threading.Thread(target=log.extend, args=(proc.stdout,), daemon=True).start()
    return proc, memory, log, line


def rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def front_value(path: Path, key: str) -> str:
    for line in path.read_text().splitlines():
        if line.startswith(key + ": "):
            return line[len(key) + 2 :]
    raise KeyError(key)


class Session:
    def __init__(self, page: Any, base: str, site: Path) -> None:
        self.page, self.base, self.site = page, base, site
        self.codes = site / "content" / "codes" / "icd10cm"
        self.search_lag: list[float] = []
        self.noticed: list[float] = []  # seconds from the save until the harness saw the page show it

    def api_finds(self, word: str, start: float) -> float:
        """Seconds from the save until /api/search (the whoosh index, saved after the page
        reloads) finds the code by its new synonym."""
        q = urllib.parse.quote(word)
        while time.perf_counter() - start < 120:
            with urllib.request.urlopen(f"{self.base}/api/search?q={q}", timeout=30) as r:
                if CODE in [x["code"] for x in json.load(r)["results"]]:
                    return time.perf_counter() - start
            time.sleep(0.05)
        raise AssertionError(f"/api/search never found {CODE} by {word!r}")

    def goto(self, code: str) -> None:
        sockets: list[Any] = []

        def opened(ws: Any) -> None:
            sockets.append(ws)

        self.page.on("websocket", opened)
        self.page.goto(f"{self.base}/icd-10-cm/{code}/")
        deadline = time.monotonic() + 30
        while not sockets and time.monotonic() < deadline:
            self.page.wait_for_timeout(10)
        self.page.remove_listener("websocket", opened)
        self.page.wait_for_timeout(300)  # the LiveReload hello

    def timed(self, save: Any, shows: str, arg: Any, timeout_s: float = 60) -> float:
        """Seconds from just before the save until the browser painted the page that shows it
        (``shows(arg)`` holds in it): the new document's first contentful paint, on its own
        clock. The harness notices it later (Playwright polls the page over the DevTools
        protocol: 60-150 ms more on this machine); that figure is kept in ``noticed``."""
        start = time.perf_counter()
        wall = time.time()
        save()
        self.page.wait_for_function(shows, arg=arg, timeout=timeout_s * 1000, polling=5)
        self.noticed.append(time.perf_counter() - start)
        return painted(self.page, wall, self.noticed[-1])

    def text_shown(self, path: Path, old: str, new: str, shown: str, timeout_s: float = 60) -> float:
        return self.timed(lambda: rewrite(path, old, new), SHOWS, shown, timeout_s)

    def edit(self, kind: str, i: int) -> float:
        leaf = self.codes / f"{CODE}.md"
        if kind == "body":
            self.goto(CODE)
            text = leaf.read_text()
            marker = f"Bench body edit {i} {time.time_ns()}."
            return self.timed(lambda: leaf.write_text(text.rstrip("\n") + f"\n\n{marker}\n"), SHOWS, marker)
        if kind == "title":
            self.goto(CODE)
            title = front_value(leaf, "title")
            return self.text_shown(leaf, f"title: {title}\n", f"title: Bench {i} {title}\n", f"Bench {i} {title}")
        if kind == "synonym":
            self.goto(CODE)
            self.page.evaluate("window.benchMarker = 1")
            word = f"benchsyn{i}x{time.time_ns() % 10**6}"
            text = leaf.read_text()
            new = text.replace("\nsynonyms:\n", f"\nsynonyms:\n- {word}\n", 1) if "\nsynonyms:\n" in text else \
                text.replace("\n---\n", f"\nsynonyms:\n- {word}\n---\n", 1)
            took = self.timed(lambda: leaf.write_text(new),
                              "() => window.benchMarker === undefined && document.readyState !== 'loading'", None)
            self.search_lag.append(self.api_finds(word, start=time.perf_counter() - self.noticed[-1]))
            return took
        if kind == "new code":
            self.goto(PARENT)
            code = new_code(i)
            text = leaf.read_text().replace(f"code: {CODE}\n", f"code: {code}\n", 1)
            target = self.codes / f"{code}.md"
            return self.timed(lambda: target.write_text(text), SHOWS, code)
        raise ValueError(kind)


# when the page (the document now loaded) first painted content, in seconds since the epoch
FIRST_PAINT = """() => new Promise(resolve => {
  const get = () => {
    const p = performance.getEntriesByName('first-contentful-paint')[0];
    return p ? (performance.timeOrigin + p.startTime) / 1000 : null;
  };
  if (get() !== null) return resolve(get());
  new PerformanceObserver((list, observer) => { observer.disconnect(); resolve(get()); })
    .observe({type: 'paint', buffered: true});
})"""


def painted(page: Any, wall: float, noticed: float) -> float:
    """Seconds from ``wall`` (the save, time.time()) to the first paint of the document the page
    now shows; ``noticed`` when that document is older than the save (a page changed in place)."""
    origin = page.evaluate("performance.timeOrigin") / 1000
    return float(page.evaluate(FIRST_PAINT)) - wall if origin > wall else noticed


def percentiles(values: list[float]) -> tuple[float, float]:
    every = sorted(values)
    return statistics.median(every), every[min(len(every) - 1, round(0.95 * (len(every) - 1)))]


def new_code(i: int) -> str:
    return f"{CODE[:7]}{'XYZWV'[i % 5]}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", metavar="DIR", help="keep the imported site here (reused when present)")
    ap.add_argument("--edits", type=int, default=20)
    ap.add_argument("--keep-out", action="store_true", help="start from WORK/out as it is (no cold build)")
    ap.add_argument("--hugo-edits", type=int, default=5, help="body edits through hugo server, per mode")
    ap.add_argument("--hugo-only", action="store_true", help="only Hugo's figures (hugo on PATH)")
    args = ap.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="codesite-serve-bench-"))
    try:
        if not args.hugo_only:
            bench(work, args.edits, args.keep_out and (work / "out").is_dir())
        if shutil.which("hugo") is None:
            print("hugo: not installed here; no side-by-side figures")
        elif args.hugo_edits:
            hugo_serve(imported_site(work), work, args.hugo_edits)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, edits: int, keep_out: bool) -> None:
    from playwright.sync_api import sync_playwright

    site = imported_site(work)
    for i in range(5):  # a previous run's new codes
        (site / "content" / "codes" / "icd10cm" / f"{new_code(i)}.md").unlink(missing_ok=True)
    pristine = work / "pristine"  # the files the edits change, as imported: each run starts from them
    for rel in ("layouts/code.html", f"content/codes/icd10cm/{CODE}.md"):
        kept = pristine / rel
        if kept.exists():
            shutil.copyfile(kept, site / rel)
        else:
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site / rel, kept)
    out = work / "out"
    cold = None
    if not keep_out:
        shutil.rmtree(out, ignore_errors=True)
        cold = run(codesite("build", "--site", str(site), "--out", str(out), "--quiet"))
        print(f"cold build (codesite build, fresh process): {cold.wall:.1f} s, peak RSS {cold.rss_mib:.0f} MiB")
        # its 1.5 GB written back to the disk now, not while the edits are timed
        synced = time.perf_counter()
        os.sync()
        print(f"  (its files written back to the disk in {time.perf_counter() - synced:.1f} s more)")
    cmd = [*codesite("serve", "--site", str(site), "--out", str(out), "--port", "0", "--quiet")]
    proc, memory, log, line = start_server(cmd, "serving http://", env())
    try:
        base = f"http://127.0.0.1:{port_of(line)}"
        times: dict[str, list[float]] = {k: [] for k in KINDS}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            session = Session(browser.new_page(), base, site)
            for i in range(edits):
                kind = KINDS[i % len(KINDS)]
                times[kind].append(session.edit(kind, i))
                print(f"  edit {i + 1:2d} {kind:<9} {times[kind][-1] * 1000:6.0f} ms", flush=True)
            session.goto(CODE)
            layout = site / "layouts" / "code.html"
            marker = f"Layout edit {time.time_ns()}"
            new = "{% block main %}<p>" + marker + "</p>"
            layout_s = session.text_shown(layout, "{% block main %}", new, marker, timeout_s=1800)
            browser.close()
        every = [t for ts in times.values() for t in ts]
        p50, p95 = percentiles(every)
        print(f"save -> the browser paints the page that shows it, {len(every)} edits: p50 {p50 * 1000:.0f} ms, "
              f"p95 {p95 * 1000:.0f} ms, max {max(every) * 1000:.0f} ms (target p95 <= 300 ms)")
        n50, n95 = percentiles(session.noticed[: len(every)])  # the edits, not the layout change
        print(f"  (the harness, polling the page over DevTools, noticed it at p50 {n50 * 1000:.0f} ms, "
              f"p95 {n95 * 1000:.0f} ms)")
        for kind, ts in times.items():
            print(f"  {kind}: median {statistics.median(ts) * 1000:.0f} ms over {len(ts)}")
        lags = ", ".join(f"{x:.1f}" for x in session.search_lag)
        print(f"synonym edits: save -> /api/search (whoosh) finds the code: {lags} s")
        print(f"layout change (code.html) -> page shows it: {layout_s:.1f} s"
              + (f" (cold build {cold.wall:.1f} s)" if cold else ""))
        rebuilds = [x.strip() for x in log if " rebuilt in " in x]
        print(f"server: {len(rebuilds)} rebuilds:")
        for x in rebuilds:
            print(f"  {x}")
    except BaseException:
        print("the server's last lines:\n" + "".join(log[-20:]))
        raise
    finally:
        stopping = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            print("the server did not stop within 60 s of Ctrl-C; its log:\n" + "".join(log[-20:]))
            proc.kill()
            code = proc.wait()
        stopped = time.perf_counter() - stopping
        memory.done()
        if proc.stdout:
            proc.stdout.close()
    print(f"server peak memory: RSS {memory.rss / 1024:.0f} MiB, PSS {memory.pss / 1024:.0f} MiB (process and "
          f"children, sampled), high-water RSS of the server process {memory.hwm / 1024:.0f} MiB "
          f"(target <= 1024 MiB); Ctrl-C: exit status {code} after {stopped:.2f} s")


def hugo_serve(site: Path, work: Path, edits: int) -> None:
    """Hugo's server on the same entries (``build_full.hugo_site``), the same page and body edits,
    seen in the same browser: in its default fast-render mode (only the pages open in a browser
    are rendered again) and with ``--disableFastRender`` (the whole site, before the reload)."""
    from playwright.sync_api import sync_playwright

    hugo = hugo_site(site, work)
    page_file = hugo / "content" / "icd10cm" / f"{CODE}.md"
    modes: tuple[tuple[str, list[str]], ...] = (("fast render (open pages only)", []),
             ("--disableFastRender (whole site)", ["--disableFastRender"]))
    for mode, flags in modes:
        with socket.socket() as sock:  # a free port (hugo takes no port 0)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = ["hugo", "server", "--source", str(hugo), "--bind", "127.0.0.1", "--port", str(port), *flags]
        started = time.perf_counter()
        proc, memory, _, line = start_server(cmd, "Web Server is available at")
        try:
            ready = time.perf_counter() - started
            base = line.split("available at ")[1].split()[0].rstrip("/")
            took: list[float] = []
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page()
                page.goto(f"{base}/icd10cm/{CODE.lower()}/")
                page.wait_for_timeout(500)  # its LiveReload connection
                for i in range(edits):
                    marker = f"Hugo body edit {i} {time.time_ns()}."
                    text = page_file.read_text()
                    wall, start = time.time(), time.perf_counter()
                    page_file.write_text(text.rstrip("\n") + f"\n\n{marker}\n")
                    page.wait_for_function(SHOWS, arg=marker, timeout=600_000, polling=5)
                    took.append(painted(page, wall, time.perf_counter() - start))
                    page.wait_for_timeout(300)
                browser.close()
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            memory.done()
        ms = ", ".join(f"{t * 1000:.0f}" for t in took)
        print(f"hugo server, {mode}: ready in {ready:.1f} s; body edit -> the browser paints it: median "
              f"{statistics.median(took) * 1000:.0f} ms ({ms} ms); peak RSS {memory.rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
