"""The pre-commit hook definition and the example CI workflow: valid, and their commands really work."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.beyond.helpers import clean_env
from tests.conftest import REPO, copy_project

pytestmark = pytest.mark.e2e

HOOKS = REPO / ".pre-commit-hooks.yaml"
WORKFLOW = REPO / "examples" / "github-actions.yml"
#: pre-commit's manifest: the keys every hook must have, and the languages it knows.
REQUIRED = {"id", "name", "entry", "language"}


def command(words: list[str]) -> list[str]:
    """``pattern-articles ...`` as the console script installed next to this interpreter."""
    assert words[0] == "pattern-articles", words
    script = Path(sys.executable).parent / "pattern-articles"
    return [str(script), *words[1:]] if script.is_file() else [sys.executable, "-m", "pattern_articles", *words[1:]]


def test_pre_commit_hook_definition() -> None:
    hooks = yaml.safe_load(HOOKS.read_text("utf-8"))
    assert isinstance(hooks, list) and len(hooks) == 1
    hook = hooks[0]
    assert set(hook) >= REQUIRED
    assert hook["id"] == "pattern-articles-check"
    assert hook["entry"] == "pattern-articles check"
    assert hook["language"] == "python", "pre-commit installs this repository (and its console script)"
    assert hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    for touched in ("snippets/choreography/flow.py", "snippets/choreography/bundle.yml",
                    "snippets/choreography/expected/flow.happy-path.txt", "docs/patterns/choreography-pattern.md",
                    "mkdocs.yml"):
        assert files.search(touched), touched
    for untouched in ("README.md", "plugin/pattern_articles/cli.py", "docs/img/cover.png"):
        assert not files.search(untouched), untouched


def test_pre_commit_entry_passes_and_fails_when_it_should(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    entry = command(shlex.split(yaml.safe_load(HOOKS.read_text("utf-8"))[0]["entry"]))
    ok = subprocess.run(entry, cwd=project, capture_output=True, text=True, timeout=300, env=clean_env())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    golden = project / "snippets" / "choreography" / "expected" / "ordering.txt"
    golden.write_text("not what it prints\n", "utf-8")
    broken = subprocess.run(entry, cwd=project, capture_output=True, text=True, timeout=300, env=clean_env())
    assert broken.returncode == 1
    assert "ordering" in broken.stdout


def bundles_of(project: Path) -> list[str]:
    """The demo site's bundles, found as the product finds them (a folder of snippets/ with
    a metadata file), so the test holds for any number of them."""
    from pattern_articles.content.bundle import discover

    return sorted(folder.name for folder in discover([project / "snippets"]))


def articles_using(project: Path, bundle: str | None = None) -> int:
    """How many of the site's articles name a bundle (that one, when given)."""
    from pattern_articles import settings as settings_mod
    from pattern_articles.project import Project

    refs = Project(settings_mod.load(project / "mkdocs.yml")).articles()
    return sum(1 for ref in refs if bundle is None or ref.bundle_id == bundle)


def checked(count: int) -> str:
    return f"{count} article{'' if count == 1 else 's'} checked, 0 warnings"


def test_example_workflow_lists_bundles_and_runs_real_commands(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text("utf-8"))
    jobs = workflow["jobs"]
    assert set(jobs) == {"check", "bundles", "shard"}
    for name in ("check", "shard"):
        runs = [step.get("run", "") for step in jobs[name]["steps"]]
        assert any("apt-get install" in r and "redis-server" in r for r in runs), f"{name} installs redis-server"
    project = copy_project(tmp_path / "project")
    (project / "snippets" / "not-a-bundle").mkdir()  # a folder without metadata is not listed
    bundles = bundles_of(project)
    assert bundles and "not-a-bundle" not in bundles
    output = tmp_path / "github_output"
    listing = next(s["run"] for s in jobs["bundles"]["steps"] if s.get("id") == "list")
    listed = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", listing], cwd=project,
                            capture_output=True, text=True, timeout=60, env=clean_env(GITHUB_OUTPUT=str(output)))
    assert listed.returncode == 0, listed.stderr
    key, _, value = output.read_text("utf-8").strip().partition("=")
    assert key == "list" and sorted(json.loads(value)) == bundles
    # every pattern-articles command of the workflow, the matrix job once per listed bundle
    lines = [
        (job, line.strip()) for job in ("check", "shard") for step in jobs[job]["steps"]
        for line in step.get("run", "").splitlines() if line.strip().startswith("pattern-articles ")
    ]
    assert lines == [("check", "pattern-articles check"),
                     ("shard", 'pattern-articles check "snippets/${{ matrix.bundle }}"')]
    commands = [("pattern-articles check", checked(articles_using(project)))] + [
        (lines[1][1].replace("${{ matrix.bundle }}", bundle), checked(articles_using(project, bundle)))
        for bundle in bundles
    ]
    for line, summary in commands:
        ran = subprocess.run(command(shlex.split(line)), cwd=project, capture_output=True, text=True, timeout=300,
                             env=clean_env())
        assert ran.returncode == 0, line + "\n" + ran.stdout + ran.stderr
        assert summary in ran.stdout, line + "\n" + ran.stdout
