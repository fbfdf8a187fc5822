"""Incremental builds: after random edits, the output equals a clean build's, byte for byte."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from generator import yamlutil
from generator.build import BuildOptions, build
from generator.errors import CheckFailed
from generator.importers.files import render_file
from generator.load import load_site
from generator.load.parse import split_front_matter
from generator.load.scan import Prescan, scan
from tests.conftest import codesite


def tree(out: Path) -> dict[str, bytes]:
    """Every output file (public and private) with its bytes; the cache and manifest aside."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for area in ("site", "private")
        for p in sorted((out / area).rglob("*"))
        if p.is_file()
    }


def clean_build(site: Path, tmp: Path) -> dict[str, bytes] | str:
    out = tmp / "clean"
    shutil.rmtree(out, ignore_errors=True)
    try:
        build(str(site), BuildOptions(out_dir=str(out), quiet=True))
    except CheckFailed as exc:
        return "\n".join(str(e) for e in exc.errors)
    return tree(out)


class Editor:
    """Random edits of a site's files, each of a kind that can change other pages."""

    def __init__(self, site: Path, seed: int) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.n = 0

    def files(self, system: str = "icd10cm") -> list[Path]:
        return sorted((self.site / "content" / "codes" / system).glob("*.md"))

    def read(self, path: Path) -> tuple[dict, str]:
        front, body, _ = split_front_matter(path.read_text(), str(path))
        return yamlutil.load(front), body

    def write(self, path: Path, front: dict, body: str) -> None:
        path.write_text(render_file(front, body))

    def pick(self) -> tuple[Path, dict, str]:
        path = self.rng.choice(self.files(self.rng.choice(["icd10cm", "icd10cm", "cpt"])))
        return (path, *self.read(path))

    def leaves(self) -> list[Path]:
        site = load_site(str(self.site))
        used = {(r.system or c.system, r.code) for c in site.codes.values() for r in c.related}
        used |= {(c.system, r) for c in site.codes.values() for r in c.replaced_by}
        return sorted(
            self.site / c.path
            for c in site.codes.values()
            if c.key not in site.children and c.key not in used and c.system == "icd10cm"
        )

    def edit(self) -> str:
        self.n += 1
        kind = self.rng.choice(
            [
                "body",
                "title",
                "billable",
                "add",
                "remove",
                "related",
                "note",
                "deleted",
                "reparent",
                "touch",
                "template",
                "config",
                "section",
            ]
        )
        path, front, body = self.pick()
        if kind == "body":
            self.write(path, front, body + f"\n\nEdit {self.n}: more *plain* words.")
        elif kind == "title":
            front["title"] = f"{front.get('title') or 'Untitled'} (edit {self.n})"
            self.write(path, front, body)
        elif kind == "billable":
            front["billable"] = not front.get("billable", False)
            self.write(path, front, body)
        elif kind == "add":
            leaf = self.rng.choice(self.leaves())
            f, _ = self.read(leaf)
            code = f["code"][:7] + "ZY"[self.n % 2] if "." in f["code"] else f["code"]
            code = code if len(code.split(".")[-1]) <= 4 else code[:-2] + "Z"
            new = self.site / "content" / "codes" / "icd10cm" / f"{code}.md"
            if new.exists():
                return "add (skipped: exists)"
            self.write(new, {**f, "code": code, "title": f"New code {self.n}"}, "")
            kind = f"add {code}"
        elif kind == "remove":
            leaf = self.rng.choice(self.leaves())
            leaf.unlink()
            kind = f"remove {leaf.name}"
        elif kind == "related":
            target, tf, _ = self.pick()
            if tf["system"] != front["system"]:
                return "related (skipped)"
            front["related"] = [
                *(front.get("related") or []),
                {"code": tf["code"], "relation": "see_also"},
            ]
            if len({r["code"] for r in front["related"]}) == len(front["related"]):
                self.write(path, front, body)
        elif kind == "note":
            target, tf, _ = self.pick()
            notes = front.get("notes") or {}
            notes["excludes2"] = [*notes.get("excludes2", []), f"something else ({tf['code']})"]
            front["notes"] = notes
            self.write(path, front, body)
        elif kind == "deleted":
            front["status"] = "deleted"
            self.write(path, front, body)
        elif kind == "reparent":
            leaf = self.rng.choice(self.leaves())
            f, b = self.read(leaf)
            cats = [
                self.read(p)[0]["code"]
                for p in self.files()
                if self.read(p)[0].get("kind") == "category"
            ]
            f["parent"] = self.rng.choice(cats)
            self.write(leaf, f, b)
        elif kind == "touch":
            path.write_text(path.read_text())
        elif kind == "template":
            name = self.rng.choice(
                ["code.html", "base.html", "hierarchy.html", "partials/list.html"]
            )
            t = self.site / "layouts" / name
            text = t.read_text()
            at = text.index("<", text.index("{% block main %}") if "block main" in text else 0)
            t.write_text(f"{text[:at]}<!-- edit {self.n} -->{text[at:]}")
        elif kind == "config":
            cfg = self.site / "content" / "site.yaml"
            text = cfg.read_text()
            cfg.write_text(text.replace("tagline: ", f"tagline: Edit {self.n}. ", 1))
        elif kind == "section":
            front["sections"] = [
                *(front.get("sections") or []),
                {
                    "id": f"s{self.n}",
                    "title": f"Section {self.n}",
                    "gated": self.n % 2 == 0,
                    "body": f"Gated canary {self.n}",
                },
            ]
            self.write(path, front, body)
        return kind


