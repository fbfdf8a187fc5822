"""`codesite check` refuses exactly what `codesite build` refuses, with the same lines.

Both call ``load.load_and_check``; these tests hold them to it on every invalid fixture site
and on random corruptions of the valid sample, with and without a previous build's state
(an incremental build checks through another path: ``check_changed`` on the lazy path).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator.build import BuildOptions, build
from generator.errors import CheckFailed
from generator.load import load_site
from generator.load.checked import read_config_checked
from tests.conftest import ROOT, SITES, codesite, copy_site


def corrupt(site: Path, kind: str) -> None:
    """One corruption of the sample site, of a kind that can make a build fail."""
    codes = site / "content" / "codes"
    cfg = site / "content" / "site.yaml"
    if kind == "broken related link":
        f = codes / "icd10cm" / "S73.0.md"
        f.write_text(f.read_text().replace("- code: '27253'", "- code: '27999'", 1))
    elif kind == "nav to a missing page":
        cfg.write_text(cfg.read_text().replace("url: /cpt/}", "url: /glossary/}"))
    elif kind == "bad synonyms":
        f = site / "content" / "synonyms.yaml"
        f.write_text(f.read_text() + "\nbroken thing: [fine, 3]\n")
    elif kind == "meter over 24":
        cfg.write_text(cfg.read_text().replace("registered_views: 5", "registered_views: 30"))
    elif kind == "bad YAML line":
        f = codes / "icd10cm" / "S73.01.md"
        f.write_text(f.read_text().replace("system: icd10cm", "system: [icd10cm", 1))
    elif kind == "unknown field":
        f = codes / "cpt" / "27254.md"
        f.write_text(f.read_text().replace("system: cpt", "system: cpt\ncolour: blue", 1))
    elif kind == "missing parent":
        f = codes / "icd10cm" / "S73.02.md"
        f.write_text(f.read_text().replace("parent: S73.0\n", "parent: S73.9\n", 1))
    elif kind == "template syntax error":
        f = site / "layouts" / "home.html"
        f.write_text(f.read_text() + "\n{% if %}\n")
    elif kind == "title edit (valid)":
        f = codes / "icd10cm" / "S73.0.md"
        f.write_text(f.read_text().replace("title: Subluxation", "title: Edited subluxation", 1))
    else:  # pragma: no cover - a kind without a corruption
        raise AssertionError(kind)


KINDS = [
    "broken related link", "nav to a missing page", "bad synonyms", "meter over 24", "bad YAML line",
    "unknown field", "missing parent", "template syntax error", "title edit (valid)",
]


def problems_of_check(site: Path) -> list[str] | None:
    try:
        load_site(str(site))
    except CheckFailed as exc:
        return [str(e) for e in exc.errors]
    return None


def problems_of_build(site: Path, out: Path, jobs: int | None = None) -> list[str] | None:
    try:
        build(str(site), BuildOptions(out_dir=str(out), quiet=True, jobs=jobs))
    except CheckFailed as exc:
        return [str(e) for e in exc.errors]
    return None


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The valid sample and its build: each example starts from copies of both."""
    site = copy_site(ROOT, tmp_path_factory.mktemp("one-check") / "site")
    out = site.parent / "out"
    build(str(site), BuildOptions(out_dir=str(out), quiet=True))
    return site, out


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=3, unique=True), incremental=st.booleans(),
       jobs=st.sampled_from([None, 2]))
def test_check_refuses_exactly_what_build_refuses(
    built_once: tuple[Path, Path], kinds: list[str], incremental: bool, jobs: int | None
) -> None:
    """``jobs=2``: the build parses in workers and checks in a forked child (the sample is
    checked in one process otherwise)."""
    src_site, src_out = built_once
    with tempfile.TemporaryDirectory() as tmp:
        site = copy_site(src_site, Path(tmp) / "site")
        out = Path(tmp) / "out"
        if incremental:  # the build has the last build's state, so it takes the incremental paths
            shutil.copytree(src_out, out, symlinks=True)
        for kind in kinds:
            corrupt(site, kind)
        checked = problems_of_check(site)
        built = problems_of_build(site, out, jobs)
        assert checked == built, kinds
        assert (checked is None) == (kinds == ["title edit (valid)"]), (kinds, checked)


