"""The dev server's edits take the incremental paths: a synonym edit changes a few client index
files, never the whole index; a code that comes or goes is loaded, checked, rendered and indexed
without loading every code. Builds into one output folder with the build state in memory, as
``codesite serve`` does, each compared byte for byte with a clean build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from generator.build import BuildOptions, build
from generator.errors import CheckFailed
from generator.outputs import read_marshal
from generator.publish import Report
from generator.search.client import TERM_SHARDS
from generator.state import Memory
from tests.conftest import ROOT
from tests.test_incremental import clean_build, tree

CODES = Path("content") / "codes" / "icd10cm"


class Server:
    """Builds as the dev server does: one output folder, the state kept in ``memory``."""

    def __init__(self, site: Path, out: Path) -> None:
        self.site, self.out, self.memory = site, out, Memory()
        self.build()

    def build(self) -> Report:
        report = build(str(self.site), BuildOptions(out_dir=str(self.out), quiet=True, memory=self.memory))
        self.memory.flush()
        return report

    def edit(self, rel: Path, old: str, new: str) -> Report:
        path = self.site / rel
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
        return self.build()


def assert_equals_clean(server: Server, tmp_path: Path) -> None:
    clean = clean_build(server.site, tmp_path)
    assert isinstance(clean, dict), clean
    assert tree(server.out) == clean


def index_files(report: Report) -> list[str]:
    return [k for k in report.files if k.startswith("site/search-index/")]


def state_files(out: Path) -> dict[str, int]:
    """The search state's term shards (``OUT/.cache/search-t-N``) and when each was written: a
    whole index made again writes every one."""
    return {p.name: p.stat().st_mtime_ns for p in (out / ".cache").glob("search-t-*")}


def test_synonym_edits_change_a_few_index_files_and_equal_a_clean_build(sample_site: Path, tmp_path: Path) -> None:
    server = Server(sample_site, tmp_path / "out")
    leaf = CODES / "S72.001B.md"
    assert "synonyms:" not in (sample_site / leaf).read_text()
    # synonyms for a code that had none, then more and longer ones: the average length of the
    # synonym field moves with each (it once moved across its grid and every posting changed)
    words = ["broken hip", "hip fracture in the elderly after a fall at home", "femoral neck break",
             "neck of femur fracture with a very long lay description of the injury and its care"]
    server.edit(leaf, "\n---\n", f"\nsynonyms:\n- {words[0]}\n---\n")
    for i, w in enumerate(words[1:], 1):
        before = state_files(server.out)
        assert len(before) == TERM_SHARDS
        report = server.edit(leaf, f"- {words[i - 1]}\n", f"- {words[i - 1]}\n- {w}\n")
        changed = index_files(report)
        assert changed and "site/search-index/manifest.js" not in changed, changed
        rewritten = [k for k, t in state_files(server.out).items() if before[k] != t]
        assert 0 < len(rewritten) < TERM_SHARDS // 10, (i, len(rewritten))
    assert_equals_clean(server, tmp_path)


def test_a_code_that_comes_and_goes_is_built_incrementally_and_equals_a_clean_build(
    sample_site: Path, tmp_path: Path
) -> None:
    server = Server(sample_site, tmp_path / "out")
    total = len(list((sample_site / "content" / "codes").rglob("*.md")))
    leaf = sample_site / CODES / "S73.0.md"
    new = sample_site / CODES / "S73.09.md"
    text = leaf.read_text().replace("code: S73.0\n", "code: S73.09\n").replace("parent: S73\n", "parent: S73.0\n")
    new.write_text(text.replace("title: Subluxation and dislocation of hip", "title: A brand new hip code"))
    came = server.build()
    assert came.codes_read < total // 4, came.codes_read  # not every code loaded
    assert "site/icd-10-cm/S73.09/index.html" in came.files
    assert "site/icd-10-cm/S73.0/index.html" in came.files  # the parent's children list
    assert "site/search-index/manifest.js" in came.files  # one more document
    assert "A brand new hip code" in (server.out / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
    assert_equals_clean(server, tmp_path)
    # an edit of the new code, then it goes again, with another edit in the same build
    server.edit(CODES / "S73.09.md", "title: A brand new", "title: An edited new")
    new.unlink()
    path = sample_site / CODES / "S72.001B.md"
    path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
    went = server.build()
    assert went.codes_read < total // 4, went.codes_read
    assert went.removed >= 1 and not (server.out / "site" / "icd-10-cm" / "S73.09").exists()
    assert_equals_clean(server, tmp_path)


def test_a_code_that_goes_while_another_names_it_falls_back_to_the_full_check(
    sample_site: Path, tmp_path: Path
) -> None:
    server = Server(sample_site, tmp_path / "out")
    (sample_site / CODES / "S73.01.md").unlink()  # S73.011 and others name it as their parent
    with pytest.raises(CheckFailed) as failed:
        server.build()
    assert any("parent 'S73.01' does not exist" in str(e) for e in failed.value.errors), failed.value.errors


def test_a_new_code_and_its_deletion_rewrite_a_few_index_files(sample_site: Path, tmp_path: Path) -> None:
    """Docids stay with their codes (``search/ids.py``): a code that comes early in the code
    order changes the files that hold it (the shards of its 22 terms, the vocabulary files of
    their first letters, its records and code-prefix files, the manifest: 40 files), not every
    term, record and code-prefix file after it (positions as docids: 227 of the index's files
    for this one, 230 written)."""
    server = Server(sample_site, tmp_path / "out")
    leaf = sample_site / CODES / "S72.001A.md"
    new = sample_site / CODES / "S72.001W.md"
    new.write_text(leaf.read_text().replace("code: S72.001A\n", "code: S72.001W\n"))
    came = server.build()
    assert "site/icd-10-cm/S72.001W/index.html" in came.files
    assert "site/search-index/manifest.js" in index_files(came)
    assert came.written <= 50 and len(index_files(came)) <= 45, (came.written, index_files(came))
    assert_equals_clean(server, tmp_path)
    new.unlink()
    went = server.build()
    assert went.removed >= 1 and not (server.out / "site" / "icd-10-cm" / "S72.001W").exists()
    assert went.written <= 50 and len(index_files(went)) <= 45, (went.written, index_files(went))
    assert_equals_clean(server, tmp_path)


@pytest.mark.parametrize("twin", ["abc", "aBc", "ABc"])
def test_a_new_code_twin_in_another_case_is_refused_as_the_full_check_does(twin: str, tmp_path: Path) -> None:
    """A new file whose code differs from another's only in case (one page on a case-insensitive
    disk): an editor's build, which checks the new file only, finds its case twin and refuses
    with the full check's line; without the twin, the same kind of new code builds."""
    from generator.load.loader import has_case_twin
    from tests.test_messages import BASE_CONFIG, minimal, write_site

    site = write_site(tmp_path / "site", {
        "content/site.yaml": BASE_CONFIG + "  - {id: misc, name: Misc, url_prefix: misc, pattern: '^[A-Za-z]+$', "
        "copyright: x}\n",
        "content/codes/misc/ABC.md": minimal("ABC", system="misc"),
    })
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part)
    out, memory = tmp_path / "out", Memory()
    build(str(site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    (site / "content/codes/misc/Xyz.md").write_text(minimal("Xyz", system="misc"))  # no twin: builds
    build(str(site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    (site / f"content/codes/misc/{twin}.md").write_text(minimal(twin, system="misc"))
    with pytest.raises(CheckFailed) as failed:
        build(str(site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    assert [f"{e.path}:{e.line}: {e.field}: {e.message}" for e in failed.value.errors] == [
        f"content/codes/misc/{twin}.md:2: code: duplicate code '{twin}' (also in content/codes/misc/ABC.md)"]
    files = dict.fromkeys(["content/codes/misc/ABC.md", "content/codes/misc/Xyz.md"])
    assert not has_case_twin(["content/codes/misc/Abd.md"], files)
    long_name = "content/codes/misc/" + "a" * 12 + ".md"
    assert has_case_twin([long_name], {**files, long_name.replace("aaa.md", "aAa.md"): None})


def test_common_terms_patched_after_an_edit_equal_a_clean_build(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A term in more documents than the client keeps postings for (``POSTINGS_CAP``: 2,000,
    here 6, with a coarse document-frequency grid, so that the sample has common terms) is
    patched after an edit from the last build's postings and the edited documents, without the
    impacts of its other documents: new codes under one parent (their ancestors' priors move),
    a title that takes a common word and drops it, a body edit, codes that go, a kept document
    that leaves a term. Each build equals a clean one; the patch was taken (with the last
    build's postings as they were when no document came among them), and refused where a
    kept document went (the one that takes its place is not known)."""
    from generator.search import edit, scores

    monkeypatch.setattr(scores, "POSTINGS_CAP", 6)
    monkeypatch.setattr(scores, "DF_GRID", 1)
    taken: list[bool] = []
    as_before: list[bool] = []  # the last build's postings, as they were (no document came among them)
    patched = edit.patched_postings

    def counted(*args: object, **kw: object) -> list[int] | None:
        out = patched(*args, **kw)  # type: ignore[arg-type]
        taken.append(out is not None)
        as_before.append(out is args[0])
        return out

    monkeypatch.setattr(edit, "patched_postings", counted)
    server = Server(sample_site, tmp_path / "out")
    leaf = sample_site / CODES / "S72.001A.md"
    for n, code in enumerate(["S72.001W", "S72.002W", "S72.009W"]):
        text = leaf.read_text().replace("code: S72.001A\n", f"code: {code}\n")
        (sample_site / CODES / f"{code}.md").write_text(text.replace("title: ", f"title: Copy {n} of ", 1))
        server.build()
        assert_equals_clean(server, tmp_path)
    server.edit(CODES / "S73.014A.md", "title: ", "title: Fracture and ")
    assert_equals_clean(server, tmp_path)
    server.edit(CODES / "S73.014A.md", "title: Fracture and ", "title: ")
    assert_equals_clean(server, tmp_path)
    path = sample_site / CODES / "S72.001B.md"
    path.write_text(path.read_text().rstrip("\n") + "\n\nA closed fracture of the right femur, initial encounter.\n")
    server.build()
    assert_equals_clean(server, tmp_path)
    for code in ["S72.002W", "S72.001W"]:
        (sample_site / CODES / f"{code}.md").unlink()
        server.build()
        assert_equals_clean(server, tmp_path)
    assert True in taken, taken
    assert True in as_before and False in as_before, as_before
    taken.clear()  # the category's short title weighs most in "fracture": kept, then gone from it
    server.edit(CODES / "S72.md", "title: Fracture of femur", "title: Injury of femur")
    assert_equals_clean(server, tmp_path)
    assert False in taken, taken


def test_a_page_that_is_not_a_code_page_goes_when_an_edit_no_longer_makes_it(sample_site: Path, tmp_path: Path) -> None:
    """An edit carries the last build's files over; one that is not a code page (a "What's
    new" page, a client index file) is carried only when the edit makes or keeps it again: a
    release that loses its last code loses its page, as in a clean build."""
    server = Server(sample_site, tmp_path / "out")
    page = server.out / "site" / "icd-10-cm" / "whats-new" / "2031" / "index.html"
    server.edit(CODES / "S72.001B.md", "\n---\n", "\nhistory:\n- {release: '2031', action: added}\n---\n")
    assert page.exists()
    assert_equals_clean(server, tmp_path)
    report = server.edit(CODES / "S72.001B.md", "history:\n- {release: '2031', action: added}\n", "")
    assert report.removed >= 1 and report.written < 10, report
    assert not page.exists()
    assert_equals_clean(server, tmp_path)


def test_the_first_edit_finds_the_search_state_read_ahead(sample_site: Path, tmp_path: Path) -> None:
    """The dev server reads the last build's search state and whoosh meta ahead, once it
    serves (``build.read_ahead``): the first edit takes them from memory instead of reading
    them from disk while the editor waits, and its build equals a clean one."""
    from generator.build import read_ahead
    from generator.search import client, engine

    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))  # an earlier process's build
    client._SAVED.clear()
    engine._WRITTEN.clear()
    server = Server.__new__(Server)
    server.site, server.out, server.memory = sample_site, out, Memory()
    server.build()  # the dev server's first build: nothing to do
    assert not client._SAVED and "meta" not in engine._WRITTEN
    read_ahead(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=server.memory))
    assert list(client._SAVED) == [str(out / ".cache")] and "meta" in engine._WRITTEN
    state = client._SAVED[str(out / ".cache")][1]
    server.edit(CODES / "S72.001B.md", "title: ", "title: Read ahead ")
    assert client._SAVED[str(out / ".cache")][1] is not state  # taken, changed and saved by the edit
    assert_equals_clean(server, tmp_path)


def test_an_edit_keeps_the_term_shards_it_read_for_the_next(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search state's term shards an edit read stay in memory for the next edit (the
    dev server edits one code again and again): the second edit of a title reads none from
    disk (it drops a word), and equals a clean build."""
    from generator.search import client

    server = Server(sample_site, tmp_path / "out")
    server.edit(CODES / "S72.001B.md", "title: ", "title: Kept shards ")
    read: list[str] = []
    real = client.read_marshal

    def counted(path: str) -> object:
        read.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(client, "read_marshal", counted)
    server.edit(CODES / "S72.001B.md", "title: Kept shards ", "title: Shards ")
    assert not [name for name in read if name.startswith("search-t-")], read
    assert_equals_clean(server, tmp_path)


def test_an_edit_writes_the_digests_it_changed_and_reads_back_a_clean_builds(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whoosh meta after an edit holds the digests changed since the folder's DOCS (a link
    to the last index's, not written again: 98k digests, 4 MB, took an edit 35-130 ms); read
    back, in a process that did not write it, they are a clean build's."""
    from generator.search import engine

    server = Server(sample_site, tmp_path / "out")
    index = server.out / engine.WHOOSH_DIR

    def digests(folder: Path) -> dict[str, str]:
        engine._WRITTEN.clear()  # as another process reads it
        return engine._read_meta(str(folder / engine.META))["docs"]

    first = (index / engine.DOCS).stat().st_ino
    server.edit(CODES / "S73.0.md", "title: ", "title: Edited ")
    (sample_site / CODES / "S72.001B.md").unlink()
    server.build()
    meta = read_marshal(str(index / engine.META))
    assert (index / engine.DOCS).stat().st_ino == first  # the last index's, linked
    assert meta["since"]["icd10cm:S73.0"] and meta["since"]["icd10cm:S72.001B"] is None
    clean_build(server.site, tmp_path)
    assert digests(index) == digests(tmp_path / "clean" / engine.WHOOSH_DIR)
    monkeypatch.setattr(engine, "DOCS_SINCE", 0)  # past it: DOCS written again, nothing since
    server.edit(CODES / "S73.0.md", "title: Edited ", "title: Again ")
    assert (index / engine.DOCS).stat().st_ino != first and read_marshal(str(index / engine.META))["since"] == {}
    clean_build(server.site, tmp_path)
    assert digests(index) == digests(tmp_path / "clean" / engine.WHOOSH_DIR)


def test_builds_from_the_watchers_stats_equal_a_clean_build(sample_site: Path, tmp_path: Path) -> None:
    """The dev server's builds after a save take the saved files' stats alone (``known_stats``:
    the others are the last build's): an edit, a new code and a deletion each equal a clean
    build, and the scan they stand for is a fresh scan's."""
    from generator.load.scan import scan
    from generator.serve.watch import Batch, ChangeKind, known_stats

    server = Server(sample_site, tmp_path / "out")
    leaf, new = CODES / "S73.0.md", CODES / "S73.09.md"
    text = (sample_site / leaf).read_text()
    steps = [
        lambda: (sample_site / leaf).write_text(text.replace("title: ", "title: Saved ", 1)),
        lambda: (sample_site / new).write_text(text.replace("code: S73.0\n", "code: S73.09\n")
                                               .replace("parent: S73\n", "parent: S73.0\n")),
        lambda: (sample_site / new).unlink(),
    ]
    for step, rel in zip(steps, (leaf, new, new), strict=True):
        step()
        assert server.memory.snapshot is not None
        stats = known_stats(str(sample_site), server.memory.snapshot.files, Batch({str(rel): ChangeKind.CONTENT}))
        assert stats is not None and stats.result() == scan(str(sample_site))
        build(str(sample_site), BuildOptions(out_dir=str(server.out), quiet=True, memory=server.memory, prescan=stats))
        server.memory.flush()
        assert_equals_clean(server, tmp_path)
    assert "S73.09" not in (server.out / "site" / "icd-10-cm" / "S73.0" / "index.html").read_text()