@pytest.mark.parametrize(("seed", "most"), [(1, 3), (2, 3), (3, 3), (4, 1), (5, 1)])
def test_incremental_equals_clean_after_random_edits(
    sample_site: Path, tmp_path: Path, seed: int, most: int
) -> None:
    """Up to ``most`` edits between builds: one edit of a file that keeps its code is the
    case where the build reads the other codes from the snapshot only as pages need them."""
    out = tmp_path / "inc"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    editor = Editor(sample_site, seed)
    for round_ in range(6):
        done = [editor.edit() for _ in range(editor.rng.randint(1, most))]
        expected = clean_build(sample_site, tmp_path)
        try:
            build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
            got: dict[str, bytes] | str = tree(out)
        except CheckFailed as exc:
            got = "\n".join(str(e) for e in exc.errors)
        if isinstance(expected, str):
            assert got == expected, f"round {round_}, edits {done}"
            pytest.skip(f"edits {done} made the site invalid; both builds said so")  # rare
        assert isinstance(got, dict), f"round {round_}, edits {done}: {got}"
        assert sorted(got) == sorted(expected), f"round {round_}, edits {done}"
        differ = [k for k in expected if got[k] != expected[k]]
        assert not differ, f"round {round_}, edits {done}: {differ[:5]}"


def test_noop_rebuild_writes_nothing(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert first.written > 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert (again.written, again.removed) == (0, 0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes


def test_one_edit_renders_only_dependent_pages(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    # the page, its parent's child list, its children's breadcrumbs (and the search index)
    written = sorted(k for k in report.files if not k.startswith("site/search-index/"))
    assert "site/icd-10-cm/S73.01/index.html" in written
    assert "site/icd-10-cm/S73.0/index.html" in written
    assert "site/icd-10-cm/S73.011A/index.html" in written
    assert "site/icd-10-cm/S72.0/index.html" not in written
    assert all(
        k.startswith("site/icd-10-cm/S73.01") or k == "site/icd-10-cm/S73.0/index.html"
        for k in written
    ), written


def test_a_failed_build_keeps_the_previous_output_and_cache(
    sample_site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    before = tree(out)
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    good = path.read_text()
    path.write_text(good.replace("parent: S73.0", "parent: S99.9"))
    with pytest.raises(CheckFailed):
        build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert tree(out) == before
    path.write_text(good)
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert report.written == 0 and tree(out) == before


def test_an_edit_after_the_manifest_was_lost_rebuilds_every_page(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    (out / ".manifest").unlink()
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    path.write_text(path.read_text() + "\nOne more line.\n")
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert report.written > 800  # every page was staged again: none is known to be there
    assert tree(out) == clean_build(sample_site, tmp_path)
    again = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert again.written == 0


def test_the_command_line_stats_files_in_a_child_process_with_the_same_result(
    sample_site: Path, tmp_path: Path
) -> None:
    prescan = Prescan(str(sample_site))
    assert prescan.pid  # forked
    found = prescan.result()
    assert found == scan(str(sample_site)) and len(found) > 800
    out = tmp_path / "out"
    assert codesite("build", "--site", str(sample_site), "--out", str(out), "--quiet").returncode == 0
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.0.md"
    path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
    result = codesite("build", "--site", str(sample_site), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert " 0 removed" in result.stdout and "written" in result.stdout
    assert tree(out) == clean_build(sample_site, tmp_path)
