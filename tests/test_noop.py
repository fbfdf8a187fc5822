"""The no-op build: the content scan's digest tells that no content file changed, and the build
then compares no stats. Whatever the scan sees that the last build did not, the build must read
it: the output equals a clean build's after every kind of change the digest stands for."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from generator.build import BuildOptions, build
from generator.load.loader import RACY_NS
from generator.load.scan import Prescan, scan
from generator.load.snapshot import SNAPSHOT, Snapshot
from tests.conftest import ROOT
from tests.test_incremental import clean_build, tree

HOUR_NS = 3600 * 10**9
CODE = Path("content") / "codes" / "icd10cm" / "S73.01.md"


def settle(site: Path) -> None:
    """Every content file last modified an hour ago: none is "racily clean" (written in the
    second of a scan), so a scan that finds them as the last build did is a no-op's."""
    then = time.time_ns() - HOUR_NS
    for p in (site / "content" / "codes").rglob("*.md"):
        os.utime(p, ns=(then, then))


def cli_build(site: Path, out: Path) -> int:
    """A build as the command line runs it: the content scanned in a forked child."""
    return build(str(site), BuildOptions(out_dir=str(out), quiet=True, prescan=Prescan(str(site)))).written


def unchanged(site: Path, out: Path) -> bool:
    """Whether a build would take the scan for the last build's (and compare no stat)."""
    last = Snapshot.read(str(out))
    assert last is not None
    prescan = Prescan(str(site))
    if prescan.unchanged(last.scan):
        return True
    assert prescan.result() == scan(str(site))  # the child's whole scan still comes when asked
    return False


def test_a_noop_knows_the_scan_and_writes_nothing(sample_site: Path, tmp_path: Path) -> None:
    settle(sample_site)
    out = tmp_path / "out"
    assert cli_build(sample_site, out) > 800
    assert unchanged(sample_site, out)
    stamps = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*")}
    assert cli_build(sample_site, out) == 0
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in out.rglob("*")} == stamps
    assert unchanged(sample_site, out)


@pytest.mark.parametrize("change", ["edit", "touch", "add", "remove", "link"])
def test_a_scan_that_differs_is_read(change: str, sample_site: Path, tmp_path: Path) -> None:
    settle(sample_site)
    out = tmp_path / "out"
    cli_build(sample_site, out)
    codes = sample_site / "content" / "codes" / "icd10cm"
    path = sample_site / CODE
    st = path.stat()
    if change == "edit":
        path.write_text(path.read_text() + "\nOne more line.\n")
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # the size tells
    elif change == "touch":
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    elif change == "add":
        shutil.copy(path, codes / "S73.019.md")
    elif change == "remove":
        (codes / "S73.014A.md").unlink()
    elif change == "link":
        os.symlink(path, codes / "S73.019.md")
    assert not unchanged(sample_site, out)


def test_the_scan_parts_make_the_whole_scan(sample_site: Path) -> None:
    """The children split the files between them: each file (and link) in one part, the
    parts together the whole scan, and the forked scan's result the same."""
    codes = sample_site / "content" / "codes" / "icd10cm"
    os.symlink(sample_site / CODE, codes / "S73.019.md")
    whole = scan(str(sample_site))
    parts = [scan(str(sample_site), k, 2) for k in range(2)]
    assert all(len(p) > 300 for p in parts)
    assert not parts[0].keys() & parts[1].keys() and {**parts[0], **parts[1]} == whole
    prescan = Prescan(str(sample_site))
    assert len(prescan.children) == 2 and prescan.result() == whole


