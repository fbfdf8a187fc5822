"""Search benchmark on the full ICD-10-CM set (98,505 pages): size, bytes, speed, quality.

    PYTHONPATH=. .venv/bin/python bench/search.py [--work DIR] [--fresh] [--no-pagefind]
                                                  [--half dev|test|all]

Builds the full content folder from the CMS tabular (simple-icd-10-cm), with the terms of
vocabulary/icd10cm.yaml in the codes' synonyms as the importer puts them, builds it with our
generator into WORK (default /tmp/codesite-search-bench, reused by later runs; --fresh starts
over), then prints: index build time and peak memory, index sizes, bytes a query downloads
(gzip, measured with the real client in Node), query times in headless Chromium over HTTP and
from file://, and recall on the query set per kind; then the same for Pagefind over the same
pages when pagefind-bin is installed. The query set has two halves: bench/queries-dev.yaml, to
look at while tuning, and bench/queries-test.yaml, scored only at the end (--half; both by
default). The machine is shared: timings are
noisy, sizes and recall are not.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, serve_dir  # noqa: E402  (one browser setup)

CLIENT = ROOT / "tools" / "search.js"
Queries = dict[str, dict[str, list[str]]]


# --- the full site ---------------------------------------------------------------------------


def write_full_site(dst: Path) -> int:
    """The sample's layouts, assets and config, with the whole ICD-10-CM tabular as content."""
    from generator.importers.files import render_file
    from generator.importers.icd10cm import (
        default_code_list,
        default_tabular,
        parse_tabular,
        read_code_list,
    )

    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, dst / part, dirs_exist_ok=True)
    (dst / "content").mkdir(parents=True, exist_ok=True)
    for name in ("site.yaml", "synonyms.yaml"):
        if (ROOT / "content" / name).exists():
            shutil.copy(ROOT / "content" / name, dst / "content" / name)
    # the lay vocabulary goes into the codes' synonyms, as `codesite import icd10cm` puts it
    from generator import vocabulary

    terms = vocabulary.synonyms_by_code(vocabulary.load(str(ROOT), "icd10cm", None))
    (dst / VOCABULARY_STAMP).write_text(vocabulary_digest())
    # The 2026 tabular has codes with a letter second (QA0.0): widen the sample's pattern.
    config = dst / "content" / "site.yaml"
    config.write_text(config.read_text().replace("[A-Z][0-9][0-9A-Z]", "[A-Z][0-9A-Z][0-9A-Z]"))
    folder = dst / "content" / "codes" / "icd10cm"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for e in parse_tabular(default_tabular(), read_code_list(default_code_list())):
        front = {
            "code": e.code,
            "system": "icd10cm",
            "title": e.title,
            "kind": e.kind,
            "parent": e.parent,
            "billable": e.billable,
            "notes": e.notes,
            "seventh_characters": e.seventh_characters,
            "synonyms": terms.get(e.code, []),
        }
        (folder / f"{e.code}.md").write_text(render_file(front), encoding="utf-8")
        n += 1
    return n


VOCABULARY_STAMP = "vocabulary.digest"  # in WORK/site: which vocabulary its content holds


def vocabulary_digest() -> str:
    import hashlib

    return hashlib.blake2b((ROOT / "vocabulary" / "icd10cm.yaml").read_bytes(), digest_size=16).hexdigest()


def prepare(work: Path, fresh: bool, reuse: bool = False) -> tuple[Path, Path]:
    """WORK/site (sources) and WORK/build (our build of them), made once and reused."""
    site, out = work / "site", work / "build"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    if (site / "content" / "codes").exists() and (
        not (site / VOCABULARY_STAMP).exists() or (site / VOCABULARY_STAMP).read_text() != vocabulary_digest()
    ):
        print("the vocabulary changed since WORK/site was written: writing its content again")
        shutil.rmtree(site / "content" / "codes")
    if not (site / "content" / "codes").exists():
        t = time.perf_counter()
        n = write_full_site(site)
        print(f"content: {n} files written in {time.perf_counter() - t:.1f}s")
    # refresh what this branch may have changed since the last run
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part, dirs_exist_ok=True)
    shutil.copy(ROOT / "content" / "synonyms.yaml", site / "content" / "synonyms.yaml")
    if reuse and (out / "site" / "search-index" / "manifest.js").exists():
        return site, out
    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "generator.cli",
            "build",
            "--site",
            str(site),
            "--out",
            str(out),
            "--quiet",
        ],
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    print(f"site build (render + indexes, incremental when reused): {time.perf_counter() - t:.1f}s")
    return site, out


# --- measuring our index ----------------------------------------------------------------------


