"""Editors' workflow (issue 14): codesite new, check's formats and paths, diff against git,
the What's new pages, the generated docs, the CI workflows and the pre-commit hook."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

from generator.docs import generated
from generator.model.schema import CODE_FIELDS
from generator.report import escape_data, escape_property
from tests.conftest import ROOT, SITES, codesite, copy_site

NEW_FILE = "content/codes/icd10cm/S73.01.md"


def site_copy(tmp_path: Path, name: str = "valid-basic") -> Path:
    """A fixture's content, with the bundled layouts and assets (to build it)."""
    site = copy_site(SITES / name, tmp_path / "site")
    for part in ("layouts", "assets"):
        shutil.copytree(ROOT / part, site / part)
    return site


# --- codesite new ------------------------------------------------------------------------------


def test_new_then_fill_the_title_then_check_passes(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    made = codesite("new", "--site", str(site), "icd10cm", "S73.01")
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"wrote {NEW_FILE}: fill in the title")
    text = (site / NEW_FILE).read_text()
    for name in CODE_FIELDS:  # every field of the schema, explained
        assert re.search(rf"^# {name}: ", text, re.M), name
    front = yaml.safe_load(text.split("---\n")[1])
    assert front == {"code": "S73.01", "system": "icd10cm", "title": None, "kind": "code",
                     "parent": "S73.0", "billable": True}
    before = codesite("check", "--site", str(site))
    assert before.returncode == 1
    assert before.stderr.splitlines() == [f"{NEW_FILE}:9: title: required field is missing", "1 error(s)"]
    assert text.splitlines()[8] == "title:"
    (site / NEW_FILE).write_text(text.replace("\ntitle:\n", "\ntitle: Posterior dislocation of hip\n"))
    after = codesite("check", "--site", str(site))
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("ok: 5 codes checked")


