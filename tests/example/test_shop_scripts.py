"""The published scripts, run as a reader runs them: from another folder, output as recorded."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

RunScript = Callable[..., subprocess.CompletedProcess[str]]

IN_PROCESS = [
    ("flow.py", "happy-path", "flow.happy-path.txt"),
    ("flow.py", "payment-declined", "flow.payment-declined.txt"),
    ("flow.py", "out-of-stock", "flow.out-of-stock.txt"),
    ("duplicate_delivery.py", None, "duplicate_delivery.txt"),
    ("ordering.py", None, "ordering.txt"),
]


@pytest.mark.parametrize(("script", "scenario", "golden"), IN_PROCESS)
def test_script_prints_its_expected_output(
    run_script: RunScript, expected: Path, script: str, scenario: str | None, golden: str
) -> None:
    result = run_script(script, *([scenario] if scenario else []))

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout == (expected / golden).read_text()


def test_flow_defaults_to_the_happy_path(run_script: RunScript, expected: Path) -> None:
    result = run_script("flow.py")

    assert result.stdout == (expected / "flow.happy-path.txt").read_text()


def test_flow_rejects_an_unknown_scenario(run_script: RunScript) -> None:
    result = run_script("flow.py", "lost-in-the-post")

    assert result.returncode == 2
    assert "unknown scenario 'lost-in-the-post'" in result.stderr
    assert "happy-path" in result.stderr


@pytest.mark.parametrize("script", ["redis_flow.py", "crash_redelivery.py"])
def test_redis_scripts_explain_what_they_need(run_script: RunScript, script: str) -> None:
    result = run_script(script)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "needs REDIS_URL" in result.stderr
