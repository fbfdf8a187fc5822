"""Helpers for the edge tests: the metered fixture site, raw HTTP with a cookie jar, the WSGI
app on a real ThreadingWSGIServer on 127.0.0.1 with a real SQLite file."""

from __future__ import annotations

import http.client
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.cookies import Keys
from edge.core import Policy
from edge.server import QuietHandler, ThreadingWSGIServer
from edge.store import SQLiteStore
from edge.wsgi import EdgeApp

ROOT = Path(__file__).resolve().parents[2]
METERED = ROOT / "tests" / "sites" / "valid-metered"
CANARY = "CANARY-7QX4-GATED-PHRASE"
KEY = "test-signing-key-0123456789abcdef"
GATE_TEXT = "Register to view content"


def metered_source(dst: Path) -> Path:
    """The fixture's content with the repository's layouts and assets."""
    shutil.copytree(METERED / "content", dst / "content")
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, dst / part)
    return dst


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def set_cookies(self) -> dict[str, str]:
        out = {}
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                out[name] = rest.split(";", 1)[0]
        return out

    @property
    def full(self) -> bool:
        return CANARY in self.body


@dataclass
class Client:
    """Raw HTTP to the server: any path bytes, repeated headers; keeps a cookie jar like a
    browser would (last Set-Cookie wins, Max-Age=0 deletes)."""

    host: str
    port: int
    jar: dict[str, str] = field(default_factory=dict)
    source: str | None = None  # another loopback address to send from (127.0.0.2, ...)

    def request(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        cookies: bool = True,
    ) -> Reply:
        source = (self.source, 0) if self.source else None
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10, source_address=source)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            sent = list(headers or [])
            if cookies and self.jar:
                sent.append(("Cookie", "; ".join(f"{k}={v}" for k, v in self.jar.items())))
            if body is not None:
                sent.append(("Content-Length", str(len(body))))
                sent.append(("Content-Type", "application/x-www-form-urlencoded"))
            for k, v in sent:
                conn.putheader(k, v)
            conn.endheaders(body)
            resp = conn.getresponse()
            reply = Reply(resp.status, resp.getheaders(), resp.read().decode("utf-8", "replace"))
        finally:
            conn.close()
        if cookies:
            for k, v in reply.headers:
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    value = rest.split(";", 1)[0]
                    if "Max-Age=0" in v:
                        self.jar.pop(name, None)
                    else:
                        self.jar[name] = value
        return reply

    def get(self, path: str, headers: list[tuple[str, str]] | None = None, cookies: bool = True) -> Reply:
        return self.request("GET", path, headers, cookies=cookies)

    def csrf(self, path: str = "/account/login/") -> str:
        body = self.get(path).body
        marker = 'name="csrf" value="'
        start = body.index(marker) + len(marker)
        return body[start : body.index('"', start)]

    def post(self, path: str, form: dict[str, str], headers: list[tuple[str, str]] | None = None) -> Reply:
        from urllib.parse import urlencode

        return self.request("POST", path, headers, urlencode(form).encode())

    def fork(self) -> Client:
        return Client(self.host, self.port, dict(self.jar), self.source)


PASSWORD = "correct horse battery"


def register(c: Client, email: str = "reader@example.org", password: str = PASSWORD) -> Reply:
    """Register, then log in unless the registration signed in by itself (it no longer does:
    it answers the same whether the email was free or taken). Returns the log-in's reply."""
    r = c.post("/account/register/", {"csrf": c.csrf("/account/register/"), "email": email, "password": password})
    assert r.status == 303, (r.status, r.body)
    if "codesite-account" in r.set_cookies:
        return r
    return c.post("/account/login/", {"csrf": c.csrf(), "email": email, "password": password})


@dataclass
class Edge:
    app: EdgeApp
    store: SQLiteStore
    host: str
    port: int
    db: Path

    def client(self) -> Client:
        return Client(self.host, self.port)


@contextmanager
def serve_app(app: EdgeApp) -> Iterator[tuple[str, int]]:
    server = ThreadingWSGIServer(("127.0.0.1", 0), QuietHandler)
    server.set_app(app)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def running_edge(out: Path, db: Path, keys: Keys, **options: Any) -> Iterator[Edge]:
    """The WSGI app over ``out`` with its own SQLite file, served on a free port."""
    with SQLiteStore(str(db)) as store:
        app = EdgeApp(str(out), Policy(secure=False), keys, store, store, **options)
        with serve_app(app) as (host, port):
            yield Edge(app, store, host, port, db)
