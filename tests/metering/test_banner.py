"""The meter banner over real HTTP: it says whether the page is read in full or locked, keeps the
seed's sentence with the policy's numbers, and the register page does not offer itself."""

from __future__ import annotations

import re

from edge_support import Edge

from edge.store import MIN_PASSWORD


def banner(body: str) -> str:
    """The banner's text, tags stripped."""
    banner_at = r'<(?:div|aside) class="meter-banner" id="meter-banner"[^>]*>(.*?)</(?:div|aside)>\s*<main'
    m = re.search(banner_at, body, re.S)
    assert m, body[:2000]
    return " ".join(re.sub(r"<[^>]+>", " ", m.group(1)).split()).replace(" .", ".").replace(" ,", ",")


def test_banner_says_full_or_locked_and_keeps_the_seed_sentence(edge: Edge) -> None:
    c = edge.client()
    first = c.get("/demo/D101/")
    assert first.full
    text = banner(first.body)
    assert "You are reading your free view of D101." in text
    assert "locked" not in text
    assert "0 code page views remaining" in text
    assert "Guest accounts are limited to 1 page view. Register free account to get 5 more views, or log in." in text
    second = c.get("/demo/D102/")
    assert not second.full
    text = banner(second.body)
    assert "This page's coding sections are locked." in text and "You are reading" not in text
    assert "Register free account to get 5 more views" in text
    again = c.get("/demo/D101/index.html")  # the page a file-links build links to
    assert again.full and "You are reading your free view of D101." in banner(again.body)


def test_register_page_does_not_offer_itself_and_says_the_password_minimum(edge: Edge) -> None:
    c = edge.client()
    page = c.get("/account/register/")
    text = banner(page.body)
    assert "Register free account" not in text and 'href="/account/register/"' not in page.body.split("<main")[0]
    assert "Register below to get 5 more views" in text
    assert f"at least {MIN_PASSWORD} characters" in page.body
    assert f'minlength="{MIN_PASSWORD}"' in page.body
    login = c.get("/account/login/")
    assert "Register free account to get 5 more views" in banner(login.body)
    # the register page's own link in a file-links build: the same form, with its token
    linked = c.get("/account/register/index.html")
    assert linked.status == 200 and 'name="csrf" value=""' not in linked.body
    assert "Register below" in banner(linked.body)
