"""The WSGI app over real HTTP on 127.0.0.1, with a real SQLite file: paths, headers, the meter
against a store, accounts. The canary (a gated phrase) must reach no one without a view."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from edge_support import CANARY, GATE_TEXT, PASSWORD, Client, Edge, Reply, register, running_edge

from edge.cookies import Keys
from edge.jwt import JWTVerifier, sign_hs256


def spent_guest(edge: Edge) -> Client:
    """A guest who has used their one view on D101."""
    c = edge.client()
    assert c.get("/demo/D101/").full
    return c


def registered(edge: Edge, email: str = "reader@example.org") -> Client:
    c = edge.client()
    r = register(c, email)
    assert r.status == 303 and "codesite-account" in r.set_cookies, r.body
    return c


def test_canary_in_no_public_file(metered_out: Path) -> None:
    public = [p for p in (metered_out / "site").rglob("*") if p.is_file()]
    assert public and not [p for p in public if CANARY.encode() in p.read_bytes()]
    assert any(CANARY.encode() in p.read_bytes() for p in (metered_out / "private").rglob("*.html"))


def test_guest_journey_and_headers(edge: Edge) -> None:
    c = edge.client()
    first = c.get("/demo/D101/")
    assert first.status == 200 and first.full
    assert "0 code page views remaining" in first.body
    assert first.header("Cache-Control") == "private, no-store"
    assert first.header("X-Content-Type-Options") == "nosniff"
    assert "frame-ancestors 'none'" in (first.header("Content-Security-Policy") or "")
    assert "codesite-meter" in first.set_cookies
    second = c.get("/demo/D102/")
    assert not second.full and GATE_TEXT in second.body and "0 code page views remaining" in second.body
    assert c.get("/demo/D101/").full
    assert c.get("/demo/D101/index.html").full  # same page, same code, no second view


def test_free_pages_spend_nothing_and_cache(edge: Edge) -> None:
    c = edge.client()
    free = c.get("/demo/D100/")
    assert free.status == 200 and free.header("Cache-Control") == "public, max-age=300"
    assert not free.set_cookies
    css = c.get("/assets/site.css")
    assert css.status == 200 and css.header("Content-Type") == "text/css"
    assert c.get("/demo/D101/").full


def test_missing_slash_redirects(edge: Edge) -> None:
    r = edge.client().get("/demo/D101")
    assert r.status == 301 and r.header("Location") == "/demo/D101/"


PATH_TRICKS = [
    "/private/demo/D101/coding-tips.html",
    "/../private/demo/D101/coding-tips.html",
    "/_private/../private/demo/D101/coding-tips.html",
    "/%2e%2e/private/demo/D101/coding-tips.html",
    "/%2E%2E/private/demo/D101/coding-tips.html",
    "/demo/D101/..%2f..%2f..%2fprivate%2fdemo%2fD101%2fcoding-tips.html",
    "/demo/%2e%2e/%2e%2e/private/demo/D101/coding-tips.html",
    "/demo/D101/%252e%252e/%252e%252e/private/demo/D101/coding-tips.html",
    "//private/demo/D101/coding-tips.html",
    "/demo//D101/../../private/demo/D101/coding-tips.html",
    "/.%2e/private/demo/D101/coding-tips.html",
    "/..%5cprivate%5cdemo%5cD101%5ccoding-tips.html",
    "/demo/D101/coding-tips.html",
    "/demo/D101/coding-tips.html%00.css",
    "/.manifest.json",
    "/%2e%2e/.manifest.json",
    "/%2e%2e/edge.sqlite3",
]


@pytest.mark.parametrize("path", PATH_TRICKS)
def test_no_path_reaches_private(edge: Edge, path: str) -> None:
    r = spent_guest(edge).get(path)
    assert r.status in (301, 400, 404), (path, r.status)
    assert CANARY not in r.body and "edge.sqlite3" not in r.body


@pytest.mark.parametrize(
    "header",
    [
        ("X-Original-URL", "/private/demo/D102/coding-tips.html"),
        ("X-Rewrite-URL", "/private/demo/D102/coding-tips.html"),
        ("x-middleware-subrequest", "middleware:middleware:middleware:middleware:middleware"),
        ("X-Forwarded-Prefix", "/private"),
        ("X-Forwarded-For", "127.0.0.2"),
    ],
)
def test_headers_do_not_unlock_anything(edge: Edge, header: tuple[str, str]) -> None:
    c = spent_guest(edge)
    for path in ("/", "/demo/D102/"):
        r = c.get(path, [header])
        assert CANARY not in r.body


@pytest.mark.parametrize(
    "headers",
    [
        [("Range", "bytes=0-50000")],
        [("Sec-Purpose", "prefetch")],
        [("Purpose", "prefetch")],
        [("Sec-Purpose", "prefetch;prerender")],
    ],
)
def test_range_and_prefetch_get_teaser_and_spend_nothing(edge: Edge, headers: list[tuple[str, str]]) -> None:
    c = edge.client()
    r = c.get("/demo/D101/", headers)
    assert r.status == 200 and not r.full and r.header("Cache-Control") == "private, no-store"
    assert "1 code page view remaining" in r.body
    assert c.get("/demo/D101/").full  # the view was still there


def test_head_spends_nothing(edge: Edge) -> None:
    c = edge.client()
    r = c.request("HEAD", "/demo/D101/")
    assert r.status == 200 and r.body == "" and r.header("Cache-Control") == "private, no-store"
    assert c.get("/demo/D102/").full


def test_several_cookie_headers_and_malformed_pair(edge: Edge) -> None:
    c = spent_guest(edge)
    ((name, value),) = c.jar.items()
    raw = [("Cookie", "junk; =; ;a"), ("Cookie", f"{name}={value}")]
    r = c.get("/demo/D102/", raw, cookies=False)
    assert r.status == 200 and not r.full
    assert not c.get("/demo/D102/", [("Cookie", f"bad=\x7f; {name}={value}")], cookies=False).full


def test_duplicate_cookies_are_a_new_guest_not_an_error(edge: Edge) -> None:
    c = spent_guest(edge)
    ((name, value),) = c.jar.items()
    r = c.get("/demo/D102/", [("Cookie", f"{name}={value}; {name}={value}")], cookies=False)
    assert r.status == 200 and "codesite-meter" in r.set_cookies
    # a new guest: exactly the guest allowance, no more
    assert r.full and "0 code page views remaining" in r.body
    fresh = Client(edge.host, edge.port, {name: r.set_cookies[name]})
    assert not fresh.get("/demo/D103/").full


@pytest.mark.parametrize("value", ["", ".", "A" * 5000, "!!!.@@@.###", "x" * 1025, "%00%ff"])
def test_garbage_cookie_never_500(edge: Edge, value: str) -> None:
    r = edge.client().get("/demo/D101/", [("Cookie", f"codesite-meter={value}")], cookies=False)
    assert r.status == 200 and r.full and "0 code page views remaining" in r.body  # a new guest


def test_parallel_requests_on_one_cookie_open_one_code(edge: Edge) -> None:
    c = edge.client()
    c.get("/account/login/")  # a fresh guest cookie with its view unspent
    assert list(c.jar) == ["codesite-meter"]
    replies: list[Reply] = []
    lock = threading.Lock()

    def open_code(i: int) -> None:
        r = c.fork().get(f"/demo/D10{i}/")
        with lock:
            replies.append(r)

    threads = [threading.Thread(target=open_code, args=(i,)) for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replies) == 8 and sum(r.full for r in replies) == 1


def test_restored_guest_cookie_gets_no_view_back(edge: Edge) -> None:
    c = edge.client()
    c.get("/account/login/")
    before = dict(c.jar)
    assert c.get("/demo/D101/").full
    c.jar = before  # the cookie from before the view
    assert not c.get("/demo/D102/").full


def test_register_then_five_more_then_teaser(edge: Edge) -> None:
    c = spent_guest(edge)
    r = register(c, "a@example.org")
    assert r.status == 303 and "codesite-account" in r.set_cookies
    for i in range(2, 7):
        assert c.get(f"/demo/D10{i}/").full, i
    last = c.get("/demo/D107/")
    assert not last.full and "0 code page views remaining" in last.body


def test_registered_meter_without_account_cookie_is_guest(edge: Edge) -> None:
    c = registered(edge)
    assert c.get("/demo/D101/").full
    del c.jar["codesite-account"]
    r = c.get("/demo/D102/")
    assert not r.full and "0 code page views remaining" in r.body


def test_restored_registered_cookie_gets_no_views_back(edge: Edge) -> None:
    c = registered(edge)
    assert c.get("/demo/D101/").full
    old_meter = c.jar["codesite-meter"]
    for i in range(2, 7):
        assert c.get(f"/demo/D10{i}/").full
    c.jar["codesite-meter"] = old_meter
    assert not c.get("/demo/D107/").full
    fresh = edge.client()  # log in from another browser: the account's record follows
    fresh.post(
        "/account/login/",
        {"csrf": fresh.csrf(), "email": "reader@example.org", "password": PASSWORD},
    )
    assert "codesite-account" in fresh.jar
    assert not fresh.get("/demo/D108/").full and fresh.get("/demo/D103/").full


def test_logout_returns_to_guest_rules(edge: Edge) -> None:
    c = registered(edge)
    assert c.get("/demo/D101/").full
    body = c.get("/demo/D101/").body
    token = body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = c.post("/account/logout/", {"csrf": token})
    assert r.status == 303 and "codesite-account" not in c.jar
    after = c.get("/demo/D102/")
    assert not after.full and "0 code page views remaining" in after.body


def test_login_errors_are_generic(edge: Edge) -> None:
    registered(edge)
    c = edge.client()
    wrong = c.post("/account/login/", {"csrf": c.csrf(), "email": "reader@example.org", "password": "x" * 12})
    unknown = c.post("/account/login/", {"csrf": c.csrf(), "email": "nobody@example.org", "password": "x" * 12})
    assert wrong.status == unknown.status == 401
    assert "Email or password is not correct." in wrong.body and "Email or password is not correct." in unknown.body
    assert "codesite-account" not in c.jar


@pytest.mark.parametrize(
    "email",
    [
        "' OR '1'='1' --@example.org",
        "a@example.org'; DROP TABLE accounts; --",
        '" OR 1=1 --',
        "reader@example.org' --",
    ],
)
def test_sql_injection_in_forms(edge: Edge, email: str) -> None:
    registered(edge)
    c = edge.client()
    login = c.post("/account/login/", {"csrf": c.csrf(), "email": email, "password": "' OR '1'='1' -- pad"})
    assert login.status == 401 and "codesite-account" not in c.jar
    reg = c.post("/account/register/", {"csrf": c.csrf(), "email": email, "password": PASSWORD})
    assert reg.status in (303, 400)
    with sqlite3.connect(edge.db) as db:
        emails = [r[0] for r in db.execute("SELECT email FROM accounts")]
    db.close()
    assert "reader@example.org" in emails


@pytest.mark.parametrize(
    "form",
    [
        {"email": "big@example.org", "password": "p" * 1500},
        {"email": "b" * 300 + "@example.org", "password": PASSWORD},
        {"email": "big@example.org", "password": PASSWORD, "pad": "z" * 5000},
    ],
)
def test_oversized_inputs_rejected(edge: Edge, form: dict[str, str]) -> None:
    c = edge.client()
    r = c.post("/account/register/", {"csrf": c.csrf(), **form})
    assert r.status in (400, 413) and "codesite-account" not in c.jar


def test_csrf_required_and_bound_to_visitor(edge: Edge) -> None:
    c = edge.client()
    c.csrf()
    missing = c.post("/account/register/", {"email": "c@example.org", "password": PASSWORD})
    other = edge.client()
    stolen = c.post("/account/register/", {"csrf": other.csrf(), "email": "c@example.org", "password": PASSWORD})
    cross = c.post(
        "/account/register/",
        {"csrf": c.csrf(), "email": "c@example.org", "password": PASSWORD},
        [("Origin", "http://evil.example")],
    )
    assert missing.status == stolen.status == cross.status == 403
    assert "codesite-account" not in c.jar
    assert c.post("/account/logout/", {"csrf": "nope"}).status == 403


def test_rate_limit_per_address(edge: Edge) -> None:
    c = edge.client()
    statuses = [
        c.post("/account/login/", {"csrf": c.csrf(), "email": "n@example.org", "password": "y" * 12}).status
        for _ in range(11)
    ]
    assert statuses[:10] == [401] * 10 and statuses[10] == 429


def test_methods(edge: Edge) -> None:
    c = edge.client()
    assert c.request("POST", "/demo/D101/", body=b"a=b").status == 405
    assert c.get("/account/logout/").status == 405


def test_missing_fragment_gives_teaser(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(metered_out, out)
    (out / "private" / "demo" / "D101" / "coding-tips.html").unlink()
    with running_edge(out, tmp_path / "db.sqlite3", keys) as e:
        r = e.client().get("/demo/D101/")
    assert r.status == 200 and GATE_TEXT in r.body and r.header("Cache-Control") == "private, no-store"


def test_signed_in_reader_gets_banner_on_free_pages(edge: Edge) -> None:
    c = registered(edge)
    home = c.get("/")
    assert "code page views remaining" in home.body and "Log out" in home.body
    assert home.header("Cache-Control") == "private, no-store"
    guest = edge.client().get("/")
    assert guest.header("Cache-Control") == "public, max-age=300" and guest.header("Vary") == "Cookie"
    assert "code page views remaining" not in guest.body


def test_json_ld_marks_gated_parts(edge: Edge) -> None:
    import json
    import re

    def ld(body: str) -> dict[str, object]:
        m = re.search(r'<script type="application/ld\+json">(.*?)</script>', body)
        assert m is not None
        return dict(json.loads(m.group(1)))

    gated = ld(edge.client().get("/demo/D102/").body)
    assert gated["@type"] == "WebPage" and gated["isAccessibleForFree"] is False
    assert gated["hasPart"] == [
        {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".gated-section"}
    ]
    assert gated["mainEntity"] == {
        "@type": "MedicalCode",
        "codeValue": "D102",
        "codingSystem": "Demo",
    }
    free = ld(edge.client().get("/demo/D100/").body)
    assert "isAccessibleForFree" not in free and "hasPart" not in free


def test_clients_that_drop_cookies_are_capped_per_address(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, new_guest_views_per_address=2) as e:
        opened = [e.client().get(f"/demo/D10{i}/", cookies=False).full for i in (1, 2, 3)]
        assert opened == [True, True, False]
        assert e.client().get("/demo/D101/", cookies=False).full  # already opened from this address
        # a guest whose browser keeps its cookie is a guest of this address too (see test_attacks)
        kept = e.client()
        kept.get("/account/login/")
        assert not kept.get("/demo/D104/").full
        assert not e.client().get("/demo/D104/", [("X-Forwarded-For", "10.9.8.7")]).full


def test_spent_guest_crawling_every_public_url_never_sees_the_canary(edge: Edge, metered_out: Path) -> None:
    c = spent_guest(edge)
    site = metered_out / "site"
    urls = []
    for f in sorted(site.rglob("*")):
        if f.is_file():
            rel = f.relative_to(site).as_posix()
            urls.append("/" + rel)
            if rel.endswith("/index.html"):
                urls.append("/" + rel[: -len("index.html")])
    assert len(urls) > 20
    for url in urls:
        if url.startswith("/demo/D101/"):
            continue  # the one code this guest opened
        for headers in ([], [("Range", "bytes=0-")], [("Sec-Purpose", "prefetch")]):
            r = c.get(url, headers)
            assert r.status == 200 and CANARY not in r.body, url


def test_identity_provider_verifier_in_the_wsgi_app(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    secret = b"identity-provider-shared-secret-0123456789"
    verifier = JWTVerifier(secret, issuer="https://id.example.org", audience="codesite")
    token = sign_hs256({"iss": "https://id.example.org", "aud": "codesite", "sub": "u1", "exp": 4_000_000_000}, secret)
    bearer = [("Authorization", f"Bearer {token}")]
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, verifier=verifier) as e:
        c = e.client()
        assert [c.get(f"/demo/D10{i}/", bearer).full for i in range(1, 8)] == [True] * 6 + [False]
        other_browser = e.client()  # the same person elsewhere: the account's record
        assert not other_browser.get("/demo/D108/", bearer).full
        assert other_browser.get("/demo/D103/", bearer).full
        assert not c.get("/demo/D108/").full  # without the token: guest rules


def test_store_forgets_ended_periods(tmp_path: Path) -> None:
    from edge.store import PURGE_EVERY, SQLiteStore

    month = 30 * 86400
    with SQLiteStore(str(tmp_path / "db.sqlite3")) as store:
        store.charge("v:old", (), "demo:D101", 1, 1_000, month)
        for i in range(PURGE_EVERY - 1):  # every one a write: a new subject
            store.charge(f"v:new{i}", (), "demo:D101", 1, 1_000 + month + 10, month)
        assert store.subjects() == PURGE_EVERY - 1  # v:old's period had ended; the new ones stay
        assert store.charge("v:new0", (), "demo:D102", 1, 1_000 + month + 20, month)[1] is False


def test_account_cookie_copied_before_logout_signs_no_one_in(edge: Edge) -> None:
    c = registered(edge)
    copy = c.fork()
    token = c.csrf()
    assert c.post("/account/logout/", {"csrf": token}).status == 303
    r = copy.get("/demo/D102/")  # the copy still carries the signed account cookie
    assert "Log out" not in r.body and "Register free account" in r.body
    again = c.post("/account/login/", {"csrf": c.csrf(), "email": "reader@example.org", "password": PASSWORD})
    assert again.status == 303 and "Log out" in c.get("/").body  # a new session works


def test_rebuilt_files_are_seen_and_removed_ones_are_404(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    """The edge keeps files it read while their stat is unchanged: a rebuild is seen at once."""
    import os
    import shutil

    out = tmp_path / "out"
    shutil.copytree(metered_out, out)
    page = out / "site" / "demo" / "D101" / "index.html"
    fragment = out / "private" / "demo" / "D101" / "coding-tips.html"
    with running_edge(out, tmp_path / "db.sqlite3", keys) as e:
        c = e.client()
        assert c.get("/demo/D101/").full and c.get("/assets/site.css").status == 200
        fresh = fragment.with_suffix(".new")
        fresh.write_text(fragment.read_text(encoding="utf-8").replace(CANARY, "REBUILT-PHRASE"), encoding="utf-8")
        os.replace(fresh, fragment)
        r = c.get("/demo/D101/")
        assert "REBUILT-PHRASE" in r.body and CANARY not in r.body
        fragment.unlink()
        r = c.get("/demo/D101/")
        assert r.status == 200 and GATE_TEXT in r.body and "REBUILT-PHRASE" not in r.body
        page.unlink()
        (out / "site" / "assets" / "site.css").unlink()
        assert c.get("/demo/D101/").status == 404
        assert c.get("/assets/site.css").status == 404


def test_store_sees_another_connections_charges(tmp_path: Path) -> None:
    """Two processes on one database: what one records, the other's read-only path sees."""
    from edge.store import SQLiteStore

    month = 30 * 86400
    db = str(tmp_path / "db.sqlite3")
    with SQLiteStore(db) as one, SQLiteStore(db) as two:
        assert one.charge("v:x", (), "demo:D101", 2, 1_000, month) == (frozenset({"demo:D101"}), True, 1_000)
        assert one.charge("v:x", (), None, 2, 1_001, month)[0] == {"demo:D101"}  # remembered
        assert two.charge("v:x", (), "demo:D102", 2, 1_002, month)[1] is True
        assert one.charge("v:x", (), None, 2, 1_003, month)[0] == {"demo:D101", "demo:D102"}
        assert one.charge("v:x", (), "demo:D103", 2, 1_004, month)[1] is False
