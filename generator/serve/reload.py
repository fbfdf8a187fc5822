"""The LiveReload side: the protocol (official-7) over a websocket on the app's own port.

The browser side is the ``livereload`` package's ``livereload.js``, served at /livereload.js;
it connects to ws://HOST:PORT/livereload (the port of the page that loaded it). We speak the
protocol ourselves instead of running the package's tornado server: one port to bind and
print (``--port 0`` works), no second event loop beside the WSGI server, and the server
stops with the app on Ctrl-C. The protocol is three JSON messages: ``hello`` both ways, then
``reload`` from the server with a ``path`` (a stylesheet's path and ``liveCSS`` reload that
sheet in place; any other path reloads the page).

The websocket is RFC 6455's minimum: the handshake, unfragmented text frames out, and masked
frames in (the client's hello and info messages, pings, close), each connection on the
request's own thread.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import struct
import threading
from typing import Any, BinaryIO

import livereload

SCRIPT_URL = "/livereload.js"
SOCKET_PATH = "/livereload"
PROTOCOL_7 = "http://livereload.com/protocols/official-7"
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_FRAME = 1 << 16  # the client only sends small JSON messages


def script() -> bytes:
    """The browser side, as the livereload package ships it."""
    path = os.path.join(os.path.dirname(livereload.__file__), "vendors", "livereload.js")
    with open(path, "rb") as f:
        return f.read()


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One unmasked, final frame (server to client)."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


def read_frame(rfile: BinaryIO) -> tuple[int, bytes] | None:
    """(opcode, payload) of the next frame from a client; None at the end of the stream or on
    a frame too large or not masked (the connection is then closed)."""
    head = rfile.read(2)
    if len(head) < 2:
        return None
    opcode, n = head[0] & 0x0F, head[1] & 0x7F
    if not head[1] & 0x80:
        return None
    if n == 126:
        n = struct.unpack("!H", rfile.read(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", rfile.read(8))[0]
    if n > MAX_FRAME:
        return None
    mask = rfile.read(4)
    data = rfile.read(n)
    if len(mask) < 4 or len(data) < n:
        return None
    return opcode, bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.ready = False  # sent hello: may get reload commands

    def send(self, payload: bytes, opcode: int = 0x1) -> bool:
        try:
            with self.lock:
                self.sock.sendall(frame(payload, opcode))
            return True
        except OSError:
            return False


class Hub:
    """The open LiveReload connections; ``reload`` sends every one a command."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()
        self.lock = threading.Lock()
        self.closed = False
        self.hellos = 0  # hello messages so far (a page said hello: it has loaded)

    def serve(self, sock: socket.socket, rfile: BinaryIO, headers: Any) -> None:
        """Answer a websocket upgrade request on ``sock`` and speak the protocol until the
        browser leaves (runs on the request's thread)."""
        key = headers.get("Sec-WebSocket-Key", "")
        if headers.get("Upgrade", "").lower() != "websocket" or not key or self.closed:
            sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        sock.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
        )
        client = Client(sock)
        with self.lock:
            self.clients.add(client)
        try:
            self.talk(client, rfile)
        finally:
            with self.lock:
                self.clients.discard(client)

    def talk(self, client: Client, rfile: BinaryIO) -> None:
        while True:
            try:
                got = read_frame(rfile)
            except (OSError, ValueError, struct.error):
                return
            if got is None:
                return
            opcode, payload = got
            if opcode == 0x8:  # close
                client.send(payload[:2], 0x8)
                return
            if opcode == 0x9:  # ping
                client.send(payload, 0xA)
                continue
            if opcode != 0x1:
                continue
            try:
                message = json.loads(payload)
            except ValueError:
                return
            if isinstance(message, dict) and message.get("command") == "hello":
                hello = {"command": "hello", "protocols": [PROTOCOL_7], "serverName": "codesite"}
                client.send(json.dumps(hello).encode())
                client.ready = True
                with self.lock:
                    self.hellos += 1

    def reload(self, path: str, live_css: bool = True) -> int:
        """Send ``reload`` for ``path`` to every connected page; how many got it."""
        message = json.dumps({"command": "reload", "path": path, "liveCSS": live_css}).encode()
        with self.lock:
            clients = [c for c in self.clients if c.ready]
        return sum(c.send(message) for c in clients)

    def close(self) -> None:
        """Close every connection (on shutdown): each request thread then ends."""
        with self.lock:
            self.closed = True
            clients = list(self.clients)
        for c in clients:
            c.send(b"\x03\xe9", 0x8)  # 1001: going away
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
