"""Benchmark: the full ICD-10-CM 2026 release (98,505 entries), imported and built.

Imports the set into a temporary site (the sample's site.yaml, layouts and assets), then, each
in a fresh process: a cold build, a no-op rebuild, a one-file edit (body), and a public edit
(a category's title, which its child list and every descendant's breadcrumbs show). With
``hugo`` on PATH, also builds the same entries with a minimal Hugo site, alternating runs with
ours. Prints one line per figure: wall seconds, pages/s, peak RSS (MiB, of the largest
process of the build), files written; with ``--runs N``, medians of N runs, then each run's
wall seconds and its CPU/system seconds (the system part swings by a fifth between runs).

    python bench/build_full.py [--runs 3] [--work DIR] [--no-hugo]
    python bench/build_full.py --against OLD_CHECKOUT [--runs 3]   # old code vs this, alternating

With ``--against``, the same builds run with another checkout of codesite (e.g. a git worktree
of an older commit) alternating with this one, on the same imported site, and the ratios
new/old of the medians are printed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"(\d+) written, (\d+) unchanged, (\d+) removed")
EDIT_BODY = "content/codes/icd10cm/S72.001A.md"
EDIT_TITLE = "content/codes/icd10cm/S73.0.md"

HUGO_CONFIG = """baseURL = "https://codes.example.org/"
title = "codesite"
disableKinds = ["taxonomy", "term"]
[markup.goldmark.renderer]
unsafe = false
"""
HUGO_SINGLE = """<!doctype html><html><head><title>{{ .Title }}</title></head><body>
<nav>{{ with .Parent }}<a href="{{ .RelPermalink }}">{{ .Title }}</a>{{ end }}</nav>
<h1>{{ .Params.code }} {{ .Title }}</h1>
<p>{{ if .Params.billable }}Billable{{ else }}Not billable{{ end }}</p>
{{ .Content }}
{{ with .Params.notes }}{{ range $k, $v := . }}<h3>{{ $k }}</h3>
<ul>{{ range $v }}<li>{{ . }}</li>{{ end }}</ul>{{ end }}{{ end }}
{{ with .Params.seventh_characters }}<table>{{ range $k, $v := . }}
<tr><td>{{ $k }}</td><td>{{ $v }}</td></tr>{{ end }}</table>{{ end }}
</body></html>
"""
HUGO_LIST = """<!doctype html><html><head><title>{{ .Title }}</title></head>
<body><h1>{{ .Title }}</h1></body></html>
"""


@dataclass
class Run:
    wall: float
    user: float  # CPU seconds of the process and the workers it waited for, in our code
    system: float  # ... and in the kernel on its behalf (files made: see ``INODES_RECENT``)
    rss_mib: float
    written: int | None
    out: str

    @property
    def cpu(self) -> float:
        return self.user + self.system


def env(root: Path = ROOT) -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(root) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("CI", None)
    e.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules from bytecode, not compiled each run
    return e


def run(cmd: list[str], cwd: Path | None = None, root: Path = ROOT) -> Run:
    """Run a command in a fresh process; wall time, and its peak RSS from wait4 (the largest
    of the process and the workers it waited for)."""
    start = time.perf_counter()
    p = subprocess.Popen(
        cmd, cwd=cwd or root, env=env(root), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = p.stdout.read() if p.stdout else ""
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - start
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{out}")
    m = SUMMARY.search(out)
    return Run(wall, usage.ru_utime, usage.ru_stime, usage.ru_maxrss / 1024, int(m.group(1)) if m else None, out)


def codesite(*args: str) -> list[str]:
    return [sys.executable, "-m", "generator.cli", *args]


def line(name: str, runs: list[Run], pages: int) -> str:
    wall = statistics.median(r.wall for r in runs)
    rss = statistics.median(r.rss_mib for r in runs)
    written = [r.written for r in runs if r.written is not None]
    w = f"{int(statistics.median(written)):>6} files written" if written else ""
    all_walls = " ".join(f"{r.wall:.2f}" for r in runs)
    all_cpu = " ".join(f"{r.cpu:.2f}/{r.system:.2f}" for r in runs)
    return (
        f"{name:<28} {wall:7.2f} s  {pages / wall:9.0f} pages/s  {rss:6.0f} MiB peak RSS  {w}"
        f"  (runs: {all_walls}; CPU/system: {all_cpu})"
    )


def edit(site: Path, rel: str, old: str, new: str) -> None:
    """The file replaced, not written into (see ``layout``)."""
    path = site / rel
    text = path.read_text()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text.replace(old, new, 1) if old else text.rstrip("\n") + new)
    os.replace(tmp, path)


def hugo_site(site: Path, work: Path) -> Path:
    """The same entries as a minimal Hugo site: each content file as it is, a plain template."""
    h = work / "hugo"
    if (h / "content").exists():
        return h
    (h / "layouts" / "_default").mkdir(parents=True)
    (h / "config.toml").write_text(HUGO_CONFIG)
    (h / "layouts" / "_default" / "single.html").write_text(HUGO_SINGLE)
    (h / "layouts" / "_default" / "list.html").write_text(HUGO_LIST)
    (h / "layouts" / "index.html").write_text(HUGO_LIST)
    shutil.copytree(site / "content" / "codes", h / "content")
    return h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs of each build (medians are printed)")
    ap.add_argument("--work", help="work folder (kept; default: a temporary one, removed)")
    ap.add_argument("--no-hugo", action="store_true", help="skip the Hugo comparison")
    ap.add_argument("--against", metavar="CHECKOUT", help="another codesite checkout to compare with, alternating")
    args = ap.parse_args()
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="codesite-bench-"))
    try:
        if args.against:
            compare(work, args.runs, Path(args.against).resolve())
        else:
            bench(work, args.runs, not args.no_hugo and shutil.which("hugo") is not None)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


def imported_site(work: Path, root: Path = ROOT, name: str = "site") -> Path:
    """The full set imported by the checkout at ``root`` (its own importer, site.yaml, layouts
    and assets: content written by one version's importer need not load in another's)."""
    site = work / name
    imported = (site / "content" / "codes").exists()
    (site / "content").mkdir(parents=True, exist_ok=True)
    layout(site, root)
    if not imported:
        imp = run(codesite("import", "icd10cm", "--site", str(site)), root=root)
        print(line("import (98,505 files)", [imp], 98_505), "|", imp.out.strip().splitlines()[-1])
    return site


def layout(site: Path, root: Path) -> None:
    """The checkout's site.yaml, layouts and assets in the site, afresh each time (a site imported
    before keeps its content, not the templates it was imported with). Removed first, never
    written into: a copy of a site made with hard links (``cp -al``) shares its files."""
    config = site / "content" / "site.yaml"
    config.unlink(missing_ok=True)
    shutil.copy(root / "content" / "site.yaml", config)
    for part in ("layouts", "assets"):
        shutil.rmtree(site / part, ignore_errors=True)
        shutil.copytree(root / part, site / part)


STEPS = ("cold build", "no-op rebuild", "one-file edit (body)", "with search: cold build",
         "with search: no-op rebuild", "with search: one-file edit (body)")


# seconds: ext4 without a journal skips inodes freed in the last 60, or 360 while their inode table
# block is dirty (RECENTCY_MIN and RECENTCY_DIRTY in fs/ext4/ialloc.c; see below)
INODES_RECENT = 365


def compare(work: Path, runs: int, old_root: Path) -> None:
    """This checkout and ``old_root`` alternating, each on the full set as its own importer
    writes it, each cold build into a fresh folder, three body edits per round, each build
    timed once the disk has written back what came before. Each build of one checkout is
    followed by the same build of the other (which goes first alternates by round): this
    machine's speed swings over minutes (a run's CPU time by up to a fifth), and a round of one
    checkout's ten builds, then the other's, put a minute and a half between the two builds
    compared. Wall, user and system CPU medians, and their ratios.

    The last bench's folders are removed before the first round, and the rounds wait
    ``INODES_RECENT`` seconds after it: ext4 without a journal, as here, skips inodes freed in
    the last minute when it makes a file (``recently_deleted`` in the kernel, reading each
    one's inode block), and in the last six while that block is dirty, as the new files made
    in the same block make it. So a cold build that comes right after 400k files were removed
    spent twice the system time of one that did not (perf: 8% of its samples there, 70% after
    800k), whichever code it ran, and the first rounds of a bench that waited only the minute
    paid part of that. Each round's folders stay until the end for that reason."""
    sites = {"old": imported_site(work, old_root, "site-old"), "new": imported_site(work)}
    roots = {"old": old_root, "new": ROOT}
    pages = sum(1 for _ in (sites["new"] / "content" / "codes" / "icd10cm").glob("*.md"))
    for root in roots.values():  # both from bytecode, as an installed package runs
        subprocess.run([sys.executable, "-m", "compileall", "-q", "generator", "edge"], cwd=root, check=True)
    stale = list(work.glob("out-*"))
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    os.sync()
    if stale:
        print(f"waiting {INODES_RECENT} s after removing the last bench's {len(stale)} folders", flush=True)
        time.sleep(INODES_RECENT)
    results: dict[tuple[str, str], list[Run]] = {}
    builds = (("cold build", False), ("no-op rebuild", False), *[("one-file edit (body)", True)] * 3)
    for i in range(runs):
        order = ("old", "new") if i % 2 == 0 else ("new", "old")
        for step, extra in (("", ("--no-search",)), ("with search: ", ())):
            outs = {name: work / f"out-{name}-{i}-{'plain' if extra else 'full'}" for name in order}
            # each build of the two checkouts back to back: the machine's swings hit both
            for kind, edited in builds:
                for name in order:
                    if edited:
                        edit(sites[name], EDIT_BODY, "", f"\n\nBench edit {time.time()}.\n")
                    os.sync()  # what came before written back before the build is timed
                    cmd = codesite("build", "--site", str(sites[name]), "--out", str(outs[name]), *extra)
                    results.setdefault((name, f"{step}{kind}"), []).append(run(cmd, root=roots[name]))
    for step in STEPS:
        old, new = results[("old", step)], results[("new", step)]
        med = {k: [statistics.median(getattr(r, k) for r in rs) for rs in (old, new)]
               for k in ("wall", "cpu", "user", "system")}
        print(line(f"old: {step}", old, pages), f" CPU {med['cpu'][0]:.2f} s (user {med['user'][0]:.2f},"
              f" system {med['system'][0]:.2f})")
        print(line(f"new: {step}", new, pages), f" CPU {med['cpu'][1]:.2f} s (user {med['user'][1]:.2f},"
              f" system {med['system'][1]:.2f})  ratio new/old: " + ", ".join(
                  f"{k} {b / a:.2f}" for k, (a, b) in med.items()))


def bench(work: Path, runs: int, with_hugo: bool) -> None:
    site = imported_site(work)
    pages = sum(1 for _ in (site / "content" / "codes" / "icd10cm").glob("*.md"))
    out = work / "out"
    # pages only (the targets), then the whole site with both search indexes
    build = codesite("build", "--site", str(site), "--out", str(out), "--no-search")
    full = codesite("build", "--site", str(site), "--out", str(out))
    hugo = hugo_site(site, work) if with_hugo else None
    cold, noop, body, title, hugo_runs = [], [], [], [], []
    s_cold, s_noop, s_body = [], [], []
    for i in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        cold.append(run(build))
        noop.append(run(build))
        edit(site, EDIT_BODY, "", f"\n\nBench edit {time.time()}.\n")
        body.append(run(build))
        edit(site, EDIT_TITLE, "title: ", f"title: Edit {i} ")
        title.append(run(build))
        shutil.rmtree(out, ignore_errors=True)
        s_cold.append(run(full))
        s_noop.append(run(full))
        edit(site, EDIT_BODY, "", f"\n\nBench edit {time.time()}.\n")
        s_body.append(run(full))
        if hugo is not None:
            shutil.rmtree(hugo / "public", ignore_errors=True)
            shutil.rmtree(hugo / "resources", ignore_errors=True)
            hugo_runs.append(run(["hugo", "--quiet", "-d", str(hugo / "public")], cwd=hugo))
    print(line("cold build", cold, pages))
    print(line("no-op rebuild", noop, pages))
    print(line("one-file edit (body)", body, pages))
    print(line("one-file edit (title S73.0)", title, pages))
    print(line("with search: cold build", s_cold, pages))
    print(line("with search: no-op rebuild", s_noop, pages))
    print(line("with search: one-file edit (body)", s_body, pages))
    if hugo_runs:
        print(line("hugo cold build", hugo_runs, pages))
        ours = statistics.median(r.wall for r in cold)
        theirs = statistics.median(r.wall for r in hugo_runs)
        print(f"ratio ours/hugo (cold, medians): {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
