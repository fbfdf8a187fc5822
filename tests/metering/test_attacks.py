"""The attacks of issue 10 on the meter and the accounts, replayed over real HTTP against the WSGI
app (real SQLite file), and through the Lambda@Edge handler with CloudFront events wherever the
same attack applies there. Each test failed on the code before its fix (commit 82b88cd)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_support import CANARY, KEY, PASSWORD, Client, Edge, register, running_edge, serve_app
from test_lambda_edge import NOW, body_of, cookie_from, event

from edge.cookies import Keys
from edge.core import Policy
from edge.jwt import JWTVerifier, sign_hs256
from edge.lambda_edge import DirectoryOrigin, EdgeHandler
from edge.wsgi import RateLimit

SECRET = b"identity-provider-shared-secret-0123456789"
ISSUER = "https://id.example.org"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def rows(db: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        out = conn.execute(sql, args).fetchall()
    conn.close()
    return out


def remaining(body: str) -> int:
    """The count the meter banner shows."""
    tail = body.split('<strong class="meter-count">', 1)[1]
    return int(tail.split(" ", 1)[0])


# --- 1. the per-address cap on guests -------------------------------------------------------


FREE_ANSWERS = [
    ("HEAD", "/demo/D102/", []),
    ("GET", "/demo/D102/", [("Sec-Purpose", "prefetch")]),
    ("GET", "/demo/D102/", [("Range", "bytes=0-10")]),
    ("GET", "/account/login/", []),
    ("GET", "/account/register/", []),
    ("GET", "/demo/D102/", []),  # the capped teaser itself
]


@pytest.mark.parametrize("method, path, headers", FREE_ANSWERS)
def test_fresh_cookie_from_a_free_answer_does_not_lift_the_address_cap(
    metered_out: Path, tmp_path: Path, keys: Keys, method: str, path: str, headers: list[tuple[str, str]]
) -> None:
    """`curl -c j -I .../D130/; curl -b j .../D130/` gave the full page from a capped address."""
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, new_guest_views_per_address=1) as e:
        assert e.client().get("/demo/D101/", cookies=False).full  # the address's one guest view
        assert not e.client().get("/demo/D102/", cookies=False).full
        c = e.client()
        c.request(method, path, headers)
        assert "codesite-meter" in c.jar  # a valid, unspent guest cookie
        second = c.get("/demo/D102/")
        assert second.status == 200 and not second.full and CANARY not in second.body
        assert not c.get("/demo/D103/").full


def test_reopening_a_code_costs_the_address_nothing(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, new_guest_views_per_address=2) as e:
        c = e.client()
        assert c.get("/demo/D101/").full
        for _ in range(3):
            assert c.get("/demo/D101/").full
        assert e.client().get("/demo/D102/").full  # the address's second guest view is still there


# --- 4. a restored cookie at sign-in ----------------------------------------------------------


def test_restored_cookie_gives_no_seventh_code_at_sign_in(edge: Edge) -> None:
    c = edge.client()
    tokens = c.csrf("/account/register/"), c.csrf("/account/login/")  # bound to the visitor id
    before = dict(c.jar)  # an unspent guest cookie
    assert c.get("/demo/D101/").full
    c.jar = before  # restored: its cookie says nothing was opened; no page seen since
    form = {"email": "reader@example.org", "password": PASSWORD}
    assert c.post("/account/register/", {"csrf": tokens[0], **form}).status == 303
    if "codesite-account" not in c.jar:
        c.jar = dict(before)
        assert c.post("/account/login/", {"csrf": tokens[1], **form}).status == 303
    assert "codesite-account" in c.jar
    opened = [i for i in range(2, 11) if c.get(f"/demo/D1{i:02d}/").full]
    assert opened == [2, 3, 4, 5, 6]  # with D101 that is 6 distinct codes, not 7
    (account,) = rows(edge.db, "SELECT id FROM accounts")
    assert len(rows(edge.db, "SELECT code FROM opened WHERE subject = ?", f"a:{account[0]}")) == 6


# --- 5. the log-in rate limiter ----------------------------------------------------------------


def test_login_rate_limit_survives_a_flood_of_other_addresses(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    limiter = RateLimit(3, 300)
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, rate_limit=limiter) as e:
        c = e.client()

        def attempt(client: Client) -> int:
            form = {"csrf": client.csrf(), "email": "x@example.org", "password": "y" * 12}
            return client.post("/account/login/", form).status

        assert [attempt(c) for _ in range(4)] == [401, 401, 401, 429]
        other = Client(e.host, e.port, source="127.0.0.2")  # another address, over HTTP
        assert attempt(other) == 401
        now = time.time()
        for i in range(10_002):  # the flood: one attempt from each of 10,002 other addresses
            limiter.allow(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", now)
        assert attempt(c) == 429
        assert attempt(other) == 401


# --- 6. the store grows only when a view is spent --------------------------------------------


def test_visits_that_open_nothing_write_nothing(edge: Edge) -> None:
    for i in range(50):  # 200 requests without a meter cookie, none opening a code
        c = edge.client()
        assert c.request("HEAD", f"/demo/D1{1 + i % 10:02d}/").status == 200
        assert c.get("/account/login/", cookies=False).status == 200
        assert c.get("/demo/D101/", [("Sec-Purpose", "prefetch")], cookies=False).status == 200
        assert c.get("/demo/D102/", [("Range", "bytes=0-")], cookies=False).status == 200
    assert rows(edge.db, "SELECT count(*) FROM meters") == [(0,)]
    assert rows(edge.db, "SELECT count(*) FROM opened") == [(0,)]
    c = edge.client()
    assert c.get("/demo/D101/").full and c.get("/demo/D101/").full and not c.get("/demo/D102/").full
    assert rows(edge.db, "SELECT count(*) FROM meters") == [(1,)]
    assert rows(edge.db, "SELECT code FROM opened") == [("demo:D101",)]


# --- 7. /api/search --------------------------------------------------------------------------


@pytest.fixture
def full_app(metered_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Edge]:
    """``build_app``: what ``codesite serve`` runs (search, address cap, keys from the env)."""
    from edge.server import build_app

    monkeypatch.setenv("CODESITE_EDGE_KEYS", KEY)
    db = tmp_path / "edge.sqlite3"
    app, store, _ = build_app(str(metered_out), str(metered_out.parent), "127.0.0.1", db=str(db))
    with store, serve_app(app) as (host, port):
        yield Edge(app, store, host, port, db)


@pytest.mark.parametrize(
    "query",
    [
        "&".join(f"f{i}=1" for i in range(9)) + "&q=D101",
        "q=D101&" + "&".join(f"q{i}=" for i in range(5000)),
        "q=D101" + "&&&&&&&&&&" * 10,
        "q=%ff%fe%zz&limit=99999999999999999999999999&system=%00&billable=1",
        "q=" + "a" * 10_000,
        "limit=-5&q=D1",
        "q=D101;x=1;y=2;z=3;a=4;b=5;c=6;d=7;e=8",
        "=&=&=&=&=&=&=&=&=&=",
    ],
)
def test_search_api_never_answers_500(full_app: Edge, query: str) -> None:
    r = full_app.client().get("/api/search?" + query)
    assert r.status == 200, r.body
    data = json.loads(r.body)
    assert isinstance(data["results"], list)
    if query.startswith(("f0", "q=D101&")):
        assert data["results"][0]["code"] == "D101"


# --- 8. the smaller ones ------------------------------------------------------------------------


def token(**claims: object) -> str:
    return sign_hs256({"iss": ISSUER, "aud": "codesite", "sub": "u1", "exp": 4_000_000_000, **claims}, SECRET)


def lenient_spellings(good: str) -> dict[str, str]:
    """The same signature bytes spelt differently: Python's lenient base64 decodes each to it."""
    head, body, sig = good.split(".")
    last = B64[B64.index(sig[-1]) ^ 1]  # an unused low bit of the last character flipped
    return {
        "bangs-in-signature": f"{head}.{body}.{sig[:10]}!!{sig[10:]}",
        "changed-last-character": f"{head}.{body}.{sig[:-1]}{last}",
        "space-in-signature": f"{head}.{body}.{sig[:5]} {sig[5:]}",
    }


