"""Running the real commands (``pattern-articles``, ``zensical``) in a copy of the demo project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

#: The Markdown extensions the rendered (mkdocs flavour) Markdown needs, for a site without the plugin.
EXTENSIONS_YAML = """\
markdown_extensions:
  - admonition
  - attr_list
  - md_in_html
  - tables
  - toc:
      permalink: true
  - pymdownx.details
  - pymdownx.highlight:
      anchor_linenums: true
  - pymdownx.inlinehilite
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.tabbed:
      alternate_style: true
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PATTERN_ARTICLES_FRESH", "PATTERN_ARTICLES_TRACE")}
    env["NO_MKDOCS_2_WARNING"] = "1"
    env.update(extra)
    return env


def cli(project: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pattern_articles", *args],
        cwd=project, capture_output=True, text=True, timeout=timeout, env=env or clean_env(),
    )


def zensical() -> str | None:
    """The zensical command next to this interpreter (the test extra installs it), or on PATH."""
    here = Path(sys.executable).parent / "zensical"
    return str(here) if here.is_file() else shutil.which("zensical")


NO_ZENSICAL = (
    "zensical is not installed: it needs Python 3.11 or later, where pip install -e '.[test]' installs it"
    if sys.version_info < (3, 11) else "zensical is not installed (pip install -e '.[test]' installs it)"
)
"""The reason a Zensical test skips: on 3.10 the test extra leaves Zensical out (it needs 3.11)."""


def zensical_build(project: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = zensical()
    assert command is not None
    return subprocess.run([command, "build", "--strict", "--clean"], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=clean_env())