def test_the_scan_digest_is_the_same_in_every_process(sample_site: Path, tmp_path: Path) -> None:
    """A build's scan digest names the files for the next build, run by another command:
    the files fall to the same parts in every process (not by ``hash``, seeded per run)."""
    settle(sample_site)
    out = tmp_path / "out"
    digests = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": seed}
        program = f"from generator.load.scan import Prescan; p = Prescan({str(sample_site)!r}); p.result()"
        program += "; print(p.digest)"
        run = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True)
        digests.add(run.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64
    cli_build(sample_site, out)
    assert unchanged(sample_site, out)


def test_a_file_written_in_the_second_of_the_scan_is_read_again(sample_site: Path, tmp_path: Path) -> None:
    """The same scan, but a file the last build may have seen half written (modified within a
    second of its scan): it is read again, and a change that kept its size and mtime (a clock
    that ticks in seconds) is found."""
    settle(sample_site)
    path = sample_site / CODE
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    out = tmp_path / "out"
    cli_build(sample_site, out)
    last = Snapshot.read(str(out))
    assert last is not None and now >= last.scanned - RACY_NS
    text = path.read_text()
    path.write_text(text.replace("subluxation", "dislocation", 1))  # the same size
    os.utime(path, ns=(now, now))
    assert unchanged(sample_site, out)  # the same scan...
    assert cli_build(sample_site, out) > 0  # ... and the file read again
    assert tree(out) == clean_build(sample_site, tmp_path)


def test_a_journal_written_after_the_digest_is_not_taken_for_it(sample_site: Path, tmp_path: Path) -> None:
    """A build stopped between writing the content files' stats and the meta file that names
    their scan leaves a digest of an older scan: files put back as that scan saw them (bytes
    and mtime restored, as from a backup) must still be read."""
    settle(sample_site)
    out = tmp_path / "out"
    cli_build(sample_site, out)
    meta = out / SNAPSHOT / "meta"
    kept = meta.read_bytes()
    path = sample_site / CODE
    st = path.stat()
    before = path.read_bytes()
    path.write_bytes(before.replace(b"subluxation", b"dislocation", 1) + b"\nAn edit.\n")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - HOUR_NS))  # not racy
    assert cli_build(sample_site, out) > 0
    meta.write_bytes(kept)  # as if the build had stopped before its meta file
    path.write_bytes(before)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert not unchanged(sample_site, out)
    cli_build(sample_site, out)
    assert tree(out) == clean_build(sample_site, tmp_path)


def test_builds_with_and_without_the_scan_digest_agree(sample_site: Path, tmp_path: Path) -> None:
    """A build that scans in a thread (the library's default) keeps no digest; the command
    line's then reads the stats once and keeps one."""
    settle(sample_site)
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert not unchanged(sample_site, out)
    assert cli_build(sample_site, out) == 0
    assert unchanged(sample_site, out)
    path = sample_site / CODE
    path.write_text(path.read_text() + "\nOne more line.\n")
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    settle(sample_site)
    assert cli_build(sample_site, out) == 0  # the files' stats (an hour back) were read again, not their pages
    assert unchanged(sample_site, out)
    assert tree(out) == clean_build(sample_site, tmp_path)


def lib_build(site: Path, out: Path, search: bool = True) -> tuple[int, int, int]:
    r = build(str(site), BuildOptions(out_dir=str(out), quiet=True, search=search))
    return r.written, r.unchanged, r.removed


@pytest.mark.parametrize("loss", ["page", "asset", "manifest", "whoosh", "staging", "replaced area"])
def test_a_noop_puts_back_what_a_build_would(loss: str, sample_site: Path, tmp_path: Path) -> None:
    """Nothing changed in the site, but something of the last build's output went (or a build
    that stopped left its folders): the build does what it did before it could stop early."""
    out = tmp_path / "out"
    written, _, _ = lib_build(sample_site, out)
    expected = tree(out)
    if loss == "page":
        (out / "site" / "index.html").unlink()
    elif loss == "asset":
        next((out / "site" / "assets").glob("*.css")).unlink()
    elif loss == "manifest":
        (out / ".manifest").unlink()
    elif loss == "whoosh":
        shutil.rmtree(out / "search_index")
    elif loss == "staging":
        (out / ".staging" / "site").mkdir(parents=True)
    else:
        (out / "site.old-1-0").mkdir()
    again = lib_build(sample_site, out)
    assert again[0] == {"page": 1, "asset": 1, "manifest": written}.get(loss, 0)
    assert tree(out) == expected
    assert {".toc", ".seg", ".meta"} <= {p.suffix for p in (out / "search_index").iterdir()}  # a whoosh index
    assert sorted(p.name for p in out.iterdir() if p.name.startswith((".staging", "site.old"))) == []
    assert lib_build(sample_site, out) == (0, again[0] + again[1], 0)  # and now nothing is left to do


def test_a_noop_without_search_drops_the_client_index(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lib_build(sample_site, out)
    clients = sum(1 for p in (out / "site" / "search-index").rglob("*") if p.is_file())
    assert clients > 0
    _, _, removed = lib_build(sample_site, out, search=False)
    assert removed >= clients and not (out / "site" / "search-index").exists()
    assert lib_build(sample_site, out, search=False)[0::2] == (0, 0)
    assert lib_build(sample_site, out)[0] > 0  # and back
    assert tree(out) == clean_build(sample_site, tmp_path)


def test_a_process_reads_its_own_source_once(sample_site: Path, tmp_path: Path) -> None:
    # the dev server builds many times: its code's digest is the code it imported, read once
    # (each edit read the generator's 80 files before)
    script = f"""
import sys
from generator.build import BuildOptions, build
opts = BuildOptions(out_dir={str(tmp_path / 'out')!r}, quiet=True, search=False)
build({str(sample_site)!r}, opts)
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
build({str(sample_site)!r}, opts)
print(sum(p.endswith(".py") and "/generator/" in p for p in opened))
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["0"]
