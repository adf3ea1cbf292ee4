"""The plugin block means the same to MkDocs, the CLI and pytest: one schema, one check.

A bad value is rejected by all three with the same message naming its line; ``INHERIT:``,
``!ENV`` and ``!relative`` read the same way (the CLI and pytest read mkdocs.yml without
MkDocs); and MkDocs reports a bad value as a configuration error, not a build error.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pattern_articles import settings as settings_mod
from pattern_articles.errors import PatternError
from tests.badinput.kit import append, make_project, replace, run_cli, run_mkdocs, run_pytest, write

pytestmark = pytest.mark.e2e
pytest_plugins = ["pytester"]

M = "mkdocs.yml"

BAD_VALUES = [
    # (the line appended to the plugin block, the message every adapter must print)
    ("mermaid: cdn", "setting 'mermaid' must be 'bundled' or 'theme', not 'cdn'"),
    ("enabled: 'no'", "setting 'enabled' must be true or false, not 'no'"),
    ("timeout: 0", "setting 'timeout' must be a positive number of seconds, not 0"),
    ("jobs: 1.5", "setting 'jobs' must be a whole number, not 1.5"),
    ("snippets: []", "setting 'snippets' must be a folder or a list of folders, not []"),
    ("sections: [use_case]", "setting 'sections' must be a mapping of section keys to lists of heading names, "
                             "not ['use_case']"),
    ("templates_dir: 5", "setting 'templates_dir' must be a path, not 5"),
    ("sandbox: docker", "setting 'sandbox' must be 'off' or 'auto' or 'bwrap', not 'docker'"),
    ("cache: sometimes", "setting 'cache' must be true or false, not 'sometimes'"),
]


@pytest.mark.parametrize(("line", "message"), BAD_VALUES, ids=[line.split(":")[0] for line, _ in BAD_VALUES])
def test_a_bad_value_gets_one_verdict_and_message_from_every_adapter(
    line: str, message: str, tmp_path: Path, pytester: pytest.Pytester,
) -> None:
    expected = f"{M}:5: {message}"  # the plugin block's setting lines start at 4
    edits = (append(M, f"      {line}\n"),)
    cli = run_cli(make_project(tmp_path / "cli", edits))
    assert cli.code == 2 and expected in cli.output, cli.output
    mkdocs = run_mkdocs(make_project(tmp_path / "mkdocs", edits))
    assert mkdocs.code == 1 and expected in mkdocs.output, mkdocs.output
    # a MkDocs configuration error (validated before the build), not "Aborted with a BuildError!"
    assert "Aborted with a configuration error!" in mkdocs.output
    assert "Traceback" not in mkdocs.output
    make_project(pytester.path, edits)
    session = run_pytest(pytester)
    assert session.code == 4 and expected in session.output, session.output


def test_the_dataclass_defaults_are_the_schema_defaults() -> None:
    defaults = settings_mod.Settings(root=Path("/site"))
    checked = settings_mod.Settings(root=Path("/site"))
    for option in settings_mod.OPTIONS:
        checked.apply(option, settings_mod.check(option, None))
    assert checked == defaults


BASE_CONFIG = """\
site_name: inherited
plugins:
  - pattern-articles:
      snippets: examples
      timeout: 10
