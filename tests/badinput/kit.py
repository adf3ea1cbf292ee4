"""A small valid project, the edits that break it, and the three adapters run on it.

Every corpus case starts from :data:`BASE` (a site with one article and one bundle that
builds cleanly; ``test_corpus.py`` proves that) and applies a few :class:`Edit` s. The line
numbers in the corpus' expected messages refer to these files, so they are written out here
literally, one line per value, rather than generated.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

BUNDLE = """\
name: Demo
subtitle: A small demo
description: A bundle for the bad-input corpus.
participants:
  - {id: order, name: Order service}
  - {id: payment, name: Payment service}
events:
  - {name: OrderPlaced, producer: order, consumers: [payment]}
flows:
  happy_path:
    steps:
      - {actor: order, action: place the order, emits: [OrderPlaced]}
      - {actor: payment, reacts_to: OrderPlaced, action: charge the card}
snippets:
  hello.py: {timeout: 10}
implementation:
  steps:
    - title: Say hello
      code:
        - snippet: hello.py
"""
"""``snippets/demo/bundle.yml``: line 15 declares the snippet, line 20 shows it."""

ARTICLE = """\
---
pattern: demo
title: 'Demo: <TODO>'
description: <TODO>
---

## Introduction

Hand-written introduction.

## Implementation

<TODO>
"""
"""``docs/demo.md``: 13 lines; a directive appended by a case starts on line 15."""

MKDOCS = """\
site_name: bad-input corpus
plugins:
  - pattern-articles:
      timeout: 10
