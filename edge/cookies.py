"""Signed cookies: parsing Cookie headers safely, signing and reading values with key rotation.

Values are itsdangerous ``URLSafeTimedSerializer`` tokens (HMAC-SHA-256, one salt per purpose,
a list of keys oldest to newest: the newest signs, all verify). ``max_age`` is always passed, and
the clock is an argument so the core stays pure and the tests can stand at any instant.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

MAX_COOKIE = 1024  # a longer value is not ours: new guest
MAX_HEADER = 8192
# payload.timestamp.signature, url-safe base64 without padding; a leading "." marks a
# compressed payload. SHA-256 signatures are 43 characters. Anything else (trailing "=",
# whitespace, other alphabets) is rejected before any parsing.
TOKEN = re.compile(r"\.?[A-Za-z0-9_-]{1,1000}\.[A-Za-z0-9_-]{1,12}\.[A-Za-z0-9_-]{43}")
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

Cookies = Mapping[str, Sequence[str]]


class InvalidToken(Exception):
    """The cookie is missing, malformed, tampered with, expired or signed with an unknown key."""


def parse_cookies(headers: Iterable[str]) -> dict[str, list[str]]:
    """Every ``name=value`` pair of every Cookie header, in order; a malformed pair is skipped
    without disturbing its neighbours. Pairs are split on ``;`` and ``,`` (servers join several
    Cookie headers with a comma; our values never contain one)."""
    out: dict[str, list[str]] = {}
    for header in headers:
        if len(header) > MAX_HEADER:
            continue
        for part in re.split(r"[;,]", header):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not COOKIE_NAME.fullmatch(name):
                continue
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out.setdefault(name, []).append(value)
    return out


def only(cookies: Cookies, name: str) -> str | None:
    """The value of ``name`` if it was sent exactly once; a duplicated cookie counts as none."""
    values = cookies.get(name) or ()
    return values[0] if len(values) == 1 else None


def cookie_name(base: str, secure: bool) -> str:
    """``__Host-`` needs ``Secure``; on plain-HTTP loopback the bare name is used."""
    return f"__Host-{base}" if secure else base


def set_cookie(name: str, value: str, max_age: int, secure: bool) -> str:
    attrs = f"{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax"
    return attrs + "; Secure" if secure else attrs


class _ClockSigner(TimestampSigner):
    """A timestamp signer whose clock is given, so signing and checking age are pure."""

    def __init__(self, *args: Any, now: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._now = now

    def get_timestamp(self) -> int:
        return self._now


@dataclass(frozen=True)
class Keys:
    """Signing keys, oldest first; the last one signs. Rotate by appending, retire by removing."""

    secrets: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.secrets:
            raise ValueError("at least one signing key is needed")
        if any(len(k) < 16 for k in self.secrets):
            raise ValueError("signing keys must be at least 16 bytes")

    @classmethod
    def of(cls, *keys: str | bytes) -> Keys:
        return cls(tuple(k.encode() if isinstance(k, str) else k for k in keys))


@dataclass(frozen=True)
class Codec:
    """Signs and reads one kind of cookie: the salt names its purpose."""

    salt: str
    max_age: int

    def _serializer(self, keys: Sequence[bytes], now: int) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(
            list(keys),
            salt=self.salt,
            signer=_ClockSigner,
            signer_kwargs={"digest_method": hashlib.sha256, "now": now},
            fallback_signers=[],
        )

    def dumps(self, obj: Any, keys: Keys, now: int) -> str:
        return str(self._serializer(keys.secrets, now).dumps(obj))

    def loads(self, value: str | None, keys: Keys, now: int) -> tuple[Any, bool]:
        """The payload and whether it should be re-signed (it verified only with an older key)."""
        if value is None or len(value) > MAX_COOKIE or not TOKEN.fullmatch(value):
            raise InvalidToken("malformed")
        seen = _VERIFIED.get((self.salt, keys.secrets, value))
        if seen is not None:  # this exact token verified before: only its age is left to check
            signed_at, payload, resign = seen
            if not 0 <= now - signed_at <= self.max_age:
                raise InvalidToken("expired or from the future")
            return json.loads(payload), resign
        newest = keys.secrets[-1:]
        for candidates, resign in ((newest, False), (keys.secrets[:-1], True)):
            if not candidates:
                continue
            try:
                data, signed = self._serializer(candidates, now).loads(
                    value, max_age=self.max_age, return_timestamp=True
                )
            except SignatureExpired:
                raise InvalidToken("expired or from the future") from None
            except BadData:
                continue
            if len(_VERIFIED) >= MAX_VERIFIED:
                _VERIFIED.clear()
            _VERIFIED[(self.salt, keys.secrets, value)] = (int(signed.timestamp()), json.dumps(data), resign)
            return data, resign
        raise InvalidToken("bad signature")


# (salt, keys, token) -> (signed at, payload as JSON, verified only with an older key): a visitor
# sends the same cookie with every request, and checking its HMAC again gives the same answer
# for as long as the keys are the same (they are part of the key); the age is checked every time
MAX_VERIFIED = 4096
_VERIFIED: dict[tuple[str, tuple[bytes, ...], str], tuple[int, str, bool]] = {}