"""


def _inheriting(root: Path, base: str = BASE_CONFIG) -> Path:
    """The base project with its snippets in ``examples/``, which only the inherited file names."""
    project = make_project(root, (
        write("base.yml", base),
        write(M, "INHERIT: base.yml\nsite_name: child\n"),
    ))
    (project / "snippets").rename(project / "examples")
    return project


def test_inherit_is_read_by_the_cli_pytest_and_mkdocs(tmp_path: Path, pytester: pytest.Pytester) -> None:
    cli = run_cli(_inheriting(tmp_path / "cli"))
    assert cli.code == 0, cli.output
    mkdocs = run_mkdocs(_inheriting(tmp_path / "mkdocs"))
    assert mkdocs.code == 0, mkdocs.output
    _inheriting(pytester.path)
    session = run_pytest(pytester)
    assert session.code == 0 and " passed" in session.output, session.output


def test_a_bad_value_in_an_inherited_file_names_that_file(tmp_path: Path, pytester: pytest.Pytester) -> None:
    base = BASE_CONFIG.replace("timeout: 10", "timeout: soon")
    expected = "base.yml:5: setting 'timeout' must be a positive number of seconds, not 'soon'"
    cli = run_cli(_inheriting(tmp_path / "cli", base))
    assert cli.code == 2 and expected in cli.output, cli.output
    mkdocs = run_mkdocs(_inheriting(tmp_path / "mkdocs", base))
    assert mkdocs.code == 1 and expected in mkdocs.output, mkdocs.output
    _inheriting(pytester.path, base)
    session = run_pytest(pytester)
    assert session.code == 4 and expected in session.output, session.output


def test_inherit_merges_mappings_and_replaces_lists_as_mkdocs_does(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text("plugins:\n  pattern-articles:\n    timeout: 7\n    snippets: [a, b]\n"
                                       "extra: {x: 1, y: 2}\n")
    (tmp_path / "docs").mkdir()
    (tmp_path / M).write_text("INHERIT: base.yml\nsite_name: merged\n"
                              "plugins:\n  pattern-articles:\n    snippets: [c]\nextra: {y: 3}\n")
    loaded = settings_mod.read_config(tmp_path / M)
    assert loaded.data["extra"] == {"x": 1, "y": 3}
    assert loaded.data["plugins"]["pattern-articles"] == {"timeout": 7, "snippets": ["c"]}
    settings = settings_mod.load(tmp_path / M)
    assert settings.timeout == 7.0 and settings.snippet_roots == [tmp_path / "c"]
    from mkdocs.config import load_config

    config = load_config(str(tmp_path / M))  # MkDocs' own reading agrees
    assert dict(config["extra"]) == loaded.data["extra"]


def test_a_missing_or_looping_inherit_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / M).write_text("site_name: x\nINHERIT: nowhere.yml\n")
    with pytest.raises(PatternError, match=r"mkdocs.yml:2: Inherited config file 'nowhere.yml' does not exist"):
        settings_mod.load(tmp_path / M)
    (tmp_path / M).write_text("INHERIT: mkdocs.yml\n")
    with pytest.raises(PatternError, match="INHERIT makes a loop"):
        settings_mod.load(tmp_path / M)


TEMPLATE = """\
Written by the site's own template for {{ pattern }}.

{% for step in b.implementation.steps %}{% for ref in step.code %}{{ show(ref) }}
{% endfor %}{% endfor %}
"""


def test_relative_config_dir_paths_work_in_mkdocs_and_the_cli(tmp_path: Path) -> None:
    project = make_project(tmp_path / "site", (
        write("tpl/implementation.md.j2", TEMPLATE),
        append(M, "      templates_dir: !relative $config_dir/tpl\n      snippets: !relative $config_dir/snippets\n"),
    ))
    loaded = settings_mod.load(project / M)
    assert loaded.templates_dir == project / "tpl"
    assert loaded.snippet_roots == [project / "snippets"]
    built = run_mkdocs(project)
    assert built.code == 0, built.output
    page = (project / "site" / "demo" / "index.html").read_text("utf-8")
    assert "Written by the site&rsquo;s own template for Demo." in page or \
        "Written by the site's own template for Demo." in page
    cli = run_cli(project)
    assert cli.code == 0, cli.output


def test_relative_without_a_prefix_is_refused_by_both(tmp_path: Path) -> None:
    edits = (append(M, "      templates_dir: !relative\n"),)
    message = "The current file is not set for the '!relative' tag"
    cli = run_cli(make_project(tmp_path / "cli", edits))
    assert cli.code == 2 and "mkdocs.yml:5: setting 'templates_dir': " + message in cli.output, cli.output
    mkdocs = run_mkdocs(make_project(tmp_path / "mkdocs", edits))
    assert mkdocs.code == 1 and "mkdocs.yml:5: setting 'templates_dir': " + message in mkdocs.output, mkdocs.output


def test_env_values_are_read_alike(tmp_path: Path, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    edits = (replace(M, "timeout: 10", "timeout: !ENV [PA_TEST_TIMEOUT, 10]"),)
    monkeypatch.setenv("PA_TEST_TIMEOUT", "soon")
    expected = f"{M}:4: setting 'timeout' must be a positive number of seconds, not 'soon'"
    cli = run_cli(make_project(tmp_path / "cli", edits))
    assert cli.code == 2 and expected in cli.output, cli.output
    mkdocs = run_mkdocs(make_project(tmp_path / "mkdocs", edits))
    assert mkdocs.code == 1 and expected in mkdocs.output, mkdocs.output
    make_project(pytester.path, edits)
    assert run_pytest(pytester).code == 4
    monkeypatch.setenv("PA_TEST_TIMEOUT", "12.5")
    assert settings_mod.load(tmp_path / "cli" / M).timeout == 12.5
    monkeypatch.delenv("PA_TEST_TIMEOUT")
    assert settings_mod.load(tmp_path / "cli" / M).timeout == 10.0  # the default given in the tag
