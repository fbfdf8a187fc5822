"""The dev server's WSGI middleware around the production app (``edge.server.build_app``),
which stays free of anything here.

It serves livereload.js, the overlay script and the current problems as JSON; adds the overlay
and livereload.js to every HTML page; marks every response ``no-cache`` (a preview must never
show a stale file) but those that cannot go stale; and with ``--no-meter`` serves code pages
with every gated section filled in, without touching the meter, for previewing.

A reload after a save fetches the page and nothing else: scripts and images keep their
fingerprinted names, the dev server's own scripts are named with their version, and a
stylesheet is linked by its plain name (so that LiveReload can swap it in place) with its
fingerprint as ``?v=``, kept only while the bytes served are that version; anything else is
revalidated (``ETag``, "304 Not Modified" while the same).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any

from edge.contract import FINGERPRINT_LEN, FINGERPRINTED
from edge.core import SECURITY_HEADERS
from edge.pages import fill_gates
from edge.wsgi import HTML, EdgeApp

from ..outputs import digest
from . import overlay, reload

StartResponse = Callable[..., Any]
Headers = list[tuple[str, str]]
DEV_CACHE = ("Cache-Control", "no-cache")
KEPT = ("Cache-Control", "max-age=31536000, immutable")  # a URL that names its bytes' version
HOLD_MAX = 30.0  # seconds a request waits for a rebuild under way (``Preview.hold``)


# a fingerprinted stylesheet link in a page (``assets/site.3f2a1c9b0d.css``): the preview serves
# the plain name instead (``assets/site.css``), which LiveReload can swap in place when it changes
PLAIN_STYLESHEET = re.compile(rb'(assets/[^"\s<>]*?)\.([0-9a-f]{10})(\.css)"')
VERSION = re.compile(r"(?:^|&)v=([0-9a-f]{10})(?:&|$)")  # the ?v= of a stylesheet link (PLAIN_STYLESHEET)


class Preview:
    """``app``: the edge app of the last good build (swapped when the config changes);
    ``errors``: the problems of the last rebuild, shown over every page while not empty."""

    def __init__(self, app: EdgeApp, live: bool = True, meter: bool = True) -> None:
        self.app = app
        self.live = live
        self.meter = meter
        self.errors: list[str] = []
        self.generation = 0  # rebuilds that changed files: a page served before the last one is stale
        self.lock = threading.Lock()
        self._script = reload.script() if live else b""
        self.version = digest(self._script + overlay.OVERLAY_JS.encode())[:10]
        self.open = threading.Event()  # cleared while a rebuild the pages were told of runs (``hold``)
        self.open.set()

    def hold(self) -> None:
        """Requests wait (``HOLD_MAX`` seconds at most) until ``release``: the open pages are told
        to reload as a rebuild starts, and what they ask for meanwhile is the rebuilt site."""
        self.open.clear()

    def release(self) -> None:
        self.open.set()

    def set_errors(self, errors: list[str], changed: bool = False) -> None:
        """The last rebuild's problems; ``changed``: it changed files (a new generation)."""
        with self.lock:
            self.errors = list(errors)
            if changed:
                self.generation += 1

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        # the preview writes into pages (livereload, the overlay): it asks the app for them
        # uncompressed (a local server gains nothing from gzip)
        environ = {k: v for k, v in environ.items() if k != "HTTP_ACCEPT_ENCODING"}
        path = environ.get("PATH_INFO", "/")
        self.open.wait(HOLD_MAX)
        with self.lock:
            app, errors, generation = self.app, self.errors, self.generation
        own = self.own(path, errors, generation)
        if own is not None:
            ctype, body = own
            headers = [("Content-Type", ctype)]
            if path != overlay.ERRORS_URL and environ.get("QUERY_STRING") == f"v={self.version}":
                headers.append(KEPT)
            return self.respond(environ, start_response, "200 OK", headers, body)
        if not self.meter:
            page = unmetered(app, environ)
            if page is not None:
                headers = [("Content-Type", HTML), *SECURITY_HEADERS]
                return self.respond(environ, start_response, "200 OK", headers, page, (errors, generation))
        got: dict[str, Any] = {}

        def capture(status: str, headers: Headers, exc_info: Any = None) -> Callable[[bytes], None]:
            got["status"], got["headers"] = status, headers
            return lambda data: None  # EdgeApp returns its body; it never calls write()

        body = b"".join(app(environ, capture))
        # a fingerprinted file (``assets/search.3f2a1c9b0d.js``) keeps the app's lifetime: its
        # name changes with its content
        ok = got["status"].startswith("200")
        kept = ok and FINGERPRINTED.search(path.rsplit("/", 1)[-1]) is not None
        drop = ("content-length",) if kept else ("cache-control", "content-length")
        headers = [(k, v) for k, v in got["headers"] if k.lower() not in drop]
        if ok and same_version(environ, body):
            headers.append(KEPT)
        return self.respond(environ, start_response, got["status"], headers, body, (errors, generation),
                            got["headers"])

    def own(self, path: str, errors: list[str], generation: int) -> tuple[str, bytes] | None:
        """The dev server's own files: (content type, body), or None."""
        if path == reload.SCRIPT_URL and self.live:
            return "application/javascript; charset=utf-8", self._script
        if path == overlay.SCRIPT:
            return "application/javascript; charset=utf-8", overlay.OVERLAY_JS.encode()
        if path == overlay.ERRORS_URL:
            return "application/json; charset=utf-8", overlay.errors_json(errors, generation)
        return None

    def respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        status: str,
        headers: Headers,
        body: bytes,
        shown: tuple[list[str], int] | None = None,
        original: Headers | None = None,
    ) -> Iterable[bytes]:
        """Send ``body`` (with the overlay and livereload.js when it is a page: ``shown``, the
        problems and generation it is served with) uncached. For HEAD the app's body is empty:
        the length is its Content-Length plus what was added."""
        length = len(body)
        if original is not None:
            length = next((int(v) for k, v in original if k.lower() == "content-length"), length)
        page = any(k.lower() == "content-type" and v.startswith("text/html") for k, v in headers)
        if shown is not None and page:
            extra = overlay.snippet(shown[0], self.live, self.version, shown[1])
            if body:  # pages link each stylesheet by its plain name, so that it reloads in place
                body = overlay.inject(PLAIN_STYLESHEET.sub(rb'\1\3?v=\2"', body), extra)
                length = len(body)
            else:
                length += len(extra.encode())
        head = environ.get("REQUEST_METHOD") == "HEAD"
        if not any(k.lower() == "cache-control" for k, _ in headers):
            headers = [*headers, DEV_CACHE]
            if not page and status.startswith("200") and body:  # revalidated: 304 while the same
                tag = f'"{digest(body)}"'
                headers.append(("ETag", tag))
                if tag in environ.get("HTTP_IF_NONE_MATCH", ""):
                    start_response("304 Not Modified", headers)
                    return [b""]
        start_response(status, [*headers, ("Content-Length", str(length))])
        return [b"" if head else body]


def same_version(environ: dict[str, Any], body: bytes) -> bool:
    """Whether a stylesheet asked for by its plain name with ``?v=FINGERPRINT`` (as the preview
    links it) is that version: then the browser may keep it, under a URL that names its bytes."""
    found = VERSION.search(environ.get("QUERY_STRING", ""))
    return found is not None and digest(body)[:FINGERPRINT_LEN] == found.group(1)


def unmetered(app: EdgeApp, environ: dict[str, Any]) -> bytes | None:
    """A code page with every gated section filled in (``--no-meter``); None for any other
    request, which the app answers as usual."""
    if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
        return None
    try:
        path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8")
        found = app.locate(path)
        if found is None or found[1] or not found[0].endswith(".html"):
            return None
        _, html, code = app.read(found[0])
        if html is None or code is None:
            return None
        base = os.path.relpath(os.path.dirname(found[0]), app.site)
        return fill_gates(html, lambda gid: app.fragment(base, gid)).encode()
    except (OSError, UnicodeError, ValueError):
        return None
