"""Client document ids that a code keeps while other codes come and go.

An id is ``group * span + local``. The group is the code's place in a coarse partition of
the code order (its system, then its first ``HEAD`` characters: ``S72``; numeric codes such as
chapters by thousands), numbered in order among the groups the site has. The local value is the
rest of the code (``.001A``) read as a number in base ``radix`` over the site's alphabet, with
0 for "no character", so a shorter code comes before the codes it begins: ``S72`` < ``S72.0`` <
``S72.001`` < ``S72.001A``, which is ``model.site.sort_key``'s order. So ids follow code order
(ties in the ranking still break in code order), and a new code in an existing group takes a
free value without moving any other id: it changes only the index files holding it.

The layout (groups, alphabet, length) changes only when a code brings a new group, a new
character or a longer rest than any before; the index is then made whole, as a clean build of
the same codes makes it (the layout is a function of the codes, never of their history). A
site whose ids would not fit a double's 53 bits exactly gives each code a group of its own:
dense ids, made whole when a code comes or goes.

Display records (``r/``) are shared out by id too: a group's records in one file while it has at
most ``RECORDS_CAP``, else in files per value of the first ``depth`` bits of the local value
(the smallest depth keeping every file within the cap: bits, not characters, so that the files
are about as full as the cap allows); the manifest carries the depth of each group, so the
client finds a record's file from its id alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from ..model.site import sort_key

HEAD = 3  # characters of a code that name its group (the code-prefix shard's key for ICD-10-CM)
BASE_ALPHABET = "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # always in: a new code using one keeps the layout
MIN_LENGTH = 5  # the rest's digits at least (ICD-10-CM: ".001A")
RECORDS_CAP = 128  # display records in one file at most (past depth 0)
MAX_ID = 2**53  # every id is exact in a JavaScript number

Group = tuple[int, int, int, str]  # (system rank, class, thousands, head): compared as tuples
Key = tuple[str, str]  # (system, code)


def group_of(rank: int, code: str) -> tuple[Group, str, int]:
    """The code's group, the rest of it (a string code) and its number (a numeric one), in an
    order that agrees with ``sort_key``: numbers below 1000, then 1000, then the string codes
    (``sort_key`` puts them at 1000), then the other numbers, by thousands."""
    number, text = sort_key(code)
    if text:
        return (rank, 1000, 1, text[:HEAD]), text[HEAD:], 0
    thousands, rest = divmod(number, 1000)
    if thousands == 1 and rest:
        return (rank, 1000, 2, ""), "", rest
    return (rank, thousands * 1000, 0, ""), "", rest


def _own_group(rank: int, code: str) -> Group:
    """A code's own group (dense ids), in ``sort_key``'s order."""
    number, text = sort_key(code)
    return (rank, number, 0, text)


@dataclass(frozen=True)
class Layout:
    """How ids are made for one set of codes (see the module's docstring)."""

    groups: tuple[Group, ...]  # in order
    alphabet: str  # sorted; digit value = position + 1
    length: int  # digits of a local value; 0: dense ids (a group per code)

    @cached_property
    def radix(self) -> int:
        return len(self.alphabet) + 1

    @cached_property
    def span(self) -> int:
        return self.radix**self.length if self.length else 1

    @classmethod
    def of(cls, systems: Sequence[str], keys: Iterable[Key]) -> Layout:
        return cls.assign(systems, list(keys))[0]

    @classmethod
    def assign(cls, systems: Sequence[str], keys: Sequence[Key]) -> tuple[Layout, list[int]]:
        """The layout of ``keys`` and their ids, in one pass over the codes."""
        ranks = {s: i for i, s in enumerate(systems)}
        parts = [(rank, 1000, 1, code[:HEAD]) if not code.isdigit() else group_of(rank, code)
                 for rank, code in ((ranks[s], c) for s, c in keys)]  # the string codes inline: 98k of them
        rests = {code[HEAD:] for _, code in keys if not code.isdigit()}
        groups = {p[0] if len(p) == 3 else p for p in parts}
        alphabet = "".join(sorted(set(BASE_ALPHABET).union(*rests)))
        radix, length = len(alphabet) + 1, max(MIN_LENGTH, max(map(len, rests), default=0))
        while radix**length < 1000:  # a numeric group's thousand values fit
            length += 1
        if radix**length * max(1, len(groups)) >= MAX_ID:  # too many digits: a group per code, dense ids
            layout = cls(tuple(sorted({_own_group(ranks[s], c) for s, c in keys})), "", 0)
            return layout, list(range(len(keys)))
        layout = cls(tuple(sorted(groups)), alphabet, length)  # type: ignore[arg-type]
        index = {g: i for i, g in enumerate(layout.groups)}
        span = layout.span
        value = {rest: layout.local_of(rest) for rest in rests}
        ids = []
        for p, (_, code) in zip(parts, keys, strict=True):
            if len(p) == 3:  # a numeric code: (group, "", number)
                ids.append(index[p[0]] * span + p[2])
            else:
                ids.append(index[p] * span + value[code[HEAD:]])
        return layout, ids

    def local_of(self, rest: str) -> int:
        """The value of the rest of a string code (every character in the alphabet)."""
        value = 0
        for ch in rest:
            value = value * self.radix + self.alphabet.index(ch) + 1
        return value * self.radix ** (self.length - len(rest))

    def group_index(self, rank: int, code: str) -> int | None:
        g = group_of(rank, code)[0] if self.length else _own_group(rank, code)
        i = bisect.bisect_left(self.groups, g)
        return i if i < len(self.groups) and self.groups[i] == g else None

    def local(self, rank: int, code: str) -> int | None:
        """The code's value within its group (None: it does not fit this layout)."""
        if not self.length:
            return 0
        _, rest, number = group_of(rank, code)
        if not rest:
            return number
        if len(rest) > self.length or any(ch not in self.alphabet for ch in rest):
            return None
        return self.local_of(rest)

    def id(self, rank: int, code: str) -> int | None:
        """The code's id, or None when it does not fit this layout (a new group or character,
        a longer rest: the index is then made whole)."""
        g = self.group_index(rank, code)
        local = self.local(rank, code)
        if g is None or local is None:
            return None
        return g * self.span + local

    def ids(self, systems: Sequence[str], keys: Sequence[Key]) -> list[int]:
        """The ids of ``keys`` (every one fits: the layout is theirs)."""
        layout, ids = Layout.assign(systems, keys)
        if layout != self:
            ranks = {s: i for i, s in enumerate(systems)}
            return [self._checked(self.id(ranks[s], c), s, c) for s, c in keys]
        return ids

    @staticmethod
    def _checked(docid: int | None, system: str, code: str) -> int:
        if docid is None:
            raise ValueError(f"{system}:{code} does not fit the layout it was made from")
        return docid

    # --- display records ---------------------------------------------------------------------

    @cached_property
    def bits(self) -> int:
        """The bits of a local value."""
        return (self.span - 1).bit_length()

    def unit(self, depth: int) -> int:
        """The local values one records file covers in a group of ``depth``."""
        return 1 << (self.bits - depth)

    def bucket(self, docid: int, depth: int) -> tuple[int, int]:
        """The records file of ``docid`` when its group has ``depth``: (group, part)."""
        g, local = divmod(docid, self.span)
        return g, local >> (self.bits - depth)

    def depth(self, ids: Sequence[int]) -> int:
        """The depth of a group of ``ids`` (sorted): the fewest leading bits of the local value
        that keep each records file within ``RECORDS_CAP``."""
        if len(ids) <= RECORDS_CAP:
            return 0
        span = self.span
        for depth in range(1, self.bits + 1):
            shift = self.bits - depth
            run, last = 0, -1
            for i in ids:
                part = (i % span) >> shift
                run = run + 1 if part == last else 1
                last = part
                if run > RECORDS_CAP:
                    break
            else:
                return depth
        return self.bits

    def group_ids(self, ids: Sequence[int], g: int) -> Sequence[int]:
        """The ids of group ``g`` among ``ids`` (sorted)."""
        lo = bisect.bisect_left(ids, g * self.span)
        return ids[lo : bisect.bisect_left(ids, (g + 1) * self.span, lo)]

    def depths(self, ids: Sequence[int]) -> list[int]:
        """The depth of every group."""
        out = [0] * len(self.groups)
        start = 0
        span = self.span
        while start < len(ids):
            g = ids[start] // span
            end = bisect.bisect_left(ids, (g + 1) * span, start)
            if end - start > RECORDS_CAP:
                out[g] = self.depth(ids[start:end])
            start = end
        return out

    def name(self, g: int, part: int, depth: int) -> str:
        """A records file's name (under ``r/``), as ``assets/search.js`` makes it."""
        return f"{g}" if not depth else f"{g}-{part}"

    def as_json(self) -> dict[str, object]:
        return {"span": self.span, "bits": self.bits}
