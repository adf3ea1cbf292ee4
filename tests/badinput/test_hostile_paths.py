"""A bundle someone else wrote reads and writes nothing outside the project (issue 23).

What the corpus cannot express: a secret that must appear nowhere (with the sandbox on), a
file outside the project that the update mode must leave alone, ``render --out`` over the
sources, and the page cache's digest of a bundle full of traps, bounded in time. Every run
is a subprocess with a timeout: a hang fails the test, no speed is asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pattern_articles.engine.runner import sandbox_command

from .kit import TIMEOUT, clean_env, fifo, make_project, replace, run_pytest, symlink, write

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-token-9c2f51"
BWRAP, STATUS = sandbox_command("bwrap")
B = "snippets/demo/bundle.yml"
G = "snippets/demo/expected/hello.txt"


def run(project: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *argv], cwd=project, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL, env=clean_env() | env)


def written(project: Path) -> str:
    """Everything the build wrote (the site and the cache) as one text."""
    parts = []
    for folder in (project / "site", project / ".cache"):
        for path in folder.rglob("*") if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.skipif(BWRAP is None, reason=f"no usable bubblewrap here: {STATUS}")
@pytest.mark.parametrize("needs", ["", "needs: [redis], "])
def test_golden_linked_to_environ_publishes_nothing_in_the_sandbox(tmp_path: Path, needs: str) -> None:
    """Issue 23, item 1: ``expected/hello.txt -> /proc/self/environ`` with the sandbox on (and
    with a service the snippet needs): the build fails naming the bundle.yml line, and the
    secret of the building shell is in no output and no file the build wrote."""
    project = make_project(tmp_path / "project", [
        symlink(G, "/proc/self/environ"),
        replace(B, "{timeout: 10}", "{" + needs + "timeout: 10}"),
    ])
    sandbox = {"PATTERN_ARTICLES_SANDBOX": "bwrap", "SECRET_TOKEN": SECRET}
    message = f"{B}:15: refusing the golden file expected/hello.txt: it is a symlink to /proc/self/environ"
    built = run(project, "mkdocs", "build", "-d", "site", **sandbox)  # not --strict: would it publish?
    page = (project / "site" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "could not complete this article" in page  # the error in place of the article's runs
    strict = run(project, "mkdocs", "build", "--strict", "-d", "site", **sandbox)
    checked = run(project, "pattern_articles", "check", **sandbox)
    assert built.returncode == 0, built.stdout + built.stderr
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert checked.returncode == 2, checked.stdout + checked.stderr
    for done in (built, strict, checked):
        assert message in done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
    assert SECRET not in written(project)


def victim_scenario(victim: Path) -> str:
    """A scenario name whose golden, ``expected/hello.<name>.txt``, is ``victim`` (+ ``.txt``)."""
    return "x/" + "../" * 40 + str(victim.with_suffix(""))[1:]


def traversal_project(root: Path, victim: Path) -> Path:
    name = victim_scenario(victim)
    return make_project(root, [
        replace(B, "{timeout: 10}", "{timeout: 10, scenarios: {'" + name + "': {}}}"),
    ])


def test_update_never_writes_outside_the_bundle(tmp_path: Path, pytester: pytest.Pytester) -> None:
    """Issue 23, item 2: a scenario named ``x/../../…/victim`` is refused at load by
    ``check --update``, ``pytest --pattern-articles-update`` and a build, with the bundle.yml
    line; the file it points at keeps its bytes, and nothing is created next to it."""
    victim = tmp_path / "outside" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("precious\n", encoding="utf-8")
    before = sorted(victim.parent.iterdir())
    message = f"{B}:15: scenario name '{victim_scenario(victim)}' of 'hello.py' cannot be part of a file name"

    project = traversal_project(tmp_path / "project", victim)
    checked = run(project, "pattern_articles", "check", "--update")
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert message in checked.stdout + checked.stderr
    built = run(project, "mkdocs", "build", "--strict", "-d", "site")
    assert built.returncode == 1 and message in built.stderr, built.stderr
    traversal_project(pytester.path, victim)
    tested = run_pytest(pytester, ["--pattern-articles-update"])
    assert tested.code == 1 and message in tested.output, tested.output

    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert sorted(victim.parent.iterdir()) == before
    assert "precious" not in written(project)


def test_update_refuses_a_golden_path_that_leaves_the_bundle(tmp_path: Path) -> None:
    """The last wall, below the load-time checks: the update itself writes only
    ``<bundle>/expected/<name>``, never through ``..`` or an ``expected`` folder linked out."""
    from pattern_articles.engine.expect import update
    from pattern_articles.errors import PatternError

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    bundle = tmp_path / "snippets" / "demo"
    (bundle / "expected").mkdir(parents=True)
    with pytest.raises(PatternError, match="not a file name inside the bundle's expected/ folder"):
        update(bundle / "expected" / ".." / ".." / ".." / "victim.txt", "overwritten\n")
    linked = tmp_path / "snippets" / "other"
    linked.mkdir()
    (linked / "expected").symlink_to(tmp_path)
    with pytest.raises(PatternError, match=r"refusing to write the golden file .*: it resolves to"):
        update(linked / "expected" / "victim.txt", "overwritten\n")
    assert victim.read_text(encoding="utf-8") == "precious\n"


def test_render_never_writes_over_the_sources(tmp_path: Path) -> None:
    """Issue 23, item 13: ``render --out docs`` (or a folder inside docs) is refused before
    anything is written; the source article keeps its bytes."""
    project = make_project(tmp_path / "project")
    source = (project / "docs" / "demo.md").read_bytes()
    for out in ("docs", "docs/rendered", "snippets"):
        done = run(project, "pattern_articles", "render", "--out", out)
        assert done.returncode == 2, done.stdout + done.stderr
        assert f"refusing to render into {out}: it is inside" in done.stdout + done.stderr
    assert (project / "docs" / "demo.md").read_bytes() == source
    assert not (project / "docs" / "rendered").exists()


def test_render_refuses_a_written_file_that_is_a_source(tmp_path: Path) -> None:
    """An output folder holding a link to a source article: writing there would replace the link,
    but ``--out`` resolving onto the sources is refused all the same, naming the article."""
    project = make_project(tmp_path / "project", [symlink("out", "docs")])
    done = run(project, "pattern_articles", "render", "--out", "out")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "refusing to render into out: it is inside docs_dir" in done.stdout + done.stderr


def test_render_refuses_two_articles_sharing_an_output_file(tmp_path: Path) -> None:
    """Issue 23, item 13: Chirpy keeps only the file name, so ``docs/demo.md``, ``docs/a/demo.md``
    and ``docs/b/demo.md`` would all become ``_drafts/demo.md``: refused naming two of them,
    and nothing is written."""
    article = (make_project(tmp_path / "scratch") / "docs" / "demo.md").read_text(encoding="utf-8")
    project = make_project(tmp_path / "project", [write("docs/a/demo.md", article), write("docs/b/demo.md", article)])
    done = run(project, "pattern_articles", "render", "--out", "out", "--flavor", "jekyll-chirpy")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "docs/b/demo.md:2: a/demo.md and b/demo.md would both be written to out/_drafts/demo.md" in (
        done.stdout + done.stderr).replace(str(project) + "/", "")
    assert not (project / "out").exists()


DIGEST = """\
import sys
from pathlib import Path
from pattern_articles.pages.pagecache import folder_digest
print(folder_digest(Path(sys.argv[1])))
"""


def digest(folder: Path) -> str:
    done = subprocess.run([sys.executable, "-c", DIGEST, str(folder)], capture_output=True, text=True,
                          timeout=TIMEOUT, env=clean_env())  # a hang fails the test: TimeoutExpired
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_page_cache_digest_of_a_bundle_full_of_traps(tmp_path: Path) -> None:
    """Issue 23, item 5: a FIFO, two link loops and a link to /dev end the digest at once; a
    link enters it as its target's text (retargeting it misses the cache), a file as its bytes."""
    bundle = tmp_path / "demo"
    bundle.mkdir()
    (bundle / "hello.py").write_text('print("hello")\n', encoding="utf-8")
    os.mkfifo(bundle / "pipe")
    (bundle / "a").symlink_to(".")
    (bundle / "b").symlink_to(".")
    (bundle / "d").symlink_to("/dev")
    (bundle / "zero").symlink_to("/dev/zero")
    first = digest(bundle)
    assert digest(bundle) == first
    (bundle / "d").unlink()
    (bundle / "d").symlink_to("/proc")
    second = digest(bundle)
    assert second != first
    (bundle / "hello.py").write_text('print("bye")\n', encoding="utf-8")
    assert digest(bundle) != second


