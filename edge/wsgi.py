"""The WSGI adapter: serves ``OUT/site``, assembles full code pages from ``OUT/private``, runs
the account routes. Deployable behind any WSGI server; ``codesite serve`` runs it locally.

Every metered response is ``Cache-Control: private, no-store``; free files may be cached. If
anything fails while assembling a metered page, the visitor gets the teaser.
"""

from __future__ import annotations

import collections
import json
import mimetypes
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from . import pages
from .cookies import Keys, parse_cookies
from .core import (
    DAY,
    SECURITY_HEADERS,
    Decision,
    Policy,
    Request,
    account_cookie,
    clear_cookie,
    csrf_ok,
    csrf_token,
    decide,
    identify,
    issue_meter,
    read_account,
    read_account_claim,
    settle,
)
from .files import FileCache
from .jwt import IdentityVerifier
from .paths import resolve
from .store import AccountStore, MeterStore, normalise_email, password_ok

SearchFn = Callable[[str, int, "str | None", bool], list[dict[str, Any]]]

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]

NO_STORE = [("Cache-Control", "private, no-store"), ("Vary", "Cookie")]
HTML = "text/html; charset=utf-8"
MAX_FORM = 4096
MAX_QUERY = 2048  # characters of a query string read; the rest is ignored
MAX_LOCATED = 8192  # request paths remembered with the file they resolved to
ACCOUNT_PAGES = {"/account/login/": "login", "/account/register/": "register"}
MESSAGES = {
    "login": "Email or password is not correct.",
    "register": "Could not register with these details. Use a valid email and a password of "
    "10 or more characters; if you already have an account, log in.",
    "csrf": "The form expired. Please try again.",
    "rate": "Too many attempts from your address. Please wait a few minutes and try again.",
    "registered": "Registration received. Log in with your email and password.",
}


class RateLimit:
    """At most ``limit`` attempts per ``window`` seconds per client address.

    It remembers at most ``max_addresses`` addresses. When full it forgets those with no attempt
    left in the window, then those with the fewest attempts: requests from many other addresses
    cannot make it forget an address that reached its limit (only more addresses at the limit
    than it remembers could)."""

    def __init__(self, limit: int = 10, window: int = 300, max_addresses: int = 10_000) -> None:
        self.limit, self.window, self.max_addresses = limit, window, max_addresses
        self._hits: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, addr: str, now: float) -> bool:
        with self._lock:
            q = self._hits.get(addr)
            if q is None:
                if len(self._hits) >= self.max_addresses:
                    self._make_room(now)
                q = self._hits[addr] = collections.deque()
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True

    def _make_room(self, now: float) -> None:
        """Down to nine tenths full, so this sort runs once per many new addresses."""
        for addr, q in list(self._hits.items()):
            while q and q[0] <= now - self.window:
                q.popleft()
            if not q:
                del self._hits[addr]
        excess = len(self._hits) - self.max_addresses * 9 // 10
        if excess > 0:  # fewest attempts first; among equals, the longest known (dicts keep order)
            for addr in sorted(self._hits, key=lambda a: len(self._hits[a]))[:excess]:
                del self._hits[addr]


def query_fields(environ: dict[str, Any]) -> dict[str, str]:
    """The first value of each field of the query string. Never raises: the string is cut at
    ``MAX_QUERY`` characters, malformed pairs and escapes are skipped or replaced."""
    fields: dict[str, str] = {}
    for k, v in parse_qsl(str(environ.get("QUERY_STRING", ""))[:MAX_QUERY], keep_blank_values=True):
        fields.setdefault(k, v)
    return fields


def read_page(data: bytes) -> tuple[bytes, str | None, str | None]:
    """A public page as served: its bytes, its text and its metered code (text None when the
    file is not UTF-8)."""
    try:
        html = data.decode("utf-8")
    except UnicodeDecodeError:
        return data, None, None
    return data, html, pages.metered_code(html)


def read_fragment(data: bytes) -> str:
    return data.decode("utf-8")


def read_static(data: bytes) -> tuple[bytes, None, None]:
    return data, None, None


