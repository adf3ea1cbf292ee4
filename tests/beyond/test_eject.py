"""``pattern-articles eject``: generated text into empty and TODO sections only, atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pattern_articles.content.article import parse
from tests.beyond.helpers import cli
from tests.conftest import copy_project, needs_redis, opening_of_definition, run_mkdocs

pytestmark = [pytest.mark.e2e, needs_redis]

ARTICLE = Path("docs/patterns/choreography-pattern.md")


def sections(text: str) -> dict[str, str]:
    article = parse(text)
    return {s.title: article.whole(s) for s in article.sections if s.level == 2}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def test_eject_fills_empty_sections_and_leaves_authored_text_alone(project: Path) -> None:
    path = project / ARTICLE
    before = path.read_text("utf-8")
    os.chmod(path, 0o640)
    result = cli(project, "eject", str(ARTICLE))
    assert result.returncode == 0, result.stdout + result.stderr
    after = path.read_text("utf-8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640, "the file keeps its permissions"
    old, new = sections(before), sections(after)
    assert list(old) == list(new), "no heading added, removed or renamed"
    for title in ("Introduction", "Problem Context"):
        assert new[title] == old[title], f"authored section '{title}' changed"
    for title in ("What is Orchestration Pattern", "Use Case", "Implementation Details",
                  "Why use Orchestration Pattern", "Important Considerations", "Summary"):
        assert not old[title].strip() and len(new[title].split()) > 40, title
        assert f"wrote section '{title}'" in result.stdout
    assert opening_of_definition(project) in " ".join(new["What is Orchestration Pattern"].split())
    assert "```python" in new["Implementation Details"] and "final state of order-1001" in after
    front = parse(after).front_matter
    assert front["title"] == "Choreography Pattern: Coordinating Microservices Through Events"
    assert front["description"].startswith("How microservices")
    assert "wrote front matter 'title'" in result.stdout
    assert "TODO" not in after
    assert 'class="pa-verified"' not in after, "an ejected output is static text, not a verified one"
    assert not list(path.parent.glob(".*.tmp")), "no temporary file left behind"
    again = cli(project, "eject", str(ARTICLE))
    assert again.returncode == 0 and "nothing to eject" in again.stdout
    assert path.read_text("utf-8") == after
    built = run_mkdocs(project, "--strict", "-d", "site")
    assert built.returncode == 0, built.stderr


def test_eject_named_sections_only(project: Path) -> None:
    path = project / ARTICLE
    before = path.read_text("utf-8")
    result = cli(project, "eject", str(ARTICLE), "use case", "Problem Context", "summary")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "left 'Problem Context' alone: it holds text you wrote" in result.stdout
    old, new = sections(before), sections(path.read_text("utf-8"))
    assert new["Use Case"].strip() and new["Summary"].strip()
    for title in ("What is Orchestration Pattern", "Implementation Details", "Important Considerations"):
        assert new[title] == old[title]
    assert parse(path.read_text("utf-8")).front_matter["title"] == "Choreography Pattern: <TODO>", \
        "title not named, not written"
    by_key = cli(project, "eject", str(ARTICLE), "definition", "title")
    assert by_key.returncode == 0, by_key.stderr
    what_is = sections(path.read_text("utf-8"))["What is Orchestration Pattern"]
    assert opening_of_definition(project) in " ".join(what_is.split())


def test_eject_rejects_unknown_sections_and_non_articles(project: Path) -> None:
    path = project / ARTICLE
    before = path.read_bytes()
    unknown = cli(project, "eject", str(ARTICLE), "Epilogue")
    assert unknown.returncode == 2
    assert "no section 'Epilogue'" in unknown.stderr and "'Use Case'" in unknown.stderr
    assert path.read_bytes() == before
    other = cli(project, "eject", "docs/index.md")
    assert other.returncode == 2 and "not an article" in other.stderr
    missing = cli(project, "eject", "docs/nope.md")
    assert missing.returncode == 2 and "no such file" in missing.stderr


def test_eject_refuses_to_freeze_a_failing_snippet(project: Path) -> None:
    golden = project / "snippets" / "choreography" / "expected" / "ordering.txt"
    golden.write_text(golden.read_text("utf-8") + "a line the script does not print\n", "utf-8")
    path = project / ARTICLE
    before = path.read_bytes()
    result = cli(project, "eject", str(ARTICLE))
    assert result.returncode == 2
    assert "did not pass" in result.stderr and "ordering" in result.stderr
    assert path.read_bytes() == before, "nothing written"
