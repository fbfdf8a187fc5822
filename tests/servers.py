"""Servers as subprocesses, for tests and benchmarks: start a command, wait for the line that
names its address, stop it after."""

from __future__ import annotations

import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

STOP_WAIT = 30  # seconds a server has to exit after SIGTERM


@contextmanager
def running(
    cmd: list[str], ready: str, env: dict[str, str], timeout: float = 60, log: list[str] | None = None
) -> Iterator[str]:
    """Run a server command in a subprocess; yield the first output line containing ``ready``
    (it names the address), then stop the process. For tests and benchmarks. ``log``: gets
    every output line, as it comes."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for x in proc.stdout or ():
            lines.put(x)
            if log is not None:
                log.append(x)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if ready in line:
                yield line
                return
        raise RuntimeError(f"{' '.join(cmd[:4])} did not start:\n{''.join(seen)}")
    finally:
        proc.terminate()
        try:  # a second is the norm; a machine whose CPU is stolen by other guests takes longer
            proc.wait(timeout=STOP_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"{' '.join(cmd[:4])} did not stop within {STOP_WAIT} s of SIGTERM") from None
        finally:
            reader.join(timeout=5)
        if proc.stdout:
            proc.stdout.close()


def serve_command(site: str, out: str, port: int = 0) -> list[str]:
    """``codesite serve`` on 127.0.0.1 with this interpreter."""
    return [
        sys.executable,
        "-m",
        "generator.cli",
        "serve",
        "--site",
        site,
        "--out",
        out,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--quiet",
    ]


def port_of(line: str) -> int:
    """The port in "serving http://127.0.0.1:PORT/" or "... port PORT (http://...)"."""
    m = re.search(r"127\.0\.0\.1:(\d+)|port (\d+)", line)
    if m is None:
        raise ValueError(line)
    return int(m.group(1) or m.group(2))
