"""Incremental builds: after random edits of every kind, the output equals a clean build's,
byte for byte, and gated text stays private."""

from __future__ import annotations

import html
import math
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from generator import yamlutil
from generator.build import BuildOptions, build
from generator.errors import CheckFailed
from generator.importers.files import render_file
from generator.load import load_site
from generator.load.parse import parse_files, split_front_matter
from generator.load.records import unpack
from generator.load.scan import Prescan, scan
from generator.model.code import Code
from tests.conftest import codesite


def tree(out: Path) -> dict[str, bytes]:
    """Every output file (public and private) with its bytes; the cache and manifest aside."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for area in ("site", "private")
        for p in sorted((out / area).rglob("*"))
        if p.is_file()
    }


def clean_build(site: Path, tmp: Path) -> dict[str, bytes] | str:
    out = tmp / "clean"
    shutil.rmtree(out, ignore_errors=True)
    try:
        build(str(site), BuildOptions(out_dir=str(out), quiet=True))
    except CheckFailed as exc:
        return "\n".join(str(e) for e in exc.errors)
    return tree(out)


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Path]:
    """A folder for clean builds, in memory where the machine has one: the random-edit runs
    make and remove a clean build every round."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="codesite-test-") as d:
        yield Path(d)


# --- what must hold of any build: the gate ---------------------------------------------

WORD = re.compile(r"\w+")
TAG = re.compile(r"<[^>]*>")
JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
MD_LINK_TARGET = re.compile(r"\]\([^)]*\)")
MD_LIST_MARK = re.compile(r"^\s*(?:\d+[.)]|[-*+])\s", re.M)
CHUNK = 8  # words: a gated "sentence" is any run of this many words of a gated body
CANARY = re.compile(r"\bgatecanary\w+")  # a word of one section's body only (see mark_sections)


def words(text: str) -> str:
    """Text as its words, lower case, one space apart (and around): markup, entities,
    JSON escapes and Markdown emphasis do not split or join a run of words."""
    text = JSON_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = html.unescape(TAG.sub(" ", text))
    return " " + " ".join(WORD.findall(text.lower())) + " "


def chunks(markdown: str) -> list[str]:
    """A gated body as runs of ``CHUNK`` words (a short body is one run)."""
    w = WORD.findall(MD_LIST_MARK.sub(" ", MD_LINK_TARGET.sub("]", markdown)).lower())
    if len(w) <= CHUNK:
        return [f" {' '.join(w)} "] if len(w) >= 4 else []
    starts = [*range(0, len(w) - CHUNK, CHUNK), len(w) - CHUNK]
    return [f" {' '.join(w[i : i + CHUNK])} " for i in starts]