@pytest.mark.parametrize("name", ["bangs-in-signature", "changed-last-character"])
def test_jwt_signature_is_decoded_strictly_over_http(metered_out: Path, tmp_path: Path, keys: Keys, name: str) -> None:
    verifier = JWTVerifier(SECRET, issuer=ISSUER, audience="codesite")
    bad = lenient_spellings(token())[name]
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, verifier=verifier) as e:
        c = e.client()
        assert c.get("/demo/D101/").full  # a spent guest
        r = c.get("/demo/D102/", [("Authorization", f"Bearer {bad}")])
        assert not r.full and "Register free account" in r.body and "Log out" not in r.body
        assert c.get("/demo/D102/", [("Authorization", f"Bearer {token()}")]).full  # the real one


@pytest.mark.parametrize("name", ["bangs-in-signature", "changed-last-character"])
def test_jwt_signature_is_decoded_strictly_at_the_edge(metered_out: Path, name: str) -> None:
    verifier = JWTVerifier(SECRET, issuer=ISSUER, audience="codesite")
    h = EdgeHandler(DirectoryOrigin(str(metered_out)), Policy(), Keys.of(KEY), ["demo"], verifier, clock=lambda: NOW)
    spent = cookie_from(h.viewer_request(event("/demo/D101/")))
    bad = lenient_spellings(token())[name]
    out = h.viewer_request(event("/demo/D102/", headers={"Cookie": [spent], "Authorization": [f"Bearer {bad}"]}))
    assert CANARY not in body_of(out) and "Register free account" in body_of(out)
    good = h.viewer_request(event("/demo/D102/", headers={"Cookie": [spent], "Authorization": [f"Bearer {token()}"]}))
    assert CANARY in body_of(good)


