"""Change what the code emits: the checks against the declared flows fail, naming the place."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project, run_mkdocs

pytestmark = pytest.mark.e2e


def check(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PATTERN_ARTICLES_FRESH"}
    return subprocess.run([sys.executable, "-m", "pattern_articles", "check", "-q", *args],
                          cwd=project, capture_output=True, text=True, timeout=300, env=env)


def line_of(path: Path, needle: str, after: str = "") -> int:
    lines = path.read_text("utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i, line in enumerate(lines) if i >= start and needle in line) + 1


@pytest.fixture(scope="module")
def renamed_event(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipping service now emits ShipmentBooked instead of the declared ShipmentScheduled."""
    project = copy_project(tmp_path_factory.mktemp("renamed"))
    services = project / "snippets/choreography/shop/services.py"
    text = services.read_text("utf-8")
    assert text.count('"ShipmentScheduled"') >= 1
    services.write_text(text.replace('changes.emit("ShipmentScheduled"', 'changes.emit("ShipmentBooked"'))
    return project


def test_check_names_the_flow_step_and_the_snippet(renamed_event: Path) -> None:
    result = check(renamed_event, "snippets/choreography")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    bundle = renamed_event / "snippets/choreography/bundle.yml"
    step_line = line_of(bundle, "emits: [ShipmentScheduled]", after="happy_path:")
    flow_line = line_of(bundle, "happy_path:")
    assert (f"bundle.yml:{step_line}: declared event 'ShipmentScheduled' was never emitted "
            "(run of snippets/choreography/flow.py::flow[happy-path])") in out
    assert (f"bundle.yml:{flow_line}: event 'ShipmentBooked' was emitted but the flow does not declare it"
            in out)
    assert "Traceback" not in out + result.stderr


def test_strict_build_fails_on_the_mismatch(renamed_event: Path) -> None:
    result = run_mkdocs(renamed_event, "--strict", "-d", "site")
    assert result.returncode != 0
    assert "declared event 'ShipmentScheduled' was never emitted" in result.stderr
    assert "patterns/choreography-pattern.md" in result.stderr


def test_unchanged_project_passes_check(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p")
    result = check(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "failed 0" in result.stdout
