"""Shared fixtures: real files, a real HTTP server on 127.0.0.1, real headless Chromium."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# Same examples on every run (CI must not flake); still hundreds of them per property.
settings.register_profile("codesite", derandomize=True, database=None, deadline=None)  # no timing asserts
settings.load_profile("codesite")

ROOT = Path(__file__).resolve().parent.parent
SITES = Path(__file__).resolve().parent / "sites"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def codesite(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real command line (``python -m generator.cli``) from this checkout."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "generator.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False
    )


def copy_site(src: Path, dst: Path) -> Path:
    """Copy a site's sources (not its build output) into ``dst``."""
    for part in ("content", "layouts", "assets"):
        if (src / part).exists():
            shutil.copytree(src / part, dst / part)
    return dst


@pytest.fixture
def sample_site(tmp_path: Path) -> Path:
    """A private copy of the bundled sample site, so tests may edit and build it."""
    return copy_site(ROOT, tmp_path / "site")


@pytest.fixture(scope="session")
def built_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample site built once per session; returns the output folder (site/, private/)."""
    from generator.build import BuildOptions, build

    site = copy_site(ROOT, tmp_path_factory.mktemp("sample") / "site")
    out = site / "build"
    build(str(site), BuildOptions(out_dir=str(out), quiet=True))
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_dir(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on 127.0.0.1 (a free port); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def static_server(built_sample: Path) -> Iterator[str]:
    """The built sample's public folder served over HTTP."""
    yield from serve_dir(built_sample / "site")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Real headless Chromium (the system's), driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