def test_new_finds_the_range_and_quotes_the_title(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    rng = site / "content/codes/icd10cm/S70-S79.md"
    rng.write_text("---\ncode: S70-S79\nsystem: icd10cm\ntitle: Injuries to the hip and thigh\nkind: block\n---\n")
    made = codesite("new", "--site", str(site), "icd10cm", "S74", "--title", "Injury: of nerves")
    assert made.returncode == 0, made.stderr
    front = yaml.safe_load((site / "content/codes/icd10cm/S74.md").read_text().split("---\n")[1])
    assert (front["parent"], front["kind"], front["billable"], front["title"]) == (
        "S70-S79", "category", False, "Injury: of nerves")


def new_front(site: Path, system: str, code: str) -> tuple[str, bool]:
    made = codesite("new", "--site", str(site), system, code)
    assert made.returncode == 0, made.stderr
    front = yaml.safe_load((site / f"content/codes/{system}/{code}.md").read_text().split("---\n")[1])
    return front["kind"], front["billable"]


def test_new_guesses_kind_and_billable_by_the_rules_in_site_yaml(tmp_path: Path) -> None:
    """The systems' built-in rules, then the ones a site writes under a system in site.yaml
    (``kinds``: the first whose pattern matches); a bad pattern there is a config error."""
    site = site_copy(tmp_path)
    assert new_front(site, "icd10cm", "7") == ("chapter", False)
    assert new_front(site, "icd10cm", "S74") == ("category", False)
    assert new_front(site, "icd10cm", "S74.0") == ("code", True)
    assert new_front(site, "cpt", "0001U") == ("code", True)
    config = site / "content/site.yaml"
    text = config.read_text()
    rules = ("    kinds:\n      - {pattern: '[0-9]{4}U', kind: code, billable: false}\n"
             "      - {pattern: '.+-.+', kind: block}\n      - {kind: code, billable: true}\n")
    config.write_text(text + rules)
    assert new_front(site, "cpt", "0002U") == ("code", False)
    assert new_front(site, "cpt", "27193-27269") == ("block", False)
    assert new_front(site, "cpt", "27255") == ("code", True)
    config.write_text(text + rules.replace("'[0-9]{4}U'", "'[0-9'"))
    result = codesite("check", "--site", str(site))
    assert result.stderr.splitlines() == [
        "content/site.yaml:21: systems[1].kinds[0].pattern: invalid regular expression: unterminated character "
        "set at position 0", "1 error(s)"]


def test_new_refuses_an_existing_code_a_bad_pattern_and_an_unknown_system(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    existing = site / "content/codes/icd10cm/S73.0.md"
    old = existing.read_text()
    cases = {
        ("icd10cm", "S73.0"): "error: content/codes/icd10cm/S73.0.md already exists: edit it instead",
        ("icd10cm", "S7"): "error: 'S7' does not match the icd10cm code pattern",
        ("cpt", "2725"): "error: '2725' does not match the cpt code pattern",
        ("hcpcs", "E0100"): "error: unknown system 'hcpcs' (known: icd10cm, cpt)",
    }
    for (system, code), message in cases.items():
        result = codesite("new", "--site", str(site), system, code)
        assert result.returncode == 1
        assert result.stderr.startswith(message), result.stderr
    assert existing.read_text() == old
    assert sorted(p.name for p in (site / "content/codes/icd10cm").iterdir()) == [
        "S73.0.md", "S73.1.md", "S73.md"]


# --- codesite check: formats, paths, strict ----------------------------------------------------


def unescape(text: str) -> str:
    for code, char in (("%2C", ","), ("%3A", ":"), ("%0A", "\n"), ("%0D", "\r"), ("%25", "%")):
        text = text.replace(code, char)
    return text


def parse_github(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as GitHub's runner reads it: ::kind k=v,k=v::message."""
    m = re.fullmatch(r"::(error|warning) ([^:]*)::(.*)", line)
    assert m, line
    props = dict(p.split("=", 1) for p in m.group(2).split(","))
    return m.group(1), {k: unescape(v) for k, v in props.items()}, unescape(m.group(3))


def test_github_format_parses_back_to_the_text_errors() -> None:
    site = SITES / "invalid-links"
    text = codesite("check", "--site", str(site)).stderr.splitlines()[:-1]
    result = codesite("check", "--site", str(site), "--format", "github", cwd=ROOT)
    assert result.returncode == 1
    parsed = [parse_github(line) for line in result.stdout.splitlines()]
    assert {k for k, _, _ in parsed} == {"error", "warning"}  # warnings too, as ::warning
    back = [f"{p['file'].removeprefix('tests/sites/invalid-links/')}:{p['line']}: {p['title']}: {m}"
            for k, p, m in parsed if k == "error"]
    assert back == text
    assert all((ROOT / p["file"]).is_file() and int(p["col"]) >= 1 for _, p, _ in parsed)


def test_github_escaping_round_trips() -> None:
    tricky = "50% of a:b, c\r\nd"
    assert unescape(escape_data(tricky)) == tricky
    assert unescape(escape_property(tricky)) == tricky
    assert ":" not in escape_property(tricky) and "," not in escape_property(tricky)
    assert "\n" not in escape_data(tricky) and ":" in escape_data(tricky)


def test_json_format_one_object_per_problem() -> None:
    result = codesite("check", "--site", str(SITES / "invalid-yaml"), "--format", "json")
    assert result.returncode == 1
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[-1] == {
        "file": str(SITES / "invalid-yaml" / "content/codes/icd10cm/S73.md").removeprefix(str(ROOT) + "/"),
        "line": 5, "col": 11, "field": "synonyms", "severity": "error",
        "message": "the list that starts here is not closed: end it with ']'",
    } or rows[-1]["line"] == 5
    assert [(r["line"], r["col"], r["severity"]) for r in rows] == [(1, 1, "error"), (1, 1, "error"), (5, 11, "error")]


def test_paths_report_only_those_files_checked_against_the_whole_site(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    (site / NEW_FILE).write_text("---\ncode: S73.01\nsystem: icd10cm\ntitle: Posterior\nparent: S73.0\n---\nText.\n")
    broken = site / "content/codes/icd10cm/S73.md"
    broken.write_text(broken.read_text().replace("kind: category", "kind: categroy"))
    mine = codesite("check", "--site", str(site), str(site / NEW_FILE))
    assert mine.returncode == 0, mine.stderr
    assert mine.stdout.startswith("ok: 5 codes checked")
    theirs = codesite("check", "--site", str(site), str(broken))
    assert theirs.returncode == 1
    assert theirs.stderr.splitlines()[0] == (
        "content/codes/icd10cm/S73.md:5: kind: 'categroy' is not one of: chapter, block, category, code")
    (site / NEW_FILE).write_text("---\ncode: S73.01\nsystem: icd10cm\ntitle: Posterior\nparent: S73.9\n---\nText.\n")
    missing_parent = codesite("check", "--site", str(site), str(site / NEW_FILE))
    assert missing_parent.stderr.splitlines() == [
        f"{NEW_FILE}:5: parent: parent 'S73.9' does not exist in icd10cm", "1 error(s)"]


def test_warnings_fail_only_under_strict(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    plain = codesite("check", "--site", str(site))
    assert plain.returncode == 0
    assert plain.stdout == "ok: 4 codes checked, 2 warning(s) (codesite check --strict lists them)\n"
    strict = codesite("check", "--site", str(site), "--strict")
    assert strict.returncode == 1
    assert strict.stderr.splitlines() == [
        "content/codes/icd10cm/S73.0.md:8: notes.excludes2[0]: the note names 'T84.020', which has no page in "
        "icd10cm (warning)",
        "content/codes/icd10cm/S73.0.md:8: notes.excludes2[0]: the note names 'T84.021', which has no page in "
        "icd10cm (warning)",
        "failed: 4 codes checked, 2 warning(s)",
    ]
    quiet = codesite("check", "--site", str(site), "--strict", "--no-warnings")
    assert quiet.returncode == 0


# --- codesite diff ----------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin", "HOME": str(repo)}
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True)
    return done.stdout


def test_diff_reports_added_changed_and_removed_pages(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    site = copy_site(SITES / "valid-basic", repo / "site")  # the site in a subfolder of the repository
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    git(repo, "checkout", "-qb", "edit")
    codes = site / "content/codes/icd10cm"
    (codes / "S73.01.md").write_text(
        "---\ncode: S73.01\nsystem: icd10cm\ntitle: Posterior dislocation of hip\nparent: S73.0\n---\nText.\n")
    s73 = codes / "S73.md"
    s73.write_text(s73.read_text().replace("Dislocation and sprain", "Dislocation, subluxation and sprain"))
    git(repo, "rm", "-q", "site/content/codes/cpt/27253.md")
    s730 = codes / "S73.0.md"
    s730.write_text(s730.read_text().replace("  - {code: '27253', system: cpt, relation: crosswalk}\n", "")
                    .replace("related:\n", ""))
    git(repo, "commit", "-qam", "edit")
    result = codesite("diff", "--site", str(site))
    assert result.returncode == 1  # a URL stops existing
    out = result.stdout
    assert out.startswith("## Site changes against merge base ")
    assert "1 added, 2 changed, 1 removed; 3 search entries affected." in out
    assert "| [S73.01](https://fixture.example.org/icd-10-cm/S73.01/) | icd10cm | Posterior dislocation of hip |" in out
    assert "| [S73](https://fixture.example.org/icd-10-cm/S73/) | icd10cm | title |" in out
    assert "| [S73.0](https://fixture.example.org/icd-10-cm/S73.0/) | icd10cm | links |" in out
    assert "| 27253 | cpt | Open treatment of hip dislocation" in out
    assert "### Error: URLs that stop existing" in out and "- `/cpt/27253/`" in out
    assert "icd10cm S73.01, cpt 27253, icd10cm S73" in out


def test_diff_of_a_code_marked_deleted_is_no_error(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    site = copy_site(SITES / "valid-basic", repo)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "base")
    s730 = site / "content/codes/icd10cm/S73.0.md"
    s730.write_text(s730.read_text().replace("parent: S73\n", "parent: S73\nstatus: deleted\n"))
    result = codesite("diff", "--site", str(site), "HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 added, 1 changed, 0 removed" in result.stdout
    assert "| [S73.0](https://fixture.example.org/icd-10-cm/S73.0/) | icd10cm | status |" in result.stdout
    assert "### Marked deleted (the page stays)\n\n- icd10cm S73.0\n" in result.stdout
    bad = codesite("diff", "--site", str(site), "no-such-revision")
    assert bad.returncode == 1 and bad.stderr.startswith("error: git rev-parse")


# --- What's new ---------------------------------------------------------------------------------


def test_whats_new_page_lists_the_release_and_is_linked(tmp_path: Path) -> None:
    site = site_copy(tmp_path)
    s730 = site / "content/codes/icd10cm/S73.0.md"
    history = "parent: S73\nhistory: [{release: '2027', action: revised}]\n"
    s730.write_text(s730.read_text().replace("parent: S73\n", history))
    out = tmp_path / "out"
    assert codesite("build", "--site", str(site), "--out", str(out), "-q").returncode == 0
    page = (out / "site/icd-10-cm/whats-new/2027/index.html").read_text()
    assert "<h1>What's new in ICD-10-CM 2027</h1>" in page
    assert '<h2 id="revised">Revised (1)</h2>' in page and 'href="../../S73.0/index.html"' in page
    assert re.search(r'<h2 id="deleted">Deleted \(1\)</h2>.*S73\.1.*replaced by '
                     r'<a href="../../S73.0/index.html">S73.0</a> \(Fixture deletion.\)', page, re.S)
    index = (out / "site/icd-10-cm/index.html").read_text()
    assert '<a href="whats-new/2027/index.html">2027</a>' in index
    config = site / "content/site.yaml"
    config.write_text(config.read_text().replace("url: /search/", "url: /icd-10-cm/whats-new/2027/"))
    assert codesite("check", "--site", str(site)).returncode == 0
    config.write_text(config.read_text().replace("whats-new/2027/", "whats-new/2031/"))
    failed = codesite("check", "--site", str(site))
    assert failed.stderr.splitlines()[0] == (
        "content/site.yaml:6: nav[0].url: '/icd-10-cm/whats-new/2031/' is not a page of the site")


# --- docs, workflows, pre-commit -----------------------------------------------------------------


def test_committed_docs_are_current() -> None:
    for name, text in generated().items():
        assert (ROOT / "docs" / name).read_text() == text, f"docs/{name} is stale: run codesite docs"


def test_workflows_are_valid_with_the_expected_jobs() -> None:
    pr = yaml.safe_load((ROOT / ".github/workflows/pr.yml").read_text())
    deploy = yaml.safe_load((ROOT / ".github/workflows/deploy.yml").read_text())
    assert set(pr[True]) == {"pull_request"}  # YAML 1.1 reads the key `on` as true
    assert set(pr["jobs"]) == {"check", "test", "build"}
    runs = {job: " ".join(s.get("run", "") for s in pr["jobs"][job]["steps"]) for job in pr["jobs"]}
    assert "codesite check --format github" in runs["check"] and "--strict" in runs["check"]
    assert ".ci/run" in runs["test"]
    assert "codesite build" in runs["build"] and 'GITHUB_STEP_SUMMARY' in runs["build"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in pr["jobs"]["build"]["steps"])
    assert deploy[True] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    steps = deploy["jobs"]["deploy"]["steps"]
    text = (ROOT / ".github/workflows/deploy.yml").read_text()
    assert "python -m edge.lambda_edge" in text and "aws s3 sync build/private" in text
    assert "create-invalidation" in text
    assert any(s.get("uses", "").startswith("aws-actions/configure-aws-credentials@") for s in steps)
    secrets = set(re.findall(r"secrets\.([A-Z_]+)", text))
    assert secrets == {"AWS_DEPLOY_ROLE_ARN", "CODESITE_EDGE_KEYS", "CPT_DESCRIPTORS"}
    assert not re.search(r"AKIA[0-9A-Z]{16}", text)  # names, never values
    hook = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"][0]
    assert hook["entry"] == "codesite check" and hook["pass_filenames"] is True
    assert re.match(hook["files"], "content/codes/icd10cm/S73.0.md")
