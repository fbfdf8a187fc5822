"""Every message `codesite check` can print has a fixture here asserting its exact text, line
and column; together they prove the messages registry (generator/messages.py, docs/errors.md)
lists every message the checks print, and nothing they do not."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator import messages
from generator.report import problems
from tests.conftest import SITES

BASE_CONFIG = (SITES / "valid-basic" / "content" / "site.yaml").read_text()
S73 = "---\ncode: S73\nsystem: icd10cm\ntitle: Dislocation of hip\nkind: category\n---\nHip out of place.\n"
P = "content/codes/icd10cm/"


class Link(str):
    """A symbolic link to this target, in place of a file's text."""


def code_file(*front: str, body: str = "Plain words.") -> str:
    return "---\n" + "".join(f"{line}\n" for line in front) + "---\n" + (body + "\n" if body else "")


def minimal(code: str, *more: str, body: str = "Plain words.", system: str = "icd10cm") -> str:
    return code_file(f"code: '{code}'", f"system: {system}", f"title: Title of {code}", *more, body=body)


# name -> (files written over a one-code site, every problem as path:line:col: field: message)
CASES: dict[str, tuple[dict[str, str | bytes], list[str]]] = {
    "no fence": (
        {P + "S73.0.md": "code: S73.0\n"},
        [f"{P}S73.0.md:1:1: front matter: file must start with a '---' line"],
    ),
    "no closing fence": (
        {P + "S73.0.md": "---\ncode: S73.0\n"},
        [f"{P}S73.0.md:1:1: front matter: no closing '---' line after the front matter"],
    ),
    "unreadable file: a folder in its place": (
        {P + "S73.0.md/inside.md": minimal("S73.0", "parent: S73")},
        [f"{P}S73.0.md:1:1: file: cannot read (Is a directory)"],
    ),
    "symbolic link": (
        {
            P + "S73.0.md": Link("/etc/hostname"),
            "assets/leak.html": Link("../build/private/x.html"),
            "layouts/base.html": Link("/etc/passwd"),
        },
        [
            "assets/leak.html:0:1: symlink: symbolic links are not followed (this one points to "
            "'../build/private/x.html'); put the file itself here",
            f"{P}S73.0.md:0:1: symlink: symbolic links are not followed (this one points to '/etc/hostname'); "
            "put the file itself here",
            "layouts/base.html:0:1: symlink: symbolic links are not followed (this one points to '/etc/passwd'); "
            "put the file itself here",
        ],
    ),
    "not utf-8": (
        {P + "S73.0.md": b"---\ntitle: caf\xe9\n---\n"},
        [f"{P}S73.0.md:1:1: file: not valid UTF-8 (invalid continuation byte)"],
    ),
    "deeper folder": (
        {P + "more/S73.0.md": minimal("S73.0", "parent: S73")},
        [
            f"{P}more/S73.0.md:1:1: file: content files go in content/codes/<system>/, not deeper",
            f"{P}more/S73.0.md:3:1: system: file is in folder 'more' but system is 'icd10cm'",
        ],
    ),
    "unquoted colon in a title": (
        {P + "S73.0.md": code_file("code: S73.0", "system: icd10cm", "title: Hip: dislocation", "parent: S73")},
        [f"{P}S73.0.md:4:11: title: put the title in quotes: it contains a colon"],
    ),
    "unclosed list, reported where it starts": (
        {P + "S73.0.md": code_file("code: S73.0", "system: icd10cm", "synonyms: [hip out", "parent: S73")},
        [f"{P}S73.0.md:4:11: synonyms: the list that starts here is not closed: end it with ']'"],
    ),
    "unclosed mapping": (
        {P + "S73.0.md": code_file("code: S73.0", "related:", "  - {code: S73, relation: see_also", "title: x")},
        [
            f"{P}S73.0.md:4:5: front matter: the one-line group of fields that starts here is not closed: "
            "end it with '}'"
        ],
    ),
    "unclosed quote": (
        {P + "S73.0.md": code_file("code: S73.0", 'title: "Hip', "parent: S73")},
        [f'{P}S73.0.md:3:8: title: the quoted text that starts here is not closed: add the closing "'],
    ),
    "tab": (
        {P + "S73.0.md": code_file("code: S73.0", "notes:", "\texcludes1: [x]")},
        [f"{P}S73.0.md:4:1: excludes1: indent with spaces, not tabs"],
    ),
    "line without a colon": (
        {P + "S73.0.md": code_file("code: S73.0", "title", "parent: S73")},
        [
            f"{P}S73.0.md:3:1: front matter: this line is not 'field: value': add ': ' after the field name, "
            "or indent it to continue the text above"
        ],
    ),
    "value starting with a reserved character": (
        {P + "S73.0.md": code_file("code: S73.0", "title: @home injury")},
        [f"{P}S73.0.md:3:8: title: a value cannot start with '@': put the title in quotes"],
    ),
    "text after a closing quote": (
        {P + "S73.0.md": code_file("code: S73.0", 'title: "Hip" dislocation')},
        [f"{P}S73.0.md:3:14: title: text after the closing quote: put the whole title in quotes"],
    ),
    "indentation": (
        {P + "S73.0.md": code_file("code: S73.0", "notes:", "  excludes1: [a]", " excludes2: [b]")},
        [f"{P}S73.0.md:5:2: front matter: this line's indentation does not match the fields above it"],
    ),
    "other YAML error": (
        {P + "S73.0.md": code_file("code: S73.0", "title: !!python/name:os.system x")},
        [
            f"{P}S73.0.md:3:8: front matter: malformed YAML: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/name:os.system'"
        ],
    ),
    "field given twice": (
        {P + "S73.0.md": minimal("S73.0", "parent: S73", "parent: S73")},
        [f"{P}S73.0.md:6:1: parent: 'parent' is given twice (also on line 5): keep one"],
    ),
    "schema types": (
        {
            P + "S73.0.md": code_file(
                "code: S73.0",
                "system: icd10cm",
                "title: ''",
                "kind: categroy",
                "billable: 'yes'",
                "synonyms: hip",
                "notes: text",
                "seventh_characters: {a: initial}",
                "sections:",
                "  - {id: Tips, title: T, body: b}",
                "  - {title: [x], body: b}",
                "history: [{release: 2027, action: added}]",
            )
        },
        [
            f"{P}S73.0.md:4:1: title: must not be empty",
            f"{P}S73.0.md:5:1: kind: 'categroy' is not one of: chapter, block, category, code",
            f"{P}S73.0.md:6:1: billable: expected true or false, got a string",
            f"{P}S73.0.md:7:1: synonyms: expected a list, got a string",
            f"{P}S73.0.md:8:1: notes: expected a mapping, got a string",
            f"{P}S73.0.md:9:22: seventh_characters.a: key 'a' does not match the pattern [0-9A-Z]",
            f"{P}S73.0.md:11:6: sections[0].id: 'Tips' does not match the pattern [a-z0-9]+(?:-[a-z0-9]+)*",
            f"{P}S73.0.md:12:5: sections[1].id: required field is missing",
            f"{P}S73.0.md:12:6: sections[1].title: expected a string, got a list",
            f"{P}S73.0.md:13:12: history[0].release: expected a string, got a number",
        ],
    ),
    "unknown field does not hide a bad parent": (
        {P + "S73.0.md": minimal("S73.0", "colour: blue", "parent: S99", "synonym: [x]")},
        [
            f"{P}S73.0.md:5:1: colour: unknown field (allowed: code, system, title, kind, parent, billable, "
            "status, replaced_by, history, synonyms, notes, seventh_characters, related, sections)",
            f"{P}S73.0.md:6:1: parent: parent 'S99' does not exist in icd10cm",
            f"{P}S73.0.md:7:1: synonym: unknown field: did you mean 'synonyms'?",
        ],
    ),
    "bad kind and billable hide nothing": (
        {
            P + "S73.5.md": code_file(
                "code: S73.0",
                "system: icd10cm",
                "kind: categroy",
                "billable: maybe",
                "parent: S73",
                "related: [{code: S99.9}]",
            )
        },
        [
            f"{P}S73.5.md:1:1: title: required field is missing",
            f"{P}S73.5.md:2:1: code: file name 'S73.5.md' does not match code 'S73.0'",
            f"{P}S73.5.md:4:1: kind: 'categroy' is not one of: chapter, block, category, code",
            f"{P}S73.5.md:5:1: billable: expected true or false, got a string",
            f"{P}S73.5.md:7:12: related[0].code: related code 'S99.9' does not exist in icd10cm",
        ],
    ),
    "an unreadable parent is reported once": (
        {
            P + "S73.0.md": code_file("code: S73.0", "title: Hip: out"),
            P + "S73.01.md": minimal("S73.01", "parent: S73.0", "related: [{code: S73.0}]"),
        },
        [f"{P}S73.0.md:3:11: title: put the title in quotes: it contains a colon"],
    ),
    "a wrong field is not reported twice": (
        {P + "S73.0.md": code_file("code: S73.0", "system: icd10cm", "title: [Hip]", "parent: [S73]", "related: [x]")},
        [
            f"{P}S73.0.md:4:1: title: expected a string, got a list",
            f"{P}S73.0.md:5:1: parent: expected a string, got a list",
            f"{P}S73.0.md:6:11: related[0]: expected a mapping, got a string",
        ],
    ),
    "site checks": (
        {
            P + "S73.0.md": minimal(
                "S73.0",
                "parent: S73",
                "replaced_by: [S73.9]",
                "related: [{code: '1', system: x}]",
                "sections: [{id: a, title: A, body: x}, {id: a, title: B, body: y}]",
            ),
            P + "27255.md": minimal("27255", system="cpt"),
            P + "s73.2.md": minimal("s73.2", "parent: S73"),
            P + "S73.3.md": minimal("S73.3", "parent: S73.2"),
            P + "S73.4.md": minimal("S73.4", "parent: S73.5"),
            P + "S73.5.md": minimal("S73.5", "parent: S73.4"),
            P + "S73.6.md": minimal("S73.7", "parent: S73"),
            "content/codes/hcpcs/E0100.md": minimal("E0100", system="hcpcs"),
            "content/codes/cpt/27253.md": minimal("27253", "related: [{code: '27254'}]", system="cpt"),
            P + "27253.md": minimal("27253", system="cpt"),
        },
        [
            "content/codes/cpt/27253.md:5:12: related[0].code: related code '27254' does not exist in cpt",
            "content/codes/hcpcs/E0100.md:3:1: system: unknown system 'hcpcs' (known: icd10cm, cpt)",
            f"{P}27253.md:3:1: system: file is in folder 'icd10cm' but system is 'cpt'",
            f"{P}27255.md:3:1: system: file is in folder 'icd10cm' but system is 'cpt'",
            f"{P}S73.0.md:6:1: replaced_by: only deleted codes are replaced (set status: deleted)",
            f"{P}S73.0.md:6:15: replaced_by[0]: replacement 'S73.9' does not exist in icd10cm",
            f"{P}S73.0.md:7:23: related[0].system: unknown system 'x'",
            f"{P}S73.0.md:8:41: sections[1].id: duplicate section id 'a'",
            f"{P}S73.3.md:5:1: parent: parent 'S73.2' does not exist in icd10cm",
            f"{P}S73.4.md:5:1: parent: parent chain of 'S73.4' loops back to itself",
            f"{P}S73.5.md:5:1: parent: parent chain of 'S73.5' loops back to itself",
            f"{P}S73.6.md:2:1: code: file name 'S73.6.md' does not match code 'S73.7'",
            f"{P}s73.2.md:2:1: code: 's73.2' does not match the icd10cm code pattern "
             f"^(?:[A-Z][0-9][0-9A-Z](?:\\.[0-9A-Z]{{1,4}})?|[A-Z][0-9][0-9A-Z]-[A-Z][0-9][0-9A-Z]|[1-9]|1[0-9]|2[0-2])$",
        ],
    ),
    "reserved URL segment, duplicate code": (
        {
            "content/site.yaml": BASE_CONFIG + "  - {id: misc, name: Misc, url_prefix: misc, pattern: '^[A-Za-z]+$', "
            "copyright: x}\n",
            "content/codes/misc/search.md": minimal("search", system="misc"),
            "content/codes/misc/ABC.md": minimal("ABC", system="misc"),
            "content/codes/misc/abc.md": minimal("abc", system="misc"),
        },
        [
            "content/codes/misc/abc.md:2:1: code: duplicate code 'abc' (also in content/codes/misc/ABC.md)",
            "content/codes/misc/search.md:2:1: code: 'search' is a reserved URL segment",
        ],
    ),
    "unsafe markup": (
        {
            P + "S73.0.md": minimal(
                "S73.0",
                "parent: S73",
                "sections: [{id: a, title: A, body: '<img onerror=x>'}]",
                body="Text\n<script>x</script>\n[a](javascript:x)\n[b](ftp://files.example.org/)\n"
                '<span class="big">c</span>\n<!-- d -->\n![e](/e.png)\n\nf\n{: #meter-banner }',
            )
        },
        [
            f"{P}S73.0.md:6:30: sections[0].body: event handler attribute 'onerror' is not allowed in Markdown",
            f"{P}S73.0.md:6:30: sections[0].body: raw <img> is not allowed in Markdown",
            f"{P}S73.0.md:9:1: body: raw <script> is not allowed in Markdown",
            f"{P}S73.0.md:10:1: body: script or data URLs are not allowed in Markdown",
            f"{P}S73.0.md:11:1: body: URL scheme 'ftp:' is not allowed in Markdown (allowed: http, https, mailto, "
            "or a path)",
            f"{P}S73.0.md:12:1: body: attribute 'class' is not allowed on <span> in Markdown",
            f"{P}S73.0.md:13:1: body: HTML comments are not allowed in Markdown",
            f"{P}S73.0.md:14:1: body: images are not allowed in Markdown",
            f"{P}S73.0.md:17:1: body: attribute list '{{: #meter-banner }}' is not allowed in Markdown (ids, classes "
            "and attributes come from the layouts)",
        ],
    ),
    "navigation and templates": (
        {
            "content/site.yaml": BASE_CONFIG.replace("url: /search/", "url: /nowhere/"),
            "layouts/code.html": "{% if x %}",
            "layouts/bad.html": b"\xff\xfe",
        },
        [
            "content/site.yaml:6:1: nav[0].url: '/nowhere/' is not a page of the site",
            "layouts/bad.html:1:1: template: not valid UTF-8 (invalid start byte)",
            "layouts/code.html:1:1: template: Unexpected end of template. Jinja was looking for the following "
             "tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
        ],
    ),
    "site.yaml": (
        {
            "content/site.yaml": BASE_CONFIG.replace("pattern: '^[0-9]{4}", "pattern: '^([0-9]{4}")
            + "  - {id: icd10cm, name: X, url_prefix: cpt, pattern: x, copyright: x}\n"
            + "meter: {guest_views: -1, registered_views: many, period_days: 3}\n"
        },
        [
            "content/site.yaml:17:1: systems[1].pattern: invalid regular expression: missing ), unterminated "
             "subpattern at position 1",
            "content/site.yaml:20:1: systems[2].id: duplicate system 'icd10cm'",
            "content/site.yaml:21:1: meter.guest_views: must be at least 0",
            "content/site.yaml:21:1: meter.registered_views: expected a whole number, got a string",
        ],
    ),
    "URLs in site.yaml": (
        {
            "content/site.yaml": BASE_CONFIG.replace('"mailto:help@fixture.example.org"', '"mailto:help @fixture"')
            .replace("url: /search/", "url: 'ftp://files.example.org/'")
        },
        [
            "content/site.yaml:4:1: help_url: 'mailto:help @fixture': URLs may not contain spaces, control "
            "characters or backslashes",
            "content/site.yaml:6:1: nav[0].url: 'ftp://files.example.org/': the scheme 'ftp:' is not allowed "
            "(allowed: http, https, mailto, or a path)",
        ],
    ),
    "meter limit": (
        {"content/site.yaml": BASE_CONFIG + "meter: {guest_views: 400, registered_views: 400}\n"},
        [
            "content/site.yaml:20:1: meter: guest_views + registered_views must be at most 24 "
            "(a meter cookie holds 24 codes)",
        ],
    ),
    "URL prefix": (
        {
            "content/site.yaml": BASE_CONFIG
            + "  - {id: other, name: O, url_prefix: cpt, pattern: x, copyright: x}\n"
            + "meter: {guest_views: 400, registered_views: 400}\n"
        },
        [
            "content/site.yaml:20:1: systems[2].url_prefix: duplicate URL prefix 'cpt'",
        ],
    ),
    "no site.yaml": (
        {"content/site.yaml": ""},
        [
            "content/site.yaml:1:1: site: not found (is '{site}' a codesite folder?)",
        ],
    ),
    "synonyms.yaml": (
        {"content/synonyms.yaml": "broken hip: [fracture, 3]\nsore: {a: b}\n"},
        [
            "content/synonyms.yaml:1:1: synonyms.broken hip: expected a phrase or a list of phrases",
            "content/synonyms.yaml:2:1: synonyms.sore: expected a phrase or a list of phrases",
        ],
    ),
    "synonyms.yaml shape": (
        {"content/synonyms.yaml": "- a list\n"},
        [
            "content/synonyms.yaml:1:1: synonyms: expected a mapping of lay phrase: clinical phrase(s)",
        ],
    ),
    "warnings": (
        {
            P + "S73.0.md": minimal(
                "S73.0",
                "parent: S73",
                "synonyms: [hip out, " + "x" * 61 + "]",
                "notes: {excludes1: [see T84.0 and S73]}",
                body="",
            ),
            P + "S73.1.md": minimal(
                "S73.1",
                "parent: S73",
                "synonyms: [Hip  out]",
                "sections: [{id: tips, title: Tips, gated: true, body: x}]",
                body="",
            ),
            P + "S73.2.md": minimal(
                "S73.2", "parent: S73", "synonyms: [hip out]", "related: [{code: S73.0}]", body="y" * 4001
            ),
            "content/codes/cpt/27253.md": code_file("code: '27253'", "system: cpt", "title: " + "t" * 201),
        },
        [
            "content/codes/cpt/27253.md:4:1: title: the title is 201 characters long (limit 200)",
            f"{P}S73.0.md:6:12: synonyms[0]: lay synonym 'hip out' is also claimed by unrelated code icd10cm S73.1",
            f"{P}S73.0.md:6:21: synonyms[1]: the synonym is 61 characters long (limit 60)",
            f"{P}S73.0.md:7:21: notes.excludes1[0]: the note names 'T84.0', which has no page in icd10cm",
            f"{P}S73.0.md:8:1: body: no plain-language description: write one or two sentences after the closing '---'",
            f"{P}S73.1.md:6:12: synonyms[0]: lay synonym 'hip out' is also claimed by unrelated code icd10cm S73.0",
            f"{P}S73.1.md:7:12: sections[0]: gated section 'tips' has no public teaser: guests see nothing of "
             "this page but titles",
            f"{P}S73.2.md:6:12: synonyms[0]: lay synonym 'hip out' is also claimed by unrelated code icd10cm S73.1",
            f"{P}S73.2.md:9:1: body: the description is 4001 characters long (limit 4000)",
        ],
    ),
}


