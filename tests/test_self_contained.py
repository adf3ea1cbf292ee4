"""Nothing in the repository reaches outside it: a fresh clone in any empty folder is whole.

The bug this guards against: a test read ``REPO.parent / "shared" / "seed" / ...`` and a
bundle cited ``shared/CONTENT.md``, a folder that happened to sit next to the checkout on the
machines where the suite first ran, so CI passed and a fresh clone failed. Three checks,
each deterministic (none depends on what lies beside the checkout on this machine):

* Python: every path built from ``__file__`` (directly, or through a module-level name such
  as ``REPO``, also one imported from another module of the repository) is followed through
  ``.parent``, ``.parents[n]``, ``/ "part"``, ``joinpath``, ``os.path`` and ``resolve()``;
  one that climbs above the repository root fails, with its file and line.
* Markdown: a relative link or image must resolve to somewhere inside the repository.
* Any text file: no path into the ``shared`` folder that sat beside the checkout
  (``shared/...``, ``../shared``), the one such folder this project has known.
"""

from __future__ import annotations

import ast
import os
import posixpath
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path, PurePosixPath

import pytest

REPO = Path(__file__).resolve().parents[1]
ROOT = PurePosixPath("/repo")  # the repository's root, wherever it is checked out

#: folders that are not the project's files (tools' caches, environments, build output)
SKIP_DIRS = {".git", ".venv", "venv", ".cache", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__",
             "node_modules", "site", "build", "dist", "test-artifacts", ".hypothesis"}
#: larger than any file written by hand: the vendored, minified Mermaid bundle
MAX_TEXT = 1_000_000


