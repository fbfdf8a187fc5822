"""Client docids (``generator/search/ids.py``): in code order, and kept by every code when
another comes or goes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.model.site import sort_key
from generator.search.ids import RECORDS_CAP, Layout

SYSTEMS = ["icd10cm", "cpt"]
icd = st.from_regex(r"\A[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?\Z|\A[1-9]\Z|\A1[0-9]\Z")
cpt = st.from_regex(r"\A[0-9]{4}[0-9A-Z](-[0-9]{4}[0-9A-Z])?\Z")
keys = st.sets(st.tuples(st.just("icd10cm"), icd) | st.tuples(st.just("cpt"), cpt), min_size=1, max_size=60)


def in_order(ks: set[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(ks, key=lambda k: (SYSTEMS.index(k[0]), *sort_key(k[1])))


@settings(deadline=None, max_examples=200)
@given(keys, keys)
def test_ids_follow_code_order_and_stay_when_codes_come(first: set[tuple[str, str]],
                                                        more: set[tuple[str, str]]) -> None:
    ordered = in_order(first)
    layout = Layout.of(SYSTEMS, ordered)
    ids = layout.ids(SYSTEMS, ordered)
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False)), list(zip(ordered, ids, strict=True))
    assert ids[-1] < 2**53
    # the codes that fit this layout (their groups are there) take ids of their own; the
    # layout of all the codes is the same one, and gives every code the id it had
    fitting = {k for k in more if layout.id(SYSTEMS.index(k[0]), k[1]) is not None}
    grown = in_order(first | fitting)
    if Layout.of(SYSTEMS, grown) == layout:
        again = dict(zip(grown, layout.ids(SYSTEMS, grown), strict=True))
        assert all(again[k] == i for k, i in zip(ordered, ids, strict=True))
        assert len(set(again.values())) == len(grown)


def test_records_files_hold_at_most_the_cap_past_depth_zero() -> None:
    ordered = in_order({("icd10cm", f"S72.{i:03d}{c}") for i in range(40) for c in "ABCDEFGHJK"}
                       | {("icd10cm", "S72"), ("icd10cm", "A00.0")})
    layout = Layout.of(SYSTEMS, ordered)
    ids = layout.ids(SYSTEMS, ordered)
    depths = layout.depths(ids)
    group = layout.group_ids(ids, ids[-1] // layout.span)
    assert len(group) == 401 and depths[ids[-1] // layout.span] > 0 and depths[0] == 0
    files: dict[tuple[int, int], int] = {}
    for i in ids:
        b = layout.bucket(i, depths[i // layout.span])
        files[b] = files.get(b, 0) + 1
    assert max(files.values()) <= RECORDS_CAP