def write_site(root: Path, files: dict[str, str | bytes]) -> Path:
    (root / "content" / "codes" / "icd10cm").mkdir(parents=True)
    (root / "content" / "site.yaml").write_text(BASE_CONFIG)
    (root / "content" / "codes" / "icd10cm" / "S73.md").write_text(S73)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel == "content/site.yaml" and not text:
            path.unlink()
        elif isinstance(text, Link):
            path.symlink_to(str(text))
        elif isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def shown(site: Path) -> list[str]:
    errors, warnings, _ = problems(str(site))
    return [f"{e.path}:{e.line}:{e.col}: {e.field}: {e.message}" for e in [*errors, *warnings]]


@pytest.mark.parametrize("name", sorted(CASES))
def test_message_fixture(name: str, tmp_path: Path) -> None:
    files, expected = CASES[name]
    assert shown(write_site(tmp_path, files)) == [e.replace("{site}", str(tmp_path)) for e in expected]


def test_registry_matches_the_messages_printed(tmp_path: Path) -> None:
    """Every message the fixtures print (these cases and the invalid sample sites) is in the
    registry, exactly once; and every message of the registry has a fixture here."""
    printed = []
    sites = [write_site(tmp_path / str(i), files) for i, (files, _) in enumerate(CASES.values())]
    for site in [*sites, *sorted(SITES.glob("invalid-*"))]:
        errors, warnings, _ = problems(str(site))
        printed += [(e.path, e.message) for e in [*errors, *warnings]]
    used = set()
    for path, message in printed:
        found = messages.find(message, path)
        assert len(found) == 1, (message, found)
        used.add(found[0])
    assert [m.text for m in messages.ALL if m not in used] == []
