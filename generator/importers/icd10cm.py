"""The CMS ICD-10-CM tabular XML, parsed into entries: chapters, blocks, categories, codes.

Pure: XML text (or a parsed tree) in, ``Entry`` objects out. Writing files is the merge's job.
"""

from __future__ import annotations

import importlib.util
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

NOTE_TAGS = {
    "inclusionTerm": "inclusion_terms",
    "includes": "includes",
    "excludes1": "excludes1",
    "excludes2": "excludes2",
    "codeFirst": "code_first",
    "useAdditionalCode": "use_additional_code",
    "codeAlso": "code_also",
    "notes": "note",
    "sevenChrNote": "seventh_character_note",
}


@dataclass
class Entry:
    code: str
    kind: str  # chapter | block | category | code
    title: str
    parent: str | None
    billable: bool = False
    notes: dict[str, list[str]] = field(default_factory=dict)
    seventh_characters: dict[str, str] = field(default_factory=dict)
    seventh_notes: dict[str, list[str]] = field(default_factory=dict)  # a character's own notes


def _package_data(prefix: str, suffix: str) -> str:
    """A data file of the simple-icd-10-cm package, found without importing the package
    (its import parses the whole XML, and warns)."""
    spec = importlib.util.find_spec("simple_icd_10_cm")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the ICD-10-CM tabular file comes from the package simple-icd-10-cm: "
            "pip install '.[icd10cm]', or pass --from TABULAR.xml"
        )
    data = os.path.join(list(spec.submodule_search_locations)[0], "data")
    for name in sorted(os.listdir(data)):
        if name.startswith(prefix) and name.endswith(suffix):
            return os.path.join(data, name)
    raise FileNotFoundError(f"no {prefix}*{suffix} in the simple-icd-10-cm package")


def default_tabular() -> str:
    """Path of the tabular XML shipped in the simple-icd-10-cm package (the 'icd10cm' extra)."""
    return _package_data("icd10", ".xml")


def default_code_list() -> str:
    """The package's list of valid codes: it drops the 7th-character expansions that special
    rules in the notes forbid (e.g. S06.0X7 takes only A)."""
    return _package_data("code-list", ".txt")


def read_code_list(path: str) -> set[str]:
    with open(path, encoding="utf-8") as f:
        return {line.strip().replace(".", "") for line in f if line.strip()}


def _text(el: ET.Element | None) -> str:
    return " ".join((el.text or "").split()) if el is not None else ""


def _notes(el: ET.Element) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for child in el:
        kind = NOTE_TAGS.get(child.tag)
        if kind:
            notes.setdefault(kind, []).extend(_text(n) for n in child.findall("note") if _text(n))
    return notes


def _seventh(el: ET.Element) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The 7th characters a code defines, and their own notes: in the tabular file a ``<note>``
    inside ``<sevenChrDef>`` belongs to the ``<extension>`` before it (H34.81: "2 stable", then
    "Old central retinal vein occlusion")."""
    d = el.find("sevenChrDef")
    if d is None:
        return {}, {}
    meanings: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    last = None
    for x in d:
        if x.tag == "extension":
            last = x.get("char", "")
            meanings[last] = _text(x)
        elif x.tag == "note" and last is not None and _text(x):
            notes.setdefault(last, []).append(_text(x))
    return meanings, notes


def block_id(first: str, last: str) -> str:
    """Blocks are ranges; a one-category block (T07) becomes T07-T07 so it never clashes with the category."""
    return f"{first}-{last}"


def with_seventh(code: str, char: str) -> str:
    """S73.001 + A -> S73.001A; T07 + A -> T07.XXXA (placeholder X up to six characters)."""
    base = code.replace(".", "")
    base = base + "X" * (6 - len(base))
    return f"{base[:3]}.{base[3:]}{char}"


def parse_tabular(source: str | bytes, valid: set[str] | None = None) -> Iterator[Entry]:
    """Every entry of the tabular list, parents before children, in the file's order.

    ``valid`` (codes without dots) filters the 7th-character expansions; without it every
    expansion the 7th-character definitions allow is produced."""
    root = ET.fromstring(source) if isinstance(source, bytes) else ET.parse(source).getroot()
    for chapter in root.iter("chapter"):
        number = _text(chapter.find("name"))
        yield Entry(number, "chapter", _text(chapter.find("desc")), None, notes=_notes(chapter))
        refs = {r.get("id"): (r.get("first"), r.get("last")) for r in chapter.iter("sectionRef")}
        for section in chapter.findall("section"):
            first, last = refs.get(section.get("id"), (None, None))
            sid = section.get("id") or ""
            if first is None:
                first, _, last = sid.partition("-")
                last = last or first
            bid = block_id(first or sid, last or sid)
            yield Entry(bid, "block", _text(section.find("desc")), number, notes=_notes(section))
            for diag in section.findall("diag"):
                yield from _diag(diag, bid, {}, valid, top=True)


def _diag(
    el: ET.Element, parent: str, seventh: dict[str, str], valid: set[str] | None, top: bool = False
) -> Iterator[Entry]:
    code = _text(el.find("name"))
    title = _text(el.find("desc"))
    own, own_notes = _seventh(el)
    inherited = own or seventh
    children = el.findall("diag")
    entry = Entry(
        code,
        "category" if top else "code",
        title,
        parent,
        billable=not children and not inherited,
        notes=_notes(el),
        seventh_characters=own,
        seventh_notes=own_notes,
    )
    yield entry
    for child in children:
        yield from _diag(child, code, inherited, valid)
    if not children and inherited:
        for char, meaning in inherited.items():
            full = with_seventh(code, char)
            if valid is None or full.replace(".", "") in valid:
                yield Entry(full, "code", f"{title}, {meaning}", code, billable=True)


def tabular_version(path: str) -> str | None:
    """The release in the file's ``<version>`` element (e.g. "2026"), without parsing it all."""
    for _, el in ET.iterparse(path, events=("end",)):
        if el.tag == "version":
            return _text(el) or None
        if el.tag in ("introduction", "chapter"):
            break
    return None


def official_front(entry: Entry, system: str = "icd10cm") -> dict[str, object]:
    """The front matter a release owns for one entry (see ``merge.OFFICIAL``)."""
    return {
        "code": entry.code,
        "system": system,
        "title": entry.title,
        "kind": entry.kind,
        "parent": entry.parent,
        "billable": entry.billable,
        "notes": entry.notes,
        "seventh_characters": {
            ch: {"meaning": m, "notes": entry.seventh_notes[ch]} if ch in entry.seventh_notes else m
            for ch, m in entry.seventh_characters.items()
        },
    }
