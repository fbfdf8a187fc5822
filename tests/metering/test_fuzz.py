"""Hypothesis against the edge: random methods, paths, query strings, headers and cookies (our
own valid tokens mutated byte by byte) against the pure decision core, the WSGI app (called in
process, real SQLite store, real search index) and the server over raw sockets.

The world: a guest who opened D101 and an account (and an identity-provider subject) who opened
D101-D106; guests of the test's address may open nothing new (the address's daily guest views are
0). So every visitor here is without views, and the invariants are: no 5xx; the canary only on
D101-D106 (codes some valid cookie had opened); no meter cookie issued naming more codes than the
store holds or a tier the request did not prove; no account cookie issued; the store never gains
a code outside D101-D106 nor a subject over its limit.
"""

from __future__ import annotations

import io
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from edge_support import CANARY, KEY, PASSWORD, Client, register, serve_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.cookies import Keys, parse_cookies
from edge.core import MeterState, Policy, Request, decide, issue_meter, read_account, read_meter
from edge.jwt import JWTVerifier, sign_hs256
from edge.wsgi import EdgeApp

NOW = 1_800_000_000
SECRET = b"identity-provider-shared-secret-0123456789"
ISSUER = "https://id.example.org"
SPENT = {f"demo:D10{i}" for i in range(1, 7)}
KEYS = Keys.of(KEY)
FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def value_of(set_cookie: str) -> str:
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


@dataclass
class World:
    app: EdgeApp
    db: Path
    tokens: dict[str, str]  # name -> a valid value
    host: str
    port: int
    allowed: dict[str, set[str]]  # store subject -> the codes it may hold


def visitor_of(meter: str, policy: Policy) -> str:
    state, _ = read_meter({policy.meter_cookie: [meter]}, int(time.time()), KEYS, policy)
    assert state is not None
    return state.visitor


@pytest.fixture(scope="module")
def world(metered_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from edge.server import build_app

    tmp = tmp_path_factory.mktemp("fuzz")
    db = tmp / "edge.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CODESITE_EDGE_KEYS", KEY)
        app, store, _ = build_app(str(metered_out), str(metered_out.parent), "127.0.0.1", db=str(db))
    app.verifier = JWTVerifier(SECRET, issuer=ISSUER, audience="codesite")
    with store, serve_app(app) as (host, port):
        c = Client(host, port)
        register(c, "spent@example.org", PASSWORD)
        assert all(c.get(f"/demo/D10{i}/").full for i in range(1, 7))
        guest = Client(host, port)
        assert guest.get("/demo/D101/").full
        app.address_cap = 0  # from now on guests of this address open nothing new
        unspent = Client(host, port)
        unspent.get("/account/login/")  # a valid guest cookie that opened nothing (finding 1)
        jwt = sign_hs256({"iss": ISSUER, "aud": "codesite", "sub": "fuzz", "exp": 4_000_000_000}, SECRET)
        bearer = [("Authorization", f"Bearer {jwt}")]
        assert all(Client(host, port).get(f"/demo/D10{i}/", bearer).full for i in range(1, 7))
        tokens = {
            "guest-meter": guest.jar["codesite-meter"],
            "unspent-meter": unspent.jar["codesite-meter"],
            "account-meter": c.jar["codesite-meter"],
            "account": c.jar["codesite-account"],
            "jwt": jwt,
        }
        d101 = {"demo:D101"}
        allowed = {
            f"v:{visitor_of(tokens['guest-meter'], app.policy)}": d101,
            f"v:{visitor_of(tokens['account-meter'], app.policy)}": SPENT,  # its codes, signed out
            "ip:127.0.0.1": d101,
        }
        allowed |= {s: SPENT for s, _, _ in store_codes(db) if s.startswith("a:")}
        assert len(allowed) == 5  # the unspent guest holds nothing
        yield World(app, db, tokens, host, port, allowed)


def mutate(value: str, edits: list[tuple[int, int, str]]) -> str:
    """Byte-level edits: (position, how many to cut, what to insert)."""
    for at, cut, insert in edits:
        at %= len(value) + 1
        value = value[:at] + insert + value[at + cut :]
    return value


EDIT = st.tuples(st.integers(0, 400), st.integers(0, 3), st.text(max_size=3))
TOKEN_NAMES = ["guest-meter", "unspent-meter", "account-meter", "account", "jwt"]


