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