"""
"""``mkdocs.yml``: the plugin on line 3, its first setting on line 4."""

BASE: dict[str, str] = {
    "mkdocs.yml": MKDOCS,
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\n",
    "docs/index.md": "# Home\n\nNot an article.\n",
    "docs/demo.md": ARTICLE,
    "snippets/demo/bundle.yml": BUNDLE,
    "snippets/demo/hello.py": 'print("hello")\n',
    "snippets/demo/expected/hello.txt": "hello\n",
}

DIRECTIVE_LINE = ARTICLE.count("\n") + 2  # "\n```pattern-snippet" appended: the fence opens here


# --------------------------------------------------------------------------- edits


@dataclass(frozen=True)
class Edit:
    """One change to the base project. ``op``: write | append | replace | delete | rmdir | symlink
    | fifo | sparse."""

    op: str
    path: str
    text: str | bytes = ""
    new: str = ""

    def apply(self, root: Path) -> None:
        target = root / self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if self.op == "write":
            if isinstance(self.text, bytes):
                target.write_bytes(self.text)
            else:
                target.write_text(self.text, encoding="utf-8")
        elif self.op == "append":
            assert isinstance(self.text, str)
            target.write_text(target.read_text(encoding="utf-8") + self.text, encoding="utf-8")
        elif self.op == "replace":
            assert isinstance(self.text, str)
            old = target.read_text(encoding="utf-8")
            assert self.text in old, f"{self.path} has no {self.text!r}: the base project changed"
            target.write_text(old.replace(self.text, self.new, 1), encoding="utf-8")
        elif self.op == "delete":
            target.unlink()
        elif self.op == "symlink":
            assert isinstance(self.text, str)
            if target.is_symlink() or target.exists():
                target.unlink()  # replace a file of the base project (a golden, say)
            target.symlink_to(self.text)
        elif self.op == "rmdir":
            target.rmdir()
        elif self.op == "sparse":  # a file of int(text) bytes that takes no room on disk
            assert isinstance(self.text, str)
            with target.open("wb") as handle:
                handle.truncate(int(self.text))
        elif self.op == "fifo":
            if target.exists():
                target.unlink()
            os.mkfifo(target)
        else:  # pragma: no cover - a typo in the corpus
            raise ValueError(self.op)


def write(path: str, text: str | bytes) -> Edit:
    return Edit("write", path, text)


def append(path: str, text: str) -> Edit:
    return Edit("append", path, text)


def replace(path: str, old: str, new: str) -> Edit:
    return Edit("replace", path, old, new)


def delete(path: str) -> Edit:
    return Edit("delete", path)


def symlink(path: str, target: str) -> Edit:
    return Edit("symlink", path, target)


def fifo(path: str) -> Edit:
    """A named pipe at ``path`` (replacing a file there): opening it for reading blocks until a
    writer comes, which none ever does."""
    return Edit("fifo", path)


def make_project(root: Path, edits: Iterable[Edit] = (), base: Mapping[str, str] = BASE) -> Path:
    """Write the base project into ``root`` (which may exist, e.g. pytester's folder) and break it."""
    root.mkdir(parents=True, exist_ok=True)
    for relative, text in base.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for edit in edits:
        edit.apply(root)
    return root


# --------------------------------------------------------------------------- adapters

TIMEOUT = 120.0
"""No adapter may take longer on any case (the slowest, a 10 MB article, needs about 10 s):
reaching it means a hang, and the test fails saying so."""


def clean_env() -> dict[str, str]:
    """The caller's environment without what would change a run: pytest's, xdist's, ours."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PATTERN_ARTICLES_")) and k != "COV_CORE_SOURCE"}
    env["NO_MKDOCS_2_WARNING"] = "1"
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # the runner must keep bytecode out of snippets/ itself
    return env


@dataclass(frozen=True)
class Run:
    adapter: str
    code: int
    output: str  # stdout and stderr together


def run_cli(project: Path, args: Iterable[str] = ()) -> Run:
    return _run("cli", project, [sys.executable, "-m", "pattern_articles", "check", *args])


def run_mkdocs(project: Path) -> Run:
    # not -q: MkDocs then drops warnings before --strict counts them
    return _run("mkdocs", project, [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", "site"])


def _run(adapter: str, project: Path, argv: list[str]) -> Run:
    try:
        done = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=TIMEOUT,
                              env=clean_env(), stdin=subprocess.DEVNULL, errors="replace")
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{adapter} hung: no exit after {TIMEOUT:g} s\n{exc.stdout!r}\n{exc.stderr!r}")
    return Run(adapter, done.returncode, done.stdout + done.stderr)


def run_pytest(pytester: pytest.Pytester, args: Iterable[str] = ()) -> Run:
    """A real ``pytest --pattern-articles`` session in a subprocess (pytester), bounded."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith(("PYTEST_", "PATTERN_ARTICLES_")) and name != "PYTEST_DEBUG_TEMPROOT":
                patch.delenv(name)  # xdist's worker id, CI switches
        try:
            result = pytester.runpytest_subprocess("--pattern-articles", "-rN", *args, timeout=TIMEOUT)
        except pytester.TimeoutExpired:
            pytest.fail(f"pytest hung: no exit after {TIMEOUT:g} s")
    output = "\n".join(result.outlines + result.errlines)
    return Run("pytest", int(result.ret), output)


# --------------------------------------------------------------------------- judging output

_OUR_FRAME = re.compile(r'File "[^"]*(?:pattern_articles|site-packages|/lib/python3)[^"]*", line \d+')
_PYTEST_FRAME = re.compile(r"^\S+\.py:\d+: in \S+", re.MULTILINE)


def traceback_problem(run: Run, snippet_root: Path, allowed: bool) -> str:
    """Why ``run`` shows a traceback it must not ("" when it is clean).

    The rule: no traceback at all, except a snippet's own, shown as part of the report of
    that snippet failing (``allowed``) - and then every frame it lists is a file inside the
    snippet folder (the runner drops its own frames; a frame of ours, of MkDocs, of pytest
    or of the standard library would mean something of ours crashed).
    """
    out = run.output
    if "INTERNALERROR" in out:
        return "pytest INTERNALERROR"
    if _PYTEST_FRAME.search(out):
        return f"a pytest-style traceback: {_PYTEST_FRAME.search(out).group(0)}"  # type: ignore[union-attr]
    if "Traceback (most recent call last)" not in out:
        return ""
    if not allowed:
        return "a Python traceback"
    frames = re.findall(r'File "([^"]+)", line \d+', out)
    if not frames:
        return "a traceback without frames"
    # frames are shown relative to the project (the snippet folder's parent) or absolute
    outside = [f for f in frames
               if not (snippet_root.parent / f if not f.startswith("/") else Path(f)).is_relative_to(snippet_root)]
    if outside or _OUR_FRAME.search(out):
        return f"a traceback with frames outside the snippet folder: {outside[:3]}"
    return ""
