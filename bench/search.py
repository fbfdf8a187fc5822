"""Search benchmark on the full ICD-10-CM set (98,505 pages): index size, bytes, speed, quality.

    PYTHONPATH=. .venv/bin/python bench/search.py [--work DIR] [--no-pagefind]

The full content folder and its build are kept in --work (default /tmp/codesite-search-bench)
and reused on later runs; pass --fresh to start over.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_full_site(dst: Path) -> int:
    """The sample site's layouts, assets and config, with the whole ICD-10-CM tabular as content."""
    from generator.importers.files import render_file
    from generator.importers.icd10cm import (
        default_code_list,
        default_tabular,
        parse_tabular,
        read_code_list,
    )

    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, dst / part, dirs_exist_ok=True)
    (dst / "content").mkdir(parents=True, exist_ok=True)
    for name in ("site.yaml", "synonyms.yaml"):
        if (ROOT / "content" / name).exists():
            shutil.copy(ROOT / "content" / name, dst / "content" / name)
    # The 2026 tabular has codes with a letter second (QA0.0): widen the sample's pattern.
    config = dst / "content" / "site.yaml"
    config.write_text(config.read_text().replace("[A-Z][0-9][0-9A-Z]", "[A-Z][0-9A-Z][0-9A-Z]"))
    folder = dst / "content" / "codes" / "icd10cm"
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for e in parse_tabular(default_tabular(), read_code_list(default_code_list())):
        front = {
            "code": e.code,
            "system": "icd10cm",
            "title": e.title,
            "kind": e.kind,
            "parent": e.parent,
            "billable": e.billable,
            "notes": e.notes,
            "seventh_characters": e.seventh_characters,
        }
        (folder / f"{e.code}.md").write_text(render_file(front), encoding="utf-8")
        n += 1
    return n


if __name__ == "__main__":
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/codesite-search-bench")
    print(write_full_site(work / "site"), os.getcwd())