def sections(site: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Read from the content files (not from the build): the private file each gated
    section must make, with its body; and each public section's body, by the page that
    shows it."""
    config = yamlutil.load((site / "content" / "site.yaml").read_text())
    prefix = {s["id"]: s["url_prefix"] for s in config["systems"]}
    gated: dict[str, str] = {}
    public: dict[str, list[str]] = {}
    for path in sorted((site / "content" / "codes").glob("*/*.md")):
        text = path.read_text()
        if "sections" not in text:
            continue
        front = yamlutil.load(split_front_matter(text, str(path))[0])
        base = f"{prefix[front['system']]}/{front['code']}"
        for s in front.get("sections") or []:
            if s.get("gated"):
                gated[f"private/{base}/{s['id']}.html"] = s["body"]
            elif front.get("kind") not in ("chapter", "block"):  # hierarchy.html shows no sections
                public.setdefault(f"site/{base}/index.html", []).append(s["body"])
    return gated, public


class Gate:
    """Checks a build's files against the content: every gated section has its private
    fragment and no other fragment is there (none stale); no run of words of a gated body
    is in any public file (pages, sitemaps, search index shards), nor the word of its own
    that the random-edit runs give each section."""

    def __init__(self) -> None:
        self._words: dict[bytes, str] = {}  # public file bytes -> words (most stay the same)

    def words(self, data: bytes) -> str:
        if data not in self._words:
            self._words[data] = words(data.decode("utf-8", "replace"))
        return self._words[data]

    def check(self, site: Path, files: dict[str, bytes], context: str = "") -> None:
        gated, public = sections(site)
        private = {k for k in files if k.startswith("private/")}
        assert private == set(gated), (
            f"{context}: stale fragments {sorted(private - set(gated))}, "
            f"missing {sorted(set(gated) - private)}"
        )
        # the check can see text: each run is in its own fragment, each public section's
        # runs on its page (the words as the renderer writes them)
        runs = {(key, run) for key, body in gated.items() for run in chunks(body)}
        shown = {(key, run) for key, bodies in public.items() for b in bodies for run in chunks(b)}
        unseen = [(k, run) for k, run in runs | shown if run not in self.words(files[k])]
        assert not unseen, f"{context}: section text not found where it belongs: {unseen[:5]}"
        public_words = {k: self.words(v) for k, v in files.items() if k.startswith("site/")}
        every = "\n".join(public_words.values())  # a run of words never spans two files
        if any(run in every for _, run in runs):
            leaks = [(k, run) for k, text in public_words.items() for _, run in runs if run in text]
            pytest.fail(f"{context}: gated text is public: {leaks[:5]}")
        # the search index holds words, not runs of them: a gated section's own word is in
        # no public file, and a public section's own word is in the index
        secret = {w for body in gated.values() for w in CANARY.findall(body.lower())}
        leaked = sorted(w for w in secret if f" {w} " in every)
        assert not leaked, f"{context}: words of gated sections are public: {leaked}"
        index = "\n".join(t for k, t in public_words.items() if k.startswith("site/search-index/"))
        told = {w for bodies in public.values() for b in bodies for w in CANARY.findall(b.lower())}
        unindexed = sorted(w for w in told if f" {w} " not in index)
        assert not unindexed, f"{context}: words of public sections not in the search index: {unindexed}"


# --- random edits ----------------------------------------------------------------------

# Every kind of edit the editor makes. The random-edit runs with several edits a round share
# them out (``share``) and each fails if a kind of its share never applied: together they
# make every kind at least once.
KINDS = (
    "body",  # a code's Markdown body
    "title",  # a code's title: every page that shows it (children, links) changes
    "billable",
    "deleted",  # status: deleted
    "related",  # a related code (a link to another page, possibly in another system)
    "note",  # an instructional note naming a code
    "lay-term",  # a code's synonyms (search only)
    "section",  # a section added, or an existing section's body edited
    "gate-off",  # a gated section made public: its fragment must go
    "gate-on",  # a public section gated: its text must leave the public files
    "add",  # a new code
    "remove",  # a code's file deleted
    "reparent",  # a code moved under another category
    "rename",  # a parent's code changed: its file, its children and links to it follow
    "touch",  # a file written with the same bytes
    "template",  # a layout file
    "config",  # content/site.yaml
    "synonym",  # content/synonyms.yaml
    "asset",  # a file in assets/ edited or added
)


class Editor:
    """Random edits of a site's files, each of a kind that can change other pages.
    ``edit`` returns what it did, or None when the random pick did not fit the kind."""

    def __init__(self, site: Path, seed: int) -> None:
        self.site = site
        self.rng = random.Random(seed)
        self.n = 0
        self.applied: set[str] = set()
        self._codes: tuple[int, list[Code]] = (-1, [])

    def files(self, system: str = "icd10cm") -> list[Path]:
        return sorted((self.site / "content" / "codes" / system).glob("*.md"))

    def read(self, path: Path) -> tuple[dict, str]:
        front, body, _ = split_front_matter(path.read_text(), str(path))
        return yamlutil.load(front), body

    def write(self, path: Path, front: dict, body: str) -> None:
        path.write_text(render_file(front, body))

    def codes(self) -> list[Code]:
        """Every code as the files are now (loaded once an edit: edits load, then write)."""
        if self._codes[0] != self.n:
            self._codes = (self.n, sorted(load_site(str(self.site)).codes.values(), key=lambda c: c.path))
        return self._codes[1]

    def targets(self) -> set[tuple[str, str]]:
        """Codes that other codes link to (related, replaced_by)."""
        codes = self.codes()
        used = {(r.system or c.system, r.code) for c in codes for r in c.related}
        return used | {(c.system, r) for c in codes for r in c.replaced_by}

    def pick(self) -> tuple[Path, dict, str]:
        """A code's file: half the time one that other pages link to (the edit must reach
        them too), else one of any system (ICD-10-CM most often)."""
        if self.rng.random() < 0.5:
            system, code = self.rng.choice(sorted(self.targets()))
            path = self.site / "content" / "codes" / system / f"{code}.md"
        else:
            path = self.rng.choice(self.files(self.rng.choice(["icd10cm", "icd10cm", "cpt"])))
        return (path, *self.read(path))

    def leaves(self) -> list[Path]:
        codes, used = self.codes(), self.targets()
        parents = {(c.system, c.parent) for c in codes if c.parent}
        return [
            self.site / c.path
            for c in codes
            if c.key not in parents and c.key not in used and c.system == "icd10cm"
        ]

    def sections(self, gated: bool) -> list[tuple[Path, int]]:
        """(file, index) of every section that is (or is not) gated."""
        return [
            (self.site / c.path, i)
            for c in self.codes()
            for i, s in enumerate(c.sections)
            if s.gated == gated
        ]

    def edit(self, kind: str | None = None) -> str | None:
        """Make one edit of ``kind`` (a random kind if None)."""
        self.n += 1
        kind = kind or self.rng.choice(KINDS)
        make: Callable[[], str | None] = getattr(self, "edit_" + kind.replace("-", "_"))
        done = make()
        if done is not None:
            self.applied.add(kind)
        return done

    def edit_body(self) -> str:
        path, front, body = self.pick()
        self.write(path, front, body + f"\n\nEdit {self.n}: more *plain* words.")
        return f"body {path.stem}"

    def edit_title(self) -> str:
        path, front, body = self.pick()
        front["title"] = f"{front.get('title') or 'Untitled'} (edit {self.n})"
        self.write(path, front, body)
        return f"title {path.stem}"

    def edit_billable(self) -> str:
        path, front, body = self.pick()
        front["billable"] = not front.get("billable", False)
        self.write(path, front, body)
        return f"billable {path.stem}"

    def edit_deleted(self) -> str | None:
        path, front, body = self.pick()
        if front.get("status") == "deleted":
            return None
        front["status"] = "deleted"
        self.write(path, front, body)
        return f"deleted {path.stem}"

    def edit_related(self) -> str | None:
        path, front, body = self.pick()
        _, target, _ = self.pick()
        related = front.get("related") or []
        if any(r["code"] == target["code"] for r in related):
            return None
        link = {"code": target["code"], "relation": "see_also"}
        if target["system"] != front["system"]:
            link["system"] = target["system"]
        front["related"] = [*related, link]
        self.write(path, front, body)
        return f"related {path.stem} -> {target['code']}"

    def edit_note(self) -> str:
        path, front, body = self.pick()
        _, target, _ = self.pick()
        notes = front.get("notes") or {}
        notes["excludes2"] = [*notes.get("excludes2", []), f"something else ({target['code']})"]
        front["notes"] = notes
        self.write(path, front, body)
        return f"note {path.stem} -> {target['code']}"

    def edit_lay_term(self) -> str:
        path, front, body = self.pick()
        front["synonyms"] = [*(front.get("synonyms") or []), f"lay term {self.n}"]
        self.write(path, front, body)
        return f"lay-term {path.stem}"

    def edit_section(self) -> str:
        """Half the time an existing section's body grows, else a new section (gated or not)."""
        existing = self.sections(True) + self.sections(False)
        if existing and self.rng.random() < 0.5:
            path, i = self.rng.choice(sorted(existing))
            front, body = self.read(path)
            s = front["sections"][i]
            s["body"] = f"{s['body'].rstrip()}\n\nMore words of edit {self.n} in section {s['id']}.\n"
            self.write(path, front, body)
            return f"section {path.stem}#{s['id']} edited"
        path, _, _ = self.pick()
        return self.add_section(path, gated=self.rng.random() < 0.5)

    def add_section(self, path: Path, gated: bool) -> str:
        front, body = self.read(path)
        front["sections"] = [
            *(front.get("sections") or []),
            {
                "id": f"s{self.n}",
                "title": f"Section {self.n}",
                "gated": gated,
                "body": f"Canary words of section {self.n} for the gate check: gatecanary{self.n}.",
            },
        ]
        self.write(path, front, body)
        return f"section {path.stem}#s{self.n} added ({'gated' if gated else 'public'})"

    def mark_sections(self) -> None:
        """Give each section a word of its own (gatecanary...), which the gate check looks
        for in every public file and the search index."""
        marks = iter(range(900, 10**6))  # the sections added later are numbered 0, 1, ...
        for c in self.codes():
            if c.sections:
                path = self.site / c.path
                front, body = self.read(path)
                for s in front["sections"]:
                    s["body"] = f"{s['body'].rstrip()}\n\nOwn word: gatecanary{next(marks)}.\n"
                self.write(path, front, body)

    def flip(self, gated: bool) -> str | None:
        found = self.sections(gated)
        if not found:
            return None
        path, i = self.rng.choice(sorted(found))
        front, body = self.read(path)
        front["sections"][i]["gated"] = not gated
        self.write(path, front, body)
        return f"{'gate-off' if gated else 'gate-on'} {path.stem}#{front['sections'][i]['id']}"

    def edit_gate_off(self) -> str | None:
        return self.flip(True)

    def edit_gate_on(self) -> str | None:
        return self.flip(False)

    def edit_add(self) -> str | None:
        leaf = self.rng.choice(self.leaves())
        f, _ = self.read(leaf)
        code = f["code"][:7] + "ZY"[self.n % 2] if "." in f["code"] else f["code"]
        code = code if len(code.split(".")[-1]) <= 4 else code[:-2] + "Z"
        new = self.site / "content" / "codes" / "icd10cm" / f"{code}.md"
        if new.exists():
            return None
        # no copy of the leaf's sections: each gated text stays in one place
        self.write(new, {**f, "code": code, "title": f"New code {self.n}", "sections": []}, "")
        return f"add {code}"

    def edit_remove(self) -> str:
        leaf = self.rng.choice(self.leaves())
        leaf.unlink()
        return f"remove {leaf.stem}"

    def edit_reparent(self) -> str | None:
        leaf = self.rng.choice(self.leaves())
        f, b = self.read(leaf)
        cats = [c.code for c in self.codes() if c.kind == "category" and c.code != f.get("parent")]
        if not cats:
            return None
        f["parent"] = self.rng.choice(cats)
        self.write(leaf, f, b)
        return f"reparent {leaf.stem} -> {f['parent']}"

    def edit_rename(self) -> str | None:
        """A parent code gets a new code (and file name); its children and every related or
        replaced_by entry that names it follow, as an editor would do."""
        codes = self.codes()
        parents = {(c.system, c.parent) for c in codes if c.parent}
        keys = {c.key for c in codes}
        old = self.rng.choice([c for c in codes if c.key in parents and not c.is_range])
        stem, dot, tail = old.code.partition(".")
        if len(tail) >= 4:
            return None
        new = next(
            (
                f"{old.code}{ch}" if dot else f"{old.code}.{ch}"
                for ch in "ZYXW"
                if (old.system, f"{old.code}{ch}" if dot else f"{old.code}.{ch}") not in keys
            ),
            None,
        )
        if new is None:
            return None
        folder = self.site / "content" / "codes" / old.system
        def names_old(c: Code) -> bool:
            return c.key == old.key or (c.system == old.system and old.code in (c.parent, *c.replaced_by)) or any(
                (r.system or c.system, r.code) == old.key for r in c.related
            )

        for c in filter(names_old, codes):
            path = self.site / c.path
            front, body = self.read(path)
            changed = False
            if c.system == old.system and front.get("parent") == old.code:
                front["parent"], changed = new, True
            for r in front.get("related") or []:
                if r["code"] == old.code and r.get("system", c.system) == old.system:
                    r["code"], changed = new, True
            if c.system == old.system and old.code in (front.get("replaced_by") or []):
                front["replaced_by"] = [new if x == old.code else x for x in front["replaced_by"]]
                changed = True
            if c.key == old.key:
                path.unlink()
                front["code"], path, changed = new, folder / f"{new}.md", True
            if changed:
                self.write(path, front, body)
        return f"rename {old.code} -> {new}"

    def edit_touch(self) -> str:
        path, _, _ = self.pick()
        path.write_text(path.read_text())
        return f"touch {path.stem}"

    def edit_template(self) -> str:
        name = self.rng.choice(["code.html", "base.html", "hierarchy.html", "partials/list.html"])
        t = self.site / "layouts" / name
        text = t.read_text()
        at = text.index("<", text.index("{% block main %}") if "block main" in text else 0)
        t.write_text(f"{text[:at]}<!-- edit {self.n} -->{text[at:]}")
        return f"template {name}"

    def edit_config(self) -> str:
        cfg = self.site / "content" / "site.yaml"
        text = cfg.read_text()
        cfg.write_text(text.replace("tagline: ", f"tagline: Edit {self.n}. ", 1))
        return "config tagline"

    def edit_synonym(self) -> str:
        path = self.site / "content" / "synonyms.yaml"
        path.write_text(f"{path.read_text().rstrip()}\nlayword{self.n}: fracture\n")
        return f"synonym layword{self.n}"

    def edit_asset(self) -> str:
        assets = self.site / "assets"
        if self.rng.random() < 0.5:
            path = self.rng.choice(sorted(p for p in assets.rglob("*") if p.is_file()))
            path.write_text(f"{path.read_text()}\n/* edit {self.n} */\n")
            return f"asset {path.name} edited"
        (assets / f"extra-{self.n}.css").write_text(f"/* added by edit {self.n} */\n")
        return f"asset extra-{self.n}.css added"