def test_another_accounts_meter_writes_nothing_into_this_account(edge: Edge) -> None:
    a = edge.client()
    register(a, "a@example.org")
    assert all(a.get(f"/demo/D10{i}/").full for i in range(1, 7))  # account A has spent its 6
    b = edge.client()
    register(b, "b@example.org")
    jar = {"codesite-meter": a.jar["codesite-meter"], "codesite-account": b.jar["codesite-account"]}
    paired = Client(edge.host, edge.port, jar)
    paired.get("/demo/D107/")
    paired.get("/demo/D108/")
    ids = dict(rows(edge.db, "SELECT email, id FROM accounts"))
    b_codes = {r[0] for r in rows(edge.db, "SELECT code FROM opened WHERE subject = ?", f"a:{ids['b@example.org']}")}
    assert not b_codes & {f"demo:D10{i}" for i in range(1, 7)}  # none of A's codes
    assert len(b_codes) <= 6
    opened = [i for i in range(1, 11) if paired.get(f"/demo/D1{i:02d}/").full]
    assert len(opened) == 6  # B's own allowance, no more, no less
    b_codes = {r[0] for r in rows(edge.db, "SELECT code FROM opened WHERE subject = ?", f"a:{ids['b@example.org']}")}
    assert len(b_codes) == 6
    a_codes = rows(edge.db, "SELECT count(*) FROM opened WHERE subject = ?", f"a:{ids['a@example.org']}")
    assert a_codes == [(6,)]


def test_switching_accounts_at_the_edge_gives_no_fresh_allowance(metered_out: Path) -> None:
    """Without a store the edge keeps a meter's codes across accounts: flipping between two
    identity tokens must not reset the meter."""
    verifier = JWTVerifier(SECRET, issuer=ISSUER, audience="codesite")
    h = EdgeHandler(DirectoryOrigin(str(metered_out)), Policy(), Keys.of(KEY), ["demo"], verifier, clock=lambda: NOW)
    cookie, full = None, 0
    for i in range(1, 11):
        who = token(sub="u1" if i % 2 else "u2")
        hdrs = {"Authorization": [f"Bearer {who}"], **({"Cookie": [cookie]} if cookie else {})}
        out = h.viewer_request(event(f"/demo/D1{i:02d}/", headers=hdrs))
        full += CANARY in body_of(out)
        if "set-cookie" in out["headers"]:
            cookie = cookie_from(out)
    assert full == 6


PREVIEW = [("X-Purpose", "preview"), ("X-Purpose", "Preview"), ("Purpose", "preview"), ("Sec-Purpose", "prerender")]


@pytest.mark.parametrize("header", PREVIEW)
def test_preview_spends_no_view(edge: Edge, header: tuple[str, str]) -> None:
    c = edge.client()
    r = c.get("/demo/D101/", [header])
    assert r.status == 200 and not r.full and remaining(r.body) == 1
    assert c.get("/demo/D102/").full


@pytest.mark.parametrize("header", PREVIEW)
def test_preview_spends_no_view_at_the_edge(metered_out: Path, header: tuple[str, str]) -> None:
    h = EdgeHandler(DirectoryOrigin(str(metered_out)), Policy(), Keys.of(KEY), ["demo"], clock=lambda: NOW)
    out = h.viewer_request(event("/demo/D101/", headers={header[0]: [header[1]]}))
    assert CANARY not in body_of(out) and remaining(body_of(out)) == 1
    cookie = cookie_from(out)
    assert CANARY in body_of(h.viewer_request(event("/demo/D102/", headers={"Cookie": [cookie]})))


def test_registration_does_not_tell_whether_an_email_is_taken(edge: Edge) -> None:
    register(edge.client(), "taken@example.org")

    def answer(email: str, password: str) -> tuple[int, str | None, list[str], str]:
        c = edge.client()
        c.get("/account/register/")
        r = c.post("/account/register/", {"csrf": c.csrf("/account/register/"), "email": email, "password": password})
        return r.status, r.header("Location"), sorted(r.set_cookies), r.body

    taken = answer("taken@example.org", "another password 123")
    taken_same = answer("Taken@Example.org", PASSWORD)
    free = answer("free@example.org", "another password 123")
    assert taken == taken_same == free
    assert free[:2] == (303, "/account/login/?registered")
    notice = edge.client().get("/account/login/?registered")
    assert "Registration received. Log in with your email and password." in notice.body
    for email, status in [("free@example.org", 303), ("taken@example.org", 401)]:
        c = edge.client()  # the new account works; the taken one kept its own password
        form = {"csrf": c.csrf(), "email": email, "password": "another password 123"}
        assert c.post("/account/login/", form).status == status
