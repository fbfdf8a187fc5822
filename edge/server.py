"""The WSGI app for a built site, and the threaded standard-library server ``codesite serve``
runs it on (the dev server in ``generator.serve`` wraps the app; nothing of it is in here)."""

from __future__ import annotations

import os
import socket
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .core import Policy
from .keys import load_keys
from .store import SQLiteStore
from .wsgi import EdgeApp

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
NEW_GUESTS_PER_ADDRESS = 20  # codes a day opened by guests (cookie or not), per client address


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class ThreadingWSGIServer6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class Handler(WSGIRequestHandler):
    timeout = 30  # seconds a client may stall mid-request before its thread is freed
    # wsgiref writes the status line, Date, Server, the headers and the body one by one: on an
    # unbuffered socket that is five send calls a response. Buffered, a page leaves in one.
    wbufsize = 256 * 1024


class QuietHandler(Handler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def build_app(
    out_dir: str, site_dir: str, host: str, keys_file: str | None = None, db: str | None = None
) -> tuple[EdgeApp, SQLiteStore, str]:
    """The app for a built site: meter limits from site.yaml, cookies Secure unless on loopback,
    accounts and meters in ``db`` (default OUT/edge.sqlite3)."""
    from generator.load import load_config
    from generator.search.engine import Searcher, whoosh_dir

    meter = load_config(site_dir).meter
    keys, source = load_keys(keys_file=keys_file, dev_dir=out_dir)
    store = SQLiteStore(db or os.path.join(out_dir, "edge.sqlite3"))
    policy = Policy.from_config(meter, secure=host not in LOOPBACK)
    searcher = Searcher(whoosh_dir(site_dir, out_dir))

    def search(q: str, limit: int, system: str | None, billable: bool) -> list[dict[str, Any]]:
        return searcher.query(q, limit, system=system, billable=billable)

    app = EdgeApp(
        out_dir, policy, keys, store, store, new_guest_views_per_address=NEW_GUESTS_PER_ADDRESS, search=search
    )
    return app, store, source