def test_each_corruption_is_reported_at_its_line(tmp_path: Path) -> None:
    """Every kind at once: one run reports each, as path:line: field: message."""
    site = copy_site(ROOT, tmp_path / "site")
    for kind in KINDS:
        if kind not in ("missing parent", "title edit (valid)"):
            corrupt(site, kind)
    result = codesite("check", "--site", str(site))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == f"{len(lines) - 1} error(s)"
    expected_starts = [
        "content/codes/cpt/27254.md:",  # unknown field
        "content/codes/icd10cm/S73.01.md:",  # bad YAML
        "content/site.yaml:",  # meter
        "content/synonyms.yaml:",
        "layouts/home.html:",
    ]
    for start in expected_starts:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert any("meter: guest_views + registered_views must be at most 24" in line for line in lines)
    assert any(line.startswith("layouts/home.html:") and ": template: " in line for line in lines)
    built = codesite("build", "--site", str(site), "--out", str(tmp_path / "out"))
    assert built.returncode == 1
    assert built.stderr.splitlines()[:-1] == lines[:-1]
    assert not (tmp_path / "out" / "site").exists()


def test_links_and_nav_are_reported_together_once_the_content_loads(tmp_path: Path) -> None:
    site = copy_site(ROOT, tmp_path / "site")
    corrupt(site, "broken related link")
    corrupt(site, "nav to a missing page")
    lines = problems_of_check(site)
    assert lines is not None
    assert any("related[0].code: related code '27999' does not exist in cpt" in x for x in lines)
    assert any("nav[2].url: '/glossary/' is not a page of the site" in x for x in lines)


@pytest.mark.parametrize("name", sorted(p.name for p in SITES.iterdir() if p.name.startswith("invalid-")))
def test_invalid_fixtures_check_and_build_alike(name: str, tmp_path: Path) -> None:
    checked = codesite("check", "--site", str(SITES / name))
    built = codesite("build", "--site", str(SITES / name), "--out", str(tmp_path / "out"), "--jobs", "2")
    assert checked.returncode == built.returncode == 1
    assert checked.stderr.splitlines()[:-1] == built.stderr.splitlines()[:-1]


def test_serve_refuses_meter_limits_over_24_like_check(tmp_path: Path) -> None:
    """serve used to build, then die in the edge app with a traceback."""
    site = copy_site(ROOT, tmp_path / "site")
    corrupt(site, "meter over 24")
    served = codesite("serve", "--site", str(site), "--out", str(tmp_path / "out"), "--port", "0")
    assert served.returncode == 1
    assert "Traceback" not in served.stderr
    assert served.stderr.splitlines()[:-1] == codesite("check", "--site", str(site)).stderr.splitlines()[:-1]


def test_a_changed_site_yaml_is_read_again_in_the_same_process(tmp_path: Path) -> None:
    # the dev server loads in one process again and again: the config is parsed again when
    # its text changes, and its problems are the new text's
    site = copy_site(ROOT, tmp_path / "site")
    path = site / "content" / "site.yaml"
    config, _, problems = read_config_checked(str(site))
    assert config is not None and problems == []
    text = path.read_text()
    path.write_text(text.replace("name: codesite", "name: Renamed", 1))
    renamed, _, _ = read_config_checked(str(site))
    assert renamed is not None and renamed.name == "Renamed"
    over = text.replace("guest_views: 1\n", "guest_views: 20\n", 1)
    over = over.replace("registered_views: 5", "registered_views: 20", 1)
    path.write_text(over)
    _, _, problems = read_config_checked(str(site))
    assert problems and "24" in str(problems[0])
    problems.clear()  # the caller's own list
    assert read_config_checked(str(site))[2]
    path.write_text(text)
    assert read_config_checked(str(site))[2] == []
