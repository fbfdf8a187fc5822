"""AWS Lambda@Edge adapter: CloudFront viewer-request and viewer-response handlers.

Deployment shape (see README, "Metering and deployment"): one private S3 bucket holding the build
as ``site/...`` and ``private/...``; CloudFront's S3 origin has origin path ``/site``, so no URL can
name a key under ``private/``. The viewer-request function reads the code page and its fragments
with its own role (``s3:GetObject`` on both prefixes) and returns the page it decided on as a
generated response (never cached by CloudFront). Everything else goes on to the origin with a
cleaned URI. On any failure the request goes to the origin: the visitor gets the public teaser.

Lambda@Edge has no store here, so it trusts the signed cookie: it cannot stop a visitor restoring
an older cookie of theirs within its lifetime, or several parallel first requests on one cookie.
The WSGI app, which has SQLite, stops both.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import quote, unquote

from . import pages
from .contract import GUEST_VIEWS, PERIOD_DAYS, REGISTERED_VIEWS
from .cookies import Keys, parse_cookies
from .core import SECURITY_HEADERS, Policy, Request, decide
from .jwt import IdentityVerifier, JWTVerifier
from .paths import clean_segments

MAX_GENERATED = 40_000  # viewer-request generated responses, headers and body, stay under 40 KB
Event = dict[str, Any]


class Origin(Protocol):
    def get(self, key: str) -> bytes | None:
        """The object at ``key`` ("site/..." or "private/..."), or None if there is none."""
        ...


class DirectoryOrigin:
    """A build folder standing in for the bucket (local runs and tests)."""

    def __init__(self, out_dir: str) -> None:
        self.root = os.path.realpath(out_dir)

    def get(self, key: str) -> bytes | None:
        segs = clean_segments("/" + key)
        if not segs:
            return None
        path = os.path.realpath(os.path.join(self.root, *segs))
        if not path.startswith(self.root + os.sep) or not os.path.isfile(path):
            return None
        with open(path, "rb") as f:
            return f.read()


class S3Origin:
    """The private bucket, read with the function's role (boto3 ships in the Lambda runtime)."""

    def __init__(self, bucket: str, client: Any = None) -> None:
        if client is None:
            import boto3  # type: ignore[import-not-found]

            client = boto3.client("s3")
        self.bucket, self.client = bucket, client

    def get(self, key: str) -> bytes | None:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None


def _header(headers: Mapping[str, Sequence[Mapping[str, str]]], name: str) -> str:
    return ", ".join(h.get("value", "") for h in headers.get(name, ()))