SEEDS = [(1, 3), (2, 3), (3, 3), (4, 1), (5, 1)]  # (seed, most edits a round)


def share(seed: int) -> list[str]:
    """The kinds of edit a run with several edits a round must make: the runs share KINDS
    out between them, so that together they make every kind."""
    several = [s for s, most in SEEDS if most > 1]
    return list(KINDS[several.index(seed) :: len(several)]) if seed in several else []


def test_the_random_edit_runs_make_every_kind_of_edit() -> None:
    assert sorted(k for seed, _ in SEEDS for k in share(seed)) == sorted(KINDS)


def apply(editor: Editor, pending: list[str], count: int) -> list[str]:
    """One round of ``count`` edits: the pending kinds first (one whose random pick does not
    fit is tried again with other picks, then left pending), then random kinds."""
    done = []
    for kind in list(pending[:count]):
        for _ in range(8):
            what = editor.edit(kind)
            if what is not None:
                pending.remove(kind)
                done.append(what)
                break
    while len(done) < count:
        done.append(editor.edit() or "nothing fit")
    return done


@pytest.mark.parametrize(("seed", "most"), SEEDS)
def test_incremental_equals_clean_after_random_edits(
    sample_site: Path, tmp_path: Path, scratch: Path, seed: int, most: int
) -> None:
    """Up to ``most`` edits between builds: one edit of a file that keeps its code is the
    case where the build reads the other codes from the snapshot only as pages need them.
    Runs with several edits a round make their share of KINDS (all of them between them),
    in a random order, among random edits. After each build: the same files as a clean
    build, byte for byte; every gated section's fragment and no other; no gated text in any
    public file."""
    out = tmp_path / "inc"
    editor = Editor(sample_site, seed)
    editor.mark_sections()
    editor.add_section(sample_site / "content" / "codes" / "icd10cm" / "S72.0.md", gated=False)
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    gate = Gate()
    gate.check(sample_site, tree(out), "first build")
    pending = share(seed)
    editor.rng.shuffle(pending)
    rounds = 6
    for round_ in range(rounds):
        count = max(editor.rng.randint(1, most), math.ceil(len(pending) / (rounds - round_)))
        done = apply(editor, pending, count)
        expected = clean_build(sample_site, scratch)
        try:
            build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
            got: dict[str, bytes] | str = tree(out)
        except CheckFailed as exc:
            got = "\n".join(str(e) for e in exc.errors)
        if isinstance(expected, str):
            assert got == expected, f"round {round_}, edits {done}"
            pytest.fail(f"edits {done} made the site invalid (both builds said so): {expected}")
        assert isinstance(got, dict), f"round {round_}, edits {done}: {got}"
        assert sorted(got) == sorted(expected), f"round {round_}, edits {done}"
        differ = [k for k in expected if got[k] != expected[k]]
        assert not differ, f"round {round_}, edits {done}: {differ[:5]}"
        gate.check(sample_site, got, f"round {round_}, edits {done}")
    assert not pending, f"kinds of edit that never fit: {pending}"
    assert set(share(seed)) <= editor.applied


