"""The code pages' URLs in sitemap order, kept between builds of one process and patched when a
few codes come or go: always the list a fresh sort gives."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.model.urls import code_urls, key_of, path_of
from generator.render import sitemap
from generator.render.sitemap import by_key, ordered_code_urls

PREFIXES = {"icd10cm": "icd-10-cm", "cpt": "cpt", "hcpcs": "hcpcs"}
codes = st.tuples(st.sampled_from(sorted(PREFIXES)),
                  st.text("ABCSXZ0123456789.-", min_size=1, max_size=8).filter(lambda c: c.strip(".") == c))


def fresh(keys: set[tuple[str, str]]) -> list[str]:
    return sorted(code_urls(PREFIXES, keys))


@settings(deadline=None, max_examples=60)
@given(start=st.sets(codes, max_size=60), steps=st.lists(st.tuples(st.sets(codes, max_size=4),
                                                                  st.integers(0, 3)), max_size=8))
def test_the_kept_list_equals_a_fresh_sort(start: set[tuple[str, str]], steps: list[tuple[set, int]]) -> None:
    sitemap._KEPT.clear()
    keys = set(start)
    by_path = {path_of(k) for k in keys}
    assert ordered_code_urls(PREFIXES, by_path, key_of) == fresh(keys)
    for came, n_went in steps:  # a rename is one code gone and one come: the count stays
        went = set(sorted(keys)[:n_went])
        keys = (keys - went) | came
        by_path = {path_of(k) for k in keys}
        assert ordered_code_urls(PREFIXES, dict.fromkeys(by_path).keys(), key_of) == fresh(keys)
    # by key (a site loaded whole) after by path: made again, the same
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys)
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys)


@settings(deadline=None, max_examples=60)
@given(start=st.sets(codes, max_size=60), steps=st.lists(st.tuples(st.sets(codes, max_size=4), st.integers(0, 3),
                                                                  st.booleans()), max_size=8))
def test_the_kept_list_patched_from_what_moved_equals_a_fresh_sort(
    start: set[tuple[str, str]], steps: list[tuple[set, int, bool]]
) -> None:
    """An edit's build says what came and went since the last build's files (``Moved``): the
    list is patched from that when it is that build's, and found by a look at every name when
    it is not (a failed build patched it since, or another process's): a fresh sort either way."""
    sitemap._KEPT.clear()
    keys = set(start)
    files = dict.fromkeys(path_of(k) for k in keys)
    assert ordered_code_urls(PREFIXES, files.keys(), key_of, files) == fresh(keys)
    for came, n_went, failed in steps:
        went = set(sorted(keys)[:n_went])
        new_keys = (keys - went) | came
        new_files = dict.fromkeys(path_of(k) for k in new_keys)
        moved = sitemap.Moved(files, [path_of(k) for k in new_keys - keys], [path_of(k) for k in keys - new_keys])
        assert ordered_code_urls(PREFIXES, new_files.keys(), key_of, new_files, moved) == fresh(new_keys)
        if not failed:  # a failed build: the next one starts from the same files again
            keys, files = new_keys, new_files


def test_a_build_that_moved_no_code_patches_nothing() -> None:
    """A body edit's build keeps the list and names its files as the list's (no look at every
    name); the next new code is then patched from what moved."""
    sitemap._KEPT.clear()
    keys = {("icd10cm", f"A{i:04d}") for i in range(10)}
    files = dict.fromkeys(path_of(k) for k in keys)
    sitemap.warm_urls(PREFIXES, files)
    kept = sitemap._KEPT[0]
    same = dict(files)
    sitemap.warm_urls(PREFIXES, same, sitemap.Moved(files, (), ()))
    assert sitemap._KEPT[0] is kept and kept.source is same
    more = {**same, path_of(("icd10cm", "B0001")): None}
    moved = sitemap.Moved(same, [path_of(("icd10cm", "B0001"))], ())
    assert ordered_code_urls(PREFIXES, more.keys(), key_of, more, moved) == fresh(keys | {("icd10cm", "B0001")})


def test_many_moves_make_the_list_again() -> None:
    sitemap._KEPT.clear()
    keys = {("icd10cm", f"A{i:04d}") for i in range(10)}
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys)
    assert sitemap._KEPT[0].key_of is by_key  # not key_of: a lazy build names codes by path
    kept = sitemap._KEPT[0]
    keys = {("icd10cm", f"B{i:04d}") for i in range(sitemap.KEPT_MOVES + 1)}
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys)
    assert sitemap._KEPT[0] is not kept
    assert ordered_code_urls({**PREFIXES, "icd10cm": "icd10"}, keys, by_key)[0].startswith("/icd10/")
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys)


def files(pages: list[str], codes: list[str]) -> dict[str, bytes]:
    return {o.path: o.data for o in sitemap.sitemaps("https://s.example", pages, codes)}


