"""Benchmark: the dev server's memory over layout changes in a row, on a site you give it.

Starts ``codesite serve`` on SITE (a site with the full set imported: ``bench/build_full.py
--work DIR`` or ``bench/serve.py --work DIR`` make one, in DIR/site), waits until it serves,
then changes ``layouts/base.html`` N times (a comment added, then taken away: every page is
rendered again each time), waiting for each rebuild. For each change it prints the rebuild's
time, the peak PSS of the server and its children together (its render workers; each page of
memory they share counted once; sampled as ``bench/serve.py`` does) and the server's own PSS
and RSS 4 s after the rebuild. The layout is restored and the server stopped with Ctrl-C at the end.

    python bench/layout_memory.py SITE [--changes 4] [--checkout DIR]

``--checkout``: the codesite checkout to run (default: this one), to compare two commits side
by side on the same site.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from build_full import codesite, env  # noqa: E402
from serve import field_kib, start_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site")
    parser.add_argument("--changes", type=int, default=4)
    parser.add_argument("--checkout", default=str(ROOT), help="the codesite checkout to run")
    args = parser.parse_args()
    site, checkout = os.path.abspath(args.site), os.path.abspath(args.checkout)
    layout = os.path.join(site, "layouts", "base.html")
    with open(layout) as f:
        original = f.read()
    cmd = codesite("serve", "--site", site, "--port", "0", "--quiet")
    # run from the checkout: ``-m`` puts the working folder first on the module path
    proc, memory, log, _ = start_server(cmd, "serving http://", env(Path(checkout)), cwd=checkout)

    def mib(name: str) -> float:
        return field_kib(f"/proc/{proc.pid}/smaps_rollup", name) / 1024

    try:
        time.sleep(3)
        print(f"serving: server PSS {mib('Pss'):.0f} MiB, RSS {mib('Rss'):.0f} MiB", flush=True)
        for n in range(1, args.changes + 1):
            memory.pss = memory.rss = 0  # this change's peak
            since = len(log)
            with open(layout, "w") as f:
                f.write(original if n % 2 == 0 else original + f"\n<!-- layout change {n} -->\n")
            while not (rebuilt := [line for line in log[since:] if "rebuilt in" in line]):
                if proc.poll() is not None:
                    sys.exit("the server stopped:\n" + "".join(log[-20:]))
                time.sleep(0.1)
            time.sleep(4)
            took = rebuilt[0].split("rebuilt in ")[1].split(",")[0]
            print(
                f"layout change {n}: rebuilt in {took}; peak PSS, server and workers {memory.pss / 1024:.0f} MiB; "
                f"then the server PSS {mib('Pss'):.0f} MiB, RSS {mib('Rss'):.0f} MiB",
                flush=True,
            )
    finally:
        with open(layout, "w") as f:
            f.write(original)
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        memory.done()
    return 0


if __name__ == "__main__":
    sys.exit(main())
