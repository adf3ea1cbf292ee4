"""Fixtures shared by the core tests: a throw-away bundle folder and a writer for its files."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

Write = Callable[[str, str], Path]


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "project" / "snippets" / "demo"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def write(bundle: Path) -> Write:
    """Write a dedented file into the bundle (creating sub-folders) and return its path."""

    def _write(name: str, text: str) -> Path:
        path = bundle / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return _write
