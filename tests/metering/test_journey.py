"""The whole journey in real headless Chromium against `codesite serve` run as a subprocess."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_support import CANARY, GATE_TEXT, KEY, ROOT, metered_source

from tests.servers import running, serve_command


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    src = metered_source(tmp_path / "site")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODESITE_EDGE_KEYS": KEY}
    with running(serve_command(str(src), str(tmp_path / "out")), "serving http://", env) as line:
        yield line.split()[1].rstrip("/")


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
        # registration answers the same whether the email was free: the reader then logs in
        page.wait_for_url(f"{served}/account/login/?registered")
        assert "Registration received" in page.locator("main").inner_text()
        page.fill("input[name=email]", "journey@example.org")
        page.fill("input[name=password]", "a long enough password")
        page.get_by_role("button", name="Log in").click()
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
        assert not full and "0 code page views remaining" in banner and "Register free account" in banner
        assert CANARY not in page.content()
    finally:
        context.close()