@settings(deadline=None, max_examples=60)
@given(start=st.sets(codes, min_size=1, max_size=80), came=st.sets(codes, max_size=3), n_went=st.integers(0, 3))
def test_parts_hold_every_url_once_and_a_code_changes_one(start: set, came: set, n_went: int) -> None:
    """Past the limit (here 10), every code URL is in one part, no part is over the limit, and
    a code that comes or goes changes its part alone (and the index when a part comes or goes);
    a part kept from the last make equals one made afresh."""
    limit, sitemap.SITEMAP_LIMIT = sitemap.SITEMAP_LIMIT, 10
    try:
        pages = ["/", "/search/"]
        before = files(pages, fresh(start))
        assert len(start) + 2 <= 10 or "sitemaps/pages.xml" in before
        urls = [u for path, data in before.items() if path.startswith("sitemaps/") and path != "sitemaps/pages.xml"
                for u in data.decode().split("<loc>https://s.example")[1:]]
        assert sorted(u.split("</loc>")[0] for u in urls) == (fresh(start) if len(start) + 2 > 10 else [])
        assert all(data.count(b"<loc>") <= 10 for p, data in before.items() if b"<urlset" in data)
        went = set(sorted(start)[:n_went])
        keys = (start - went) | came
        after = files(pages, fresh(keys))
        sitemap._MADE.clear()
        assert files(pages, fresh(keys)) == after  # made afresh: the same bytes
        moved = {path_of(k) for k in (went | came) - (start & keys)}
        split = any(p.endswith("-1.xml") for p in (*before, *after))
        if len(start) + 2 > 10 and len(keys) + 2 > 10 and not split:  # parts both times, none cut
            changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} - {"sitemap.xml"}
            assert len(changed) <= len(moved), (changed, moved)
    finally:
        sitemap.SITEMAP_LIMIT = limit


def test_read_ahead_makes_the_list_the_first_edit_patches(sample_site: Path, tmp_path: Path) -> None:
    """The dev server reads ahead after its first build: the code pages' URLs are made then
    (0.3 s on the full set), named by content path as an edit's build names them, and they
    are the sitemap's."""
    from generator.build import BuildOptions, build, read_ahead
    from generator.state import Memory

    sitemap._KEPT.clear()
    memory = Memory()
    options = BuildOptions(out_dir=str(tmp_path / "out"), quiet=True, memory=memory)
    build(str(sample_site), options)
    memory.flush()
    sitemap._KEPT.clear()  # as a server whose first build was a no-op: nothing made yet
    read_ahead(str(sample_site), options)
    assert sitemap._KEPT and sitemap._KEPT[0].key_of is key_of
    made = sitemap._KEPT[0].urls
    listed = (tmp_path / "out" / "site" / "sitemap.xml").read_text()
    codes = sorted(p.relative_to(sample_site).as_posix() for p in (sample_site / "content" / "codes").rglob("*.md"))
    assert made == sorted(code_urls({"icd10cm": "icd-10-cm", "cpt": "cpt", "hcpcs": "hcpcs"}, map(key_of, codes)))
    assert all(f"{u}</loc>" in listed for u in made)


def test_read_ahead_makes_the_parts_the_first_new_code_reuses(
    sample_site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit (here one more than the largest part's URLs, so that none is cut),
    read_ahead also makes the code pages' sitemap parts, the same bytes as the build wrote; the
    first new code's build then makes its own part again, and reuses the others."""
    from generator.build import BuildOptions, build, read_ahead
    from generator.state import Memory

    paths = [p.relative_to(sample_site).as_posix() for p in (sample_site / "content" / "codes").rglob("*.md")]
    urls = sorted(code_urls({"icd10cm": "icd-10-cm", "cpt": "cpt", "hcpcs": "hcpcs"}, map(key_of, paths)))
    limit = max(len(part) for _, part in sitemap.code_parts(urls)) + 1
    assert limit < len(urls)
    monkeypatch.setattr(sitemap, "SITEMAP_LIMIT", limit)
    memory = Memory()
    options = BuildOptions(out_dir=str(tmp_path / "out"), quiet=True, memory=memory)
    build(str(sample_site), options)
    memory.flush()
    sitemap._KEPT.clear()
    sitemap._MADE.clear()
    read_ahead(str(sample_site), options)
    parts = {p: made[2] for p, made in sitemap._MADE.items() if p != "sitemaps/pages.xml"}
    assert len(parts) > 1
    for path, out in parts.items():
        assert (tmp_path / "out" / "site" / path).read_bytes() == out.data, path
    leaf = sample_site / "content" / "codes" / "icd10cm" / "S72.001A.md"
    (leaf.parent / "S72.001W.md").write_text(leaf.read_text().replace("code: S72.001A\n", "code: S72.001W\n"))
    report = build(str(sample_site), options)
    made = {p: m[2] for p, m in sitemap._MADE.items() if p in parts}
    changed = {p for p in parts if made[p] is not parts[p]}
    assert [f"site/{p}" for p in changed] == [f for f in report.files if f.startswith("site/sitemaps/") and
                                              f != "site/sitemaps/pages.xml"], (changed, report.files)
    assert len(changed) == 1


def test_a_build_that_none_follows_keeps_no_list_nor_part() -> None:
    """``keep=False`` (a command-line build: no build follows in the process) makes the same
    URLs and files, and holds none of them after (12 MB of the full set's, through the
    build's peak of memory)."""
    keys = {("icd10cm", f"A{i:04d}") for i in range(30)}
    assert ordered_code_urls(PREFIXES, keys, by_key) == fresh(keys) and sitemap._KEPT
    assert ordered_code_urls(PREFIXES, keys, by_key, keep=False) == fresh(keys)
    assert not sitemap._KEPT
    kept = files(["/"], fresh(keys))
    assert sitemap._MADE
    made = {o.path: o.data for o in sitemap.sitemaps("https://s.example", ["/"], fresh(keys), keep=False)}
    assert made == kept and not sitemap._MADE
