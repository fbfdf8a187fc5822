"""`codesite check` on the fixture sites: every problem at once, each as path:line: field: message."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import SITES, codesite, copy_site

EXPECTED = {
    "invalid-yaml": [
        "content/codes/icd10cm/S73.0.md:1: title: required field is missing",  # and no knock-on parent error
        "content/codes/icd10cm/S73.1.md:1: front matter: file must start with a '---' line",
        "content/codes/icd10cm/S73.md:5: synonyms: the list that starts here is not closed: end it with ']'",
    ],
    "invalid-schema": [
        "content/codes/icd10cm/S73.0.md:7: notes.excludes3: unknown field (allowed: inclusion_terms, includes, "
        "excludes1, excludes2, code_first, use_additional_code, code_also, note, seventh_character_note)",
        "content/codes/icd10cm/S73.0.md:9: related[0].relation: 'sibling' is not one of: see_also, "
        "distinct_from, crosswalk, add_on, replaces",
        "content/codes/icd10cm/S73.0.md:11: sections[0].id: 'Coding Tips' does not match the pattern "
        "[a-z0-9]+(?:-[a-z0-9]+)*",
        "content/codes/icd10cm/S73.0.md:13: sections[0].gated: expected true or false, got a string",
        "content/codes/icd10cm/S73.0.md:15: sections[1].id: required field is missing",
        "content/codes/icd10cm/S73.md:5: kind: 'categroy' is not one of: chapter, block, category, code",
        "content/codes/icd10cm/S73.md:6: billable: expected true or false, got a string",
        "content/codes/icd10cm/S73.md:7: synonyms: expected a list, got a string",
        "content/codes/icd10cm/S73.md:8: colour: unknown field (allowed: code, system, title, kind, parent, "
        "billable, status, replaced_by, history, synonyms, notes, seventh_characters, related, sections)",
    ],
    "invalid-links": [
        "content/codes/cpt/27253.md:5: replaced_by: only deleted codes are replaced (set status: deleted)",
        "content/codes/cpt/27253.md:5: replaced_by[0]: replacement '27254' does not exist in cpt",
        "content/codes/icd10cm/27253.md:3: system: file is in folder 'icd10cm' but system is 'cpt'",
        "content/codes/icd10cm/S73.0.md:7: related[0].code: related code 'S99.9' does not exist in icd10cm",
        "content/codes/icd10cm/S73.0.md:8: related[1].code: related code '27254' does not exist in cpt",
        "content/codes/icd10cm/S73.0.md:10: sections[0].body: event handler attribute 'onerror' is not allowed "
        "in Markdown",
        "content/codes/icd10cm/S73.0.md:10: sections[0].body: raw <img> is not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:11: sections[1].id: duplicate section id 'tips'",
        "content/codes/icd10cm/S73.0.md:15: body: raw <script> is not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:17: body: script or data URLs are not allowed in Markdown",
        "content/codes/icd10cm/S73.1.md:2: code: file name 'S73.1.md' does not match code 'S73.2'",
        "content/codes/icd10cm/S73.md:6: parent: parent 'S70-S79' does not exist in icd10cm",
        "content/codes/icd10cm/s73.3.md:2: code: 's73.3' does not match the cpt code pattern "
        "^[0-9]{4}[0-9A-Z](?:-[0-9]{4}[0-9A-Z])?$",
        "content/codes/icd10cm/s73.3.md:3: system: file is in folder 'icd10cm' but system is 'cpt'",
        "content/codes/icd10cm/s73.3.md:5: parent: parent 'S73' does not exist in cpt",
    ],
    "invalid-urls": [
        "content/site.yaml:5: help_url: 'javascript:alert(document.domain)': the scheme 'javascript:' is not "
        "allowed (allowed: http, https, mailto, or a path)",
        "content/site.yaml:10: nav[3].url: 'JavaScript:alert(1)': the scheme 'javascript:' is not allowed "
        "(allowed: http, https, mailto, or a path)",
        "content/site.yaml:11: nav[4].url: 'java\\x09script:alert(1)': URLs may not contain spaces, control "
        "characters or backslashes",
        "content/site.yaml:12: nav[5].url: 'data:text/html,<script>alert(1)</script>': the scheme 'data:' is not "
        "allowed (allowed: http, https, mailto, or a path)",
        "content/site.yaml:13: nav[6].url: '/\\evil.example/': URLs may not contain spaces, control characters "
        "or backslashes",
        "content/site.yaml:14: nav[7].url: ' javascript:alert(1)': URLs may not contain spaces, control "
        "characters or backslashes",
        "content/site.yaml:15: nav[8].url: 'ftp://files.example.org/': the scheme 'ftp:' is not allowed "
        "(allowed: http, https, mailto, or a path)",
    ],
    "invalid-markup": [
        "content/codes/icd10cm/S73.0.md:15: sections[1].body: attribute 'id' is not allowed on <div> in Markdown",
        "content/codes/icd10cm/S73.0.md:19: body: raw <img> is not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:21: body: script or data URLs are not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:25: body: script or data URLs are not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:26: body: script or data URLs are not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:28: body: URL scheme 'ftp:' is not allowed in Markdown (allowed: http, "
        "https, mailto, or a path)",
        "content/codes/icd10cm/S73.0.md:28: body: script or data URLs are not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:31: body: attribute list '{: onclick=alert(1) }' is not allowed in "
        "Markdown (ids, classes and attributes come from the layouts)",
        "content/codes/icd10cm/S73.0.md:33: body: attribute list '{: #meter-banner .meter-count }' is not allowed "
        "in Markdown (ids, classes and attributes come from the layouts)",
        "content/codes/icd10cm/S73.0.md:35: body: attribute 'class' is not allowed on <span> in Markdown",
        "content/codes/icd10cm/S73.0.md:35: body: attribute 'style' is not allowed on <span> in Markdown",
        "content/codes/icd10cm/S73.0.md:37: body: HTML comments are not allowed in Markdown",
        "content/codes/icd10cm/S73.0.md:39: body: images are not allowed in Markdown",
    ],
    "invalid-config": [
        "content/site.yaml:1: help_url: required field is missing",
        "content/site.yaml:2: base_url: 'fixture.example.org' does not match the pattern "
        "https?://[^\\s/]+(?:/[^\\s]*)?",
        "content/site.yaml:10: systems[0].pattern: invalid regular expression: missing ), unterminated "
        "subpattern at position 1",
        "content/site.yaml:12: systems[1].pattern: required field is missing",
        "content/site.yaml:16: meter.guest_views: must be at least 0",
        "content/site.yaml:16: meter.registered_views: expected a whole number, got a string",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_check_reports_every_error_exactly(name: str) -> None:
    result = codesite("check", "--site", str(SITES / name))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[:-1] == EXPECTED[name]
    assert lines[-1] == f"{len(EXPECTED[name])} error(s)"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_build_of_invalid_site_writes_nothing(name: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = codesite("build", "--site", str(SITES / name), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == f"{len(EXPECTED[name])} error(s); nothing was written"
    assert not out.exists()


def test_valid_fixture_checks_clean() -> None:
    result = codesite("check", "--site", str(SITES / "valid-basic"), "--no-warnings")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok: 4 codes checked"  # warnings: tests/test_editors.py


def test_content_files_in_a_subfolder_are_an_error(tmp_path: Path) -> None:
    site = copy_site(SITES / "valid-basic", tmp_path / "site")
    deeper = site / "content" / "codes" / "icd10cm" / "more"
    deeper.mkdir()
    (site / "content" / "codes" / "icd10cm" / "S73.0.md").rename(deeper / "S73.0.md")
    result = codesite("check", "--site", str(site))
    assert result.returncode == 1
    assert (
        "content/codes/icd10cm/more/S73.0.md:1: file: content files go in content/codes/<system>/, not deeper"
        in result.stderr.splitlines()
    )


def test_help_explains_commands() -> None:
    result = codesite("--help")
    assert result.returncode == 0
    for word in ("build", "check", "schema"):
        assert word in result.stdout
    build_help = codesite("build", "--help").stdout
    assert "--site DIR" in build_help and "--out DIR" in build_help


def test_schema_documents_every_field() -> None:
    from generator.model.schema import CODE_FIELDS

    out = codesite("schema").stdout
    for name in CODE_FIELDS:
        assert f"| `{name}` |" in out
