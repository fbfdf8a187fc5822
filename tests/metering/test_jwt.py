"""The identity-provider verifier: a fixed algorithm list, every claim checked."""

from __future__ import annotations

import base64
import json

import pytest

from edge.jwt import JWTVerifier, sign_hs256

SECRET = b"identity-provider-shared-secret-0123456789"
NOW = 1_800_000_000
CLAIMS = {
    "iss": "https://id.example.org",
    "aud": "codesite",
    "sub": "user-1",
    "exp": NOW + 600,
    "iat": NOW,
}
V = JWTVerifier(SECRET, issuer="https://id.example.org", audience="codesite", cookie="idp-token")


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_valid_token_by_header_and_cookie() -> None:
    token = sign_hs256(CLAIMS, SECRET)
    account = V.account(f"Bearer {token}", {}, NOW)
    assert account is not None and account.startswith("idp:")
    assert V.account(None, {"idp-token": [token]}, NOW) == account
    assert V.account(None, {"idp-token": [token, token]}, NOW) is None  # duplicated cookie


def forged_none() -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(CLAIMS)}."


def changed(**claims: object) -> str:
    return sign_hs256({**CLAIMS, **claims}, SECRET)


def without(key: str) -> str:
    return sign_hs256({k: v for k, v in CLAIMS.items() if k != key}, SECRET)


BAD = {
    "alg-none": forged_none(),
    "alg-not-allowed": sign_hs256(CLAIMS, SECRET, "HS512"),
    "alg-rs256-header": f"{b64({'alg': 'RS256'})}.{b64(CLAIMS)}." + sign_hs256(CLAIMS, SECRET).split(".")[2],
    "wrong-secret": sign_hs256(CLAIMS, b"another-secret-of-enough-length-0123456789"),
    "expired": changed(exp=NOW - 31),
    "no-exp": without("exp"),
    "not-yet-valid": changed(nbf=NOW + 3600),
    "issued-in-future": changed(iat=NOW + 3600),
    "wrong-audience": changed(aud="other"),
    "wrong-issuer": changed(iss="https://evil.example"),
    "no-subject": without("sub"),
    "bool-exp": changed(exp=True),
    "padded-signature": sign_hs256(CLAIMS, SECRET) + "=",
    "two-parts": ".".join(sign_hs256(CLAIMS, SECRET).split(".")[:2]),
    "garbage": "not.a.jwt",
    "huge": "a" * 5000,
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_tokens_rejected(name: str) -> None:
    assert V.account(f"Bearer {BAD[name]}", {}, NOW) is None


def test_audience_list_and_leeway() -> None:
    assert V.account(f"Bearer {changed(aud=['x', 'codesite'], exp=NOW - 10)}", {}, NOW) is not None


def test_algorithm_list_is_fixed_by_the_operator() -> None:
    with pytest.raises(ValueError):
        JWTVerifier(SECRET, "i", "a", algorithms=("none",))
    with pytest.raises(ValueError):
        JWTVerifier(b"short", "i", "a")