def pages_linking(files: dict[str, bytes], url: str) -> set[str]:
    """The public pages with a link that leads to ``url`` (relative links resolved)."""
    out = set()
    for key, data in files.items():
        if not key.startswith("site/") or not key.endswith(".html"):
            continue
        page = "https://site.test/" + key.removeprefix("site/").removesuffix("index.html")
        for href in re.findall(r'href="([^"]*)"', data.decode()):
            target = urlparse(urljoin(page, html.unescape(href))).path.removesuffix("index.html")
            if target == url and page != "https://site.test" + url:
                out.add(key)
    return out


def test_pages_that_link_a_code_follow_its_title(sample_site: Path, tmp_path: Path) -> None:
    """27253's title changes: every page that links to it (its related codes, the codes
    whose notes name it, its parent range) is rendered again, as a clean build makes it."""
    out = tmp_path / "inc"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    linking = pages_linking(tree(out), "/cpt/27253/")
    named = {f"site/{p}/index.html" for p in ("cpt/27254", "icd-10-cm/S73.0", "icd-10-cm/S73.014A")}
    assert named <= linking, linking
    path = sample_site / "content" / "codes" / "cpt" / "27253.md"
    path.write_text(path.read_text().replace("title: Open treatment", "title: Open reduction", 1))
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    got, expected = tree(out), clean_build(sample_site, tmp_path)
    assert isinstance(expected, dict)
    for key in sorted(named):
        assert b"Open reduction of hip dislocation" in expected[key], key
    stale = sorted(k for k in linking if got[k] != expected[k])
    assert not stale, f"pages linking 27253 differ from a clean build: {stale}"
    assert linking <= set(report.files)
    assert sorted(got) == sorted(expected)
    differ = sorted(k for k in expected if got[k] != expected[k])
    assert not differ, differ
    Gate().check(sample_site, got)


