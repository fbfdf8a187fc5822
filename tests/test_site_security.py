"""The build side of issue 10: symbolic links in the sources, and a check that tells the editor
everything the Markdown sanitiser would remove. Through `codesite check` / `build` on real sites."""

from __future__ import annotations

import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import markdown
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.model.markup_rules import unsafe_markup
from generator.render.markup import MarkdownRenderer, extensions
from tests.conftest import ROOT, SITES, codesite

CANARY = "CANARY-7QX4-GATED-PHRASE"
SECRET = "PRIVATE-SIGNING-KEY-MATERIAL-0123"


def metered_site(dst: Path) -> Path:
    shutil.copytree(SITES / "valid-metered" / "content", dst / "content")
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, dst / part)
    return dst


@pytest.fixture
def site_with_links(tmp_path: Path) -> tuple[Path, Path]:
    """A site built once (so build/private exists), then given links to private and outside files."""
    site = metered_site(tmp_path / "site")
    out = site / "build"
    first = codesite("build", "--site", str(site), "--out", str(out), "--no-search")
    assert first.returncode == 0, first.stderr
    secret = tmp_path / "keys.txt"
    secret.write_text(SECRET + "\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "page.html").write_text(SECRET)
    os.symlink("../build/private/demo/D101/coding-tips.html", site / "assets" / "leak.html")
    os.symlink("/etc/hostname", site / "assets" / "hostname")
    os.symlink(str(outside), site / "assets" / "linked")
    os.symlink(str(secret), site / "layouts" / "partials" / "key.html")
    os.symlink(str(secret), site / "content" / "codes" / "demo" / "D111.md")
    os.symlink("D101.md", site / "content" / "codes" / "demo" / "D112.md")  # inside the site: refused too
    return site, tmp_path


EXPECTED_LINKS = [
    "assets/hostname: symlink: symbolic links are not followed (this one points to '/etc/hostname'); put the "
    "file itself here",
    "assets/leak.html: symlink: symbolic links are not followed (this one points to "
    "'../build/private/demo/D101/coding-tips.html'); put the file itself here",
    "assets/linked: symlink: symbolic links are not followed (this one points to '{tmp}/outside'); put the "
    "file itself here",
    "content/codes/demo/D111.md: symlink: symbolic links are not followed (this one points to '{tmp}/keys.txt'); "
    "put the file itself here",
    "content/codes/demo/D112.md: symlink: symbolic links are not followed (this one points to 'D101.md'); put "
    "the file itself here",
    "layouts/partials/key.html: symlink: symbolic links are not followed (this one points to '{tmp}/keys.txt'); "
    "put the file itself here",
]


def test_check_refuses_every_symlink(site_with_links: tuple[Path, Path]) -> None:
    site, tmp = site_with_links
    result = codesite("check", "--site", str(site))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [line.format(tmp=tmp) for line in EXPECTED_LINKS] + ["6 error(s)"]


def test_build_publishes_nothing_through_a_symlink(site_with_links: tuple[Path, Path]) -> None:
    site, _ = site_with_links
    out = site / "build"
    before = {p: p.read_bytes() for p in (out / "site").rglob("*") if p.is_file()}
    result = codesite("build", "--site", str(site), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == "6 error(s); nothing was written"
    after = {p: p.read_bytes() for p in (out / "site").rglob("*") if p.is_file()}
    assert after == before  # the previous build, untouched
    assert not (out / "site" / "assets" / "leak.html").exists()
    assert not [p for p, data in after.items() if CANARY.encode() in data or SECRET.encode() in data]


def test_a_linked_site_folder_is_refused(tmp_path: Path) -> None:
    real = metered_site(tmp_path / "real")
    site = tmp_path / "site"
    site.mkdir()
    os.symlink(real / "assets", site / "assets")
    shutil.copytree(real / "content", site / "content")
    shutil.copytree(real / "layouts", site / "layouts")
    result = codesite("check", "--site", str(site))
    assert result.stderr.splitlines() == [
        f"assets: symlink: symbolic links are not followed (this one points to '{real / 'assets'}'); put the "
        "file itself here",
        "1 error(s)",
    ]


def test_copy_assets_never_follows_a_link(tmp_path: Path) -> None:
    """Even past the check (a link made after it ran), copying assets reads no link."""
    from generator.errors import BuildError
    from generator.render.assets import asset_outputs as copy_assets

    site = tmp_path / "site"
    (site / "assets" / "css").mkdir(parents=True)
    (site / "assets" / "css" / "site.css").write_text("body{}")
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    os.symlink(str(secret), site / "assets" / "css" / "leak.css")
    with pytest.raises(BuildError, match="assets/css/leak.css: cannot read"):
        list(copy_assets(str(site)))
    os.remove(site / "assets" / "css" / "leak.css")
    os.symlink(str(tmp_path), site / "assets" / "up")  # a linked folder is not entered
    paths = [o.path for o in copy_assets(str(site))]
    assert paths[0] == "assets/css/site.css" and re.fullmatch(r"assets/css/site\.[0-9a-f]{10}\.css", paths[1])
    assert len(paths) == 2


# --- the check reports what the sanitiser removes -----------------------------------------------


class Events(HTMLParser):
    """What a page means, serialisation aside: start tags with their attributes (the ``rel``
    the sanitiser adds to links left out), comments and the text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[object] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.out.append((tag, sorted((k, v) for k, v in attrs if not (tag == "a" and k == "rel"))))

    def handle_comment(self, data: str) -> None:
        self.out.append(("comment", data))

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.out.append(("text", " ".join(data.split())))


def meaning(html: str) -> list[object]:
    p = Events()
    p.feed(html)
    p.close()
    return p.out


RENDER = MarkdownRenderer()


def sanitiser_changes(text: str) -> bool:
    raw = markdown.Markdown(extensions=extensions(), output_format="html")
    return meaning(raw.convert(text)) != meaning(RENDER(text))


ATTACKS = [
    "<img/src=x/onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<script>alert(1)</script>",
    "<iframe src=//evil.example></iframe>",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript:alert(1))",
    "[x](java&#9;script:alert(1))",
    "[x](JAVASCRIPT:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[x][r]\n\n[r]: <vbscript:msgbox(1)>",
    "[x]\n\n[x]: data:text/html,hi",
    "<javascript:alert(1)>",
    "<ftp://files.example.org/>",
    "para\n{: onclick=alert(1) }",
    "para\n{: #meter-banner }",
    "## Title {: .meter-count }",
    '<div id="meter-banner">5 code page views remaining</div>',
    "<p class=meter-count>5</p>",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="/x" target=_blank>x</a>',
    '<span style="color:red">x</span>',
    "<!-- a comment -->",
    "![alt](https://example.org/x.png)",
    "<form action=/account/logout/><button>x</button></form>",
]
SAFE = [
    "Plain text with a colon: and a {brace} and a [bracket].",
    "[a link](https://example.org/) and [mail](mailto:a@example.org) and [a path](/search/)",
    "[ref][r]\n\n[r]: https://example.org/",
    "<https://example.org/>",
    '<a href="/search/" title="Search">search</a>',
    "<strong>bold</strong> and <em>em</em> <abbr title=\"x\">X</abbr>",
    "| a | b |\n|:--|--:|\n| 1 | 2 |",
    "Use `code` and 5 < 6 > 4.",
    "Term\n: definition",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_check_reports_every_attack_the_sanitiser_removes(text: str) -> None:
    assert sanitiser_changes(text), "not an attack: the sanitiser keeps it"
    assert unsafe_markup(text), text


@pytest.mark.parametrize("text", SAFE)
def test_safe_markdown_passes_both(text: str) -> None:
    assert not sanitiser_changes(text) and unsafe_markup(text) == []


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ATTACKS + SAFE + ["\n\n", "\n", " ", "text", "{", "<", "[", "&#106;"]), max_size=6))
def test_whatever_the_sanitiser_would_change_the_check_reports(parts: list[str]) -> None:
    text = "".join(parts)
    if sanitiser_changes(text):
        assert unsafe_markup(text), text


def test_markdown_cannot_fake_the_meter_banner(tmp_path: Path) -> None:
    """The sanitiser (behind the check) keeps no id or class from Markdown."""
    html = RENDER('<div id="meter-banner" class="meter-count">5 code page views remaining</div>\n\np\n{: #x .y }')
    assert "id=" not in html and "class=" not in html and "5 code page views remaining" in html