def _cf_headers(pairs: Sequence[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for k, v in pairs:
        out.setdefault(k.lower(), []).append({"key": k, "value": v})
    return out


def response(
    status: int,
    description: str,
    pairs: Sequence[tuple[str, str]],
    body: str = "",
    accept_encoding: str = "",
) -> Event:
    """A generated response; gzip + base64 when the viewer accepts it and it would not fit."""
    out: Event = {
        "status": str(status),
        "statusDescription": description,
        "headers": _cf_headers([*pairs, *SECURITY_HEADERS]),
    }
    if body:
        if len(body.encode()) > MAX_GENERATED - 2000 and "gzip" in accept_encoding:
            out["body"] = base64.b64encode(gzip.compress(body.encode(), 6)).decode()
            out["bodyEncoding"] = "base64"
            out["headers"]["content-encoding"] = [{"key": "Content-Encoding", "value": "gzip"}]
        else:
            out["body"], out["bodyEncoding"] = body, "text"
        if len(out["body"]) > MAX_GENERATED - 2000:
            raise ValueError("generated response too large for a viewer-request trigger")
    return out


class EdgeHandler:
    def __init__(
        self,
        origin: Origin,
        policy: Policy,
        keys: Keys,
        metered_prefixes: Sequence[str],
        verifier: IdentityVerifier | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.origin, self.policy, self.keys = origin, policy, keys
        self.prefixes = frozenset(metered_prefixes)
        self.verifier, self.clock = verifier, clock

    def viewer_request(self, event: Event, context: object = None) -> Event:
        request = event["Records"][0]["cf"]["request"]
        try:
            segs = clean_segments(unquote(request.get("uri", ""), errors="strict"))
        except UnicodeError:
            segs = None
        if segs is None:
            return response(404, "Not Found", [("Content-Type", "text/plain")], "Not found\n")
        wanted = request.get("uri", "")
        is_dir = wanted.endswith("/") or segs[-1:] == ["index.html"]
        segs = segs[:-1] if segs[-1:] == ["index.html"] else segs
        tail = ["index.html"] if is_dir else []
        request["uri"] = "/" + "/".join(quote(s, safe="") for s in segs + tail)
        if not (len(segs) == 2 and segs[0] in self.prefixes):
            return request  # not a code page: the origin serves it, cacheable
        try:
            if not is_dir:  # /cpt/27253 -> /cpt/27253/ when that page exists
                if self.origin.get("site/" + "/".join(segs) + "/index.html") is None:
                    return request
                return response(301, "Moved Permanently", [("Location", request["uri"] + "/")])
            return self._metered(request, segs) or request
        except Exception:  # noqa: BLE001 - any failure: the origin's teaser
            return request

    def _metered(self, request: Event, segs: list[str]) -> Event | None:
        key = "site/" + "/".join(segs) + "/index.html"
        raw = self.origin.get(key)
        if raw is None:
            return None
        html = raw.decode("utf-8")
        code = pages.metered_code(html)
        if code is None:
            return None
        headers = request.get("headers", {})
        cookies = parse_cookies(h.get("value", "") for h in headers.get("cookie", ()))
        now = int(self.clock())
        account = None
        if self.verifier is not None:
            account = self.verifier.account(_header(headers, "authorization") or None, cookies, now)
        plain = {name: _header(headers, name) for name in headers}
        d = decide(
            Request(request.get("method", "GET"), code, plain),
            cookies,
            now,
            self.keys,
            self.policy,
            account=account,
        )

        def fragment(gid: str) -> str:
            data = self.origin.get(f"private/{'/'.join(segs)}/{gid}.html")
            if data is None:
                raise LookupError(gid)
            return data.decode("utf-8")

        body = pages.render(html, d.action == "full", fragment, pages.banner_for(d, self.keys, now, self.policy))
        pairs = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "private, no-store"),
            ("Vary", "Cookie"),
        ] + [("Set-Cookie", c) for c in d.set_cookies]
        if request.get("method") == "HEAD":
            body = ""
        return response(200, "OK", pairs, body, _header(headers, "accept-encoding"))

    def viewer_response(self, event: Event, context: object = None) -> Event:
        """Security headers on everything the origin sends."""
        resp = event["Records"][0]["cf"]["response"]
        headers = resp.setdefault("headers", {})
        for name, value in SECURITY_HEADERS:
            headers.setdefault(name.lower(), [{"key": name, "value": value}])
        return resp


CONFIG = os.path.join(os.path.dirname(__file__), "edge_config.json")
_HANDLER: EdgeHandler | None = None


def load_handler(path: str = CONFIG, origin: Origin | None = None) -> EdgeHandler:
    """Lambda@Edge has no environment variables: settings ship in ``edge_config.json`` beside this
    module: ``bucket``, ``keys`` (oldest first), ``metered_prefixes`` (the code systems' URL
    prefixes), ``meter`` (limits from site.yaml) and optionally ``jwt`` (``secret``, ``issuer``,
    ``audience``, ``algorithms``, ``cookie``) for an identity provider."""
    with open(path, encoding="utf-8") as f:
        cfg = json.load(f)
    m = cfg.get("meter", {})
    policy = Policy(m.get("guest_views", GUEST_VIEWS), m.get("registered_views", REGISTERED_VIEWS),
                    m.get("period_days", PERIOD_DAYS))
    verifier = None
    if "jwt" in cfg:
        j = cfg["jwt"]
        verifier = JWTVerifier(
            j["secret"].encode(), j["issuer"], j["audience"], tuple(j.get("algorithms", ["HS256"])), j.get("cookie")
        )
    return EdgeHandler(
        origin or S3Origin(cfg["bucket"]), policy, Keys.of(*cfg["keys"]), cfg["metered_prefixes"], verifier
    )


def handler(event: Event, context: object = None) -> Event:
    """The function's entry point for both triggers (chosen by the event's type)."""
    global _HANDLER
    if _HANDLER is None:
        _HANDLER = load_handler()
    if event["Records"][0]["cf"]["config"].get("eventType") == "viewer-response":
        return _HANDLER.viewer_response(event, context)
    return _HANDLER.viewer_request(event, context)


# What the function runs: this module and what it imports, no more (not the WSGI app, the
# SQLite store or the development server). tests/metering/test_lambda_edge.py imports the
# handler from the unpacked zip alone.
LAMBDA_MODULES = (
    "__init__.py", "contract.py", "cookies.py", "core.py", "jwt.py", "keys.py", "lambda_edge.py", "pages.py",
    "paths.py",
)


def package(out_zip: str, site_dir: str, bucket: str, keys: Keys, jwt: dict[str, Any] | None = None) -> list[str]:
    """Write the function's zip: ``edge/``, ``itsdangerous/`` and ``edge/edge_config.json`` (meter
    limits and URL prefixes from the site's site.yaml). Returns the names written."""
    import zipfile

    import itsdangerous

    from generator.load import load_config

    config = load_config(site_dir)
    cfg: dict[str, Any] = {
        "bucket": bucket,
        "keys": [k.decode() for k in keys.secrets],
        "metered_prefixes": sorted(s.url_prefix for s in config.systems.values()),
        "meter": {
            "guest_views": config.meter.guest_views,
            "registered_views": config.meter.registered_views,
            "period_days": config.meter.period_days,
        },
    }
    if jwt:
        cfg["jwt"] = jwt
    names = []
    with zipfile.ZipFile(out_zip, "w", zipfile.ZIP_DEFLATED) as z:
        here = os.path.dirname(__file__)
        for name in LAMBDA_MODULES:
            z.write(os.path.join(here, name), f"edge/{name}")
            names.append(f"edge/{name}")
        package_dir = os.path.dirname(itsdangerous.__file__)
        for name in sorted(os.listdir(package_dir)):
            if name.endswith((".py", ".typed")):
                z.write(os.path.join(package_dir, name), f"itsdangerous/{name}")
                names.append(f"itsdangerous/{name}")
        z.writestr("edge/edge_config.json", json.dumps(cfg, indent=2))
        names.append("edge/edge_config.json")
    return names


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m edge.lambda_edge --site . --bucket B --out dist/edge-lambda.zip``; keys as for
    ``codesite serve`` ($CODESITE_EDGE_KEYS or --keys-file), never the development key."""
    import argparse

    from .keys import load_keys

    ap = argparse.ArgumentParser(prog="python -m edge.lambda_edge", description=main.__doc__)
    ap.add_argument("--site", default=".")
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--out", default="dist/edge-lambda.zip")
    ap.add_argument("--keys-file")
    args = ap.parse_args(argv)
    keys, source = load_keys(keys_file=args.keys_file)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    names = package(args.out, args.site, args.bucket, keys)
    print(f"wrote {args.out}: {len(names)} files, keys from {source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
