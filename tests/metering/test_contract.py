"""The page contract crosses the boundary: the generator writes it, the edge reads it.

The sample is rendered with the repository's templates and with a code template whose
article attributes come in another order (and carry more attributes): metering works the
same, because both sides use ``edge.contract`` and the edge reads attributes in any order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edge_support import CANARY, GATE_TEXT, KEY, metered_source, running_edge

from edge import contract, pages
from edge.cookies import Keys
from generator.build import BuildOptions, build

REORDERED = '<article id="code" data-system="{{ code.system }}" class="range code-page" data-code="{{ code.code }}">'


@pytest.mark.parametrize("layout", ["as shipped", "attributes reordered"])
def test_metering_reads_the_pages_the_generator_writes(layout: str, tmp_path: Path) -> None:
    src = metered_source(tmp_path / "site")
    if layout != "as shipped":
        code_html = src / "layouts" / "code.html"
        text = code_html.read_text()
        start = text.index("<article")
        code_html.write_text(text[:start] + REORDERED + text[text.index(">", start) + 1 :])
    out = tmp_path / "out"
    build(str(src), BuildOptions(out_dir=str(out), quiet=True))
    page = (out / "site" / "demo" / "D105" / "index.html").read_text()
    assert contract.BANNER in page and contract.GATE_OPEN.format(id="tips") in page or contract.GATE.search(page)
    assert pages.metered_code(page) == "demo:D105"
    with running_edge(out, tmp_path / "db.sqlite3", Keys.of(KEY)) as e:
        c = e.client()
        first = c.get("/demo/D105/")
        assert first.status == 200 and CANARY in first.body and "code page views remaining" in first.body
        second = c.get("/demo/D106/")  # the guest's one view is spent
        assert CANARY not in second.body and GATE_TEXT in second.body


def test_page_code_ignores_other_articles_and_attribute_order() -> None:
    html = (
        '<article class="news">x</article>'
        "<article data-system='icd10cm' class=\"code-page range-page\" data-code=\"S73.0\" hidden>"
    )
    assert contract.page_code(html) == ("icd10cm", "S73.0")
    assert contract.page_code('<article class="code-pages" data-code="A" data-system="b">') is None
    assert contract.page_code('<article class="code-page" data-code="A">') is None
