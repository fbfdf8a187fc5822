"""Identity from an external provider: the verifier interface and an HS256 JWT verifier.

An operator who keeps accounts elsewhere passes a verifier to the edge instead of (or beside) the
embedded accounts. The verifier turns the request's credential into an account id for the meter,
or None (then guest rules apply). Algorithms are a fixed list chosen by the operator, never read
from the token: ``alg: none`` and algorithm confusion are rejected before any signature check.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .cookies import only

MAX_TOKEN = 4096
ALGORITHMS = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


class IdentityVerifier(Protocol):
    def account(self, authorization: str | None, cookies: Mapping[str, Sequence[str]], now: int) -> str | None:
        """The account id (stable, ``[A-Za-z0-9:._@-]``) the credential proves, or None."""
        ...


B64URL = re.compile(r"[A-Za-z0-9_-]+")


def _b64(part: str) -> bytes:
    """Strict unpadded base64url (RFC 7515): only the alphabet, no padding, and the one
    canonical spelling of the bytes (the unused low bits of the last character are zero), so a
    token has exactly one valid form. Python's decoder skips foreign characters on its own."""
    if not B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("bad base64")
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != part:
        raise ValueError("non-canonical base64")
    return data


@dataclass(frozen=True)
class JWTVerifier:
    """HMAC-signed JWTs (RFC 7519) from ``Authorization: Bearer`` or a cookie.

    Checks, in order: size, three parts, header ``alg`` in ``algorithms`` (and ``typ`` JWT if
    present), signature (constant time), ``iss``, ``aud``, ``exp`` (required), ``nbf``, ``iat`` not
    in the future, ``sub`` present. The account id is a hash of issuer and subject.
    """

    secret: bytes
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("HS256",)
    cookie: str | None = None
    leeway: int = 30

    def __post_init__(self) -> None:
        if not self.algorithms or any(a not in ALGORITHMS for a in self.algorithms):
            raise ValueError(f"algorithms must be chosen from {sorted(ALGORITHMS)}")
        if len(self.secret) < 32:
            raise ValueError("the HMAC secret must be at least 32 bytes")

    def account(self, authorization: str | None, cookies: Mapping[str, Sequence[str]], now: int) -> str | None:
        token = None
        if authorization and authorization[:7].lower() == "bearer ":
            token = authorization[7:].strip()
        elif self.cookie:
            token = only(cookies, self.cookie)
        claims = self.verify(token, now) if token else None
        if claims is None:
            return None
        digest = hashlib.sha256(f"{claims['iss']}\0{claims['sub']}".encode()).hexdigest()[:32]
        return f"idp:{digest}"

    def verify(self, token: str, now: int) -> dict[str, Any] | None:
        try:
            return self._verify(token, now)
        except (ValueError, TypeError, KeyError, UnicodeError):
            return None

    def _verify(self, token: str, now: int) -> dict[str, Any] | None:
        if len(token) > MAX_TOKEN or token.count(".") != 2:
            return None
        h64, p64, s64 = token.split(".")
        header = json.loads(_b64(h64))
        if not isinstance(header, dict) or header.get("alg") not in self.algorithms:
            return None
        if "typ" in header and str(header["typ"]).upper() != "JWT" or "crit" in header:
            return None
        expected = hmac.new(self.secret, f"{h64}.{p64}".encode("ascii"), ALGORITHMS[header["alg"]]).digest()
        if not hmac.compare_digest(expected, _b64(s64)):
            return None
        claims = json.loads(_b64(p64))
        if not isinstance(claims, dict):
            return None
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        times = [claims.get("exp"), claims.get("nbf", now), claims.get("iat", now)]
        if not all(isinstance(t, int | float) and not isinstance(t, bool) for t in times):
            return None
        exp, nbf, iat = (float(t) for t in times)  # type: ignore[arg-type]
        ok = (
            claims.get("iss") == self.issuer
            and self.audience in auds
            and now < exp + self.leeway
            and nbf <= now + self.leeway
            and iat <= now + self.leeway
            and isinstance(claims.get("sub"), str)
            and 0 < len(claims["sub"]) <= 256
        )
        return claims if ok else None


def sign_hs256(claims: Mapping[str, Any], secret: bytes, alg: str = "HS256") -> str:
    """Make a token (for tests and local identity providers)."""

    def enc(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = enc(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = enc(json.dumps(dict(claims)).encode())
    sig = hmac.new(secret, f"{head}.{body}".encode(), ALGORITHMS[alg]).digest()
    return f"{head}.{body}.{enc(sig)}"
