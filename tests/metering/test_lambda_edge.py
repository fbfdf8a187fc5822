"""The Lambda@Edge adapter, driven with CloudFront events in the documented structure, against a
build folder standing in for the bucket (site/ and private/ prefixes)."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from edge_support import CANARY, GATE_TEXT, KEY

from edge.cookies import Keys
from edge.core import Policy
from edge.jwt import JWTVerifier, sign_hs256
from edge.lambda_edge import DirectoryOrigin, EdgeHandler

EVENTS = Path(__file__).parent / "events"
NOW = 1_800_000_000
SECRET = b"identity-provider-shared-secret-0123456789"


def event(
    uri: str,
    method: str = "GET",
    headers: dict[str, list[str]] | None = None,
    kind: str = "viewer-request",
) -> dict[str, Any]:
    e = json.loads((EVENTS / f"{kind}.json").read_text())
    req = e["Records"][0]["cf"]["request"]
    req["uri"], req["method"] = uri, method
    for name, values in (headers or {}).items():
        req["headers"][name.lower()] = [{"key": name, "value": v} for v in values]
    return e


@pytest.fixture
def handler(metered_out: Path) -> EdgeHandler:
    return EdgeHandler(DirectoryOrigin(str(metered_out)), Policy(), Keys.of(KEY), ["demo"], clock=lambda: NOW)


def body_of(resp: dict[str, Any]) -> str:
    body = resp.get("body", "")
    if resp.get("bodyEncoding") == "base64":
        return gzip.decompress(base64.b64decode(body)).decode()
    return str(body)


def cookie_from(resp: dict[str, Any]) -> str:
    return resp["headers"]["set-cookie"][0]["value"].split(";", 1)[0]


def test_free_paths_go_to_the_origin(handler: EdgeHandler) -> None:
    for uri, origin_uri in [
        ("/", "/index.html"),
        ("/demo/", "/demo/index.html"),
        ("/assets/site.css", "/assets/site.css"),
        ("/demo/D100/", "/demo/D100/index.html"),
    ]:
        out = handler.viewer_request(event(uri))
        assert "status" not in out and out["uri"] == origin_uri


def test_guest_journey_in_generated_responses(handler: EdgeHandler) -> None:
    first = handler.viewer_request(event("/demo/D101/"))
    assert first["status"] == "200" and CANARY in body_of(first)
    assert first["headers"]["cache-control"][0]["value"] == "private, no-store"
    cookie = cookie_from(first)
    assert cookie.startswith("__Host-codesite-meter=")
    assert "Secure" in first["headers"]["set-cookie"][0]["value"]
    second = handler.viewer_request(event("/demo/D102/", headers={"Cookie": [cookie]}))
    assert GATE_TEXT in body_of(second) and CANARY not in body_of(second)
    assert "0 code page views remaining" in body_of(second)
    again = handler.viewer_request(event("/demo/D101/index.html", headers={"Cookie": ["a=b", cookie]}))
    assert CANARY in body_of(again)


def test_missing_slash_redirects(handler: EdgeHandler) -> None:
    out = handler.viewer_request(event("/demo/D101"))
    assert out["status"] == "301" and out["headers"]["location"][0]["value"] == "/demo/D101/"


@pytest.mark.parametrize(
    "uri",
    [
        "/%2e%2e/private/demo/D101/coding-tips.html",
        "/demo/../private/x",
        "//private/demo/D101/coding-tips.html",
        "/demo/D101/%00",
        "/a\\b",
        "/demo/%2e%2e/%2e%2e/private/demo/D101/coding-tips.html",
        "/%ff",
    ],
)
def test_path_tricks_refused(handler: EdgeHandler, uri: str) -> None:
    out = handler.viewer_request(event(uri))
    assert out.get("status") == "404" and CANARY not in body_of(out)


def test_private_prefix_is_not_under_the_origin_path(handler: EdgeHandler, metered_out: Path) -> None:
    out = handler.viewer_request(
        event(
            "/private/demo/D101/coding-tips.html",
            headers={"X-Original-URL": ["/private/demo/D101/coding-tips.html"]},
        )
    )
    assert "status" not in out  # to the origin, whose origin path is /site
    assert DirectoryOrigin(str(metered_out)).get("site" + out["uri"]) is None


@pytest.mark.parametrize(
    "method, headers",
    [("HEAD", {}), ("GET", {"Range": ["bytes=0-10"]}), ("GET", {"Sec-Purpose": ["prefetch"]})],
)
def test_head_range_prefetch_spend_nothing(handler: EdgeHandler, method: str, headers: dict[str, list[str]]) -> None:
    out = handler.viewer_request(event("/demo/D101/", method, headers))
    assert out["status"] == "200" and CANARY not in body_of(out)
    fresh = handler.viewer_request(event("/demo/D101/"))
    assert CANARY in body_of(fresh)


def assert_new_guest(handler: EdgeHandler, out: dict[str, Any], old_cookie: str) -> None:
    """What a new guest gets: its one view (this page), then the teaser; no more."""
    assert out["status"] == "200" and CANARY in body_of(out) and "0 code page views remaining" in body_of(out)
    fresh = cookie_from(out)
    assert fresh != old_cookie
    after = handler.viewer_request(event("/demo/D109/", headers={"Cookie": [fresh]}))
    assert CANARY not in body_of(after) and "0 code page views remaining" in body_of(after)


def test_tampered_cookie_is_new_guest(handler: EdgeHandler) -> None:
    cookie = cookie_from(handler.viewer_request(event("/demo/D101/")))
    out = handler.viewer_request(event("/demo/D102/", headers={"Cookie": [cookie[:-2] + "xx"]}))
    assert_new_guest(handler, out, cookie)


def test_duplicate_cookie_headers(handler: EdgeHandler) -> None:
    cookie = cookie_from(handler.viewer_request(event("/demo/D101/")))
    out = handler.viewer_request(event("/demo/D102/", headers={"Cookie": [cookie, cookie]}))
    assert_new_guest(handler, out, cookie)  # a new guest, not an error


def test_missing_fragment_falls_back_to_origin_teaser(metered_out: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    shutil.copytree(metered_out, out_dir)
    (out_dir / "private" / "demo" / "D103" / "coding-tips.html").unlink()
    h = EdgeHandler(DirectoryOrigin(str(out_dir)), Policy(), Keys.of(KEY), ["demo"], clock=lambda: NOW)
    out = h.viewer_request(event("/demo/D103/"))
    assert "status" not in out and out["uri"] == "/demo/D103/index.html"


def test_large_page_is_gzipped_when_accepted(metered_out: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    shutil.copytree(metered_out, out_dir)
    page = out_dir / "site" / "demo" / "D104" / "index.html"
    page.write_text(page.read_text().replace("</main>", "<p>" + "padding " * 6000 + "</p></main>"))
    h = EdgeHandler(DirectoryOrigin(str(out_dir)), Policy(), Keys.of(KEY), ["demo"], clock=lambda: NOW)
    zipped = h.viewer_request(event("/demo/D104/", headers={"Accept-Encoding": ["gzip, br"]}))
    assert zipped["bodyEncoding"] == "base64" and CANARY in body_of(zipped)
    assert "status" not in h.viewer_request(event("/demo/D104/"))  # too big uncompressed: origin teaser


def test_identity_provider_token_gives_registered_tier(metered_out: Path) -> None:
    verifier = JWTVerifier(SECRET, issuer="https://id.example.org", audience="codesite")
    h = EdgeHandler(
        DirectoryOrigin(str(metered_out)),
        Policy(),
        Keys.of(KEY),
        ["demo"],
        verifier,
        clock=lambda: NOW,
    )
    token = sign_hs256(
        {"iss": "https://id.example.org", "aud": "codesite", "sub": "user-1", "exp": NOW + 600},
        SECRET,
    )
    cookie = None
    for i in range(1, 7):
        hdrs = {"Authorization": [f"Bearer {token}"], **({"Cookie": [cookie]} if cookie else {})}
        out = h.viewer_request(event(f"/demo/D10{i}/", headers=hdrs))
        assert CANARY in body_of(out), i
        cookie = cookie_from(out)
    last = h.viewer_request(event("/demo/D107/", headers={"Authorization": [f"Bearer {token}"], "Cookie": [cookie]}))
    assert CANARY not in body_of(last)


def test_viewer_response_adds_security_headers(handler: EdgeHandler) -> None:
    e = event("/assets/site.css", kind="viewer-response")
    before = copy.deepcopy(e["Records"][0]["cf"]["response"]["headers"])
    out = handler.viewer_response(e)
    assert out["headers"]["x-content-type-options"][0]["value"] == "nosniff"
    assert all(out["headers"][k] == v for k, v in before.items())


def test_package_and_entry_point(metered_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    from edge_support import METERED

    from edge import lambda_edge

    out = tmp_path / "edge.zip"
    jwt = {"secret": SECRET.decode(), "issuer": "https://id.example.org", "audience": "codesite"}
    names = lambda_edge.package(str(out), str(METERED), "my-bucket", Keys.of("old-key-0123456789abcdef", KEY), jwt)
    assert {"edge/lambda_edge.py", "edge/core.py", "itsdangerous/__init__.py", "edge/edge_config.json"} <= set(names)
    with zipfile.ZipFile(out) as z:
        cfg = json.loads(z.read("edge/edge_config.json"))
        z.extract("edge/edge_config.json", tmp_path)
    assert cfg["bucket"] == "my-bucket" and cfg["keys"][-1] == KEY and cfg["metered_prefixes"] == ["demo"]
    assert cfg["meter"] == {"guest_views": 1, "registered_views": 5, "period_days": 30}
    h = lambda_edge.load_handler(str(tmp_path / "edge" / "edge_config.json"), DirectoryOrigin(str(metered_out)))
    monkeypatch.setattr(lambda_edge, "_HANDLER", h)
    full = lambda_edge.handler(event("/demo/D105/"))
    assert CANARY in body_of(full)
    resp = lambda_edge.handler(event("/assets/site.css", kind="viewer-response"))
    assert "x-frame-options" in resp["headers"]
    token = sign_hs256({"iss": "https://id.example.org", "aud": "codesite", "sub": "u", "exp": 4_000_000_000}, SECRET)
    assert h.verifier is not None and h.verifier.account(f"Bearer {token}", {}, NOW) is not None


def test_package_holds_only_what_the_function_runs(tmp_path: Path) -> None:
    """The zip: the handler's modules and itsdangerous, no WSGI app, store, server or test
    harness; the handler imports and answers from the unpacked zip alone (isolated Python)."""
    import subprocess
    import sys
    import zipfile

    from edge_support import METERED

    from edge import lambda_edge

    out = tmp_path / "edge.zip"
    lambda_edge.package(str(out), str(METERED), "my-bucket", Keys.of(KEY))
    with zipfile.ZipFile(out) as z:
        edge_files = sorted(n for n in z.namelist() if n.startswith("edge/"))
        z.extractall(tmp_path / "fn")
    assert edge_files == sorted(
        [f"edge/{m}" for m in lambda_edge.LAMBDA_MODULES] + ["edge/edge_config.json"]
    )
    for unwanted in ("server.py", "wsgi.py", "store.py", "files.py"):
        assert f"edge/{unwanted}" not in edge_files
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import edge.lambda_edge as l; "
        "assert callable(l.handler); "
        "print(sorted(m for m in sys.modules if m.startswith(('edge', 'generator'))))"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe, str(tmp_path / "fn")],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "generator" not in result.stdout and "edge.server" not in result.stdout
