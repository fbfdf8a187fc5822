"""Benchmark: the dev server's memory over layout changes in a row, on a site you give it.

Starts ``codesite serve`` on SITE (a site with the full set imported: ``bench/build_full.py
--work DIR`` or ``bench/serve.py --work DIR`` make one, in DIR/site), waits until it serves,
then changes ``layouts/base.html`` N times (a comment added, then taken away: every page is
rendered again each time), waiting for each rebuild. For each change it prints the rebuild's
time, the peak PSS of the server and its children together (its render workers; sampled every
0.1 s: each page of memory they share counted once) and the server's own PSS and RSS 4 s after
the rebuild. The layout is restored and the server stopped with Ctrl-C at the end.

    python bench/layout_memory.py SITE [--changes 4] [--checkout DIR] [--port 8767]

``--checkout``: the codesite checkout to run (default: this one), to compare two commits side
by side on the same site.
"""

from __future__ import annotations

import argparse
import glob
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    found = [pid]
    for tasks in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            with open(tasks) as f:
                for child in f.read().split():
                    found += tree(int(child))
        except OSError:
            pass
    return found


def mib(pid: int, field: str) -> float:
    """A field of ``/proc/PID/smaps_rollup`` (Pss, Rss), in MiB; 0 for a process gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("site")
    parser.add_argument("--changes", type=int, default=4)
    parser.add_argument("--checkout", default=str(ROOT), help="the codesite checkout to run")
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    site, checkout = os.path.abspath(args.site), os.path.abspath(args.checkout)
    env = dict(os.environ, PYTHONPATH=checkout)
    command = [sys.executable, "-m", "generator.cli", "serve", "--site", site, "--port", str(args.port)]
    server = subprocess.Popen(
        command, cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:
            lines.append(line.rstrip())

    def wait_for(text: str, since: int) -> str:
        while True:
            for line in lines[since:]:
                if text in line:
                    return line
            if server.poll() is not None:
                sys.exit("the server stopped:\n" + "\n".join(lines[-20:]))
            time.sleep(0.1)

    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(mib(p, "Pss") for p in tree(server.pid)))
            time.sleep(0.1)

    threading.Thread(target=read, daemon=True).start()
    layout = os.path.join(site, "layouts", "base.html")
    with open(layout) as f:
        original = f.read()
    try:
        wait_for("serving", 0)
        time.sleep(3)
        threading.Thread(target=sample, daemon=True).start()
        print(f"serving: server PSS {mib(server.pid, 'Pss'):.0f} MiB, RSS {mib(server.pid, 'Rss'):.0f} MiB", flush=True)
        for n in range(1, args.changes + 1):
            peak[0] = 0.0
            since = len(lines)
            with open(layout, "w") as f:
                f.write(original if n % 2 == 0 else original + f"\n<!-- layout change {n} -->\n")
            rebuilt = wait_for("rebuilt in", since)
            time.sleep(4)
            took = rebuilt.split("rebuilt in ")[1].split(",")[0]
            print(
                f"layout change {n}: rebuilt in {took}; peak PSS, server and workers {peak[0]:.0f} MiB; "
                f"then the server PSS {mib(server.pid, 'Pss'):.0f} MiB, RSS {mib(server.pid, 'Rss'):.0f} MiB",
                flush=True,
            )
    finally:
        done.set()
        with open(layout, "w") as f:
            f.write(original)
        time.sleep(2)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
