"""Benchmark: an editor's edits as the dev server builds them, stage by stage, in one process.

Builds SITE into OUT once (as ``codesite serve`` does: the build state kept in a
``state.Memory``, the search state read ahead), then, N times each: a new code (a copy of
S72.001A as S72.001W), its deletion, and a body edit of S72.001A; each build is given the
saved file's stat alone (``watch.known_stats``), as the server's watcher gives it. Prints each
build's wall milliseconds and the stages' (load and check, render, the other pages with the
sitemap, the search stage's client index and whoosh update, the commit), then the medians.
Restores S72.001A and removes S72.001W at the end.

    python bench/edit_stages.py SITE OUT [--runs 5]

SITE is a site with the full set imported (``bench/build_full.py`` or ``bench/serve.py`` make
one); OUT its output folder (a cold build the first time, a no-op after).
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import build as B  # noqa: E402
from generator.publish import Publisher  # noqa: E402
from generator.search import stage  # noqa: E402
from generator.serve import watch  # noqa: E402
from generator.serve.devserver import bound_malloc  # noqa: E402
from generator.state import Memory  # noqa: E402

SOURCE, NEW = "S72.001A", "S72.001W"
STAGES: dict[str, float] = {}


def timed(owner: Any, name: str, label: str) -> None:
    """``owner.name`` adds its wall time to ``STAGES[label]``."""
    f: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(f)
    def g(*a: Any, **k: Any) -> Any:
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            STAGES[label] = STAGES.get(label, 0.0) + time.perf_counter() - t

    setattr(owner, name, g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    for name, label in (("load_and_check", "load"), ("render_codes", "render"), ("render_other_pages", "others")):
        timed(B, name, label)
    timed(stage, "prepare_edit", "client index")
    timed(stage, "update_whoosh", "whoosh")
    timed(Publisher, "commit", "commit")
    bound_malloc()  # as the server runs
    memory = Memory()
    options = B.BuildOptions(out_dir=args.out, quiet=True, memory=memory)

    def build(rel: str | None = None) -> float:
        scanned = None
        if rel is not None:
            assert memory.snapshot is not None
            scanned = watch.known_stats(args.site, memory.snapshot.files, watch.Batch({rel: watch.ChangeKind.CONTENT}))
        STAGES.clear()
        start = time.perf_counter()
        B.build(args.site, B.BuildOptions(out_dir=args.out, quiet=True, memory=memory, prescan=scanned))
        took = time.perf_counter() - start
        memory.flush()  # the server saves the state once the page showed, off the edit's path
        gc.collect(1)
        gc.freeze()
        return took

    print(f"first build (cold, or a no-op): {build():.1f} s", flush=True)
    B.read_ahead(args.site, options)
    codes = Path(args.site) / "content" / "codes" / "icd10cm"
    leaf, new = codes / f"{SOURCE}.md", codes / f"{NEW}.md"
    rel_leaf, rel_new = (str(p.relative_to(args.site)) for p in (leaf, new))
    original = leaf.read_text()
    copy = original.replace(f"code: {SOURCE}\n", f"code: {NEW}\n", 1)
    results: dict[str, list[float]] = {"new code": [], "deletion": [], "body": []}
    per_stage: dict[str, dict[str, list[float]]] = {k: {} for k in results}

    def step(kind: str, rel: str) -> None:
        took = build(rel)
        results[kind].append(took)
        for label, t in STAGES.items():
            per_stage[kind].setdefault(label, []).append(t)
        print(f"{kind:9} {took * 1000:5.0f} ms  " + "  ".join(f"{k} {v * 1000:.0f}" for k, v in STAGES.items()),
              flush=True)

    try:
        for _ in range(args.runs):
            new.write_text(copy)
            step("new code", rel_new)
            new.unlink()
            step("deletion", rel_new)
        for i in range(args.runs):
            leaf.write_text(original.rstrip("\n") + f"\n\nStage bench edit {i} {time.time_ns()}.\n")
            step("body", rel_leaf)
    finally:
        leaf.write_text(original)
        new.unlink(missing_ok=True)
        build(rel_leaf)
    load = os.getloadavg()
    print(f"medians of {args.runs} (load average {load[0]:.2f}, {load[1]:.2f}):")
    for kind, runs in results.items():
        stages = "  ".join(f"{k} {statistics.median(v) * 1000:.0f}" for k, v in per_stage[kind].items())
        spread = f"{min(runs) * 1000:.0f}-{max(runs) * 1000:.0f}"
        print(f"  {kind:9} {statistics.median(runs) * 1000:5.0f} ms ({spread})  {stages}")


if __name__ == "__main__":
    main()
