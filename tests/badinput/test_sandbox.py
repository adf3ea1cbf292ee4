"""The optional sandbox (``sandbox: bwrap``): a snippet cannot write outside its own folder.

Tested where bubblewrap works (installed, and allowed to create the namespaces it needs);
skipped elsewhere with the reason the probe gives. Asking for the sandbox where it cannot
work is tested everywhere: every run fails with a message saying how to get it, and
nothing runs unconfined.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pattern_articles.engine.runner import sandbox_command

from .kit import TIMEOUT, append, clean_env, make_project, write

BWRAP, STATUS = sandbox_command("bwrap")
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason=f"no usable bubblewrap here: {STATUS}")

PROBE = '''\
import os
import sys
from pathlib import Path

targets = {"bundle": Path(__file__).parent / "written.txt", "home": Path(sys.argv[1]) / "written.txt",
           "tmp": Path("/tmp") / sys.argv[2]}
for name, target in targets.items():
    try:
        target.write_text("x")
        print(name, "written")
    except OSError as exc:
        print(name, "refused:", exc.strerror)
Path("own.txt").write_text("mine")  # the working folder is the run's own
Path(os.environ["TMPDIR"], "t.txt").write_text("mine")
print("own folder:", Path("own.txt").read_text())
print("reads its bundle:", "targets" in Path(__file__).read_text())
found = False
for entry in Path("/proc").iterdir():  # the environment of every process it can see
    try:
        found = found or b"s3cr3t-of-the-build" in (entry / "environ").read_bytes()
    except OSError:
        pass
print("secret of the build visible:", found)
'''


RUN_PROBE = """\
import sys
from pathlib import Path
from pattern_articles.engine import Runner, RunnerSettings, RunSpec
bundle, home, tmp_name, sandbox, isolation = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
spec = RunSpec(snippet=bundle / "probe.py", bundle_dir=bundle, args=(home, tmp_name))
with Runner(RunnerSettings(sandbox=sandbox, jobs=1, isolation=isolation)) as runner:
    result = runner.result(spec)
print(result.status, result.reason, result.stderr)
print(result.stdout)
print("isolation:", runner.isolation)
"""


def probe_in_tmp(tmp_path: Path) -> Path:
    """The file the probe tries to write in /tmp, named for this test only: a fixed name was
    shared by both probe tests (and by any other run on the machine), so under ``pytest -n``
    one test's file made the other's "nothing written there" fail."""
    return Path("/tmp") / f"pattern-articles-sandbox-probe-{os.getpid()}-{tmp_path.name}.txt"


def probe(tmp_path: Path, sandbox: str, isolation: str = "auto") -> tuple[str, Path]:
    """Run the probe snippet from a build process whose environment holds a secret."""
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "probe.py").write_text(PROBE)
    home = tmp_path / "home"  # stands for the user's home folder: writable outside the sandbox
    home.mkdir()
    env = clean_env() | {"BUILD_SECRET": "s3cr3t-of-the-build"}
    done = subprocess.run([sys.executable, "-c", RUN_PROBE, str(bundle), str(home), probe_in_tmp(tmp_path).name,
                           sandbox, isolation], env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0 and done.stdout.startswith("passed"), done.stdout + done.stderr
    return done.stdout, bundle


@needs_bwrap
def test_sandboxed_snippet_writes_only_its_own_folder(tmp_path: Path) -> None:
    out, bundle = probe(tmp_path, "bwrap")
    assert "bundle refused: Read-only file system" in out
    assert "home refused: Read-only file system" in out
    assert "tmp refused: Read-only file system" in out
    assert "own folder: mine" in out
    assert "reads its bundle: True" in out
    assert "secret of the build visible: False" in out  # its own process namespace
    assert not (bundle / "written.txt").exists() and not (tmp_path / "home" / "written.txt").exists()
    assert not probe_in_tmp(tmp_path).exists()


@pytest.mark.parametrize("isolation", ["auto", "subreaper"])
def test_without_the_sandbox_the_same_snippet_can_write_there(tmp_path: Path, isolation: str) -> None:
    """The control: the probe above would notice a sandbox that does nothing. It also shows
    what the reduced environment cannot stop without a PID namespace: code of the same user
    reads the build's environment in /proc. Where the worker has a namespace of its own
    (and its own /proc), the build's processes are out of sight (docs/guide/security.md)."""
    out, bundle = probe(tmp_path, "off", isolation)
    try:
        assert "bundle written" in out and "home written" in out
        if sys.platform.startswith("linux"):
            namespace = "isolation: pid-namespace" in out or "isolation: user-namespace" in out
            assert namespace == (isolation == "auto" and "isolation: subreaper" not in out)
            assert f"secret of the build visible: {not namespace}" in out
        assert (bundle / "written.txt").exists()
    finally:
        probe_in_tmp(tmp_path).unlink(missing_ok=True)


@needs_bwrap
def test_sandboxed_check_of_a_project(tmp_path: Path) -> None:
    """End to end: ``PATTERN_ARTICLES_SANDBOX=bwrap pattern-articles check``, as a CI job runs it."""
    project = make_project(tmp_path / "project", (
        write("snippets/demo/hello.py",
              'from pathlib import Path\ntry:\n    Path(__file__).with_name("x.txt").write_text("x")\n'
              'except OSError as exc:\n    print(exc.strerror)\nprint("hello")\n'),
        write("snippets/demo/expected/hello.txt", "Read-only file system\nhello\n"),
    ))
    env = clean_env() | {"PATTERN_ARTICLES_SANDBOX": "bwrap"}
    done = subprocess.run([sys.executable, "-m", "pattern_articles", "check"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (project / "snippets/demo/x.txt").exists()


@needs_bwrap
def test_the_sandbox_setting_in_mkdocs_yml(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", (
        append("mkdocs.yml", "      sandbox: bwrap\n"),
        write("snippets/demo/hello.py", 'import os\nos.makedirs("../escape", exist_ok=True)\nprint("hello")\n'),
    ))
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", "site"], cwd=project,
                          env=clean_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr  # "../escape" is inside the run's own folder
    assert not (project / "snippets" / "escape").exists()


def test_requested_sandbox_that_cannot_work_runs_nothing(tmp_path: Path) -> None:
    """bwrap asked for but not found (PATH without it): a clear error, nothing runs unconfined."""
    project = make_project(tmp_path / "project", (
        write("snippets/demo/hello.py", 'from pathlib import Path\nPath(__file__).with_name("ran.txt").touch()\n'
                                        'print("hello")\n'),
    ))
    empty = tmp_path / "empty-path"
    empty.mkdir()
    env = clean_env() | {"PATTERN_ARTICLES_SANDBOX": "bwrap", "PATH": str(empty)}
    done = subprocess.run([sys.executable, "-m", "pattern_articles", "check"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "the sandbox 'bwrap' was requested but bwrap is not installed" in out
    assert "Debian package 'bubblewrap'" in out
    assert "Traceback" not in out
    assert not (project / "snippets/demo/ran.txt").exists()


def test_auto_falls_back_where_bwrap_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    import pattern_articles.engine.runner as runner_mod

    monkeypatch.setattr(runner_mod, "_SANDBOX_PROBES", {})
    assert runner_mod.sandbox_command("auto") == (None, "off (auto: bwrap is not installed)")
    assert runner_mod.sandbox_command("bwrap")[0] is None
