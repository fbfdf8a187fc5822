"""`codesite import icd10cm`: two small tabular files that differ, merged into real files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from generator import yamlutil
from generator.build import BuildOptions, build
from generator.errors import CheckFailed
from generator.importers.run import import_icd10cm
from generator.load import load_site
from generator.load.parse import split_front_matter
from tests.conftest import ROOT, codesite

V1 = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2025</version>
  <chapter>
    <name>19</name>
    <desc>Injury, poisoning and certain other consequences of external causes (S00-T88)</desc>
    <sectionIndex>
      <sectionRef first="S70" last="S79" id="S70-S79">Injuries</sectionRef>
    </sectionIndex>
    <section id="S70-S79">
      <desc>Injuries to the hip and thigh (S70-S79)</desc>
      <diag>
        <name>S73</name>
        <desc>Dislocation and sprain of joint and ligaments of hip</desc>
        <includes><note>avulsion of joint or ligament of hip</note></includes>
        <excludes2>
          <note>strain of muscle, fascia and tendon of hip and thigh (S76.-)</note></excludes2>
        <sevenChrDef>
          <extension char="A">initial encounter</extension>
          <extension char="S">sequela</extension>
        </sevenChrDef>
        <diag>
          <name>S73.0</name>
          <desc>Subluxation and dislocation of hip</desc>
          <diag><name>S73.01</name><desc>Posterior subluxation and dislocation of hip</desc></diag>
        </diag>
        <diag>
          <name>S73.1</name>
          <desc>Sprain of hip</desc>
        </diag>
      </diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""

# The next release: S73.1 is gone, S73.2 is new, S73.0 has a new title, S73 a new note.
V2 = (
    V1.replace("<version>2025</version>", "<version>2026</version>")
    .replace(
        "<desc>Subluxation and dislocation of hip</desc>",
        "<desc>Subluxation and dislocation of the hip</desc>",
    )
    .replace(
        "<name>S73.1</name>\n          <desc>Sprain of hip</desc>",
        "<name>S73.2</name>\n          <desc>Other injury of hip joint</desc>",
    )
    .replace("(S76.-)</note></excludes2>", "(S76.-)</note><note>burns (T20-T32)</note></excludes2>")
)

EDITED_S73_0 = """---
code: S73.0
system: icd10cm
title: Subluxation and dislocation of hip
kind: code
parent: S73
billable: false
history: [{release: "2025", action: revised, note: our plain-language text}]
synonyms: [dislocated hip]
seventh_characters: {}
related:
  - {code: S73, relation: see_also}
sections:
  - {id: coding-tips, title: Coding tips, gated: true, body: "Document the direction."}
---

The ball of the thigh bone has come out of the hip socket.
"""


def front(path: Path) -> tuple[dict, str]:
    text = path.read_text()
    f, body, _ = split_front_matter(text, str(path))
    return yamlutil.load(f), body.strip("\n")


@pytest.fixture
def tabulars(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "v1.xml").write_text(V1)
    (tmp_path / "v2.xml").write_text(V2)
    return tmp_path / "v1.xml", tmp_path / "v2.xml"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site folder with the sample's config and layouts and no content yet."""
    s = tmp_path / "site"
    (s / "content").mkdir(parents=True)
    shutil.copy(ROOT / "content" / "site.yaml", s / "content" / "site.yaml")
    shutil.copytree(ROOT / "layouts", s / "layouts")
    shutil.copytree(ROOT / "assets", s / "assets")
    return s


def test_first_import_writes_every_entry(site: Path, tabulars: tuple[Path, Path]) -> None:
    summary = import_icd10cm(str(site), str(tabulars[0]), quiet=True)
    into = site / "content" / "codes" / "icd10cm"
    # chapter, block, S73, S73.0, S73.01 + A/S, S73.1 + A/S
    assert sorted(p.name for p in into.iterdir()) == sorted(
        f"{c}.md"
        for c in [
            "19",
            "S70-S79",
            "S73",
            "S73.0",
            "S73.01",
            "S73.01XA",
            "S73.01XS",
            "S73.1",
            "S73.1XXA",
            "S73.1XXS",
        ]
    )
    assert (summary.added, summary.updated, summary.deleted, summary.unchanged) == (10, 0, 0, 0)
    s73, _ = front(into / "S73.md")
    assert s73["parent"] == "S70-S79" and s73["kind"] == "category" and not s73["billable"]
    assert s73["notes"] == {
        "includes": ["avulsion of joint or ligament of hip"],
        "excludes2": ["strain of muscle, fascia and tendon of hip and thigh (S76.-)"],
    }
    assert s73["seventh_characters"] == {"A": "initial encounter", "S": "sequela"}
    leaf, _ = front(into / "S73.1XXA.md")
    assert leaf == {
        "code": "S73.1XXA",
        "system": "icd10cm",
        "title": "Sprain of hip, initial encounter",
        "kind": "code",
        "parent": "S73.1",
        "billable": True,
    }  # a first import cannot know when codes came: no history entry
    assert "parent" not in front(into / "19.md")[0]
    load_site(str(site))  # the imported files pass the check stage


