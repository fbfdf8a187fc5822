"""``codesite serve``: the WSGI app on a threaded standard-library server."""

from __future__ import annotations

import os
import socketserver
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .core import Policy
from .keys import load_keys
from .store import SQLiteStore
from .wsgi import EdgeApp

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    request_queue_size = 128


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def build_app(
    out_dir: str, site_dir: str, host: str, keys_file: str | None = None, db: str | None = None
) -> tuple[EdgeApp, SQLiteStore, str]:
    """The app for a built site: meter limits from site.yaml, cookies Secure unless on loopback,
    accounts and meters in ``db`` (default OUT/edge.sqlite3)."""
    from generator.config import load_config

    meter = load_config(site_dir).meter
    keys, source = load_keys(keys_file=keys_file, dev_dir=out_dir)
    store = SQLiteStore(db or os.path.join(out_dir, "edge.sqlite3"))
    policy = Policy.from_config(meter, secure=host not in LOOPBACK)
    return EdgeApp(out_dir, policy, keys, store, store), store, source


def serve(
    out_dir: str,
    site_dir: str,
    host: str,
    port: int,
    keys_file: str | None = None,
    db: str | None = None,
    quiet: bool = False,
) -> None:
    app, store, source = build_app(out_dir, site_dir, host, keys_file, db)
    handler = QuietHandler if quiet else WSGIRequestHandler
    with (
        store,
        make_server(
            host, port, app, server_class=ThreadingWSGIServer, handler_class=handler
        ) as httpd,
    ):
        shown = f"[{host}]" if ":" in host else host
        print(f"signing keys: {source}", flush=True)
        print(f"serving http://{shown}:{httpd.server_address[1]}/ (Ctrl-C to stop)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            print("stopped", file=sys.stderr)
