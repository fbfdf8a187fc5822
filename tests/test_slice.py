"""A 2,000-entry slice of the real ICD-10-CM release (chapters 3 and 9), imported and built
in two processes: the same bytes as one process, and incremental rebuilds as clean ones."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from test_incremental import tree

from generator.build import BuildOptions, build
from generator.importers import icd10cm
from generator.search.engine import WHOOSH_DIR, query_whoosh
from tests.conftest import ROOT, codesite
from tests.test_search import node_search

CHAPTERS = {"3", "9"}


@pytest.fixture(scope="session")
def slice_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site holding chapters 3 and 9 of the 2026 release, imported by the command line."""
    tmp = tmp_path_factory.mktemp("slice")
    root = ET.parse(icd10cm.default_tabular()).getroot()
    for chapter in root.findall("chapter"):
        if chapter.findtext("name", "").strip() not in CHAPTERS:
            root.remove(chapter)
    xml = tmp / "slice.xml"
    ET.ElementTree(root).write(xml, encoding="utf-8", xml_declaration=True)
    site = tmp / "site"
    (site / "content").mkdir(parents=True)
    shutil.copy(ROOT / "content" / "site.yaml", site / "content" / "site.yaml")
    shutil.copytree(ROOT / "layouts", site / "layouts")
    shutil.copytree(ROOT / "assets", site / "assets")
    codes = icd10cm.default_code_list()
    done = codesite("import", "icd10cm", "--site", str(site), "--from", str(xml), "--codes", codes)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("2218 added, 0 updated, 0 deleted, 0 unchanged")
    return site


def test_two_processes_build_the_same_bytes_as_one(slice_site: Path, tmp_path: Path) -> None:
    two, one = tmp_path / "two", tmp_path / "one"
    report = build(str(slice_site), BuildOptions(out_dir=str(two), quiet=True, jobs=2))
    build(str(slice_site), BuildOptions(out_dir=str(one), quiet=True, jobs=1))
    assert report.written > 2218
    assert tree(two) == tree(one)
    page = (two / "site" / "icd-10-cm" / "I21.01" / "index.html").read_text()
    assert "ST elevation (STEMI) myocardial infarction involving left main coronary artery" in page


def test_incremental_in_two_processes_equals_clean(slice_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(slice_site, site)
    out = tmp_path / "out"
    build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=2))
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    noop = build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=2))
    assert (noop.written, noop.removed) == (0, 0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes

    # a block's title shows in the breadcrumbs of every code below it
    block = site / "content" / "codes" / "icd10cm" / "I20-I25.md"
    block.write_text(block.read_text().replace("title: ", "title: Renamed ", 1))
    layout = site / "layouts" / "hierarchy.html"
    layout.write_text(
        layout.read_text().replace(
            '<section class="code-section children"',
            '<section class="code-section children edited"',
        )
    )
    report = build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=2))
    clean = tmp_path / "clean"
    build(str(site), BuildOptions(out_dir=str(clean), quiet=True, jobs=1))
    assert tree(out) == tree(clean)
    written = set(report.files)
    assert "site/icd-10-cm/I21.01/index.html" in written  # under the block
    assert "site/icd-10-cm/I10/index.html" not in written  # in another block
    assert "site/icd-10-cm/D50-D53/index.html" in written  # a page of the edited template


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_build_killed_while_rendering_leaves_everything_of_the_last_build(slice_site: Path, tmp_path: Path) -> None:
    """SIGKILL a real ``codesite build`` once it renders: the site, the gated fragments, the
    client index and the whoosh index all stay the last build's; the next build mends all."""
    site = tmp_path / "site"
    shutil.copytree(slice_site, site)
    out = tmp_path / "out"
    build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=2))
    index_dir = out / WHOOSH_DIR
    before, whoosh_before = tree(out), files_of(index_dir)
    old_title = query_whoosh(str(index_dir), "I21.01")[0]["title"]

    entry = site / "content" / "codes" / "icd10cm" / "I21.01.md"
    entry.write_text(entry.read_text().replace("title: ", "title: Qqkilledcanary ", 1))
    layout = site / "layouts" / "code.html"  # every code page renders again: seconds of work
    layout.write_text(layout.read_text().replace("<article", "<!-- edited --><article", 1))
    rendering = out / ".staging" / "site" / "icd-10-cm"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "generator.cli", "build", "--site", str(site), "--out", str(out), "--quiet"],
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and not (rendering.is_dir() and any(rendering.iterdir())):
            time.sleep(0.005)
        assert proc.poll() is None, "the build ended before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the build and its rendering workers
        proc.wait()

    assert tree(out) == before  # site/ (pages and client index) and private/
    assert files_of(index_dir) == whoosh_before
    page = (out / "site" / "icd-10-cm" / "I21.01" / "index.html").read_text()
    assert "Qqkilledcanary" not in page and old_title in page
    assert query_whoosh(str(index_dir), "qqkilledcanary") == []
    assert node_search(out / "site", "qqkilledcanary") == []
    assert query_whoosh(str(index_dir), "I21.01")[0]["title"] == old_title
    assert node_search(out / "site", "I21.01")[0]["title"] == old_title

    build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=2))
    clean = tmp_path / "clean"
    build(str(site), BuildOptions(out_dir=str(clean), quiet=True, jobs=2))
    assert tree(out) == tree(clean)
    assert [r["code"] for r in query_whoosh(str(index_dir), "qqkilledcanary")] == ["I21.01"]
    assert [r["code"] for r in node_search(out / "site", "qqkilledcanary")] == ["I21.01"]