def test_code_list_filters_seventh_character_expansions(
    site: Path, tabulars: tuple[Path, Path]
) -> None:
    codes = site / "codes.txt"
    codes.write_text("S7301XA\nS731XXA\nS731XXS\n")
    import_icd10cm(str(site), str(tabulars[0]), code_list=str(codes), quiet=True)
    into = site / "content" / "codes" / "icd10cm"
    assert (into / "S73.01XA.md").exists() and not (into / "S73.01XS.md").exists()


def test_reimport_merges_and_keeps_what_editors_wrote(
    site: Path, tabulars: tuple[Path, Path]
) -> None:
    v1, v2 = tabulars
    into = site / "content" / "codes" / "icd10cm"
    import_icd10cm(str(site), str(v1), quiet=True)
    (into / "S73.0.md").write_text(EDITED_S73_0)
    (into / "S73.1.md").write_text((into / "S73.1.md").read_text() + "\nOur words about sprains.\n")
    past = 1_000_000_000
    for p in into.iterdir():
        os.utime(p, (past, past))

    summary = import_icd10cm(str(site), str(v2), quiet=True)

    # S73.2 (+A, +S) added; S73.1 (+A, +S) deleted; S73 (note) and S73.0 (title) updated.
    assert (summary.added, summary.updated, summary.deleted, summary.unchanged) == (3, 2, 3, 5)
    edited, body = front(into / "S73.0.md")
    assert edited["title"] == "Subluxation and dislocation of the hip"
    assert body == "The ball of the thigh bone has come out of the hip socket."
    assert edited["synonyms"] == ["dislocated hip"]
    assert edited["related"] == [{"code": "S73", "relation": "see_also"}]
    assert edited["sections"] == [
        {
            "id": "coding-tips",
            "title": "Coding tips",
            "gated": True,
            "body": "Document the direction.",
        }
    ]
    assert edited["history"] == [
        {"release": "2025", "action": "revised", "note": "our plain-language text"},
        {"release": "2026", "action": "revised", "note": "official title changed"},
    ]
    gone, gone_body = front(into / "S73.1.md")
    assert gone["status"] == "deleted" and gone["title"] == "Sprain of hip"
    assert gone["history"] == [{"release": "2026", "action": "deleted"}]
    assert gone_body == "Our words about sprains."
    new, _ = front(into / "S73.2XXA.md")
    assert new["history"] == [{"release": "2026", "action": "added"}]
    assert new["billable"] is True and new["parent"] == "S73.2"
    s73, _ = front(into / "S73.md")
    assert s73["notes"]["excludes2"][-1] == "burns (T20-T32)"
    # files whose text did not change were not rewritten
    untouched = {p.name for p in into.iterdir() if p.stat().st_mtime == past}
    assert untouched == {"19.md", "S70-S79.md", "S73.01.md", "S73.01XA.md", "S73.01XS.md"}

    # the same release again changes nothing and writes nothing
    before = {p.name: p.stat().st_mtime_ns for p in into.iterdir()}
    again = import_icd10cm(str(site), str(v2), quiet=True)
    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 13)
    assert {p.name: p.stat().st_mtime_ns for p in into.iterdir()} == before

    # the merged folder builds: the deleted code keeps its page, marked deleted
    out = site / "build"
    build(str(site), BuildOptions(out_dir=str(out), quiet=True))
    page = (out / "site" / "icd-10-cm" / "S73.1" / "index.html").read_text()
    assert "This code has been deleted." in page and "Our words about sprains." in page

    # and a code that comes back in a later release is active again, its text kept
    import_icd10cm(str(site), str(v1), release="2027", quiet=True)
    back, back_body = front(into / "S73.1.md")
    assert "status" not in back and back_body == "Our words about sprains."
    assert back["history"][-1] == {"release": "2027", "action": "added", "note": "reinstated"}


def test_unreadable_file_stops_the_merge_before_any_write(
    site: Path, tabulars: tuple[Path, Path]
) -> None:
    into = site / "content" / "codes" / "icd10cm"
    import_icd10cm(str(site), str(tabulars[0]), quiet=True)
    (into / "S73.md").write_text("---\ncode: [S73\n---\n")
    before = {p.name: p.read_text() for p in into.iterdir()}
    with pytest.raises(CheckFailed) as info:
        import_icd10cm(str(site), str(tabulars[1]), quiet=True)
    assert [str(e) for e in info.value.errors] == [
        f"{into / 'S73.md'}:3: front matter: malformed YAML: while parsing a flow sequence "
        "did not find expected ',' or ']'"
    ]
    assert {p.name: p.read_text() for p in into.iterdir()} == before


def test_cli_prints_a_summary(site: Path, tabulars: tuple[Path, Path]) -> None:
    done = codesite("import", "icd10cm", "--site", str(site), "--from", str(tabulars[0]))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("10 added, 0 updated, 0 deleted, 0 unchanged")
    missing = codesite("import", "icd10cm", "--site", str(site), "--from", str(site / "nope.xml"))
    assert missing.returncode == 1
    assert "nope.xml" in missing.stderr
