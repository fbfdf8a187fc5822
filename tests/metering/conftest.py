"""Fixtures for the edge: the metered fixture site built once, a fresh app per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_support import KEY, Edge, metered_source, running_edge

from edge.cookies import Keys
from edge.wsgi import RateLimit


@pytest.fixture(scope="session")
def metered_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from generator.build import BuildOptions, build

    src = metered_source(tmp_path_factory.mktemp("metered") / "site")
    out = src / "build"
    build(str(src), BuildOptions(out_dir=str(out), quiet=True))
    return out


@pytest.fixture
def keys() -> Keys:
    return Keys.of(KEY)


@pytest.fixture
def edge(metered_out: Path, tmp_path: Path, keys: Keys) -> Iterator[Edge]:
    """A fresh app (own SQLite file) on its own port; the build is shared and read-only."""
    with running_edge(metered_out, tmp_path / "edge.sqlite3", keys, rate_limit=RateLimit(10, 300)) as e:
        yield e
