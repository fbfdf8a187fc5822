"""How files travel: cache lifetimes (fingerprinted assets for a year, the rest for minutes)
and gzip for text responses when the client accepts it (``Vary: Accept-Encoding`` either way).

Compressed copies of cacheable responses are kept (bounded), so a static file is gzipped once
per content, not once per request; metered pages (``no-store``) are gzipped per response.
"""

from __future__ import annotations

import gzip
import os
import threading

from .contract import FINGERPRINTED

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/javascript",
    "application/xml",
    "application/manifest+json",
    "image/svg+xml",
)
MIN_SIZE = 256  # smaller bodies gain nothing from gzip's 20 bytes of framing
MAX_KEPT = 512  # gzipped copies kept
Headers = list[tuple[str, str]]


def cache_control(file: str) -> str:
    """A static file's lifetime: fingerprinted names never change content."""
    return IMMUTABLE if FINGERPRINTED.search(os.path.basename(file)) else SHORT


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``gzip``, ``x-gzip`` or ``*``, not at q=0)."""
    allowed: dict[str, bool] = {}
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        allowed[name.strip()] = q > 0
    for name in ("gzip", "x-gzip", "*"):
        if name in allowed:
            return allowed[name]
    return False


def header(headers: Headers, name: str) -> str | None:
    name = name.lower()
    return next((v for k, v in headers if k.lower() == name), None)


def with_vary(headers: Headers, value: str) -> Headers:
    """``headers`` with ``value`` added to its Vary header (one Vary header in all)."""
    old = header(headers, "Vary")
    if old is None:
        return [*headers, ("Vary", value)]
    if value.lower() in (v.strip().lower() for v in old.split(",")):
        return headers
    return [(k, f"{v}, {value}" if k.lower() == "vary" else v) for k, v in headers]


class Compressor:
    """gzip for text responses; keeps the gzipped copies of cacheable ones."""

    def __init__(self, level: int = 6) -> None:
        self.level = level
        self._kept: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def __call__(self, accept_encoding: str, headers: Headers, body: bytes) -> tuple[Headers, bytes]:
        ctype = (header(headers, "Content-Type") or "").lower()
        if len(body) < MIN_SIZE or not ctype.startswith(COMPRESSIBLE) or header(headers, "Content-Encoding"):
            return headers, body
        headers = with_vary(headers, "Accept-Encoding")
        if not accepts_gzip(accept_encoding):
            return headers, body
        cacheable = "public" in (header(headers, "Cache-Control") or "")
        packed = self._kept.get(body) if cacheable else None
        if packed is None:
            packed = gzip.compress(body, self.level, mtime=0)
            if cacheable:
                with self._lock:
                    if len(self._kept) >= MAX_KEPT:
                        self._kept.clear()
                    self._kept[body] = packed
        return [*headers, ("Content-Encoding", "gzip")], packed
