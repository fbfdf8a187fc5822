"""Codes read from the last build's state only when a page to render shows them (an editor's
edit renders a few pages of 98k: loading every code would cost more than rendering them)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from ..model.code import Code
from .records import Key, key_of, path_of, unpack
from .snapshot import Snapshot


class LazyCodes(Mapping[Key, Code]):
    """Every code of the site by key, each read from the snapshot when first asked for."""

    def __init__(self, snapshot: Snapshot, fresh: dict[str, Code], files: Mapping[str, object] | None = None,
                 came: Collection[str] = (), went: Collection[str] = ()) -> None:
        """``files``: the content files now (default: the snapshot's; a code in ``fresh`` may
        have come since); ``came`` and ``went``: the paths that are in ``files`` and not in the
        snapshot's, and the other way round."""
        self.snapshot = snapshot
        self.files = snapshot.files if files is None else files
        self.loaded = {c.key: c for c in fresh.values()}
        self.came, self.went = came, went

    def __getitem__(self, key: Key) -> Code:
        c = self.loaded.get(key)
        if c is None:
            c = self.loaded[key] = unpack(self.snapshot.entry(path_of(key))[0])
        return c

    def get(self, key: Key, default: Any = None) -> Any:
        return self[key] if path_of(key) in self.files else default

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and path_of(key) in self.files

    def __iter__(self) -> Iterator[Key]:
        return map(key_of, self.files)

    def __len__(self) -> int:
        return len(self.files)


class LazyLists(Mapping[Any, list[Code]]):
    """``Site.children`` or ``Site.tops`` from the graph's keys and lazily loaded codes."""

    def __init__(self, codes: LazyCodes, keys: Callable[[], dict[Any, tuple[Key, ...]]]) -> None:
        """``keys``: the graph's lists, asked for when first needed (a no-op build never does)."""
        self.codes = codes
        self.keys_of = keys

    @property
    def lists(self) -> dict[Any, tuple[Key, ...]]:
        return self.keys_of()

    def __getitem__(self, at: Any) -> list[Code]:
        return [self.codes[k] for k in self.lists[at]]

    def __contains__(self, at: object) -> bool:
        return at in self.lists

    def __iter__(self) -> Iterator[Any]:
        return iter(self.lists)

    def __len__(self) -> int:
        return len(self.lists)
