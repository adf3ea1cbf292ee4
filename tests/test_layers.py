"""The package's layers, as the file list shows them, hold in the code: imports go one way.

``errors``, ``paths``, ``files`` and ``settings`` (and the package itself) are shared by all;
then ``content`` (what the author wrote), ``engine`` (running snippets), ``pages`` (what
readers get), ``project`` (what every adapter needs), ``commands`` (new, eject, render) and
``adapters``. A module imports only from its own layer or those before it, at the top of the
file or inside a function; imports made only for type checking do not count (they run
nowhere). Only the adapters import MkDocs.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "plugin" / "pattern_articles"
ORDER = ["base", "content", "engine", "pages", "project", "commands", "adapters"]


def layer(module: str) -> str:
    """``pattern_articles.engine.runner`` -> ``engine``; the shared modules (and names of the
    package itself, like ``__version__``) -> ``base``; ``__main__`` is the CLI's door."""
    parts = module.split(".")[1:]
    if parts and parts[0] in ORDER:
        return parts[0]
    return "adapters" if parts[:1] == ["__main__"] else "base"


def runtime_imports(text: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in ``text`` (the source of ``module``) outside
    ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(text)
    package = module if is_package else module.rsplit(".", 1)[0]
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for body in node.body for child in ast.walk(body))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
                found.extend((node.lineno, base if node.module else f"{base}.{alias.name}") for alias in node.names)
            else:
                found.append((node.lineno, node.module or ""))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return sorted(set(found))


def test_imports_go_one_way() -> None:
    wrong: list[str] = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30, "the walk found the package"
    for path in files:
        relative = path.relative_to(PACKAGE)
        module = ".".join(("pattern_articles", *relative.with_suffix("").parts)).removesuffix(".__init__")
        mine = layer(module)
        for line, name in runtime_imports(path.read_text("utf-8"), module, path.name == "__init__.py"):
            if name.split(".")[0] in ("mkdocs", "material") and mine != "adapters":
                wrong.append(f"{relative}:{line} imports {name}: only the adapters import MkDocs")
            if name.startswith("pattern_articles") and ORDER.index(layer(name)) > ORDER.index(mine):
                wrong.append(f"{relative}:{line} ({mine}) imports {name} ({layer(name)})")
    assert wrong == [], "\n".join(wrong)


def test_the_check_counts_function_imports_and_not_typing_ones() -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..engine import x\n"
              "def f():\n    from ..engine import y\n    from . import article\n")
    found = runtime_imports(source, "pattern_articles.content.sample")
    assert found == [(1, "typing"), (5, "pattern_articles.engine"), (6, "pattern_articles.content.article")]
    assert layer("pattern_articles.engine") == "engine" and layer("pattern_articles.__version__") == "base"
