"""An edit's vocabulary shards come from the search state's terms by shard (``State.vocab_part``),
kept in step with the document frequencies an edit sets, across the builds of one process."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from generator.search.client import State
from generator.search.ids import Layout
from generator.search.text import vocab_key

TERMS = st.text(alphabet="abcé1", min_size=1, max_size=3)


def empty_state(vocab: dict[str, int]) -> State:
    return State([], [], {}, {}, set(), {}, {}, vocab, {}, Layout((), "", 0), [])


def by_pass(state: State, k: str) -> dict[str, int]:
    return {t: n for t, n in state.vocab.items() if vocab_key(t) == k}


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(TERMS, st.integers(1, 9)), st.lists(st.tuples(TERMS, st.integers(0, 9))), st.booleans())
def test_vocabulary_shards_follow_the_document_frequencies_an_edit_sets(
    vocab: dict[str, int], edits: list[tuple[str, int]], made_first: bool
) -> None:
    state = empty_state(dict(vocab))
    if made_first:  # as read_ahead or an earlier edit left it
        state.vocab_part("a")
    for t, df in edits:
        state.set_df(t, df)
    for k in {vocab_key(t) for t in [*vocab, *(t for t, _ in edits)]}:
        assert state.vocab_part(k) == by_pass(state, k)


def test_the_state_kept_for_the_next_edit_keeps_its_shards_in_step(tmp_path: Path) -> None:
    state = empty_state({"apple": 2, "axe": 1, "bone": 3})
    assert state.vocab_part("a") == {"apple": 2, "axe": 1}
    state.save(str(tmp_path), "t1")
    kept = State.load(str(tmp_path), "t1")  # this process's, from memory
    assert kept is not None and kept.by_key is state.by_key
    kept.set_df("axe", 0)
    kept.set_df("arm", 4)
    assert kept.vocab_part("a") == {"apple": 2, "arm": 4}
    again = State.load(str(tmp_path), "t1")  # taken once: read from the folder, as saved
    assert again is not None and again.vocab_part("a") == {"apple": 2, "axe": 1}
