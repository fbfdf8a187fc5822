"""Parts of code pages rendered once for many pages (render.once): the same bytes as each page
rendering them itself, and a part that depends on the page is rendered for each page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2 import DictLoader, FileSystemLoader
from test_incremental import tree

from generator.build import BuildOptions, build
from generator.render.once import CODE_SLOT, Header, PerCode, header_targets
from generator.render.pages import code_json_ld
from generator.render.templating import PageEnvironment
from tests.conftest import ROOT, copy_site

# The layouts as they were before the parts were shared: each page renders its breadcrumb,
# header and 7th-character table itself.
PER_PAGE = {
    "code.html": [("{{ breadcrumb_html }}", "{{ breadcrumb(system, ancestors, links) }}"),
                  ("import code_list, seventh_table", "import code_list, breadcrumb, seventh_table"),
                  ("{{ seventh.shared or seventh_table(", "{{ seventh_table(")],
    "hierarchy.html": [("{{ breadcrumb_html }}", "{{ breadcrumb(system, ancestors, links) }}"),
                       ("import code_list %}", "import code_list, breadcrumb %}")],
    "base.html": [("{% if shared_header is defined %}", "{% if false %}")],
}


def per_page_layouts(site: Path) -> None:
    for name, changes in PER_PAGE.items():
        path = site / "layouts" / name
        text = path.read_text()
        for old, new in changes:
            assert old in text, (name, old)
            text = text.replace(old, new)
        path.write_text(text)


def test_shared_parts_are_the_bytes_each_page_renders(tmp_path: Path) -> None:
    shared = copy_site(ROOT, tmp_path / "shared")
    each = copy_site(ROOT, tmp_path / "each")
    per_page_layouts(each)
    build(str(shared), BuildOptions(out_dir=str(tmp_path / "out-shared"), quiet=True, jobs=1))
    build(str(each), BuildOptions(out_dir=str(tmp_path / "out-each"), quiet=True, jobs=1))
    one, other = tree(tmp_path / "out-shared"), tree(tmp_path / "out-each")
    assert one == other
    page = one["site/icd-10-cm/S72.001A/index.html"].decode()
    current = '<tr class="current" aria-current="true"><td class="code">A <span class="this-code">◀ S72.001A</span>'
    assert current in page
    assert 'aria-current="page"' not in page and 'class="site-header"' in page


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("title", ["Fracture of femur", 'Say "hi" </script> & <b>é—ü</b>\\ \n\t'])
def test_code_json_ld_is_what_json_writes(gated: bool, title: str) -> None:
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "WebPage",
        "name": f"ICD-10-CM S72: {title}",
        "url": "https://codes.example.org/icd-10-cm/S72/",
        "mainEntity": {"@type": "MedicalCode", "codeValue": "S72", "codingSystem": "ICD-10-CM"},
    }
    if gated:
        data["isAccessibleForFree"] = False
        data["hasPart"] = [{"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".gated-section"}]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    url = "https://codes.example.org/icd-10-cm/S72/"
    made = code_json_ld(f"ICD-10-CM S72: {title}", url, "S72", "ICD-10-CM", gated)
    assert made == text
    assert json.loads(made) == data


def env(header: str) -> PageEnvironment:
    return PageEnvironment(loader=DictLoader({"h.html": header, "other.html": ""}), autoescape=True)


def test_the_sites_header_is_shared_but_where_it_links_the_page_or_marks_it() -> None:
    layouts = PageEnvironment(loader=FileSystemLoader(str(ROOT / "layouts")))
    header = Header(layouts, "partials/header.html", [("Search", "/search/"), ("S72", "/icd-10-cm/S72/")])
    assert header.shared("/icd-10-cm/S72.0/", "/icd-10-cm/S72.0/")
    assert not header.shared("/icd-10-cm/S72/", "/icd-10-cm/S72/")  # in the nav: marked current
    assert not header.shared("/search/", "/search/")


@pytest.mark.parametrize("source", [
    "<a href='{{ links['/'] }}'>{{ page_url }}</a>",  # shows the page's URL
    "{% if page_url.startswith('/icd') %}x{% endif %}",  # tests it otherwise than by ==
    "{{ code.code }}",  # another variable of the page
    "{{ links.page }}",  # the links otherwise than by target
    "{% include 'other.html' %}",  # what another template does is not looked at
])
def test_a_header_that_can_depend_on_the_page_is_rendered_for_each(source: str) -> None:
    assert header_targets(env(source), "h.html") is None
    assert not Header(env(source), "h.html", []).shared("/x/y/", "/x/y/")


def test_a_header_keeps_the_strings_it_compares_the_page_with() -> None:
    source = "{% if page_url == '/icd-10-cm/S72/' %}here{% endif %}<a href='{{ links['/'] }}'>{{ site }}</a>"
    assert header_targets(env(source), "h.html") == {"/icd-10-cm/S72/", "/"}
    header = Header(env(source), "h.html", [])
    assert not header.shared("/icd-10-cm/S72/", "/icd-10-cm/S72/")
    assert header.shared("/icd-10-cm/S73/", "/icd-10-cm/S73/")
    assert not header.shared("/x.html", "/")  # "/" is in the page's folder


def test_a_part_shown_with_the_pages_code_is_rendered_once() -> None:
    calls: list[str] = []

    def render(code: str) -> str:
        calls.append(code)
        return f"<td>{code}</td>" if code != CODE_SLOT else f"<td>{CODE_SLOT}</td>"

    part = PerCode(render, "S72.001A")
    assert part("S72.001A") == "<td>S72.001A</td>" and part("A<&>") == "<td>A&lt;&amp;&gt;</td>"
    assert len(calls) == 2  # once with the slot, once for the first page to check it


def test_a_part_that_does_more_with_the_code_is_rendered_for_each_page() -> None:
    template = env("{{ code|lower }}").get_template("h.html")
    part = PerCode(lambda code: template.render(code=code), "S72.001A")
    assert part.html is None
    assert part("S73.0") == "s73.0"


def test_a_header_changed_under_the_same_name_is_looked_at_again() -> None:
    # the answer is kept per source (the dev server's builds ask it each time), never per name
    shared = "<a href='{{ links['/'] }}'>{{ site }}</a>"
    assert header_targets(env(shared), "h.html") == {"/"}
    assert header_targets(env("{{ code.code }}"), "h.html") is None
    found = header_targets(env(shared), "h.html")
    assert found == {"/"}
    found.add("/changed-by-the-caller/")
    assert header_targets(env(shared), "h.html") == {"/"}


def test_a_renderer_that_forgets_between_chunks_renders_the_same_bytes_and_holds_nothing(tmp_path: Path) -> None:
    """A worker lets go of what pages share after each chunk it renders (on the 98k-code set
    those memos held 60 MB in each worker by the end, 120 MB of the dev server's peak). The
    memos keyed by a links memo's id() go together: a new memo can take an old one's id."""
    import os

    from generator.load import load_and_check
    from generator.render.pages import Renderer

    loaded = load_and_check(str(ROOT))
    site = loaded.site
    layouts = os.path.join(str(ROOT), "layouts")
    keys = sorted(site.codes)[:400]
    keeps, forgets = Renderer(site, layouts), Renderer(site, layouts)
    for start in range(0, len(keys), 97):
        for key in keys[start : start + 97]:
            code = site.codes[key]
            assert [o.data for o in forgets.code_page(code)] == [o.data for o in keeps.code_page(code)], key
        forgets.forget()
        held = {name: len(value) for name, value in vars(forgets).items() if isinstance(value, dict) and value}
        held.update({f"linker.{n}": len(v) for n, v in vars(forgets.linker).items() if isinstance(v, dict) and v})
        assert held == {}, held
    grown = {name: len(value) for name, value in vars(keeps).items() if isinstance(value, dict) and value}
    assert grown["_urls"] > 300 and grown["_crumbs"] > 20 and grown["_inherited"] > 20, grown  # let go of by the other
