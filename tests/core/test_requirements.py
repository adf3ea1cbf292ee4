"""``requires:`` in bundle.yml: parsed at load (errors name their line), checked before any run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pattern_articles.content import bundle, requirements
from pattern_articles.errors import PatternError


def load(tmp_path: Path, requires: str) -> bundle.Bundle:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "bundle.yml").write_text(f"name: Demo\nrequires:\n{requires}", "utf-8")
    return bundle.load(folder)


def test_installed_requirements_are_met(tmp_path: Path) -> None:
    b = load(tmp_path, "  - PyYAML>=5\n  - jinja2\n  - pydantic>=2,<99\n")
    assert requirements.unmet_for(b) == []


def test_missing_and_too_old_are_named_with_their_line_and_the_install_command(tmp_path: Path) -> None:
    from importlib import metadata

    b = load(tmp_path, "  - PyYAML>=5\n  - not-a-real-distribution-xyz>=1.2\n  - pyyaml>=999\n")
    unmet = requirements.unmet_for(b)
    assert [(u.index, u.name, u.installed) for u in unmet] == [
        (1, "not-a-real-distribution-xyz", None), (2, "pyyaml", metadata.version("PyYAML"))]
    problem = requirements.problem(b, unmet, "demo/x.py::x")
    assert problem.place is not None and problem.place.line == 4, "the bundle.yml line of the first missing one"
    assert "'not-a-real-distribution-xyz>=1.2' (not installed)" in problem.message
    assert f"(pyyaml {metadata.version('PyYAML')} is installed)" in problem.message
    assert "pip install 'not-a-real-distribution-xyz>=1.2' 'pyyaml>=999'" in problem.hint


def test_a_marker_that_does_not_apply_is_not_required(tmp_path: Path) -> None:
    b = load(tmp_path, "  - \"not-a-real-distribution-xyz; python_version < '3'\"\n")
    assert requirements.unmet_for(b) == []


def test_a_malformed_requirement_is_an_error_naming_its_line(tmp_path: Path) -> None:
    with pytest.raises(PatternError) as caught:
        load(tmp_path, "  - redis>=5\n  - 'redis is great'\n")
    text = caught.value.format()
    assert "bundle.yml:4" in text and "'redis is great' is not a requirement" in text
    assert "write e.g. 'redis>=5'" in text


def test_module_not_found_gets_a_hint_to_install_and_declare() -> None:
    hint = requirements.module_hint("Traceback ...\nModuleNotFoundError: No module named 'httpx'\n")
    assert "pip install httpx" in hint and "requires:" in hint
    assert requirements.module_hint("ValueError: nope") == ""


def test_the_schema_shows_requires() -> None:
    from pattern_articles.content.model import json_schema

    schema = json_schema()
    assert "requires" in schema["properties"]
    assert "PEP 508" in schema["properties"]["requires"]["description"]


def test_the_parser_without_packaging_reads_the_common_forms() -> None:
    """Where ``packaging`` is not installed (a core-only install), a small parser does."""
    assert requirements._parse_simple("redis>=5") == ("redis", [(">=", "5")], "")
    assert requirements._parse_simple("httpx[http2] >=0.27, <1 ; python_version >= '3'") == (
        "httpx", [(">=", "0.27"), ("<", "1")], "python_version >= '3'")
    with pytest.raises(ValueError, match="cannot read the version specifier"):
        requirements._parse_simple("redis>>5")
    with pytest.raises(ValueError, match="is not a requirement"):
        requirements._parse_simple("-redis")


@pytest.mark.parametrize(("version", "op", "wanted", "ok"), [
    ("5.0.1", ">=", "5", True), ("4.9", ">=", "5", False), ("5.0", "==", "5", True),
    ("1.4.2", "~=", "1.4", True), ("2.0", "~=", "1.4", False), ("3", "<", "3.0.1", True), ("2.1", "!=", "2.1", False),
])
def test_the_version_comparison_without_packaging(version: str, op: str, wanted: str, ok: bool) -> None:
    assert requirements._compare(version, op, wanted) is ok
