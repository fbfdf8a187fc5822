"""The archive's zip writer: the very bytes ``zipfile`` writes for the same entries (header by
header, Zip64 end records past 65,535 entries), and zips that ``zipfile`` reads back."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.zipwriter import ZipWriter, deflate

STAMP = (2026, 12, 1, 0, 0, 0)
MODE = 0o100644


def with_zipfile(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, STAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = MODE << 16
            zf.writestr(info, data, compresslevel=6)
    return buf.getvalue()


def with_writer(files: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    zw = ZipWriter(buf, STAMP, MODE)
    for name, data in files:
        zw.add(deflate(name, data, 6))
    zw.close()
    return buf.getvalue()


FILES = [
    ("about-this-archive/index.html", b"<!doctype html>\n<p>About</p>\n" * 40),
    ("assets/empty.txt", b""),
    ("assets/favicon.svg", bytes(range(256)) * 8),
    ("icd-10-cm/S72.001A/index.html", "<p>Fracture ◀ S72.001A</p>".encode()),
    ("notes/café.js", b"var x = 1;\n"),  # a name beyond ASCII: the UTF-8 flag
]


def test_same_bytes_as_zipfile() -> None:
    data = with_writer(FILES)
    assert data == with_zipfile(FILES)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert [(i.filename, zf.read(i)) for i in zf.infolist()] == FILES
        assert {i.external_attr >> 16 for i in zf.infolist()} == {MODE}


@settings(deadline=None, max_examples=40)
@given(st.lists(st.tuples(st.text(st.characters(min_codepoint=48, max_codepoint=0x2FF), min_size=1, max_size=20),
                          st.binary(max_size=3000)), max_size=8, unique_by=lambda f: f[0]))
def test_same_bytes_as_zipfile_for_any_entries(files: list[tuple[str, bytes]]) -> None:
    assert with_writer(files) == with_zipfile(files)


def test_zip64_end_records_past_65535_entries(tmp_path: Path) -> None:
    files = [(f"p/{i:05d}.html", b"<p>%d</p>" % (i % 7)) for i in range(65_600)]
    data = with_writer(files)
    assert data == with_zipfile(files)
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]
    path = tmp_path / "many.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert len(zf.infolist()) == 65_600 and zf.read("p/65599.html") == b"<p>2</p>"


def test_dates_before_1980_are_refused() -> None:
    with pytest.raises(ValueError, match="1980"):
        ZipWriter(io.BytesIO(), (1979, 12, 31, 0, 0, 0), MODE)