PATHS = [
    "/", "/demo/", "/demo/D100/", "/demo/D101/", "/demo/D106/", "/demo/D107/", "/demo/D110/",
    "/demo/D108/index.html", "/demo/D109", "/account/login/", "/account/register/", "/account/logout/",
    "/api/search", "/assets/site.css", "/private/demo/D107/coding-tips.html", "/%2e%2e/private/",
    "/search/", "/sitemap.xml",
]  # fmt: skip
METHODS = ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "get", "BREW"]
HEADER_NAMES = [
    "Sec-Purpose", "Purpose", "X-Purpose", "X-Moz", "Range", "Origin", "Host", "X-Forwarded-For",
    "Authorization", "Accept-Encoding", "X-Original-URL", "Content-Type",
]  # fmt: skip
TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40)


COOKIE_NAMES = {
    "guest-meter": "codesite-meter",
    "unspent-meter": "codesite-meter",
    "account-meter": "codesite-meter",
    "account": "codesite-account",
    "jwt": "idp",
}
CODE_PAGES = [f"/demo/D1{i:02d}/" for i in range(1, 11)]


@st.composite
def requests(draw: st.DrawFn, tokens: dict[str, str]) -> dict[str, Any]:
    method = draw(st.one_of(st.just("GET"), st.sampled_from(METHODS)))
    path = draw(st.one_of(st.sampled_from(CODE_PAGES), st.sampled_from(PATHS), TEXT.map(lambda t: "/" + t)))
    many = "q=D101&" + "&".join(f"f{i}=1" for i in range(12))
    query = draw(st.one_of(st.just(""), TEXT, st.just(many)))
    headers: dict[str, str] = {}
    for name in draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=3, unique=True)):
        headers[name] = draw(st.one_of(TEXT, st.sampled_from(["prefetch", "preview", "bytes=0-", "null"])))
    edits = st.one_of(st.just([]), st.lists(EDIT, min_size=1, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        headers["Authorization"] = "Bearer " + mutate(tokens["jwt"], draw(edits))
    pairs = []
    for _ in range(draw(st.integers(0, 3))):
        which = draw(st.sampled_from(TOKEN_NAMES))
        names = st.one_of(st.just(COOKIE_NAMES[which]), st.sampled_from(sorted(set(COOKIE_NAMES.values()))))
        name = draw(names)
        pairs.append(f"{name}={mutate(tokens[which], draw(edits))}")
    body = draw(st.binary(max_size=200)) if method == "POST" else b""
    cookie = "; ".join(pairs)
    return {"method": method, "path": path, "query": query, "headers": headers, "cookie": cookie, "body": body}


def environ(r: dict[str, Any]) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": r["method"],
        "PATH_INFO": r["path"].encode("utf-8", "surrogatepass").decode("latin-1"),
        "QUERY_STRING": r["query"],
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_COOKIE": r["cookie"],
        "CONTENT_LENGTH": str(len(r["body"])),
        "wsgi.input": io.BytesIO(r["body"]),
    }
    for k, v in r["headers"].items():
        env["HTTP_" + k.upper().replace("-", "_")] = v
    return env


def call(app: EdgeApp, env: dict[str, Any]) -> tuple[int, list[tuple[str, str]], str]:
    got: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        got["status"], got["headers"] = status, headers

    body = b"".join(app(env, start_response)).decode("utf-8", "replace")
    return int(got["status"].split()[0]), got["headers"], body


def store_codes(db: Path) -> list[tuple[str, int, set[str]]]:
    with sqlite3.connect(db) as conn:
        out: dict[str, set[str]] = {}
        for subject, code in conn.execute("SELECT subject, code FROM opened"):
            out.setdefault(subject, set()).add(code)
    conn.close()
    return [(s, len(c), c) for s, c in out.items()]


@FUZZ
@given(st.data())
def test_wsgi_app_under_fuzz(world: World, data: st.DataObject) -> None:
    r = data.draw(requests(world.tokens))
    status, headers, body = call(world.app, environ(r))
    assert status < 500, (r, status)
    code = r["path"].split("/")[2] if r["path"].startswith("/demo/D1") else ""
    if CANARY in body:
        assert f"demo:{code[:4]}" in SPENT, r
    for k, v in headers:
        if k.lower() != "set-cookie":
            continue
        name = v.split("=", 1)[0]
        assert name in ("codesite-meter", "codesite-account"), v
        if name == "codesite-account":
            assert "Max-Age=0" in v, (r, v)  # only ever cleared here: no one signs in by fuzzing
            continue
        meter, _ = read_meter({name: [value_of(v)]}, int(world.app.clock()), KEYS, world.app.policy)
        assert meter is not None and meter.opened <= SPENT, (r, v)
        if meter.tier == "registered":
            cookies = parse_cookies([r["cookie"]])
            proved = read_account(cookies, int(world.app.clock()), KEYS, world.app.policy) is not None
            proved = proved or "Bearer " + world.tokens["jwt"] == r["headers"].get("Authorization")
            assert proved, (r, v)
    for subject, count, codes in store_codes(world.db):
        # any other guest (a new one, the unspent one) only re-opens what its address opened
        default = {"demo:D101"} if subject.startswith("v:") else set()
        assert codes <= world.allowed.get(subject, default) and count <= 6, (r, subject, codes)


GUEST_ID = "fuzz-guest-visitor-0001"
CORE_POLICY = Policy(secure=False)


def meter_token(tier: str, account: str | None, opened: set[str]) -> str:
    return value_of(issue_meter(MeterState(GUEST_ID, tier, account, frozenset(opened), NOW), KEYS, NOW, CORE_POLICY))


GUEST_METER = meter_token("guest", None, {"demo:D101"})
ACCOUNT_METER = meter_token("registered", "7", SPENT)


@FUZZ
@given(
    st.sampled_from(METHODS),
    st.sampled_from([f"demo:D1{i:02d}" for i in range(1, 11)] + [None]),
    st.dictionaries(st.sampled_from([h.lower() for h in HEADER_NAMES]), TEXT, max_size=3),
    st.sampled_from([GUEST_METER, ACCOUNT_METER]),
    st.lists(EDIT, max_size=3),
)
def test_core_decision_under_fuzz(
    method: str, code: str | None, headers: dict[str, str], meter: str, edits: list[tuple[int, int, str]]
) -> None:
    value = mutate(meter, edits)
    jar = parse_cookies([f"{CORE_POLICY.meter_cookie}={value}"])
    d = decide(Request(method, code, headers), jar, NOW, KEYS, CORE_POLICY, new_id=lambda: "fresh-visitor-000001")
    before, _ = read_meter(jar, NOW, KEYS, CORE_POLICY)
    assert d.state.tier == "guest" and d.limit == CORE_POLICY.guest_views  # no account cookie: guest rules
    if before is None:  # any edit that breaks the token: exactly a new guest, nothing carried
        assert d.state.visitor == "fresh-visitor-000001" and d.fresh
        assert d.state.opened <= {code} and len(d.state.opened) <= CORE_POLICY.guest_views
    else:  # still the same visitor, with at most what it had
        assert d.state.visitor == GUEST_ID and d.state.opened == before.opened
        assert d.action == "teaser" or code in before.opened
    for c in d.set_cookies:
        issued, _ = read_meter({CORE_POLICY.meter_cookie: [value_of(c)]}, NOW, KEYS, CORE_POLICY)
        assert issued is not None and issued.opened == d.state.opened and issued.tier == "guest"


@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.binary(min_size=1, max_size=12).filter(lambda b: b" " not in b and b"\r" not in b and b"\n" not in b),
    st.binary(max_size=80).filter(lambda b: b" " not in b and b"\r" not in b and b"\n" not in b),
    st.lists(st.binary(max_size=60).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=3),
)
def test_server_answers_any_request_line(world: World, method: bytes, target: bytes, extra: list[bytes]) -> None:
    """Raw bytes on the wire: no 5xx, no canary (these requests carry no cookie of a visitor
    who opened anything)."""
    lines = [method + b" /" + target + b" HTTP/1.0", b"Host: 127.0.0.1", *extra, b"", b""]
    with socket.create_connection((world.host, world.port), timeout=10) as s:
        s.sendall(b"\r\n".join(lines))
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    if reply:  # the server may close on a line it cannot parse
        status = int(reply.split(b" ", 2)[1])
        assert status < 500, (lines, reply[:200])
        assert CANARY.encode() not in reply
