"""On a machine without redis-server, a strict build still passes and says what it did not run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_project

pytestmark = pytest.mark.e2e


def test_strict_build_without_redis_shows_last_verified_output(tmp_path: Path) -> None:
    project = copy_project(tmp_path / "p")
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PATTERN_ARTICLES")}
    env |= {"PATH": str(empty_bin), "NO_MKDOCS_2_WARNING": "1"}  # no redis-server to be found
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", "site"], cwd=project,
                            capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert "WARNING -" not in log
    assert "redis_flow.py::redis_flow not run: redis-server not installed" in log
    assert "INFO" in log.split("redis_flow.py::redis_flow not run")[0].rsplit("\n", 1)[-1]
    page = (project / "site/patterns/choreography-pattern/index.html").read_text("utf-8")
    assert "Not run on this machine: redis-server not installed" in page
    golden = (project / "snippets/choreography/expected/redis_flow.txt").read_text("utf-8")
    assert golden.splitlines()[0] in page, "the last verified output is shown"
    assert "skipped 3" in log, "redis_flow, crash_redelivery and the Redis scenario of flow.py"
