"""The journaled tables a build keeps (the manifest, the content files' stats): an edit appends
what changed; whatever happened to the files, reading gives a table that was written whole."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from generator import outputs, publish
from generator.build import BuildOptions, build
from generator.outputs import JOURNAL, read_dict, write_dict, write_marshal
from generator.publish import MANIFEST
from generator.state import Memory
from tests.test_incremental import clean_build, tree

TABLE = {f"site/icd-10-cm/S{i:05d}/index.html": f"{i:032x}" for i in range(2000)}


def stat_of(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns


def test_an_edit_appends_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "table"
    assert write_dict(str(path), TABLE, None)
    base = stat_of(path)
    old = read_dict(str(path))
    assert old == TABLE
    new = {**old, "site/icd-10-cm/S00001/index.html": "changed", "site/new/index.html": "added"}
    del new["site/icd-10-cm/S00002/index.html"]
    assert write_dict(str(path), new, old)
    assert stat_of(path) == base  # the table itself untouched
    assert (tmp_path / f"table{JOURNAL}").stat().st_size < 200
    assert read_dict(str(path)) == new
    assert not write_dict(str(path), new, new)  # nothing changed: nothing written
    newer = {**new, "site/icd-10-cm/S00003/index.html": "again"}
    assert write_dict(str(path), newer, new)
    assert read_dict(str(path)) == newer


def test_a_journal_cut_short_gives_the_last_whole_write(tmp_path: Path) -> None:
    path = tmp_path / "table"
    write_dict(str(path), TABLE, None)
    first = {**TABLE, "a": "1"}
    write_dict(str(path), first, read_dict(str(path)))
    write_dict(str(path), {**first, "b": "2"}, first)
    log = tmp_path / f"table{JOURNAL}"
    data = log.read_bytes()
    for cut in (1, 5, 12):
        log.write_bytes(data[:-cut])
        assert read_dict(str(path)) == first


def test_a_table_written_by_another_hand_is_rewritten_whole(tmp_path: Path) -> None:
    """Records name the table they were made for: a table replaced since (another process, an
    older program writing it whole) is read without them, and the next write rewrites it."""
    path = tmp_path / "table"
    write_dict(str(path), TABLE, None)
    old = read_dict(str(path))
    write_dict(str(path), {**old, "a": "1"}, old)
    other, log = {"x": "y"}, tmp_path / f"table{JOURNAL}"
    records = log.read_bytes()
    code = f"from generator.outputs import write_dict; write_dict({str(path)!r}, {other!r}, None)"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
    log.write_bytes(records)  # that process stopped before it removed the journal, naming the old table
    assert read_dict(str(path)) == other
    mine = {**old, "a": "2"}
    assert write_dict(str(path), mine, {**old, "a": "1"})  # this process's view is stale: whole
    assert not (tmp_path / f"table{JOURNAL}").exists()
    assert read_dict(str(path)) == mine


def test_a_table_of_another_format_or_cut_short_reads_as_damaged(tmp_path: Path) -> None:
    """A table as an older program wrote it (one marshal dict), or cut short, is refused: its
    reader (the publisher, the build state) then starts again from nothing, as on a first build."""
    path = tmp_path / "table"
    write_marshal(str(path), TABLE)
    with pytest.raises(outputs.DAMAGED):
        read_dict(str(path))
    write_dict(str(path), TABLE, None)
    data = path.read_bytes()
    for cut in (1, 3, len(data) // 2):
        path.write_bytes(data[:-cut])
        with pytest.raises(outputs.DAMAGED):
            read_dict(str(path))


PEAK = """
import sys
from generator.outputs import write_dict
table = {f"site/icd-10-cm/S{i:06d}/index.html": f"{i:032x}" for i in range(100_000)}
def status(): return dict(line.split(":", 1) for line in open("/proc/self/status"))
with open("/proc/self/clear_refs", "w") as f: f.write("5")  # VmHWM from here
before = int(status()["VmRSS"].split()[0])
write_dict(sys.argv[1], table, None)
print((int(status()["VmHWM"].split()[0]) - before) // 1024)
"""


def test_writing_a_table_holds_a_record_not_the_table(tmp_path: Path) -> None:
    """A build saves its two 100k-entry tables last, at its peak of memory: the table goes to
    disk a record at a time, not made whole as bytes first (7-9 MB and a marshal reference
    table twice that: the cold build's peak went from 344 to 377 MiB)."""
    path = tmp_path / "table"
    done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True, check=True,
                          cwd=Path(__file__).parents[1])
    assert int(done.stdout) <= 4, f"writing a 100k-entry table raised the peak by {done.stdout.strip()} MiB"
    assert len(read_dict(str(path))) == 100_000


def test_a_long_journal_is_folded_into_the_table(tmp_path: Path) -> None:
    path = tmp_path / "table"
    write_dict(str(path), TABLE, None)
    table = read_dict(str(path))
    log = tmp_path / f"table{JOURNAL}"
    sizes = []
    for i in range(400):
        new = {**table, f"k{i}": "v" * 200}
        write_dict(str(path), new, table)
        table = new
        sizes.append(log.stat().st_size if log.exists() else 0)
    assert 0 in sizes[1:] and max(sizes) <= max(outputs.JOURNAL_MIN, path.stat().st_size // 4) + 1000
    assert read_dict(str(path)) == table


def test_an_edit_build_appends_to_the_manifest_and_the_stats(sample_site: Path, tmp_path: Path) -> None:
    """A body edit built with ``codesite build`` (a fresh process) rewrites neither the
    manifest nor the stats of every content file; the output equals a clean build's."""
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    manifest, files = out / MANIFEST, out / ".cache" / "files"
    before = stat_of(manifest), stat_of(files)
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.014A.md"
    page.write_text(page.read_text().rstrip("\n") + "\n\nA sentence added by the journal test.\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    subprocess.run([sys.executable, "-m", "generator.cli", "build", "--site", str(sample_site), "--out", str(out),
                    "--quiet"], check=True, env=env)
    assert (stat_of(manifest), stat_of(files)) == before
    assert (out / f"{MANIFEST}{JOURNAL}").exists() and (out / ".cache" / f"files{JOURNAL}").exists()
    assert tree(out) == clean_build(sample_site, tmp_path)


def test_a_layout_change_puts_the_area_in_place_whole(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When most of an area is rewritten (a layout change: every page), the unchanged files are
    linked into the staged area and it replaces the live one whole: the output equals a clean
    build's, a removed page is gone, and no replaced folder is left behind. The dev server (a
    build with a memory) is handed the replaced folder to remove once the page has reloaded."""
    monkeypatch.setattr(publish, "SWAP_MIN", 1)  # the sample has 60 pages, not thousands,
    monkeypatch.setattr(publish, "SWAP_SHARE", 0.01)  # beside hundreds of search index files
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    site_folder = (out / "site").stat().st_ino
    layout = sample_site / "layouts" / "code.html"
    layout.write_text(layout.read_text().replace("{% block main %}", "{% block main %}<p>Swapped in whole</p>", 1))
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert (out / "site").stat().st_ino != site_folder
    assert not list(out.glob("site.old*")) and not list(out.glob("private.old*"))
    assert tree(out) == clean_build(sample_site, tmp_path)
    memory = Memory()
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    layout.write_text(layout.read_text().replace("Swapped in whole", "Swapped again"))
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    memory.flush()
    assert report.trash and all(os.path.isdir(f) for f in report.trash)
    assert tree(out) == clean_build(sample_site, tmp_path)
    for i, folder in enumerate(report.trash):  # as if another process had left them (it ended)
        os.rename(folder, out / f"site.old-1-{i}")
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert not list(out.glob("site.old*"))


def test_an_edit_that_swaps_an_area_keeps_the_carried_pages(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit renders a few pages and carries the rest of the last build over, unread; when
    its few files still cross the share that puts an area in place whole (here made tiny), the
    carried pages are linked into the new area too, and the manifest the dev server keeps in
    memory names every file. The emptied staging folder is handed over with the trash (a rename
    instead of a walk), as is the whoosh index's old folder; nothing of them is left once the
    trash is emptied, or by the next build when another process left them."""
    out = tmp_path / "out"
    memory = Memory()
    first = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    publish.remove_folders(first.trash)
    monkeypatch.setattr(publish, "SWAP_MIN", 1)
    monkeypatch.setattr(publish, "SWAP_SHARE", 0.001)
    page = sample_site / "content" / "codes" / "icd10cm" / "S73.014A.md"
    for n in range(2):
        page.write_text(page.read_text().rstrip("\n") + f"\n\nSwap edit {n}.\n")
        report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
        assert report.written < 40 and report.unchanged > 100  # an edit, not a rebuild
        assert any(os.path.basename(t).startswith("site.old-") for t in report.trash)
        assert any(os.path.basename(t).startswith("search_index.old-") for t in report.trash)
        assert not (out / ".staging").exists()
        publish.remove_folders(report.trash)
        assert tree(out) == clean_build(sample_site, tmp_path)
        assert memory.manifest is not None
        assert set(memory.manifest) == set(tree(out))
    memory.flush()
    assert read_dict(str(out / MANIFEST)) == memory.manifest
    assert not [p.name for p in out.iterdir() if ".old-" in p.name]
    os.rename(out / "search_index", out / "search_index.old-1-0")  # as if another process had left it
    shutil.copytree(out / "search_index.old-1-0", out / "search_index")
    page.write_text(page.read_text().rstrip("\n") + "\n\nSwap edit 3.\n")
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert not [p.name for p in out.iterdir() if ".old-" in p.name]
    (out / "site.old-1-7" / "icd-10-cm").mkdir(parents=True)  # left by another: the dev server removes
    page.write_text(page.read_text().rstrip("\n") + "\n\nSwap edit 4.\n")  # it after the reload
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True, memory=memory))
    assert str(out / "site.old-1-7") in report.trash and (out / "site.old-1-7").is_dir()
    publish.remove_folders(report.trash)
    memory.flush()
    assert not [p.name for p in out.iterdir() if ".old-" in p.name]


def test_keep_carries_the_last_builds_files_each_once(tmp_path: Path) -> None:
    last = {"site/a": "1", "site/b": "2", "site/c": "3"}
    p = publish.Publisher(str(tmp_path), manifest=dict(last))
    assert not p.keep(["site/a", "site/x"])  # x: the last build did not write it
    assert p.new == {} and p.kept == set()
    assert p.keep(["site/a", "site/b", "site/a"])
    assert p.new == {"site/a": "1", "site/b": "2"}
    assert not p.keep(["site/b", "site/c"])  # b is this build's already
    assert p.new == {"site/a": "1", "site/b": "2"}
    # an edit's build (``carry``): the files dropped are carried again, the others only noted
    q = publish.Publisher(str(tmp_path), manifest=dict(last))
    q.carry({"site/a"})
    assert q.keep(["site/a", "site/b"])
    assert q.new == {"site/a": "1"} and q.kept == {"site/b"}
    assert not q.keep(["site/b"]) and not q.keep(["site/c", "site/a"])
    assert q.new == {"site/a": "1"} and q.kept == {"site/b"}
