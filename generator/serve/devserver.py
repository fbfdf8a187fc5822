"""The dev server's loop: build once, serve, then rebuild on each debounced batch of changes.

The HTTP server (the production edge app inside the ``Preview`` middleware, and the LiveReload
websocket on the same port) runs on its own threads; the main thread watches and rebuilds, one
build at a time, with the build state kept in memory between builds (``state.Memory``). A
rebuild that fails (a problem in the content, a template that does not compile or render, a
file that cannot be read) changes nothing on disk: the last good site stays served, and every
problem shows in the terminal and over every open page until a rebuild succeeds. After a change
to code files alone (a rebuild of a few pages), the pages are told to reload as it starts and
their requests wait for it (``Preview.hold``): the browser's navigation overlaps the rebuild,
and what it is served is the rebuilt site (or the last good one, with the errors). Ctrl-C stops
it at once: a build under way is aborted (its staging folder removed) and the process exits 0.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import shutil
import signal
import sys
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, TextIO, TypeVar
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler, make_server

from edge.core import Policy
from edge.server import LOOPBACK, Handler, QuietHandler, ThreadingWSGIServer, ThreadingWSGIServer6, build_app

from ..build import BuildOptions, build, read_ahead
from ..errors import CheckFailed, CodesiteError
from ..load import load_config
from ..load.scan import Scanned
from ..publish import MANIFEST, Report, remove_apart
from ..state import Memory
from . import watch
from .overlay import ERRORS_URL
from .preview import Preview
from .reload import SOCKET_PATH, Hub
from .watch import STEP_MS

T = TypeVar("T")
SETTLE = 0.1  # seconds after a reload, at least, before the build state is saved (the pages load first)
SETTLE_MAX = 3.0  # ... once the reloaded pages said hello again, or after that many seconds
FORCE_AFTER = 0.8  # seconds a build interrupted by Ctrl-C may take to wind down
CLOSE_WAIT = 0.4  # seconds the server may take to close once stopped


@dataclass
class Settings:
    site_dir: str
    out_dir: str
    host: str = "127.0.0.1"
    port: int = 8000
    keys_file: str | None = None
    meter: bool = True  # False: every gated section shows (--no-meter)
    watch: bool = True
    open_browser: bool = False
    quiet: bool = False  # no request log
    debounce_ms: int = STEP_MS  # quiet time that ends a batch


M_ARENA_MAX, M_MMAP_THRESHOLD = -8, -3  # glibc's mallopt() parameters


def bound_malloc() -> None:
    """glibc gives threads arenas of their own and keeps there what they free: the server's
    threads (one a request), each reading the whoosh index for /api/search (whoosh copies the
    parts it opens into memory, tens of MB), kept 200 MB after 8 searches. Two arenas, and
    blocks of 1 MB or more mapped and given back when freed: 3 MB. Elsewhere than glibc,
    nothing changes."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_ARENA_MAX, 2)
        libc.mallopt(M_MMAP_THRESHOLD, 1 << 20)
    except (OSError, AttributeError):
        pass


def freeze_heap(loaded_all: bool) -> None:
    """What lives on between builds (the build state, what was read ahead) moved out of the
    collector's sight (``gc.freeze``), so that a collection in the middle of the next edit's
    build, set off by its allocations, does not walk millions of objects (0.2-0.3 s of a 0.3 s
    rebuild).

    ``loaded_all``: a build since the last call held every code (a first build, a layout or
    site.yaml change). Its loading froze what was alive then (``parallel.loading``), the
    renderer among it, whose reference cycles (its links memo's methods) hold the site's codes:
    once the build let go of them, only a collection of the frozen objects too could free
    them, and the server kept every such build's site, 30-70 MB more with each layout change
    on the full ICD-10-CM set. So all is collected then (about a second after a rebuild of
    tens of seconds); an edit's build froze nothing it drops, and only the young generations
    are."""
    if loaded_all:
        gc.unfreeze()
        gc.collect()
    else:
        gc.collect(1)
    gc.freeze()


def handler_for(base: type[WSGIRequestHandler], hub: Hub) -> type[WSGIRequestHandler]:
    """The edge server's request handler, with the LiveReload websocket at /livereload."""

    class DevHandler(base):  # type: ignore[valid-type,misc]
        def handle(self) -> None:  # wsgiref's, with the upgrade in the middle
            self.raw_requestline = self.rfile.readline(65537)
            if len(self.raw_requestline) > 65536:
                self.requestline = self.request_version = self.command = ""
                self.send_error(414)
                return
            if not self.parse_request():
                return
            if self.path.split("?", 1)[0] == SOCKET_PATH:
                self.close_connection = True
                hub.serve(self.connection, self.rfile, self.headers)
                return
            handler = ServerHandler(self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True)
            handler.request_handler = self  # type: ignore[attr-defined]  # wsgiref's back pointer
            handler.run(self.server.get_app())

    return DevHandler