def test_noop_rebuild_writes_nothing(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert first.written > 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    again = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert (again.written, again.removed) == (0, 0)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes


def test_one_edit_renders_only_dependent_pages(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    # the page, its parent's child list, its children's breadcrumbs (and the search index)
    written = sorted(k for k in report.files if not k.startswith("site/search-index/"))
    assert "site/icd-10-cm/S73.01/index.html" in written
    assert "site/icd-10-cm/S73.0/index.html" in written
    assert "site/icd-10-cm/S73.011A/index.html" in written
    assert "site/icd-10-cm/S72.0/index.html" not in written
    assert all(
        k.startswith("site/icd-10-cm/S73.01") or k == "site/icd-10-cm/S73.0/index.html"
        for k in written
    ), written


def test_a_failed_build_keeps_the_previous_output_and_cache(
    sample_site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    before = tree(out)
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    good = path.read_text()
    path.write_text(good.replace("parent: S73.0", "parent: S99.9"))
    with pytest.raises(CheckFailed):
        build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert tree(out) == before
    path.write_text(good)
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert report.written == 0 and tree(out) == before


def test_an_edit_after_the_manifest_was_lost_rebuilds_every_page(sample_site: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    (out / ".manifest").unlink()
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.01.md"
    path.write_text(path.read_text() + "\nOne more line.\n")
    report = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert report.written > 800  # every page was staged again: none is known to be there
    assert tree(out) == clean_build(sample_site, tmp_path)
    again = build(str(sample_site), BuildOptions(out_dir=str(out), quiet=True))
    assert again.written == 0


def test_the_command_line_stats_files_in_a_child_process_with_the_same_result(
    sample_site: Path, tmp_path: Path
) -> None:
    prescan = Prescan(str(sample_site))
    assert prescan.pid  # forked
    found = prescan.result()
    assert found == scan(str(sample_site)) and len(found) > 800
    out = tmp_path / "out"
    assert codesite("build", "--site", str(sample_site), "--out", str(out), "--quiet").returncode == 0
    path = sample_site / "content" / "codes" / "icd10cm" / "S73.0.md"
    path.write_text(path.read_text().replace("title: ", "title: Renamed ", 1))
    result = codesite("build", "--site", str(sample_site), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert " 0 removed" in result.stdout and "written" in result.stdout
    assert tree(out) == clean_build(sample_site, tmp_path)


def test_a_file_that_changed_size_since_the_scan_is_read_whole(tmp_path: Path) -> None:
    """Files are read in one call of the size the scan saw: one that grew or shrank since is
    still read whole, as it is now."""
    folder = tmp_path / "content" / "codes" / "icd10cm"
    folder.mkdir(parents=True)
    path = folder / "S73.0.md"
    path.write_text("---\ncode: S73.0\nsystem: icd10cm\ntitle: Subluxation and dislocation of hip\n---\n"
                    + "A body that is longer than the file the scan saw. " * 40)
    rel, size = "content/codes/icd10cm/S73.0.md", path.stat().st_size
    for seen in (size - 700, size - 1, size, size + 500, -1):
        parsed = parse_files(str(tmp_path), [(rel, (0, seen), None)])
        assert not parsed.errors
        code = unpack(parsed.records[rel][2])
        assert code.title == "Subluxation and dislocation of hip"
        assert code.body.rstrip().endswith("the scan saw.") and code.body.count("A body") == 40
