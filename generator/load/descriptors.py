"""Licensed official descriptors, supplied by the operator at build time (``--descriptors``)."""

from __future__ import annotations

import csv
from collections.abc import Iterable

from ..errors import BuildError
from ..model.config import SiteConfig

Descriptors = dict[tuple[str, str], str]


def read_descriptors(specs: Iterable[str], config: SiteConfig) -> Descriptors:
    """``SYSTEM=FILE`` each: a CSV or TSV of code,descriptor rows (an optional header row)."""
    out: Descriptors = {}
    for spec in specs:
        system, sep, path = spec.partition("=")
        if not sep or system not in config.systems:
            raise BuildError(f"--descriptors takes SYSTEM=FILE with SYSTEM one of {', '.join(config.systems)}")
        try:
            with open(path, encoding="utf-8-sig", newline="") as f:
                sample = f.read(4096)
                f.seek(0)
                dialect = "excel-tab" if "\t" in sample.split("\n", 1)[0] else "excel"
                for i, row in enumerate(csv.reader(f, dialect=dialect)):
                    if len(row) < 2 or (i == 0 and row[0].strip().lower() == "code"):
                        continue
                    out[(system, row[0].strip())] = row[1].strip()
        except OSError as exc:
            raise BuildError(f"{path}: cannot read descriptors ({exc.strerror})") from None
    return out
