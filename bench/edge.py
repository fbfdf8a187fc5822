"""Load on the edge: requests/s and p50/p99 for teaser and full pages, beside a plain static
file server on the same files. Everything runs on 127.0.0.1; each run is bounded in time and count.

    PYTHONPATH=. python bench/edge.py [--seconds 3] [--clients 4] [--site tests/sites/valid-metered]

Both servers are the standard library's (the edge: ``codesite serve``, wsgiref with threads; the
baseline: ``python -m http.server``), one connection per request, each in its own process. The
in-process figures call the WSGI app directly and show the time the edge itself adds.
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# run as a script, this file's folder comes first on sys.path and "edge" would name this file
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
KEY = "bench-signing-key-0123456789abcdef"
from tests.servers import port_of, running, serve_command  # noqa: E402

MAX_REQUESTS = 20_000  # per scenario, whatever the duration


def fetch(port: int, path: str, cookie: str | None) -> tuple[int, bytes, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = conn.getresponse()
        return r.status, r.read(), r.getheader("Set-Cookie")
    finally:
        conn.close()


def load(
    port: int,
    path: str,
    cookie: str | None,
    seconds: float,
    clients: int,
    check: Callable[[bytes], bool],
) -> tuple[float, list[float]]:
    """Closed loop: ``clients`` threads, each sending one request after the other."""
    times: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors: list[str] = []

    def client() -> None:
        mine: list[float] = []
        while time.monotonic() < stop and len(mine) * clients < MAX_REQUESTS:
            t = time.perf_counter()
            status, body, _ = fetch(port, path, cookie)
            mine.append(time.perf_counter() - t)
            if status != 200 or not check(body):
                errors.append(f"{path}: {status}")
                return
        with lock:
            times.extend(mine)

    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(errors[0])
    return len(times) / (time.monotonic() - start), times


def pct(times: list[float], p: float) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[int(p) - 1] * 1000 if len(times) > 1 else 0.0


def in_process(out: Path, site: Path, cookie: str, rounds: int) -> dict[str, list[float]]:
    """Call the WSGI app directly: the time the edge adds, without sockets."""
    from edge.cookies import Keys
    from edge.core import Policy
    from edge.store import SQLiteStore
    from edge.wsgi import EdgeApp
    from generator.load import load_config

    results: dict[str, list[float]] = {}
    with SQLiteStore(str(out / "bench-inproc.sqlite3")) as store:
        app = EdgeApp(
            str(out),
            Policy.from_config(load_config(str(site)).meter, False),
            Keys.of(KEY),
            store,
            store,
        )

        def call(path: str, with_cookie: bool) -> bytes:
            env = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": path,
                "wsgi.input": io.BytesIO(),
                "REMOTE_ADDR": "127.0.0.1",
                **({"HTTP_COOKIE": cookie} if with_cookie else {}),
            }
            return b"".join(app(env, lambda status, headers: None))

        call("/demo/D101/", False)
        for name, path, c in [
            ("static file (css)", "/assets/site.css", False),
            ("teaser", "/demo/D102/", True),
            ("full", "/demo/D101/", True),
        ]:
            ts = []
            for _ in range(rounds):
                t = time.perf_counter()
                call(path, c)
                ts.append(time.perf_counter() - t)
            results[name] = ts
    return results


def run_http(edge_port: int, static_port: int, cookie: str, seconds: float, clients: int) -> None:
    def is_full(b: bytes) -> bool:
        return b"CANARY" in b

    def is_teaser(b: bytes) -> bool:
        return b"CANARY" not in b

    scenarios = [
        ("static server, page file", static_port, "/demo/D102/index.html", None, is_teaser),
        ("edge, teaser (no views left)", edge_port, "/demo/D102/", cookie, is_teaser),
        ("edge, full (code re-opened)", edge_port, "/demo/D101/", cookie, is_full),
        ("static server, css", static_port, "/assets/site.css", None, lambda b: True),
        ("edge, css (unmetered)", edge_port, "/assets/site.css", None, lambda b: True),
    ]
    print(f"\nloopback HTTP, {clients} client(s), {seconds:.0f} s a scenario, a connection a request")
    print(f"{'scenario':32} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'n':>7}")
    p50: dict[str, float] = {}
    for name, port, path, c, check in scenarios:
        rps, times = load(port, path, c, seconds, clients, check)
        p50[name] = pct(times, 50)
        print(f"{name:32} {rps:8.0f} {p50[name]:8.2f} {pct(times, 99):8.2f} {len(times):7d}")
    base = p50["static server, page file"]
    for name in ("edge, teaser (no views left)", "edge, full (code re-opened)"):
        print(f"added at p50 over the static server ({name[6:]}): {p50[name] - base:+.2f} ms")


def noise_probe(rounds: int = 2000) -> list[float]:
    """A fixed pure-Python loop: how much the shared machine stretches a constant amount of work."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        total = 0
        for j in range(2000):
            total += j
        times.append(time.perf_counter() - t)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="per scenario (default 3, at most 30)")
    ap.add_argument("--clients", default="1,4", help="concurrent clients, one run each (default 1,4)")
    ap.add_argument(
        "--site",
        default=str(ROOT / "tests" / "sites" / "valid-metered"),
        help="a site whose demo/D101 and demo/D102 pages are metered",
    )
    args = ap.parse_args()
    seconds = min(args.seconds, 30.0)
    client_counts = [max(1, min(int(n), 32)) for n in args.clients.split(",")]

    with tempfile.TemporaryDirectory(prefix="codesite-bench-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(Path(args.site) / "content", site / "content")
        for part in ("layouts", "assets"):
            shutil.copytree(ROOT / part, site / part)
        out = Path(tmp) / "out"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "CODESITE_EDGE_KEYS": KEY}
        edge_cmd = [*serve_command(str(site), str(out)), "--no-watch"]  # the production app alone
        static_cmd = [
            sys.executable,
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
            str(out / "site"),
        ]
        with running(edge_cmd, "serving http://127.0.0.1", env) as edge_line:
            with running(static_cmd, "Serving HTTP on 127.0.0.1", env) as static_line:
                edge_port, static_port = port_of(edge_line), port_of(static_line)
                _, body, set_cookie = fetch(edge_port, "/demo/D101/", None)
                assert set_cookie and b"CANARY" in body
                cookie = set_cookie.split(";", 1)[0]
                for clients in client_counts:
                    run_http(edge_port, static_port, cookie, seconds, clients)
        print("\nin-process WSGI call (no sockets), 2000 calls each")
        print(f"{'request':32} {'p50 ms':>8} {'p99 ms':>8}")
        results = in_process(out, site, cookie, 2000)
        results["(noise probe: fixed CPU loop)"] = noise_probe()
        for name, times in results.items():
            print(f"{name:32} {pct(times, 50):8.3f} {pct(times, 99):8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
