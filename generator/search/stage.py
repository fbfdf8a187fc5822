"""The search stage: documents and synonyms in, outputs for the publisher out.

The build calls ``index`` once the pages are staged, with what it knows of the last build
(``Last``), and the result's ``remember`` once the publisher has committed (the build state
does, in its order). ``index`` hands the publisher the client index files (or keeps the last
build's) and makes the next whoosh index in a folder the publisher swaps in at its commit
(``Publisher.stage_folder``): site, fragments and both indexes change together or not at all.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..model.code import Code
from ..model.site import Site
from ..publish import Publisher
from . import engine
from .client import INDEX_DIR, Prepared, State, client_index, prepare
from .documents import documents
from .edit import prepare_edit
from .engine import build_whoosh, update_whoosh
from .synonyms import Synonyms, tokenized_synonyms


@dataclass(frozen=True)
class Last:
    """What the search stage needs of the last build."""

    token: str = ""  # names the search state and the whoosh index it left ("": none current)
    files: Sequence[str] = ()  # its client index files, as publisher keys ("site/search-index/...")
    unchanged: bool = False  # no content file changed since (other inputs: the build's env digest)
    # An editor's edit (see ``load.loader``): the changed files' codes before and after, every
    # file keeping its code; None when the build is not one.
    edit: tuple[Mapping[str, Code], Mapping[str, Code]] | None = None


@dataclass(frozen=True)
class Indexed:
    """What ``index`` did: the client index files that are this build's, and what ``remember``
    writes once the publisher has committed."""

    keys: list[str]  # the client index files, as publisher keys
    token: str  # names both indexes and the scores' state
    state_dir: str = ""
    prepared: Prepared | None = None  # None: the last build's indexes were kept

    def remember(self) -> str:
        """The scores' state into ``state_dir``, named by the token it returns (the build
        state keeps it, see ``Last.token``)."""
        if self.prepared is not None and self.prepared.state is not None:
            self.prepared.state.save(self.state_dir, self.token)
        return self.token


def client_files(files: Sequence[str]) -> list[str]:
    """The publisher keys among ``files`` that belong to the client index."""
    return [k for k in files if k.startswith(f"site/{INDEX_DIR}/")]


def index(site: Site, synonyms: Mapping[str, list[str]], publisher: Publisher, whoosh_dir: str, state_dir: str,
          last: Last, token: str) -> Indexed:
    """Both search indexes for ``site`` and its lay ``synonyms`` (as ``load`` read them), staged
    with ``publisher``; ``state_dir`` holds the scores' state of the last build, ``token``
    names this build."""
    kept = client_files(last.files)
    if kept and last.unchanged and os.path.isdir(whoosh_dir) and publisher.keep(kept):
        return Indexed(kept, last.token)
    lay = tokenized_synonyms(synonyms)
    prepared = _edit(site, lay, publisher, state_dir, last, kept) or prepare(site, lay)
    keys = publisher.add_all(client_index(site, prepared))
    if prepared.outputs is not None:  # an edit: the files it did not change (or drop) were kept
        made = set(keys) | set(prepared.dropped)
        keys = [k for k in kept if k not in made] + keys
    staged = publisher.stage_folder(whoosh_dir)
    if prepared.outputs is None:
        build_whoosh(prepared.docs, prepared.synonyms, whoosh_dir, staged, token)
    elif not update_whoosh(prepared.docs, prepared.synonyms, whoosh_dir, staged, last.token, token, prepared.removed,
                           max(prepared.state.boosts.values(), default=1.0) if prepared.state else None):
        build_whoosh(documents(site), prepared.synonyms, whoosh_dir, staged, token)
    return Indexed(keys, token, state_dir, prepared)


def _edit(site: Site, synonyms: Synonyms, publisher: Publisher, state_dir: str, last: Last,
          kept: list[str]) -> Prepared | None:
    """After an editor's edit, the client index files it changes, the others carried over;
    None when the index must be made whole."""
    if last.edit is None or not last.token:
        return None
    before, after = last.edit
    live = os.path.join(publisher.out, "site", INDEX_DIR)
    prepared = prepare_edit(site, synonyms, before, after, state_dir, last.token, live)
    if prepared is None or prepared.outputs is None:
        return None
    redo = {f"{o.area}/{o.path}" for o in prepared.outputs} | set(prepared.dropped)
    return prepared if publisher.keep([k for k in kept if k not in redo]) else None


def read_ahead(whoosh_dir: str, state_dir: str, token: str) -> None:
    """Read what an editor's first edit reads of the last build's indexes (``token`` names
    its search state), so that it does not wait for it (the dev server, after its first build)."""
    if token:
        State.read_ahead(state_dir, token)
        engine.read_ahead(whoosh_dir)
