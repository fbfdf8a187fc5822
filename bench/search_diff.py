"""Where the two engines part: the queries of one half on which the client (assets/search.js)
and whoosh (codesite search) disagree, on an index ``bench/search.py`` built.

    PYTHONPATH=. .venv/bin/python bench/search_diff.py [--work DIR] [--half dev]

Lists the queries whose expected code one engine has in its top 10 and the other not, those
whose first results differ in being right, then the top-10 overlap and how many top-10 lists
are identical. Tune on the development half only: the test half is scored once, at the end.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.search import HALVES, hit, load_queries, node_batch  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/codesite-search-bench", type=Path)
    ap.add_argument("--half", choices=HALVES, default="dev")
    ap.add_argument("--all", action="store_true", help="print every query whose top 10 differ")
    args = ap.parse_args()
    from generator.search.engine import Searcher

    queries = load_queries(args.half)
    flat = [(kind, q, exp) for kind, qs in queries.items() for q, exp in qs.items()]
    client = {r["q"]: r["codes"] for r in node_batch(args.work / "build" / "site", [q for _, q, _ in flat])}
    searcher = Searcher(str(args.work / "whoosh-bench"))
    same = 0
    overlap = 0.0
    for kind, q, expected in flat:
        mine = client[q][:10]
        theirs = [r["code"] for r in searcher.query(q, 10)]
        same += mine == theirs
        overlap += len(set(mine) & set(theirs)) / max(1, len(mine), len(theirs))
        in_mine, in_theirs = any(hit(c, expected) for c in mine), any(hit(c, expected) for c in theirs)
        first_mine, first_theirs = bool(mine) and hit(mine[0], expected), bool(theirs) and hit(theirs[0], expected)
        if in_mine != in_theirs:
            print(f"top 10  {kind}:{q}: client {'has' if in_mine else 'misses'} {expected}, whoosh "
                  f"{'has' if in_theirs else 'misses'}\n    client {mine}\n    whoosh {theirs}")
        elif first_mine != first_theirs:
            print(f"first   {kind}:{q}: client {mine[:3]}, whoosh {theirs[:3]} (expected {expected})")
        elif args.all and mine != theirs:
            print(f"differ  {kind}:{q}:\n    client {mine}\n    whoosh {theirs}")
    print(f"{len(flat)} queries ({args.half} half): identical top 10 for {same}, "
          f"mean top-10 overlap {overlap / len(flat):.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