def index_build_child(site_dir: str, whoosh_dir: str) -> None:
    """Run in a child process so that its peak memory is its own."""
    from generator.load import load_site
    from generator.search import client, engine
    from generator.search.synonyms import load_synonyms

    t0 = time.perf_counter()
    site = load_site(site_dir)
    t1 = time.perf_counter()
    rss_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu = time.process_time()
    prepared = client.prepare(site, load_synonyms(site_dir))
    files = list(client.client_index(site, prepared))
    t2 = time.perf_counter()
    client_cpu = time.process_time() - cpu
    rss_client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    shutil.rmtree(whoosh_dir, ignore_errors=True)
    engine.build_whoosh(prepared.docs, prepared.synonyms, whoosh_dir, whoosh_dir)  # a fresh index, in place
    t3 = time.perf_counter()
    rss_all = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "load_s": t1 - t0,
                "client_s": t2 - t1,
                "client_cpu_s": client_cpu,
                "load": os.getloadavg()[0],
                "whoosh_s": t3 - t2,
                "files": len(files),
                "rss_load_mb": rss_load / 1024,
                "rss_client_mb": rss_client / 1024,
                "rss_all_mb": rss_all / 1024,
            }
        )
    )


def gz(data: bytes) -> int:
    return len(gzip.compress(data, 6))


def folder_size(d: Path, compress: bool = False) -> int:
    return sum(
        (gz(f.read_bytes()) if compress else f.stat().st_size) for f in d.rglob("*") if f.is_file()
    )