# ---------------------------------------------------------------------------------- files
@cache
def repo_files() -> tuple[str, ...]:
    """The repository's files, relative, POSIX: git's list (tracked, and new files not
    ignored) in a checkout; otherwise a walk that skips tools' folders (an unpacked sdist)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=REPO, capture_output=True, timeout=60, check=True).stdout
        names = [n for n in listed.decode("utf-8", "surrogateescape").split("\0") if n]
        if names:
            return tuple(sorted(n for n in names if (REPO / n).is_file()))
    except (OSError, subprocess.SubprocessError):
        pass
    found: list[str] = []
    for folder, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(folder, f).relative_to(REPO).as_posix() for f in files]
    return tuple(sorted(found))


def text_files(suffixes: tuple[str, ...] | None = None) -> Iterator[tuple[str, str]]:
    for name in repo_files():
        if suffixes is not None and not name.endswith(suffixes):
            continue
        data = (REPO / name).read_bytes()
        if len(data) > MAX_TEXT or b"\0" in data:
            continue  # binary (screenshots) or vendored and minified: nobody writes a path there
        yield name, data.decode("utf-8", "replace")


def inside(path: PurePosixPath) -> bool:
    return path == ROOT or ROOT in path.parents


def normal(path: PurePosixPath) -> PurePosixPath:
    return PurePosixPath(posixpath.normpath(str(path)))


# ------------------------------------------------------------------------- Python paths
class Paths:
    """Follows path expressions anchored at ``__file__`` in one module.

    ``value(node)`` is the absolute (virtual, under :data:`ROOT`) path an expression stands
    for, or None when it is not a path this can follow (most expressions): only what is
    certainly computed from the module's own location is judged, so nothing is guessed.
    """

    def __init__(self, name: str, tree: ast.Module) -> None:
        self.file = ROOT / name
        self.assigned: dict[str, ast.expr] = {}
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module file, its name)
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                self.assigned[node.targets[0].id] = node.value
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
                self.assigned[node.target.id] = node.value
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                module = node.module.replace(".", "/")
                for alias in node.names:
                    for candidate in (f"{module}.py", f"{module}/__init__.py"):
                        if (REPO / candidate).is_file():
                            self.imported[alias.asname or alias.name] = (candidate, alias.name)
        self._busy: set[str] = set()

    def value(self, node: ast.expr) -> PurePosixPath | None:
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            if node.attr == "parent":
                base = self.value(node.value)
                return base.parent if base is not None else None
            return None
        if isinstance(node, ast.Subscript):  # x.parents[n]
            if (isinstance(node.value, ast.Attribute) and node.value.attr == "parents"
                    and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int)):
                base = self.value(node.value.value)
                if base is not None:
                    for _ in range(node.slice.value + 1):
                        base = base.parent
                return base
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            base = self.value(node.left)
            part = _text(node.right)
            return normal(base / part) if base is not None and part is not None else None
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> PurePosixPath | None:
        func = _dotted(node.func)
        if func in ("Path", "pathlib.Path", "PurePath", "PurePosixPath", "os.path.abspath", "os.path.realpath",
                    "os.path.normpath", "str", "os.fspath") and len(node.args) == 1:
            return self._anchor(node.args[0])
        if func in ("os.path.dirname",) and len(node.args) == 1:
            base = self._anchor(node.args[0])
            return base.parent if base is not None else None
        if func == "os.path.join" and node.args:
            base = self._anchor(node.args[0])
            parts = [_text(a) for a in node.args[1:]]
            if base is None or any(p is None for p in parts):
                return None
            return normal(base.joinpath(*[p for p in parts if p is not None]))
        if isinstance(node.func, ast.Attribute):
            base = self.value(node.func.value)
            if base is None:
                return None
            if node.func.attr in ("resolve", "absolute", "expanduser"):
                return base
            if node.func.attr == "joinpath":
                parts = [_text(a) for a in node.args]
                if any(p is None for p in parts):
                    return None
                return normal(base.joinpath(*[p for p in parts if p is not None]))
        return None

    def _anchor(self, node: ast.expr) -> PurePosixPath | None:
        if isinstance(node, ast.Name) and node.id == "__file__":
            return self.file
        return self.value(node)

    def _name(self, name: str) -> PurePosixPath | None:
        if name == "__file__":
            return self.file
        if name in self._busy:
            return None
        if name in self.assigned:
            self._busy.add(name)
            try:
                return self.value(self.assigned[name])
            finally:
                self._busy.discard(name)
        if name in self.imported:
            module, there = self.imported[name]
            return module_paths(module).value(ast.Name(id=there, ctx=ast.Load()))
        return None


@cache
def module_paths(name: str) -> Paths:
    return Paths(name, ast.parse((REPO / name).read_text("utf-8"), name))


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _text(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def python_escapes(name: str, source: str) -> list[str]:
    """``file:line: expression`` for each path expression of the module that leaves the root."""
    try:
        tree = ast.parse(source, name)
    except SyntaxError:
        return []  # a deliberately broken file (test data); ruff reports real ones
    paths = Paths(name, tree)
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        stored = isinstance(getattr(node, "ctx", None), ast.Store)  # a name assigned: judge its value instead
        if isinstance(node, ast.expr) and not stored and node.lineno not in found:
            where = paths.value(node)
            if where is not None and not inside(where):
                found[node.lineno] = f"{name}:{node.lineno}: {ast.unparse(node)} is {where} (the root is {ROOT})"
    return [found[line] for line in sorted(found)]


# ----------------------------------------------------------------------- Markdown links
LINK = re.compile(r"""\]\(\s*<?([^)\s>]+)|(?:href|src)\s*=\s*["']([^"']+)["']""")


def markdown_escapes(name: str, text: str) -> list[str]:
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in LINK.finditer(line):
            target = (match.group(1) or match.group(2)).split("#", 1)[0].split("?", 1)[0]
            if not target or re.match(r"^[a-zA-Z][\w+.-]*:", target) or target.startswith(("/", "{", "<")):
                continue  # a URL, an anchor, a site-absolute path or a template placeholder
            where = normal((ROOT / name).parent / target)
            if not inside(where):
                found.append(f"{name}:{number}: link {target} leaves the repository")
    return found


# ------------------------------------------------------------------ the sibling folder
SIBLING = re.compile(r"(?<![\w.-])(?:\.\./)*shared[/\\](?=[\w.-])|\.\./shared\b")


def sibling_mentions(name: str, text: str) -> list[str]:
    return [f"{name}:{number}: {line.strip()[:120]}"
            for number, line in enumerate(text.splitlines(), 1) if SIBLING.search(line)]


# --------------------------------------------------------------------------------- tests
def test_no_python_path_leaves_the_repository() -> None:
    found = [escape for name, text in text_files((".py",)) for escape in python_escapes(name, text)]
    assert not found, "paths outside the repository (a fresh clone has nothing there):\n" + "\n".join(found)


def test_no_markdown_link_leaves_the_repository() -> None:
    found = [escape for name, text in text_files((".md",)) for escape in markdown_escapes(name, text)]
    assert not found, "links outside the repository:\n" + "\n".join(found)


def test_no_file_refers_to_the_shared_folder_beside_the_checkout() -> None:
    this = Path(__file__).resolve().relative_to(REPO).as_posix()  # names the folder, to look for it
    found = [hit for name, text in text_files() if name != this for hit in sibling_mentions(name, text)]
    assert not found, "files that refer to ../shared, outside the repository:\n" + "\n".join(found)


def test_the_scan_sees_the_whole_repository() -> None:
    """The checks above prove nothing if they read no files: the ones that matter are there."""
    names = set(repo_files())
    for expected in ("tests/conftest.py", "tests/e2e/test_site_build.py", "snippets/choreography/bundle.yml",
                     "docs/patterns/choreography-pattern.md", "plugin/pattern_articles/adapters/cli.py"):
        assert expected in names
    assert any(name.startswith("benchmarks/") for name in names)


# ---------------------------------------------------- the checks catch what they must
@pytest.mark.parametrize(("source", "caught"), [
    ('from pathlib import Path\nREPO = Path(__file__).resolve().parents[1]\n'
     'SEED = REPO.parent / "shared" / "seed" / "choreography-pattern.md"\n', True),  # the original bug
    ('from pathlib import Path\nX = Path(__file__).parent.parent.parent / "data"\n', True),
    ('import os\nX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")\n', True),
    ('from pathlib import Path\nX = Path(__file__).resolve().parents[1].joinpath("..", "other")\n', True),
    ('from pathlib import Path\nREPO = Path(__file__).resolve().parents[1]\nX = REPO / "tests" / "data"\n', False),
    ('from pathlib import Path\nX = Path(__file__).parent / ".." / "docs"\n', False),
    ('from pathlib import Path\ndef f(tmp_path: Path) -> Path:\n    return tmp_path.parent.parent\n', False),
])
def test_python_check_catches_a_path_above_the_root(source: str, caught: bool) -> None:
    assert bool(python_escapes("tests/conftest.py", source)) is caught


def test_python_check_follows_a_name_imported_from_another_module() -> None:
    """``from tests.conftest import REPO`` then ``REPO.parent``: the name is followed there."""
    source = "from tests.conftest import REPO\nSEED = REPO.parent / 'shared' / 'seed.md'\n"
    assert python_escapes("tests/e2e/test_x.py", source)
    assert not python_escapes("tests/e2e/test_x.py", "from tests.conftest import REPO\nX = REPO / 'docs'\n")


@pytest.mark.parametrize(("line", "caught"), [
    ("# against what flow.py really publishes. Facts and sources: shared/CONTENT.md.", True),  # the original
    ("see ../shared/seed/choreography-pattern.md", True),
    ('SEED = "../shared"', True),
    ("a shared cache, shared by every adapter; the shared core", False),
])
def test_sibling_check_catches_a_mention_of_the_shared_folder(line: str, caught: bool) -> None:
    assert bool(sibling_mentions("x.yml", line)) is caught


@pytest.mark.parametrize(("name", "line", "caught"), [
    ("docs/guide/index.md", "[seed](../../../shared/seed/a.md)", True),
    ("README.md", '<img src="../screenshot.png">', True),
    ("docs/guide/index.md", "[config](configuration.md#jobs) and [home](../index.md)", False),
    ("README.md", "[site](https://example.org/../x) [top](#top)", False),
])
def test_markdown_check_catches_a_link_out_of_the_repository(name: str, line: str, caught: bool) -> None:
    assert bool(markdown_escapes(name, line)) is caught
