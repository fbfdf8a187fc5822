"""Benchmark: the offline archive of the full ICD-10-CM 2026 release (98,505 entries).

Imports the set into a temporary site (the sample's site.yaml, layouts and assets), builds it
for the archive (``codesite archive``'s own build, in a fresh process), then writes the zip from
that build in another fresh process, the one measured: wall time beyond the build and its peak
RSS (``wait4``). Prints the zip's size, unpacks it, and times the first search result from
``file://`` in headless Chromium: a fresh browser context per query, from navigation start to
the first result on the search page (``codesiteSearch.resultsAt``). Targets from issue 12:
<= 45 s, <= 512 MiB, <= 120 MB, <= 300 ms.

    PYTHONPATH=. python bench/archive.py [--work DIR] [--edition full|public]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402  (one browser setup)

DATE = "2026-12-01"
QUERIES = ["hip dislocation", "heart attack", "broken wrist", "S72.001A", "type 2 diabetes",
           "asthma", "migraine with aura", "E11.9", "pneumonia", "fracture of femur"]

ARCHIVE = """
import sys
from generator.archive import write_archive, build_date
print(write_archive(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], build_date(sys.argv[5])))
"""


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("CI", None)
    return e


def run(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS in MiB (the largest of the process and the workers
    it waited for), and the output of a command run in a fresh process."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


def first_results(root: Path, queries: list[str]) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for q in queries:
            ctx = b.new_context()
            page = ctx.new_page()
            page.goto((root / "search" / "index.html").as_uri() + "?q=" + q.replace(" ", "%20"))
            page.locator("[data-search-results] li").first.wait_for()
            times.append(page.evaluate("window.codesiteSearch.resultsAt"))
            ctx.close()
        b.close()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", help="work folder (kept; default: a temporary one, removed)")
    ap.add_argument("--edition", choices=("full", "public"), default="full")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="codesite-archive-bench-"))
    try:
        bench(work, args.edition)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def bench(work: Path, edition: str) -> None:
    py = sys.executable
    site = work / "site"
    (site / "content").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "content" / "site.yaml", site / "content" / "site.yaml")
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part, dirs_exist_ok=True)
    if not (site / "content" / "codes" / "icd10cm").exists():
        wall, _, rss, _ = run([py, "-m", "generator.cli", "import", "icd10cm", "--site", str(site), "--quiet"])
        print(f"import (98,505 files)        {wall:7.1f} s  {rss:6.0f} MiB peak RSS")
    build_dir, dist = work / "build", work / "dist"
    wall, _, rss, _ = run([py, "-c", "import sys; from generator.archive import build_for_archive; "
                        "build_for_archive(sys.argv[1], sys.argv[2])", str(site), str(build_dir)])
    print(f"site build for the archive   {wall:7.1f} s  {rss:6.0f} MiB peak RSS  (not counted)")
    wall, cpu, rss, out = run([py, "-c", ARCHIVE, str(site), str(build_dir), str(dist), edition, DATE])
    path = Path(out.strip().splitlines()[-1])
    size = path.stat().st_size
    with zipfile.ZipFile(path) as zf:
        entries = len(zf.infolist())
    print(f"archive beyond the build     {wall:7.1f} s  (target <= 45 s; {cpu:.1f} s of CPU: the rest is "
          "waiting for a core or the disk on a shared machine)")
    print(f"peak RSS while archiving     {rss:7.0f} MiB (target <= 512 MiB)")
    print(f"zip size                     {size / 1e6:7.1f} MB  (target <= 120 MB; {size / 2**20:.1f} MiB), "
          f"{entries} entries: {path.name}")
    unpacked = work / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    t = time.perf_counter()
    with zipfile.ZipFile(path) as zf:
        zf.extractall(unpacked)
    print(f"unzip (Python zipfile)       {time.perf_counter() - t:7.1f} s")
    times = first_results(unpacked, QUERIES)
    print(f"first search result, file:// median {statistics.median(times):.0f} ms, max {max(times):.0f} ms "
          f"(target <= 300 ms; navigation start to first result, {len(times)} queries, fresh context each)")


if __name__ == "__main__":
    main()
