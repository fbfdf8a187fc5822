"""Builds in a long-lived process (the dev server) leave no reference cycle of ours behind.

The dev server freezes its state out of the cyclic collector's sight after each build
(``gc.freeze``), so anything a build leaves in a cycle is never freed there: the content
scan's walk, a nested function that called itself, kept the 98k stats it had filled, 30 MB
more with every layout change on the full ICD-10-CM set.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from generator.build import BuildOptions, build
from generator.load.scan import scan
from generator.load.symlinks import find_symlinks
from generator.publish import Report
from generator.serve.devserver import freeze_heap
from generator.state import Memory


def garbage_after(steps: Sequence[Callable[[], Any]], server: bool) -> list[object]:
    """What ``steps`` leave that only the cyclic collector could free. ``server``: each step is
    a build, after which the dev server freezes what lives on (``freeze_heap``, at each save),
    so this is what it would hold for good; else the collector is off while they run.
    What earlier tests in this process froze (in-process dev servers do) is freed first."""
    gc.unfreeze()
    gc.collect()
    if not server:
        gc.disable()
    try:
        for step in steps:
            result = step()
            if server:
                freeze_heap(result.loaded_all)
        gc.unfreeze()
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.unfreeze()
        gc.enable()


def ours(objects: list[object]) -> list[str]:
    """The functions and instances among ``objects`` that the generator's code made."""
    found = []
    for o in objects:
        module = getattr(o, "__module__", None) if callable(o) else type(o).__module__
        if isinstance(module, str) and module.startswith("generator"):
            found.append(getattr(o, "__qualname__", type(o).__qualname__))
    return found


def test_the_scan_and_the_link_check_leave_no_cycle(sample_site: Path) -> None:
    assert ours(garbage_after([lambda: scan(str(sample_site))], server=False)) == []
    assert ours(garbage_after([lambda: find_symlinks(str(sample_site))], server=False)) == []


def test_the_dev_server_holds_nothing_for_good_after_layout_changes_and_edits(
    sample_site: Path, tmp_path: Path
) -> None:
    memory = Memory()
    options = BuildOptions(out_dir=str(tmp_path / "out"), quiet=True, memory=memory)
    layout = sample_site / "layouts" / "base.html"
    original = layout.read_text()

    def first() -> Report:
        report = build(str(sample_site), options)
        memory.flush()
        return report

    def layout_change(n: int) -> Report:
        layout.write_text(original + f"\n<!-- change {n} -->\n")
        report = build(str(sample_site), options)
        memory.flush()
        assert report.written > 100 and report.loaded_all  # every code page rendered again
        return report

    body = sample_site / "content" / "codes" / "icd10cm" / "S72.001A.md"
    text = body.read_text()

    def edit(n: int) -> Report:
        body.write_text(text + f"\nEdited {n}.\n")
        report = build(str(sample_site), options)
        memory.flush()
        assert not report.loaded_all
        return report

    steps = (first, *(lambda n=n: layout_change(n) for n in range(3)), *(lambda n=n: edit(n) for n in range(3)))
    assert ours(garbage_after(steps, server=True)) == []
