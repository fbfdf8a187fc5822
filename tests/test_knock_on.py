"""No knock-on errors: a file that is reported is reported once, and no other file is blamed for
it. Each case breaks a parent code's file one way, next to a child that names it as its parent,
a code that relates it, a deleted code it replaces and a note that mentions it; the whole list of
problems printed is asserted, so a knock-on error anywhere fails the case."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, codesite
from tests.test_messages import P, code_file, minimal, shown, write_site

# the files that lean on S73.0: none of them has a problem of its own
LEANING = {
    P + "S73.01.md": minimal("S73.01", "parent: S73.0"),
    P + "S73.1.md": minimal("S73.1", "parent: S73", "related: [{code: S73.0}]", "notes: {excludes1: [see S73.0]}"),
    P + "S73.9.md": minimal("S73.9", "parent: S73", "status: deleted", "replaced_by: [S73.0]"),
}

# name -> (the parent's file or files, every problem printed, warnings included)
CASES: dict[str, tuple[dict[str, str | bytes], list[str]]] = {
    "code fails its system's pattern": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73"), P + "S73.0q.md": minimal("S73.0q", "parent: S73.0")},
        [
            f"{P}S73.0q.md:2:1: code: 'S73.0q' does not match the icd10cm code pattern "
            "^(?:[A-Z][0-9][0-9A-Z](?:\\.[0-9A-Z]{1,4})?|[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]|[1-9]|1[0-9]|2[0-2])$"
        ],
    ),
    "bad kind": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73", "kind: categroy")},
        [f"{P}S73.0.md:6:1: kind: 'categroy' is not one of: chapter, block, category, code"],
    ),
    "non-boolean billable": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73", "billable: maybe")},
        [f"{P}S73.0.md:6:1: billable: expected true or false, got a string"],
    ),
    "file name does not match the code": (
        {P + "S73.0.md": minimal("S73.00", "parent: S73")},
        [f"{P}S73.0.md:2:1: code: file name 'S73.0.md' does not match code 'S73.00'"],
    ),
    "a copy that kept the code: a duplicate": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73"), P + "S73.2.md": minimal("S73.0", "parent: S73")},
        [f"{P}S73.2.md:2:1: code: file name 'S73.2.md' does not match code 'S73.0'"],
    ),
    "in another system's folder: a duplicate": (
        {
            P + "S73.0.md": minimal("S73.0", "parent: S73"),
            "content/codes/cpt/S73.0.md": minimal("S73.0", "parent: S73"),
        },
        ["content/codes/cpt/S73.0.md:3:1: system: file is in folder 'cpt' but system is 'icd10cm'"],
    ),
    "unknown system": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73", "related: [{code: S73.1}]", system="icd10")},
        [f"{P}S73.0.md:3:1: system: unknown system 'icd10' (known: icd10cm, cpt)"],
    ),
    "missing code": (
        {P + "S73.0.md": code_file("system: icd10cm", "title: Hip", "parent: S73")},
        [f"{P}S73.0.md:2:1: code: required field is missing"],
    ),
    "broken YAML": (
        {P + "S73.0.md": code_file("code: S73.0", "system: icd10cm", "title: Hip: out", "parent: S73")},
        [f"{P}S73.0.md:4:11: title: put the title in quotes: it contains a colon"],
    ),
    "no front matter": (
        {P + "S73.0.md": "code: S73.0\n"},
        [f"{P}S73.0.md:1:1: front matter: file must start with a '---' line"],
    ),
    "not UTF-8": (
        {P + "S73.0.md": b"---\ncode: S73.0\nsystem: icd10cm\ntitle: caf\xe9\n---\n"},
        [f"{P}S73.0.md:1:1: file: not valid UTF-8 (invalid continuation byte)"],
    ),
    "unreadable: a folder in the file's place": (
        {P + "S73.0.md/notes.txt": "a folder, not a file"},
        [f"{P}S73.0.md:1:1: file: cannot read (Is a directory)"],
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_broken_parent_is_reported_once(name: str, tmp_path: Path) -> None:
    files, expected = CASES[name]
    assert shown(write_site(tmp_path, {**LEANING, **files})) == expected


def test_the_leaning_files_pass_with_a_sound_parent(tmp_path: Path) -> None:
    """The cases' other files have no problem of their own (what the cases rely on)."""
    assert shown(write_site(tmp_path, {**LEANING, P + "S73.0.md": minimal("S73.0", "parent: S73")})) == []


@pytest.mark.parametrize("name", ["broken YAML", "file name does not match the code"])
def test_a_build_after_a_good_build_reports_the_same(name: str, tmp_path: Path) -> None:
    """A build into an output folder whose last build passed (its state holds the parent's last
    good version) prints the same problems as a check: not the old version's, no knock-on errors."""
    site = write_site(tmp_path / "site", {**LEANING, P + "S73.0.md": minimal("S73.0", "parent: S73")})
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part)
    out = tmp_path / "out"
    assert codesite("build", "--site", str(site), "--out", str(out)).returncode == 0
    files, expected = CASES[name]
    for rel, text in files.items():
        assert isinstance(text, str)
        (site / rel).write_text(text)
    result = codesite("build", "--site", str(site), "--out", str(out))
    assert result.returncode == 1
    printed = [line for line in result.stderr.splitlines() if line.startswith("content/")]
    assert printed == [without_column(e) for e in expected]


def without_column(line: str) -> str:
    path, number, _col, rest = line.split(":", 3)
    return f"{path}:{number}:{rest}"
