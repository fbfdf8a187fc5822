"""`codesite serve` answers /api/search from the whoosh index the build made."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

from tests.conftest import ROOT
from tests.servers import running, serve_command


def get_json(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - loopback only
        assert r.headers["Content-Type"].startswith("application/json")
        assert "Set-Cookie" not in r.headers  # the answer does not depend on the visitor
        return json.loads(r.read())


def test_api_search_over_http(sample_site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODESITE_EDGE_KEYS": "api-test-key-0123456789abcdef"}
    with running(serve_command(str(sample_site), str(tmp_path / "out")), "serving http://", env) as line:
        base = line.split()[1].rstrip("/")
        exact = get_json(base + "/api/search?q=s730")
        assert exact["results"][0]["code"] == "S73.0"
        assert exact["results"][0]["url"] == "/icd-10-cm/S73.0/"
        lay = get_json(base + "/api/search?q=broken+hip&limit=5")
        assert 0 < len(lay["results"]) <= 5
        assert any(r["code"].startswith("S72.0") for r in lay["results"])
        cpt = get_json(base + "/api/search?q=hip+dislocation&system=cpt")
        assert [r["code"] for r in cpt["results"]][:1] == ["27253"]
        assert get_json(base + "/api/search?q=")["results"] == []
