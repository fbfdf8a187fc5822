"""The client index's impacts made from raw weights in one pass are those the whoosh side makes
from saturated weights: the same arithmetic, the same cap."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from generator.search import scores
from generator.search.scores import impacts, impacts_of_weights, saturated


@settings(deadline=None, max_examples=80)
@given(
    postings=st.dictionaries(st.integers(0, 10**7), st.tuples(st.floats(0.05, 40), st.floats(0.1, 3)),
                             min_size=1, max_size=300),
    cap=st.sampled_from([5, 50, scores.POSTINGS_CAP]),
    n=st.integers(300, 200_000),
)
def test_one_pass_equals_saturated_then_impacts(postings: dict[int, tuple[float, float]], cap: int, n: int) -> None:
    docs = sorted(postings)
    weights = [postings[d][0] for d in docs]
    boosts = {d: postings[d][1] for d in docs}
    bound = scores.top(max(boosts.values()), n)
    before = scores.POSTINGS_CAP
    scores.POSTINGS_CAP = cap  # the cap's tie rule, on lists short enough to draw
    try:
        assert impacts_of_weights(docs, weights, boosts, n, bound) == impacts(
            docs, [saturated(w, boosts[d]) for d, w in zip(docs, weights, strict=True)], n, bound)
    finally:
        scores.POSTINGS_CAP = before


@given(
    kept=st.dictionaries(st.integers(0, 40), st.integers(0, 6), min_size=1, max_size=12),
    d=st.integers(0, 40),
    q=st.integers(0, 6),
)
def test_below_says_whether_a_document_that_came_stays_out_of_the_highest(kept: dict[int, int], d: int, q: int) -> None:
    """``edit.below``: a document that came ranks below every kept one exactly when the
    highest impacts (the first documents among equals) of the kept ones and it are the kept
    ones."""
    from generator.search.edit import below

    assume(d not in kept)
    both = {**kept, d: q}
    highest = dict(sorted(both.items(), key=lambda dq: (-dq[1], dq[0]))[: len(kept)])
    assert below(d, q, both, kept) == (highest.keys() == kept.keys())
