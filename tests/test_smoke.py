from pathlib import Path


def test_sample_builds_with_27253(built_sample: Path) -> None:
    page = (built_sample / "site" / "cpt" / "27253" / "index.html").read_text()
    assert "Open treatment of hip dislocation, traumatic, without internal fixation" in page
    assert "American Medical Association" in page


def test_browser_opens_a_page(browser, static_server: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page()
    page.goto(static_server + "/cpt/27253/")
    assert "27253" in page.locator("h1").inner_text()
    page.close()
