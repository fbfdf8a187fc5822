"""Tests the suite lacked (issue 10, found by reading it): key rotation end to end through
``build_app``, guest views merged at log-in, a new allowance when the period ends, the caching
headers on every metered and account response of both adapters, Secure ``__Host-`` cookies."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from edge_support import CANARY, KEY, PASSWORD, Client, Edge, Reply, register, running_edge, serve_app
from test_lambda_edge import NOW, body_of, cookie_from, event

from edge.cookies import Keys
from edge.core import DAY, METER_SALT, Codec, Policy
from edge.lambda_edge import DirectoryOrigin, EdgeHandler
from edge.wsgi import RateLimit

OLD = "old-signing-key-0123456789abcdef"
NEW = "new-signing-key-0123456789abcdef"


@contextmanager
def built_app(metered_out: Path, db: Path, host: str = "127.0.0.1", keys_file: str | None = None) -> Iterator[Edge]:
    """What ``codesite serve`` runs (``build_app``), served on a free loopback port."""
    from edge.server import build_app

    app, store, _ = build_app(str(metered_out), str(metered_out.parent), host, keys_file, str(db))
    with store, serve_app(app) as (h, port):
        yield Edge(app, store, h, port, db)


def remaining(body: str) -> int:
    return int(body.split('<strong class="meter-count">', 1)[1].split(" ", 1)[0])


# --- keys and rotation, end to end ------------------------------------------------------------


@pytest.mark.parametrize("source", ["env", "file"])
def test_key_rotation_end_to_end(
    metered_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    db = tmp_path / "edge.sqlite3"
    keys_file = tmp_path / "keys.txt"

    @contextmanager
    def app_with(*keys: str) -> Iterator[Edge]:
        if source == "env":
            monkeypatch.setenv("CODESITE_EDGE_KEYS", " ".join(keys))
            with built_app(metered_out, db) as e:
                yield e
        else:
            monkeypatch.delenv("CODESITE_EDGE_KEYS", raising=False)
            lines = ["# signing keys, oldest first; the last one signs", ""]
            lines += [f"{k}   # {'retiring' if k == OLD else 'current'}" for k in keys]
            keys_file.write_text("\n".join(lines) + "\n")
            with built_app(metered_out, db, keys_file=str(keys_file)) as e:
                yield e

    with app_with(OLD) as e:
        c = e.client()
        register(c)
        assert c.get("/demo/D101/").full
        old_meter, old_account = c.jar["codesite-meter"], c.jar["codesite-account"]
    codec = Codec(METER_SALT, 30 * DAY)
    with app_with(OLD, NEW) as e:
        c.port = e.port  # the same browser, the server restarted with the new keys
        r = c.get("/demo/D101/")
        assert r.full and "Log out" in r.body  # the old-key account cookie stays signed in
        new_meter = r.set_cookies["codesite-meter"]  # the old-key meter cookie is re-signed
        assert new_meter != old_meter
        assert codec.loads(new_meter, Keys.of(NEW), int(e.app.clock()))[0]["o"] == ["demo:D101"]
        assert c.jar["codesite-account"] == old_account  # not re-signed: it is the log-in's
        assert c.get("/demo/D102/").full and remaining(c.get("/demo/D102/").body) == 4
    with app_with(NEW) as e:
        c.port = e.port
        r = c.get("/demo/D103/")
        assert not r.full and "Register free account" in r.body and "Log out" not in r.body  # logged out
        assert c.get("/demo/D101/").full  # the re-signed meter still holds its codes
        stale = Client(e.host, e.port, {"codesite-meter": old_meter})
        first = stale.get("/demo/D104/")  # an old-key meter after the key is gone: a new guest
        assert first.full and remaining(first.body) == 0 and not stale.get("/demo/D105/").full


# --- guest views merged at log-in ------------------------------------------------------------


def test_guest_views_merge_into_the_account_at_log_in(edge: Edge) -> None:
    c = edge.client()
    assert c.get("/demo/D101/").full  # as a guest
    register(c)
    assert remaining(c.get("/").body) == 5  # 6 for an account, one already spent as a guest
    other = edge.client()  # the same account in another browser: the guest's view is in its record
    form = {"csrf": other.csrf(), "email": "reader@example.org", "password": PASSWORD}
    assert other.post("/account/login/", form).status == 303
    r = other.get("/demo/D101/")
    assert r.full and remaining(r.body) == 5
    assert [other.get(f"/demo/D1{i:02d}/").full for i in range(2, 8)] == [True] * 5 + [False]


# --- the period ---------------------------------------------------------------------------------


def test_a_new_allowance_when_the_period_ends(metered_out: Path, tmp_path: Path, keys: Keys) -> None:
    now = [float(NOW)]
    period = 30 * DAY
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, clock=lambda: now[0]) as e:
        guest = e.client()
        assert guest.get("/demo/D101/").full and not guest.get("/demo/D102/").full
        reader = e.client()
        register(reader)
        assert [reader.get(f"/demo/D1{i:02d}/").full for i in range(1, 8)] == [True] * 6 + [False]
        now[0] += period - 1  # the last second of the period: still spent
        assert not guest.get("/demo/D102/").full and not reader.get("/demo/D107/").full
        now[0] += 1  # a new period: the guest's and the account's allowances again
        r = guest.get("/demo/D102/")
        assert r.full and remaining(r.body) == 0 and not guest.get("/demo/D103/").full
        r = reader.get("/demo/D107/")
        assert r.full and remaining(r.body) == 5 and "Log out" in r.body
        assert [reader.get(f"/demo/D1{i:02d}/").full for i in (8, 9, 10, 1, 2, 3)] == [True] * 5 + [False]


# --- Vary: Cookie and private, no-store, both adapters ----------------------------------------


def assert_private(r: Reply, what: str) -> None:
    assert r.header("Cache-Control") == "private, no-store", (what, r.status, r.headers)
    assert "Cookie" in (r.header("Vary") or ""), (what, r.status, r.headers)


def test_every_metered_and_account_response_is_private_over_http(
    metered_out: Path, tmp_path: Path, keys: Keys
) -> None:
    with running_edge(metered_out, tmp_path / "db.sqlite3", keys, rate_limit=RateLimit(5, 300)) as e:
        c = e.client()
        replies = {
            "full": c.get("/demo/D101/"),
            "teaser": c.get("/demo/D102/"),
            "head": c.request("HEAD", "/demo/D103/"),
            "prefetch": c.get("/demo/D103/", [("Sec-Purpose", "prefetch")]),
            "login form": c.get("/account/login/"),
            "register form": c.get("/account/register/"),
            "notice": c.get("/account/login/?registered"),
            "logout GET": c.get("/account/logout/"),
            "csrf missing": c.post("/account/register/", {"email": "a@example.org", "password": PASSWORD}),
            "bad form": c.request("POST", "/account/login/", body=b"%%%"),
        }
        for what, password in [("register", PASSWORD), ("short password", "x")]:
            form = {"csrf": c.csrf("/account/register/"), "email": "a@example.org", "password": password}
            replies[what] = c.post("/account/register/", form)
        for what in ("wrong password", "rate limited"):  # the 5th and 6th attempts of this address
            form = {"csrf": c.csrf(), "email": "a@example.org", "password": "y" * 12}
            replies[what] = c.post("/account/login/", form)
        signed = e.client()
        signed.source = "127.0.0.3"
        replies["login"] = register(signed, "b@example.org")
        replies["signed-in free page"] = signed.get("/")
        replies["signed-in code page"] = signed.get("/demo/D104/")
        token = signed.get("/demo/D104/").body.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        replies["logout bad csrf"] = signed.post("/account/logout/", {"csrf": "nope"})
        replies["logout"] = signed.post("/account/logout/", {"csrf": token})
    assert {k: r.status for k, r in replies.items() if r.status != 200} == {
        "logout GET": 405, "csrf missing": 403, "bad form": 400, "register": 303, "short password": 400,
        "wrong password": 401, "rate limited": 429, "login": 303, "logout bad csrf": 403, "logout": 303,
    }  # fmt: skip
    for what, r in replies.items():
        assert_private(r, what)


@pytest.mark.parametrize(
    "uri, method, headers",
    [
        ("/demo/D101/", "GET", {}),
        ("/demo/D101/", "HEAD", {}),
        ("/demo/D101/", "GET", {"Sec-Purpose": ["prefetch"]}),
        ("/demo/D101/", "GET", {"Cookie": ["__Host-codesite-meter=garbage"]}),
    ],
)
def test_every_metered_response_is_private_at_the_edge(
    metered_out: Path, uri: str, method: str, headers: dict[str, list[str]]
) -> None:
    h = EdgeHandler(DirectoryOrigin(str(metered_out)), Policy(), Keys.of(KEY), ["demo"], clock=lambda: NOW)
    spent = cookie_from(h.viewer_request(event("/demo/D101/")))
    for extra in ({}, {"Cookie": [spent]}):
        out = h.viewer_request(event(uri, method, {**headers, **extra}))
        assert out["status"] == "200"
        assert out["headers"]["cache-control"] == [{"key": "Cache-Control", "value": "private, no-store"}]
        assert out["headers"]["vary"] == [{"key": "Vary", "value": "Cookie"}]
    teaser = h.viewer_request(event("/demo/D102/", headers={"Cookie": [spent]}))
    assert CANARY not in body_of(teaser) and teaser["headers"]["cache-control"][0]["value"] == "private, no-store"


# --- Secure __Host- cookies on a public host ----------------------------------------------------


def test_build_app_on_a_public_host_issues_secure_host_cookies(
    metered_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODESITE_EDGE_KEYS", KEY)
    with built_app(metered_out, tmp_path / "edge.sqlite3", host="codes.example.org") as e:
        c = e.client()
        first = c.get("/demo/D101/")
        assert first.full
        (meter,) = [v for k, v in first.headers if k.lower() == "set-cookie"]
        assert meter.startswith("__Host-codesite-meter=")
        attrs = meter.split("; ")[1:]
        assert {"Path=/", "HttpOnly", "SameSite=Lax", "Secure"} <= set(attrs)
        assert not any(a.lower().startswith("domain") for a in attrs)
        assert not c.get("/demo/D102/").full  # the __Host- cookie is the one read back
        form = {"email": "secure@example.org", "password": PASSWORD}
        assert c.post("/account/register/", {"csrf": c.csrf("/account/register/"), **form}).status == 303
        login = c.post("/account/login/", {"csrf": c.csrf(), **form})
        cookies = [v for k, v in login.headers if k.lower() == "set-cookie"]
        assert {v.split("=", 1)[0] for v in cookies} == {"__Host-codesite-account", "__Host-codesite-meter"}
        assert all("; Secure" in v and "; Path=/" in v and "Domain" not in v for v in cookies)
        assert c.get("/demo/D102/").full and "Log out" in c.get("/").body
        bare = Client(e.host, e.port, {"codesite-meter": c.jar["__Host-codesite-meter"]})
        assert "codesite-meter" not in bare.get("/demo/D103/").set_cookies  # the bare name is not ours