class DevServer:
    def __init__(self, settings: Settings, out: TextIO = sys.stdout) -> None:
        self.s = settings
        self.out = out
        self.memory = Memory()
        self.hub = Hub()
        self.stop = threading.Event()
        self.preview: Preview | None = None
        self.rebuilds = 0  # builds after the first, failed ones included
        self.told = 0.0  # time.monotonic() when the browser was last told to reload
        self.building = False
        self.stopping = False
        self.detached = False  # True in a child process that finishes writing the build state
        self.reloading = (0, 0)  # LiveReload hellos before the last reload, and pages it reloaded
        self.listening: Any = None  # the server's listening socket
        self.trash: list[str] = []  # folders the rebuilds replaced, to remove once the pages loaded
        self.loaded_all = False  # a build since the last save held every code (see ``freeze_heap``)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def build(self, scanned: Scanned | None = None) -> Report:
        self.building = True
        try:
            report = build(self.s.site_dir, self.options(scanned))
            self.loaded_all |= report.loaded_all
            return report
        except BaseException:
            self.loaded_all = True  # a failed build may have got that far
            raise
        finally:
            self.building = False

    def freeze(self) -> None:
        freeze_heap(self.loaded_all)
        self.loaded_all = False

    def options(self, scanned: Scanned | None = None) -> BuildOptions:
        return BuildOptions(out_dir=self.s.out_dir, quiet=True, memory=self.memory, prescan=scanned)

    def stop_on_signals(self) -> None:
        """Ctrl-C and SIGTERM stop the server (KeyboardInterrupt in the main thread), even when
        it was started with SIGINT ignored (a background job of a non-interactive shell). A
        build under way is abandoned cleanly; should that take over ``FORCE_AFTER`` seconds
        (forked render workers of a layout change wind down slowly), the process leaves at
        once: the staging folder removed and the output manifest too, so that the next build,
        whatever was applied, renders and writes everything again."""
        main = os.getpid()

        def force() -> None:
            if self.building:
                shutil.rmtree(os.path.join(self.s.out_dir, ".staging"), ignore_errors=True)
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(self.s.out_dir, MANIFEST))
            self.say("stopped (a rebuild was abandoned: the next build writes every file)")
            os._exit(0)

        def stop(signum: int, frame: object) -> None:
            if os.getpid() != main:  # a forked build worker: end as the signal's default would
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
                return
            if self.building and not self.stopping:
                self.stopping = True
                timer = threading.Timer(FORCE_AFTER, force)
                timer.daemon = True
                timer.start()
            # the handler runs in whatever the main thread runs: in a finalizer (a whoosh
            # lock's ``__del__`` at a garbage collection), the exception is printed and dropped;
            # the watcher, and ``--no-watch``'s wait, end on the event all the same
            self.stop.set()
            raise KeyboardInterrupt

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

    def run(self) -> int:
        """Build (CheckFailed and the like propagate: there is no good site to serve yet), then
        serve and watch until Ctrl-C or ``stop``; 0. The watches are set before the first build
        reads a file: a save made while it runs makes the first rebuild."""
        self.stop_on_signals()
        bound_malloc()
        watcher = watch.Watcher(self.s.site_dir, self.stop, self.s.debounce_ms) if self.s.watch else None
        start = time.perf_counter()
        report = self.build()
        self.trash += report.trash
        self.empty()  # no page to wait for yet
        self.save()
        self.attempt(lambda: read_ahead(self.s.site_dir, self.options()))  # for the first edit
        self.freeze()  # what it read lives on too
        self.say(f"built in {time.perf_counter() - start:.2f}s: {report.written} written, {report.unchanged} unchanged")
        with ExitStack() as stack:
            app, store, source = build_app(self.s.out_dir, self.s.site_dir, self.s.host, self.s.keys_file)
            stack.callback(store.close)
            self.preview = Preview(app, live=self.s.watch, meter=self.s.meter)
            httpd = self.start_server(stack)
            shown = f"[{self.s.host}]" if ":" in self.s.host else self.s.host
            url = f"http://{shown}:{httpd.server_address[1]}/"
            self.say(f"signing keys: {source}")
            if self.s.host in LOOPBACK:
                self.say(f"listening on {self.s.host} only (this machine); --host 0.0.0.0 to share on the network")
            else:
                self.say("cookies are Secure (__Host-): put this server behind HTTPS")
            if not self.s.meter:
                self.say("metering off (--no-meter): every gated section shows")
            if self.s.watch:
                self.say("watching content/, layouts/ and assets/; pages reload on save (LiveReload)")
            try:
                self.say(f"serving {url} (Ctrl-C to stop)")
                if self.s.open_browser:
                    threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
                if watcher is None:
                    self.stop.wait()
                for batch in watcher or ():
                    if batch.changes:
                        self.rebuild(batch)
                    elif self.settled():
                        self.save_state()
                        self.empty()
            except KeyboardInterrupt:
                pass
            self.save_at_exit()  # a rebuild's state, should Ctrl-C have come before it was saved
            # closing the accounts' database checkpoints its log, which a busy disk can hold up
            # for a second: past CLOSE_WAIT, leave without (SQLite recovers the log on next use)
            timer = threading.Timer(CLOSE_WAIT, self.leave)
            timer.daemon = True
            timer.start()
        self.leave()
        return 0

    def leave(self) -> None:
        self.say("stopped")
        sys.stdout.flush()
        os._exit(0)

    def start_server(self, stack: ExitStack) -> Any:
        base = QuietHandler if self.s.quiet else Handler
        server_class = ThreadingWSGIServer6 if ":" in self.s.host else ThreadingWSGIServer
        assert self.preview is not None
        # --no-watch with the meter on: the production app as it is, nothing added
        app = self.preview.app if not self.s.watch and self.s.meter else self.preview
        httpd = make_server(self.s.host, self.s.port, app, server_class=server_class,
                            handler_class=handler_for(base, self.hub))
        self.listening = httpd.socket
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()

        def shut() -> None:
            self.hub.close()
            httpd.shutdown()
            httpd.server_close()

        stack.callback(shut)
        return httpd

    def rebuild(self, batch: watch.Batch) -> None:
        """One rebuild for one batch; on success the pages reload, on failure the overlay shows."""
        assert self.preview is not None
        self.rebuilds += 1
        start = time.perf_counter()
        hellos = self.hub.hellos
        early = None
        if batch.kinds == {watch.ChangeKind.CONTENT}:  # a rebuild of a few pages: the pages are told
            self.preview.hold()  # now, and what they ask for waits for it (their navigation's start
            early = self.hub.reload("/", live_css=False)  # overlaps the rebuild: 10-20 ms)
        try:
            report, errors = self.attempt(lambda: self.build_batch(batch))
            took = time.perf_counter() - start
            if report is None:  # the terminal has them before any page can show them
                for line in errors:
                    self.say(line)
                self.say(f"{len(errors)} error(s) after {batch.summary()}; serving the last good build")
            was_broken = bool(self.preview.errors)
            # before the release: a page held meanwhile is served as of the new generation
            self.preview.set_errors([] if report is not None else errors,
                                    changed=report is not None and report.changed)
        finally:
            self.preview.release()
        if report is None:
            self.hub.reload(ERRORS_URL)
            return
        self.say(
            f"{batch.summary()} ({', '.join(sorted(k.value for k in batch.kinds))}): rebuilt in {took:.2f}s, "
            f"{report.written} written, {report.removed} removed, {report.codes_read} codes read"
        )
        self.reloading = (hellos, self.notify(report, was_broken, batch, early))
        self.told = time.monotonic()
        self.trash += report.trash  # removed once the pages loaded: not while they load

    def empty(self) -> None:
        """The folders builds replaced (``trash``: a layout change's pages, an edit's staging
        folder and last search index), removed by another process (``publish.remove_apart``;
        a start after an exit removes what is left)."""
        if self.trash:
            remove_apart(self.trash)
            self.trash = []

    def settled(self) -> bool:
        """Whether the pages told to reload have loaded (each said hello again over LiveReload,
        its script being the page's last) or had ``SETTLE_MAX`` seconds to; on a busy machine
        a page takes longer than ``SETTLE`` to load, and a save while it loads slows it."""
        since = time.monotonic() - self.told
        hellos, reloaded = self.reloading
        return since > SETTLE_MAX or (since > SETTLE and self.hub.hellos - hellos >= reloaded)

    def save_state(self) -> None:
        """The last rebuild's state, saved as soon as the pages it reloaded have loaded (the
        save holds the interpreter: 40-60 ms after an edit, 0.3-0.4 s after a new code), at
        the first quiet moment (the watcher wakes every ``WAKE_MS``), or before the next build.
        The sooner it is done, the less often the editor's next save waits for it: at 0.4 s
        after the reload it held up a save made 0.6 s after the last one by 0.25 s."""
        if self.memory.unsaved is None:
            return
        _, errors = self.attempt(self.save)
        for line in errors:  # the site is served as built; the next build starts from the disk
            self.say(f"saving the build state: {line}")

    def build_batch(self, batch: watch.Batch) -> Report:
        self.save()  # the last build's, normally saved already
        stats = None
        if self.memory.snapshot is not None:
            stats = watch.known_stats(self.s.site_dir, self.memory.snapshot.files, batch)
        report = self.build(stats)
        if watch.ChangeKind.CONFIG in batch.kinds:
            self.swap_policy()
        return report

    def attempt(self, step: Callable[[], T]) -> tuple[T | None, list[str]]:
        """``step()``, and the problems that stopped it, as the overlay shows them."""
        try:
            return step(), []
        except CheckFailed as exc:
            return None, [str(e) for e in exc.errors]
        except (CodesiteError, OSError, UnicodeError) as exc:
            return None, [f"error: {exc}"]
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the preview either
            traceback.print_exc()
            return None, [f"internal error: {type(exc).__name__}: {exc} (see the terminal)"]

    def save(self) -> None:
        """Save the build state (after the browser was told: it is not needed to show the
        page). Ctrl-C while it is written (a second or two after a large rebuild) hands the
        rest of the writing to a child process, which finishes it after the server is gone."""
        interrupted: list[int] = []

        def detach(signum: int, frame: object) -> None:
            interrupted.append(signum)
            if self.background():  # the server: stop now, the child writes on
                raise KeyboardInterrupt

        previous = signal.signal(signal.SIGINT, detach)
        try:
            self.memory.flush()
        except BaseException:
            if self.detached:  # the child never goes back to the server's loop
                os._exit(1)
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
        if self.detached:
            os._exit(0)  # the child: the state is written
        self.freeze()
        if interrupted:
            raise KeyboardInterrupt

    def background(self) -> bool:
        """Fork: the child goes on with what the main thread was doing (writing the build
        state) and leaves when it is done, with no socket of the server's open; True in the
        server (the parent), False in the child."""
        sys.stdout.flush()
        try:
            if os.fork() != 0:
                return True
        except OSError:  # no child to be had: the server writes it, as before
            return False
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C reaches the whole group
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        self.detached = True
        # the port is free as soon as the server is gone (no lock taken: no other thread here)
        for sock in (self.listening, *(c.sock for c in list(self.hub.clients))):
            with contextlib.suppress(OSError, AttributeError):
                os.close(sock.fileno())
        return False

    def save_at_exit(self) -> None:
        """At exit, a build state not yet saved is written by a child process, so that the
        server stops at once (the next start reads it; the order of its writes keeps a start
        that comes before it ends correct, see ``state``)."""
        if self.memory.unsaved is None:
            return
        if not self.background():
            with contextlib.suppress(BaseException):
                self.memory.flush()
            if self.detached:
                os._exit(0)

    def swap_policy(self) -> None:
        """The meter limits come from site.yaml: a config change gives the app a new policy."""
        assert self.preview is not None
        app = self.preview.app
        meter = load_config(self.s.site_dir).meter
        app.policy = Policy.from_config(meter, secure=self.s.host not in LOOPBACK)

    def notify(self, report: Report, was_broken: bool, batch: watch.Batch | None = None,
               told: int | None = None) -> int:
        """Stylesheets alone changed: each reloaded in place (the preview links assets by their
        plain names, so a new fingerprint does not matter); anything else: the pages reload,
        unless they were ``told`` already (as the rebuild started: how many); and the overlay
        goes when the last build had failed (a fix may write nothing). Returns how many pages
        were told to load again."""
        changed = report.changed
        sources = list(batch.changes) if batch is not None else []
        reloaded = 0
        if told is not None:
            reloaded = told
        elif changed and sources and batch is not None and batch.kinds == {watch.ChangeKind.ASSET} and all(
            p.endswith(".css") for p in sources
        ):
            for p in sources:
                self.hub.reload("/" + p, live_css=True)
        elif changed:
            reloaded = self.hub.reload("/", live_css=False)
        if was_broken:
            self.hub.reload(ERRORS_URL)
        return reloaded