def node_batch(public: Path, queries: list[str], cold: bool = False) -> list[dict[str, Any]]:
    """Each query through the real client; one engine for all (a tab), or one each (cold)."""
    if cold:
        return [r for q in queries for r in node_batch(public, [q])]
    lines = "".join(json.dumps({"q": q}) + "\n" for q in queries)
    out = subprocess.run(
        ["node", str(CLIENT), str(public), "--batch", "--limit", "10"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
    )
    return [json.loads(x) for x in out.stdout.splitlines()]


HALVES = ("dev", "test")


def queries_path(half: str) -> Path:
    return ROOT / "bench" / f"queries-{half}.yaml"


def load_queries(half: str = "all") -> Queries:
    """One half of the query set (``dev`` or ``test``), or both (``all``), by kind."""
    out: Queries = {}
    for h in HALVES if half == "all" else (half,):
        with open(queries_path(h), encoding="utf-8") as f:
            data = yaml.safe_load(f)
        for kind, qs in data.items():
            out.setdefault(kind, {}).update(
                {str(q): [str(c) for c in exp] for q, exp in qs.items()}
            )
    return out


def norm(code: str) -> str:
    return code.upper().replace(".", "")


def hit(code: str, expected: list[str]) -> bool:
    return any(norm(code).startswith(norm(e)) for e in expected)


def quality(queries: Queries, answer: Callable[[str], list[str]]) -> dict[str, dict[str, float]]:
    """Per kind: recall@10 (an expected code or one below it in the top 10) and found@1."""
    out: dict[str, dict[str, float]] = {}
    misses: list[str] = []
    for kind, qs in queries.items():
        r10 = at1 = 0
        for q, expected in qs.items():
            got = answer(q)[:10]
            ok10 = any(hit(c, expected) for c in got)
            if kind == "code":
                ok1 = bool(got) and norm(got[0]) == norm(expected[0])
            elif kind == "prefix":
                ok1 = (
                    bool(got)
                    and norm(got[0]) == norm(expected[0])
                    and all(hit(c, expected) for c in got)
                )
            else:
                ok1 = bool(got) and hit(got[0], expected)
            r10 += ok10
            at1 += ok1
            if not ok10:
                misses.append(f"{kind}:{q}")
        out[kind] = {"n": len(qs), "recall10": r10 / len(qs), "at1": at1 / len(qs)}
    total = sum(v["n"] for v in out.values())
    out["all"] = {
        "n": total,
        "recall10": sum(v["recall10"] * v["n"] for v in out.values()) / total,
        "at1": sum(v["at1"] * v["n"] for v in out.values()) / total,
    }
    out["_misses"] = misses  # type: ignore[assignment]
    return out


def print_quality(label: str, q: dict[str, Any]) -> None:
    print(f"  {label}:")
    for kind, v in q.items():
        if kind != "_misses":
            print(
                f"    {kind:<12} n={v['n']:<4} recall@10 {v['recall10']:6.1%}"
                f"   found@1 {v['at1']:6.1%}"
            )
    if q["_misses"]:
        print(f"    not in the top 10: {', '.join(q['_misses'])}")


# --- the browser ---------------------------------------------------------------------------


serve = contextlib.contextmanager(serve_dir)


TIME_QUERY = """async (q) => {
  const t = performance.now();
  const r = await window.codesiteSearch.engine.search(q, {limit: 10});
  return [performance.now() - t, r.results.length];
}"""


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def browser_figures(public: Path, queries: list[str]) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with sync_playwright() as p, serve(public) as base:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = b.new_page()
        page.goto(base + "/search/")
        page.wait_for_function("window.codesiteSearch && window.codesiteSearch.engine")
        first = [page.evaluate(TIME_QUERY, q)[0] for q in queries]  # shards fetched over HTTP
        warm = [page.evaluate(TIME_QUERY, q)[0] for q in queries for _ in range(2)][1::2]
        out["http_first_p50"], out["http_first_p95"] = pct(first, 50), pct(first, 95)
        out["warm_p50"], out["warm_p95"] = pct(warm, 50), pct(warm, 95)
        page.close()
        cold: list[float] = []
        for q in queries[:: max(1, len(queries) // 15)]:
            ctx = b.new_context()
            page = ctx.new_page()
            url = (public / "search" / "index.html").as_uri() + "?q=" + q.replace(" ", "%20")
            page.goto(url)
            page.locator("[data-search-results] li").first.wait_for()
            cold.append(page.evaluate("window.codesiteSearch.resultsAt"))
            ctx.close()
        out["file_cold_p50"], out["file_cold_max"] = pct(cold, 50), max(cold)
        out["file_cold_n"] = len(cold)
        b.close()
    return out


# --- Pagefind ------------------------------------------------------------------------------


PAGEFIND_QUERY = """async (q) => {
  if (!window.__pf) {
    window.__pf = await import('/pagefind/pagefind.js');
    await window.__pf.init();
  }
  const t = performance.now();
  const s = await window.__pf.search(q);
  const data = await Promise.all(s.results.slice(0, 10).map(r => r.data()));
  return [performance.now() - t, data.map(d => d.url)];
}"""


def pagefind_binary() -> str | None:
    try:
        import pagefind_bin  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = Path(pagefind_bin.__file__).parent / "pagefind"
    return str(path) if path.exists() else None


def url_code(url: str) -> str:
    parts = [p for p in url.split("/") if p and p != "index.html"]
    return parts[-1] if parts else ""


def pagefind_figures(binary: str, public: Path, queries: Queries) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    out_dir = public / "pagefind"
    shutil.rmtree(out_dir, ignore_errors=True)
    t = time.perf_counter()
    run = subprocess.run(
        ["/usr/bin/time", "-f", "%M", binary, "--site", str(public)],
        capture_output=True,
        text=True,
        check=True,
    )
    res: dict[str, Any] = {
        "build_s": time.perf_counter() - t,
        "peak_mb": int(run.stderr.strip().splitlines()[-1]) / 1024,
        "size": folder_size(out_dir),
    }
    flat = [q for qs in queries.values() for q in qs]
    answers: dict[str, list[str]] = {}
    per_query: list[int] = []
    with sync_playwright() as p, serve(public) as base:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        page = b.new_page()
        responses: list[Any] = []
        page.on("response", lambda r: responses.append(r) if "/pagefind/" in r.url else None)
        page.goto(base + "/404.html")
        times = []
        for i, q in enumerate(flat):
            ms, urls = page.evaluate(PAGEFIND_QUERY, q)
            answers[q] = [url_code(u) for u in urls]
            loaded = sum(len(r.body()) for r in responses)  # its files are gzipped already
            responses.clear()
            if i == 0:
                res["cold_bytes"] = loaded
            else:
                per_query.append(loaded)
                times.append(ms)
        res["further_median"] = statistics.median(per_query)
        res["warm_p95"] = pct(times, 95)
        b.close()
    res["quality"] = quality(queries, lambda q: answers[q])
    shutil.rmtree(out_dir, ignore_errors=True)
    return res


# --- the report ------------------------------------------------------------------------------


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/codesite-search-bench", type=Path)
    ap.add_argument("--fresh", action="store_true", help="regenerate content and build")
    ap.add_argument("--reuse", action="store_true", help="use WORK/build as it is, no rebuild")
    ap.add_argument("--no-pagefind", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument(
        "--half",
        choices=(*HALVES, "all"),
        default="all",
        help="the query set's half to score: dev (tune on it), test (score at the end), all",
    )
    ap.add_argument("--index-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.index_child:
        index_build_child(*args.index_child)
        return 0

    site, out = prepare(args.work, args.fresh, args.reuse)
    public = out / "site"
    queries = load_queries(args.half)
    flat = [q for qs in queries.values() for q in qs]

    child = subprocess.run(
        [sys.executable, __file__, "--index-child", str(site), str(args.work / "whoosh-bench")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    ib = json.loads(child.stdout.strip().splitlines()[-1])
    index_dir = public / "search-index"
    n_files = sum(1 for f in index_dir.rglob("*") if f.is_file())
    client_js = (public / "assets" / "search.js").read_bytes()
    manifest = (index_dir / "manifest.js").read_bytes()

    cold = node_batch(public, flat, cold=True)
    tab = node_batch(public, flat)
    cold_bytes = [gz(client_js) + r["loaded"]["gzip"] for r in cold]
    further = [r["loaded"]["gzip"] for r in tab[1:]]
    ours = quality(queries, {r["q"]: r["codes"] for r in tab}.__getitem__)

    from generator.search.engine import Searcher

    whoosh_dir = str(args.work / "whoosh-bench")
    searcher = Searcher(whoosh_dir)
    whoosh_answers = {q: [r["code"] for r in searcher.query(q, 10)] for q in flat}
    theirs = quality(queries, whoosh_answers.__getitem__)
    overlap = statistics.mean(
        len(set(r["codes"]) & set(whoosh_answers[r["q"]]))
        / max(1, len(r["codes"]), len(whoosh_answers[r["q"]]))
        for r in tab
    )

    print()
    print(f"== codesite search, {ib['files']} index files for the full ICD-10-CM set ==")
    print(
        f"index build: client {ib['client_s']:.1f}s ({ib['client_cpu_s']:.1f}s CPU), whoosh "
        f"{ib['whoosh_s']:.1f}s (after loading the site in {ib['load_s']:.1f}s; load average "
        f"{ib['load']:.1f})"
    )
    print(
        f"peak memory (RSS): {ib['rss_load_mb']:.0f} MB after loading, "
        f"{ib['rss_client_mb']:.0f} MB "
        f"after the client index, {ib['rss_all_mb']:.0f} MB after whoosh"
    )
    print(
        f"client index: {n_files} files, {folder_size(index_dir) / 2**20:.1f} MB "
        f"({folder_size(index_dir, True) / 2**20:.1f} MB gzip); whoosh: "
        f"{folder_size(Path(whoosh_dir)) / 2**20:.1f} MB"
    )
    print(
        f"manifest: {kb(len(manifest))} ({kb(gz(manifest))} gzip); client search.js: "
        f"{kb(len(client_js))} ({kb(gz(client_js))} gzip)"
    )
    print(
        f"cold first query, gzip, client included ({len(cold)} queries): median "
        f"{kb(statistics.median(cold_bytes))}, max {kb(max(cold_bytes))}"
    )
    print(
        f"further queries in one tab, gzip: median {kb(statistics.median(further))}, "
        f"p90 {kb(pct(further, 90))}"
    )
    print(
        f"Node client time per query (one engine): median "
        f"{statistics.median(r['ms'] for r in tab):.1f} ms"
    )
    if not args.no_browser:
        br = browser_figures(public, flat)
        print(
            f"headless Chromium over HTTP: first run p50 {br['http_first_p50']:.1f} ms, "
            f"p95 {br['http_first_p95']:.1f} ms; warm p50 {br['warm_p50']:.1f} ms, "
            f"p95 {br['warm_p95']:.1f} ms"
        )
        print(
            f"cold from file:// (navigation start to first result, {br['file_cold_n']:.0f} "
            f"queries): median {br['file_cold_p50']:.0f} ms, max {br['file_cold_max']:.0f} ms"
        )
    half = "both halves" if args.half == "all" else f"the {args.half} half"
    print(f"quality on {len(flat)} queries ({half} of the query set):")
    print_quality("client (assets/search.js)", ours)
    print_quality("whoosh (codesite search)", theirs)
    print(f"  whoosh vs client top-10 overlap: {overlap:.0%}")

    binary = None if args.no_pagefind else pagefind_binary()
    if binary:
        pf = pagefind_figures(binary, public, queries)
        print()
        print("== Pagefind over the same pages ==")
        print(
            f"index build {pf['build_s']:.1f}s, peak {pf['peak_mb']:.0f} MB, size "
            f"{pf['size'] / 2**20:.1f} MB"
        )
        print(
            f"cold first query {kb(pf['cold_bytes'])}; further queries median "
            f"{kb(pf['further_median'])}; warm p95 {pf['warm_p95']:.1f} ms (not file://)"
        )
        print_quality("pagefind", pf["quality"])
    elif not args.no_pagefind:
        print("\n(Pagefind skipped: pip install pagefind-bin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