class EdgeApp:
    def __init__(
        self,
        out_dir: str,
        policy: Policy,
        keys: Keys,
        store: (MeterStore | None) = None,
        accounts: AccountStore | None = None,
        *,
        rate_limit: RateLimit | None = None,
        verifier: IdentityVerifier | None = None,
        new_guest_views_per_address: int | None = None,
        clock: Callable[[], float] = time.time,
        search: SearchFn | None = None,
    ) -> None:
        self.site = os.path.realpath(os.path.join(out_dir, "site"))
        self.private = os.path.realpath(os.path.join(out_dir, "private"))
        self.policy, self.keys, self.store, self.accounts = policy, keys, store, accounts
        self.rate = rate_limit or RateLimit()
        self.verifier = verifier
        self.address_cap = new_guest_views_per_address
        self.clock = clock
        self.search = search
        self.page_files = FileCache(read_page)
        self.static_files = FileCache(read_static)
        self.located: dict[str, tuple[str, bool]] = {}
        self.fragments = FileCache(read_fragment)

    # --- entry ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            status, headers, body = self.handle(environ)
        except Exception:  # noqa: BLE001 - never leak details; metered pages never get here whole
            status, headers, body = (
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                b"Server error\n",
            )
        headers = headers + list(SECURITY_HEADERS) + [("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [b"" if environ.get("REQUEST_METHOD") == "HEAD" else body]

    def handle(self, environ: dict[str, Any]) -> tuple[str, Headers, bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self.not_found()
        if path in ACCOUNT_PAGES or path == "/account/logout/":
            return self.account_route(environ, method, path)
        if path == "/api/search" and self.search is not None and method in ("GET", "HEAD"):
            return self.api_search(environ)
        if method not in ("GET", "HEAD"):
            return (
                "405 Method Not Allowed",
                [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")],
                b"Method not allowed\n",
            )
        found = self.locate(path)
        if found is None:
            return self.not_found()
        file, needs_slash = found
        if needs_slash:
            return "301 Moved Permanently", [("Location", path + "/")], b""
        try:
            data, html, code = self.read(file)
        except OSError:  # gone (or changed kind) since it was located: look again
            self.located.pop(path, None)
            found = self.locate(path)
            if found is None or found[1]:
                return self.not_found()
            file = found[0]
            data, html, code = self.read(file)
        if not file.endswith(".html"):
            ctype = mimetypes.guess_type(file)[0] or "application/octet-stream"
            return (
                "200 OK",
                [("Content-Type", ctype), ("Cache-Control", "public, max-age=300")],
                data,
            )
        if html is None:
            raise UnicodeDecodeError("utf-8", data, 0, 1, "not a page")
        if code is None and not self.signed_in(environ):
            # free page for a guest: as stored, cacheable (a signed-in reader gets the banner)
            headers = [("Content-Type", HTML), ("Cache-Control", "public, max-age=300")]
            return "200 OK", headers + [("Vary", "Cookie")], data
        return self.metered(environ, method, file, html, code)

    def locate(self, path: str) -> tuple[str, bool] | None:
        """``paths.resolve`` (a realpath: a stat per path segment) once per path; later requests
        find the file's stat in ``self.read``, and a file gone since makes the caller look again.
        Only paths that resolved are kept, so the map holds at most the site's files."""
        found = self.located.get(path)
        if found is None:
            found = resolve(self.site, path)
            if found is not None:
                if len(self.located) >= MAX_LOCATED:
                    self.located.clear()
                self.located[path] = found
        return found

    def read(self, file: str) -> tuple[bytes, str | None, str | None]:
        return (self.page_files if file.endswith(".html") else self.static_files).get(file)

    def api_search(self, environ: dict[str, Any]) -> tuple[str, Headers, bytes]:
        """``/api/search?q=&limit=&system=&billable=1``: the whoosh index, as JSON. Public fields
        only (the index holds no gated text), so the answer does not depend on the cookie."""
        params = query_fields(environ)
        q = params.get("q", "")[:200]
        try:
            limit = max(1, min(int(params.get("limit", "10")[:3]), 50))
        except ValueError:
            limit = 10
        system = params.get("system") or None
        billable = params.get("billable", "") in ("1", "true")
        assert self.search is not None
        results = self.search(q, limit, system, billable) if q.strip() else []
        body = json.dumps({"query": q, "results": results}, ensure_ascii=False).encode()
        headers = [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "public, max-age=60")]
        return "200 OK", headers, body

    def signed_in(self, environ: dict[str, Any]) -> bool:
        cookies, now, account = self.visitor(environ)
        return (account or read_account(cookies, now, self.keys, self.policy)) is not None

    def not_found(self) -> tuple[str, Headers, bytes]:
        try:
            with open(os.path.join(self.site, "404.html"), "rb") as f:
                body = f.read()
        except OSError:
            body = b"Not found\n"
        return "404 Not Found", [("Content-Type", HTML)], body

    # --- metered pages -------------------------------------------------------------------

    def visitor(self, environ: dict[str, Any]) -> tuple[dict[str, list[str]], int, str | None]:
        cookies = parse_cookies([environ.get("HTTP_COOKIE", "")])
        now = int(self.clock())
        claim = read_account_claim(cookies, now, self.keys, self.policy)
        if claim and self.accounts is not None and not self.accounts.session_open(*claim):
            cookies.pop(self.policy.account_cookie, None)  # logged out: the copy counts for nothing
        account = None
        if self.verifier is not None:
            account = self.verifier.account(environ.get("HTTP_AUTHORIZATION"), cookies, now)
        return cookies, now, account

    def metered(
        self, environ: dict[str, Any], method: str, file: str, html: str, code: str | None
    ) -> tuple[str, Headers, bytes]:
        """A code page with gated sections, or any page for a signed-in reader (``code`` None:
        nothing to open, the banner only)."""
        try:
            d, now = self.decision(environ, method, code)
            root = self.site + os.sep  # resolve() only returns files below it
            base = os.path.dirname(file[len(root) :] if file.startswith(root) else os.path.relpath(file, self.site))
            body = pages.render(
                html,
                d.action == "full",
                lambda gid: self.fragment(base, gid),
                pages.banner_for(d, self.keys, now, self.policy),
            )
            out = [("Content-Type", HTML), *NO_STORE] + [("Set-Cookie", c) for c in d.set_cookies]
            return "200 OK", out, body.encode()
        except Exception:  # noqa: BLE001 - any failure: the teaser, never more
            return "200 OK", [("Content-Type", HTML), *NO_STORE], html.encode()

    def decision(self, environ: dict[str, Any], method: str, code: str | None) -> tuple[Decision, int]:
        """Decide from the cookies, then settle against the store: the banner's count and the
        page's fate both come from here."""
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        cookies, now, account = self.visitor(environ)
        request = Request(method, code, headers)
        d = decide(request, cookies, now, self.keys, self.policy, account=account)
        return self.settle(d, code, now, environ.get("REMOTE_ADDR", "")), now

    def settle(self, d: Decision, code: str | None, now: int, addr: str) -> Decision:
        """Settle a decision against the store (see ``core.settle``). Every new code a guest
        opens also spends one of its address's ``new_guest_views_per_address`` a day, whether or
        not a meter cookie came with the request: any answer hands out a fresh, unspent cookie,
        so the cookie says nothing about how many guests this address has been."""
        if self.store is None:
            return d
        period = self.policy.period
        cookie_codes = d.state.opened - {d.charge} if d.charge else d.state.opened
        carry = self.carried(d, cookie_codes, now)
        wanted = code if d.action == "full" else None
        if wanted and not d.registered and self.address_cap is not None:
            recorded, _, _ = self.store.charge(d.state.subject, carry, None, d.limit, now, period)
            if wanted not in recorded and len(recorded) < d.limit and not self.address_allows(addr, wanted, now):
                wanted = None
        recorded, granted, start = self.store.charge(d.state.subject, carry, wanted, d.limit, now, period)
        return settle(d, recorded, granted, start, self.keys, now, self.policy)

    def carried(self, d: Decision, cookie_codes: frozenset[str], now: int) -> frozenset[str]:
        """The codes this request brings to its subject's record. A cookie's codes belong to the
        subject it was issued for: a guest signing in brings them and the store's record of the
        guest (a restored older cookie cannot leave a view behind); a signed-out account's meter
        keeps them as a guest (no fresh guest allowance); another account's meter brings none
        (its codes stay in its own account's record)."""
        origin, subject = d.origin, d.state.subject
        if origin is None or origin == subject or self.store is None:
            return cookie_codes
        if origin.startswith("a:") and subject.startswith("a:"):
            return frozenset()
        if origin.startswith("v:"):
            recorded, _, _ = self.store.charge(origin, cookie_codes, None, 0, now, self.policy.period)
            return cookie_codes | recorded
        return cookie_codes

    def address_allows(self, addr: str, code: str, now: int) -> bool:
        """At most ``new_guest_views_per_address`` codes a day opened by guests, per client address."""
        assert self.store is not None and self.address_cap is not None
        _, granted, _ = self.store.charge(f"ip:{addr}", (), code, self.address_cap, now, DAY)
        return granted

    def fragment(self, base: str, gid: str) -> str:
        # base: the page's folder under the (real) public root, so never ".."; gid: [A-Za-z0-9_-]
        if base.split(os.sep)[0] == ".." or os.path.isabs(base):
            raise ValueError("fragment outside the private folder")
        return self.fragments.get(os.path.join(self.private, base, gid + ".html"))

    # --- accounts ------------------------------------------------------------------------

    def account_route(self, environ: dict[str, Any], method: str, path: str) -> tuple[str, Headers, bytes]:
        if path in ACCOUNT_PAGES and method in ("GET", "HEAD"):
            registered = path == "/account/login/" and "registered" in query_fields(environ)
            notice = MESSAGES["registered"] if registered else None
            return self.form_page(environ, path, notice, "200 OK", "notice")
        if method != "POST":
            return (
                "405 Method Not Allowed",
                [("Allow", "GET, POST"), ("Content-Type", "text/plain"), *NO_STORE],
                b"Method not allowed\n",
            )
        addr = environ.get("REMOTE_ADDR", "")
        if path in ACCOUNT_PAGES and not self.rate.allow(addr, self.clock()):
            return self.form_page(environ, path, MESSAGES["rate"], "429 Too Many Requests")
        form = read_form(environ)
        cookies, now, _ = self.visitor(environ)
        state, _ = identify(cookies, now, self.keys, self.policy)
        if form is None:
            return "400 Bad Request", [("Content-Type", "text/plain"), *NO_STORE], b"Bad request\n"
        if not csrf_ok(form.get("csrf"), state.visitor, self.keys, now) or not same_origin(environ):
            if path == "/account/logout/":
                return "403 Forbidden", [("Content-Type", "text/plain"), *NO_STORE], b"Forbidden\n"
            return self.form_page(environ, path, MESSAGES["csrf"], "403 Forbidden")
        if path == "/account/logout/":
            claim = read_account_claim(cookies, now, self.keys, self.policy)
            if claim and self.accounts is not None:
                self.accounts.close_session(*claim)
            guest = replace(state, tier="guest", account=None)
            return self.redirect(
                "/",
                [
                    clear_cookie(self.policy.account_cookie, self.policy.secure),
                    issue_meter(guest, self.keys, now, self.policy),
                ],
            )
        kind = ACCOUNT_PAGES[path]
        email = normalise_email(form.get("email", ""))
        password = form.get("password", "")
        accounts = self.accounts
        if accounts is None or email is None or not password_ok(password):
            status = "401 Unauthorized" if kind == "login" else "400 Bad Request"
            return self.form_page(environ, path, MESSAGES[kind], status)
        if kind == "register":
            # one answer whether the email was free or taken (no way to learn who has an account
            # here): the new account signs in on the log-in form like everyone else
            accounts.register(email, password, now)
            return self.redirect("/account/login/?registered", [])
        account = accounts.authenticate(email, password)
        if account is None:
            return self.form_page(environ, path, MESSAGES["login"], "401 Unauthorized")
        # the meter follows the account: this browser's guest views (the store's record of the
        # guest, not only what its cookie says) join the account's record
        d = decide(Request("POST", None), cookies, now, self.keys, self.policy, account=account)
        d = self.settle(d, None, now, addr)
        session = accounts.open_session(account, now)
        return self.redirect(
            "/",
            [
                account_cookie(account, session, self.keys, now, self.policy),
                issue_meter(d.state, self.keys, now, self.policy),
            ],
        )

    def form_page(
        self, environ: dict[str, Any], path: str, message: str | None, status: str, kind: str = "error"
    ) -> tuple[str, Headers, bytes]:
        d, now = self.decision(environ, "GET", None)
        with open(os.path.join(self.site, path.strip("/"), "index.html"), encoding="utf-8") as f:
            html = f.read()
        token = csrf_token(d.state.visitor, self.keys, now)
        html = html.replace('name="csrf" value=""', f'name="csrf" value="{token}"', 1)
        if message:
            html = html.replace(
                '<form method="post"',
                f'<p class="{kind}" role="alert">{message}</p>\n  <form method="post"',
                1,
            )
        html = pages.with_banner(html, pages.banner_for(d, self.keys, now, self.policy))
        headers = [("Content-Type", HTML), *NO_STORE] + [("Set-Cookie", c) for c in d.set_cookies]
        return status, headers, html.encode()

    def redirect(self, location: str, cookies: list[str]) -> tuple[str, Headers, bytes]:
        return (
            "303 See Other",
            [("Location", location), *NO_STORE] + [("Set-Cookie", c) for c in cookies],
            b"",
        )


def read_form(environ: dict[str, Any]) -> dict[str, str] | None:
    """The urlencoded form, or None when it is too large, malformed or repeats a field."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if length <= 0 or length > MAX_FORM:
        return None
    try:
        raw = environ["wsgi.input"].read(length).decode("utf-8")
        fields = parse_qs(raw, keep_blank_values=True, strict_parsing=True, max_num_fields=8)
    except (ValueError, UnicodeError):
        return None
    if any(len(v) != 1 for v in fields.values()):
        return None
    return {k: v[0] for k, v in fields.items()}


def same_origin(environ: dict[str, Any]) -> bool:
    """A browser's Origin (when sent) must name this host; CSRF tokens are the main defence."""
    origin = environ.get("HTTP_ORIGIN")
    if not origin or origin == "null":
        return origin != "null"
    return urlsplit(origin).netloc == environ.get("HTTP_HOST", "")
