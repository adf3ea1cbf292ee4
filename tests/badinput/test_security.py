"""Nothing leaked: secrets of the build stay out of snippets and out of the site; output is text.

* a snippet runs with the reduced environment: ``SECRET_TOKEN`` of the building process is
  not in the snippet's environment, not in its output, not anywhere in the built site, the
  cache or the check's output;
* whatever a snippet prints - on stdout, on stderr when it fails, or as event names in its
  trace - reaches the page as text: ``<script>`` is escaped, never markup.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pattern_articles.engine.cache import Cache

from .kit import MKDOCS, TIMEOUT, clean_env, make_project, replace, write

pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-token-4bd1e7"

SNIPPET = '''\
import json
import os
import sys

print("secret:", os.environ.get("SECRET_TOKEN", "absent"))
print("anywhere:", any("s3cr3t" in value for value in os.environ.values()))
print("<script>alert(1)</script>")
print("<img src=x onerror=alert(2)>")
with open(os.environ["PATTERN_ARTICLES_TRACE"], "a") as trace:
    trace.write(json.dumps({"op": "publish", "service": "order", "event": "<img src=y onerror=alert(3)>",
                            "event_id": "e1", "correlation_id": "c1", "caused_by": None,
                            "pid": os.getpid()}) + "\\n")
if len(sys.argv) > 1:
    print("<script>alert(4)</script>", file=sys.stderr)
    sys.exit(1)
'''
GOLDEN = "secret: absent\nanywhere: False\n<script>alert(1)</script>\n<img src=x onerror=alert(2)>\n"
EXTENSIONS = """\
markdown_extensions:
  - admonition
  - pymdownx.details
  - pymdownx.superfences:
      custom_fences:
        - name: mermaid
          class: mermaid
          format: !!python/name:pymdownx.superfences.fence_code_format
  - pymdownx.tabbed:
      alternate_style: true
"""


def secure_project(root: Path, failing: bool = False) -> Path:
    edits = [
        write("snippets/demo/hello.py", SNIPPET),
        write("snippets/demo/expected/hello.txt", GOLDEN),
        replace("snippets/demo/bundle.yml", "- snippet: hello.py",
                "- {snippet: hello.py, show: [code, output, diagram]}"),
        write("mkdocs.yml", MKDOCS + EXTENSIONS),
    ]
    if failing:
        edits.append(replace("snippets/demo/bundle.yml", "hello.py: {timeout: 10}",
                             "hello.py: {timeout: 10, scenarios: {fails: {args: [fail]}}}"))
        edits.append(write("snippets/demo/expected/hello.fails.txt", GOLDEN))
    return make_project(root, edits)


def run(project: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = clean_env() | {"SECRET_TOKEN": SECRET, "API_KEY": SECRET}
    return subprocess.run([sys.executable, "-m", *argv], cwd=project, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def everything_written(project: Path) -> str:
    """The site, the cache and nothing else the build wrote, as one text."""
    parts = []
    for folder in (project / "site", project / ".cache"):
        for path in folder.rglob("*"):
            if path.is_file():
                parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def test_secrets_stay_out_of_snippets_the_site_and_the_cache(tmp_path: Path) -> None:
    project = secure_project(tmp_path / "project")
    built = run(project, "mkdocs", "build", "--strict", "-d", "site")
    assert built.returncode == 0, built.stderr
    checked = run(project, "pattern_articles", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    page = (project / "site" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "secret: absent" in page and "anywhere: False" in page
    for text in (everything_written(project), built.stdout + built.stderr, checked.stdout + checked.stderr):
        assert SECRET not in text
    entries = list(Cache(project / ".cache" / "pattern-articles").stored())
    assert entries and all(SECRET not in json.dumps(e) for e in entries)


def test_snippet_output_is_escaped_never_markup(tmp_path: Path) -> None:
    project = secure_project(tmp_path / "project")
    built = run(project, "mkdocs", "build", "--strict", "-d", "site")
    assert built.returncode == 0, built.stderr
    page = (project / "site" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "&lt;img src=y onerror=alert(3)&gt;" in page  # the event name, in the trace diagram
    for raw in ("<script>alert(", "<img src=x", "<img src=y"):
        assert raw not in page


def test_failure_output_is_escaped_too(tmp_path: Path) -> None:
    """A failing run shows its stderr on the page (a build without --strict goes on)."""
    project = secure_project(tmp_path / "project", failing=True)
    built = run(project, "mkdocs", "build", "-d", "site")
    assert built.returncode == 0, built.stderr
    assert "hello.py::hello[fails] failed: exit code 1" in built.stderr
    page = (project / "site" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in page
    assert "<script>alert(" not in page
