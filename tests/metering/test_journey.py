"""The whole journey in real headless Chromium against `codesite serve` run as a subprocess."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CANARY, GATE_TEXT, KEY, ROOT, metered_source


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    src = metered_source(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODESITE_EDGE_KEYS": KEY}
    cmd = [
        sys.executable,
        "-m",
        "generator.cli",
        "serve",
        "--site",
        str(src),
        "--out",
        str(tmp_path / "out"),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        url, seen, deadline = None, [], time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if proc.poll() is not None:
                    break
                continue
            seen.append(line)
            if line.startswith("serving "):
                url = line.split()[1].rstrip("/")
        assert url, "".join(seen)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        reader.join(timeout=5)
        proc.stdout.close()


def open_code(page: Any, base: str, code: str) -> tuple[bool, str]:
    page.goto(f"{base}/demo/{code}/")
    gated = page.locator("#coding-tips").inner_text()
    return CANARY in gated, page.locator("#meter-banner").inner_text()


def test_journey_guest_register_logout(browser: Any, served: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        full, banner = open_code(page, served, "D101")
        assert full and "0 code page views remaining" in banner
        full, _ = open_code(page, served, "D102")
        assert not full and GATE_TEXT in page.locator("#coding-tips").inner_text()
        assert open_code(page, served, "D101")[0]

        page.get_by_role("link", name="Register free account").first.click()
        page.fill("input[name=email]", "journey@example.org")
        page.fill("input[name=password]", "a long enough password")
        page.get_by_role("button", name="Register").click()
        page.wait_for_url(f"{served}/")

        for i, code in enumerate(["D102", "D103", "D104", "D105", "D106"]):
            full, banner = open_code(page, served, code)
            assert full, code
            assert f"{4 - i} code page view" in banner
        full, banner = open_code(page, served, "D107")
        assert not full and "0 code page views remaining" in banner

        page.get_by_role("button", name="Log out").click()
        page.wait_for_url(f"{served}/")
        full, banner = open_code(page, served, "D108")
        assert (
            not full
            and "0 code page views remaining" in banner
            and "Register free account" in banner
        )
        assert CANARY not in page.content()
    finally:
        context.close()
