"""Resolving paths with as few system calls as the answer allows.

``os.path.realpath`` makes an ``lstat`` of every folder of a path. The build resolves
thousands of files that share a handful of folders (a bundle's snippets, a pytest session's
collected files), and on some machines a system call on a file not touched for a few seconds
costs tens of microseconds (docs/guide/performance.md), so each folder is resolved once.
"""

from __future__ import annotations

import os


def resolve_through(path: str, folders: dict[str, str]) -> str:
    """``os.path.realpath(path)``, resolving its folder once through ``folders`` (folder as
    written -> resolved, filled as it goes): a file that is not a symlink resolves to its
    resolved folder plus its name, one ``lstat`` instead of one per folder of its path."""
    folder, name = os.path.split(path)
    if not name or name in (".", "..") or os.path.islink(path):
        return os.path.realpath(path)
    real = folders.get(folder)
    if real is None:
        real = folders[folder] = os.path.realpath(folder)
    return os.path.join(real, name)


def project_relative(text: str, root: str | os.PathLike[str]) -> str:
    """``text`` with every absolute path inside the project written relative to it.

    Why: messages and failure boxes end up in logs, CI output and published pages, where a
    local path (``/home/me/blog/snippets/x.py``) means nothing to a reader and leaks the
    author's machine. The project is the folder of ``mkdocs.yml``; a path outside it is kept.
    Both the folder as configured and its symlink-free form are recognised, longest first, and
    only where a path starts (not inside a longer one).
    """
    import re

    bases = {os.fspath(root), os.path.realpath(root)}
    for base in sorted(bases, key=len, reverse=True):
        prefix = base.rstrip(os.sep) + os.sep
        if len(prefix) <= 1:
            continue
        text = re.sub(r"(?<![\w./\\-])" + re.escape(prefix), "", text)
    return text
