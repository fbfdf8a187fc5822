"""The whoosh index writer the search stage writes with: stock whoosh, but the field lengths
asked once per field, not looked for on disk once per posting, and the postings' parts shared.

When a segment is flushed, whoosh asks the length of the field in the document of every
posting (for scoring statistics). For a field that stores no lengths (the ``key`` ID, the
keyword fields) its per-document reader looks for the field's length column file each time:
an ``os.stat`` per posting, millions on the full ICD-10-CM set, about a tenth of the whoosh
index's build time. Here each field's column is looked for once; the answers are the same
(the segment's files are all written before the flush reads them).

Until a segment is flushed, whoosh holds every posting in memory: on the full ICD-10-CM set,
1.25M tuples of (field, term, docnum, weight, value), each with its own term bytes, weight
float and value bytes, though there are 209k terms, 5k weights and 2 values. ``shared`` makes
each posting point to one copy of each: the fresh index's peak of memory falls from 274 to
about 170 MiB (whoosh's own bound, ``limitmb``, spills to disk instead, and costs a quarter
more time: its runs are written and merged in Python).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Lengths:
    """A segment's per-document reader, remembering which fields have a length column."""

    def __init__(self, reader: Any, column: Any) -> None:
        self.reader = reader
        self.column = column  # field name -> its length column's name
        self.has: dict[str, bool] = {}

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> Any:
        has = self.has.get(fieldname)
        if has is None:
            has = self.has[fieldname] = self.reader.has_column(self.column(fieldname))
        return self.reader.doc_field_length(docnum, fieldname, default) if has else default

    def __getattr__(self, name: str) -> Any:  # close() and the rest: the reader's own
        return getattr(self.reader, name)


def shared(add: Callable[[tuple[Any, ...]], None]) -> Callable[[tuple[Any, ...]], None]:
    """A posting pool's ``add`` that keeps one copy of each term, weight and value."""
    terms: dict[bytes, bytes] = {}
    weights: dict[float, float] = {}
    values: dict[Any, Any] = {}

    def add_posting(item: tuple[Any, ...]) -> None:
        name, term, doc, weight, value = item
        add((name, terms.setdefault(term, term), doc, weights.setdefault(weight, weight),
             values.setdefault(value, value)))

    return add_posting


def writer(index: Any) -> Any:
    """``index.writer()`` whose segment flush asks field lengths through ``Lengths`` and whose
    postings share their parts (``shared``)."""
    from whoosh.codec import whoosh3

    w = index.writer(limitmb=256)
    pool = getattr(w, "pool", None)
    if pool is not None:  # whoosh-ng 5.4's SegmentWriter
        pool.add = shared(pool.add)
    column = getattr(whoosh3, "_lenfield", None)  # a field's length column name (whoosh-ng 5.4)
    if column is None:  # another whoosh-ng: its own way
        return w
    make = w.per_document_reader
    w.per_document_reader = lambda: Lengths(make(), column)
    return w
