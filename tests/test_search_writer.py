"""The whoosh writer of the search stage (search.writer) writes the index stock whoosh writes:
the same terms, postings, field lengths and stored fields, on the sample site's documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from generator.load import load_site
from generator.search import engine
from generator.search.documents import documents
from generator.search.scores import averages, field_stats
from generator.search.writer import Lengths, writer


def index_of(folder: Path, docs: list[Any], make: Any) -> Any:
    folder.mkdir()
    w = make(engine.whoosh_index().create_in(str(folder), engine._schema()))
    avg = averages(*field_stats(docs))
    for d in docs:
        w.add_document(**engine._whoosh_fields(d, avg))
    w.commit()
    return engine.whoosh_index().open_dir(str(folder))


def contents(ix: Any) -> tuple[Any, ...]:
    with ix.reader() as r:
        scorable = sorted(ix.schema.scorable_names())
        terms = [(f, t, list(r.postings(f, t).all_items())) for f, t in r.all_terms()]
        lengths = [(f, r.field_length(f), [r.doc_field_length(n, f) for n in range(r.doc_count_all())])
                   for f in scorable]
        stored = [r.stored_fields(n) for n in range(r.doc_count_all())]
        return terms, lengths, stored


def test_writer_writes_what_stock_whoosh_writes(sample_site: Path, tmp_path: Path) -> None:
    docs = documents(load_site(str(sample_site)))
    assert len(docs) > 10
    ours = contents(index_of(tmp_path / "ours", docs, writer))
    stock = contents(index_of(tmp_path / "stock", docs, lambda ix: ix.writer(limitmb=256)))
    assert ours == stock
    assert any(n for _, n, _ in ours[1])  # the weighted text field has lengths; the ID fields none


def test_lengths_looks_for_each_column_once(sample_site: Path, tmp_path: Path) -> None:
    docs = documents(load_site(str(sample_site)))
    index_of(tmp_path / "ix", docs, writer)
    ix = engine.whoosh_index().open_dir(str(tmp_path / "ix"))
    seg = ix._segments()[0]
    looked: list[str] = []

    class Counting:  # the real reader of the segment, its column look-ups listed
        def __init__(self, reader: Any) -> None:
            self.reader = reader

        def has_column(self, name: str) -> bool:
            looked.append(name)
            return bool(self.reader.has_column(name))

        def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> Any:
            return self.reader.doc_field_length(docnum, fieldname, default)

    real = seg.codec().per_document_reader(ix.storage, seg)
    from whoosh.codec import whoosh3

    lengths = Lengths(Counting(real), whoosh3._lenfield)
    for n in range(seg.doc_count_all()):
        for f in ("key", "ncode", engine.WEIGHTS):
            assert lengths.doc_field_length(n, f) == real.doc_field_length(n, f)
    assert sorted(looked) == sorted(whoosh3._lenfield(f) for f in ("key", "ncode", engine.WEIGHTS))
    real.close()


def test_postings_held_before_the_flush_share_their_terms_weights_and_values(sample_site: Path, tmp_path: Path) -> None:
    """Until the flush whoosh holds every posting (1.25M on the full set): one copy of each
    term, weight and value among them, not one per posting (274 -> 170 MiB of a fresh index)."""
    docs = documents(load_site(str(sample_site)))
    (tmp_path / "ix").mkdir()
    w = writer(engine.whoosh_index().create_in(str(tmp_path / "ix"), engine._schema()))
    avg = averages(*field_stats(docs))
    for d in docs:
        w.add_document(**engine._whoosh_fields(d, avg))
    held = list(w.pool.current)
    w.commit()
    for part in (1, 3, 4):  # term, weight, value
        first: dict[Any, Any] = {}
        copies = [p[part] is first.setdefault(p[part], p[part]) for p in held]
        assert all(copies), f"{copies.count(False)} of {len(held)} postings hold their own copy of part {part}"
    assert len({p[1] for p in held}) < len(held) / 2  # terms repeat across documents