def test_reads_refuse_what_is_not_a_regular_file_inside(tmp_path: Path) -> None:
    """The reading rules of :mod:`pattern_articles.files`, on regular files and links (a FIFO
    and /dev/zero are in the corpus and above, each bounded by a subprocess timeout)."""
    from pattern_articles.files import UnsafeFile, check_regular, read_regular

    root = tmp_path / "bundle"
    (root / "expected").mkdir(parents=True)
    (root / "expected" / "small.txt").write_bytes(b"x" * 10)
    (root / "expected" / "big.txt").write_bytes(b"x" * 11)
    (root / "expected" / "inside.txt").symlink_to("small.txt")
    (root / "expected" / "out.txt").symlink_to("/etc/passwd")
    (root / "expected" / "loop.txt").symlink_to("loop.txt")
    assert read_regular(root / "expected" / "small.txt", root, 10) == b"x" * 10
    assert read_regular(root / "expected" / "inside.txt", root, 10) == b"x" * 10
    assert read_regular(root / "expected" / "missing.txt", root, 10) is None
    for name, why in (("big.txt", "larger than 10 bytes"), ("out.txt", "a symlink to /etc/passwd"),
                      ("loop.txt", "symlink loop")):
        with pytest.raises(UnsafeFile, match=why):
            read_regular(root / "expected" / name, root, 10)
        assert why in check_regular(root / "expected" / name, root, 10)
    with pytest.raises(UnsafeFile, match="a folder, not a regular file"):
        read_regular(root / "expected", root, 10)
    folders: dict[str, str] = {}  # the memo of resolved folders gives the same answers
    assert read_regular(root / "expected" / "small.txt", root.resolve(), 10, folders) == b"x" * 10
    with pytest.raises(UnsafeFile, match="a symlink to /etc/passwd"):
        read_regular(root / "expected" / "out.txt", root.resolve(), 10, folders)
    assert check_regular(root / "expected" / "small.txt", root.resolve(), 10, folders) == ""


def test_link_loops_and_a_fifo_in_docs_do_not_hang_check(tmp_path: Path) -> None:
    """The CLI finds articles by walking docs_dir, following links as MkDocs does: two links to
    ``.`` (``ln -s . a; ln -s . b``) made that walk exponential, and a FIFO named like a page
    blocked the read of its front matter. The walk enters each real folder once and reads
    only regular files; the article is still found and checked (the timeout fails a hang)."""
    project = make_project(tmp_path / "project", [
        symlink("docs/a", "."), symlink("docs/b", "."), fifo("docs/pipe.md"),
    ])
    done = run(project, "pattern_articles", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 article checked" in done.stdout, done.stdout
