"""Reading a bundle's files as someone else wrote them: inside the project, regular, bounded.

A bundle may come from a pull request. Each of its files can be a symlink to
``/proc/self/environ``, a FIFO that blocks the first ``open`` forever, ``/dev/zero`` that
never ends, or a loop of links. Every read the tool makes on a bundle's behalf (golden
files, metadata, digests) goes through here, so none follows a link out of its bundle, none
blocks, and none reads more than a cap:

* the path is resolved and must stay inside its root (the bundle folder);
* it is opened with ``O_NONBLOCK`` (a FIFO opens at once instead of waiting for a writer)
  and ``O_NOFOLLOW`` (the resolved path holds no link; if one appeared since, the open
  fails rather than follows it), then ``fstat`` must say "regular file" before one byte
  is read;
* at most ``limit`` bytes are read: a larger file is refused, not read.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

TEXT_LIMIT = 16 << 20
"""The largest metadata or snippet file read (16 MiB): far beyond any real one."""

GOLDEN_LIMIT = 16 << 20
"""The largest golden file read (16 MiB, sixteen times the default ``output_limit``): a
golden that size is a mistake or an attack (a link to ``/dev/zero``), never a real output."""

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class UnsafeFile(Exception):
    """A file that must not be read; ``str()`` says why in words an author understands."""


def kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def outside(path: Path | str, root: Path | str) -> str:
    """Why ``path`` resolves outside ``root`` ("" when it stays inside).

    ``root`` is resolved too. A loop of links cannot be resolved: that is a reason as well.
    """
    try:
        real = Path(os.path.realpath(path, strict=False))
        base = Path(os.path.realpath(root))
    except (OSError, ValueError):
        return "it is a symlink loop"
    if real == base or real.is_relative_to(base):
        return ""
    if os.path.islink(path):
        return f"it is a symlink to {os.readlink(path)}, outside {base.name}/"
    return f"it resolves to {real}, outside {base.name}/"


def _place(path: Path | str, root: Path | str, folders: dict[str, str] | None) -> tuple[str, str, str]:
    """(resolved folder, file name, why it may not be read or "") of ``path``: its folder is
    resolved once per ``folders`` memo (``root`` then resolved already), and must lie inside
    ``root``; the name must be a file's, not ``.`` or ``..``."""
    folder, name = os.path.split(os.fspath(path))
    if folders is None:
        folders = {}
        base = os.path.realpath(root)
    else:
        base = os.fspath(root)
    real_folder = folders.get(folder)
    if real_folder is None:
        real_folder = folders[folder] = os.path.realpath(folder)
    if not name or name in (".", "..") or not _within(real_folder, base):
        return real_folder, name, outside(path, root) or "it is not a file inside its folder"
    return real_folder, name, ""


def check_regular(path: Path | str, root: Path | str, limit: int | None = None,
                  folders: dict[str, str] | None = None) -> str:
    """Why ``path`` may not be read ("" when it is a regular file inside ``root`` within ``limit``,
    or does not exist: a missing golden is a normal state, not an attack).

    ``folders``: as for :func:`read_regular` (then ``root`` is resolved already): a bundle's
    load checks one golden per run it declares, one ``lstat`` each in the common case.
    """
    real_folder, name, reason = _place(path, root, folders)
    if reason:
        return reason
    try:
        info = os.lstat(os.path.join(real_folder, name))
        if stat.S_ISLNK(info.st_mode):
            reason = outside(path, root)
            if reason:
                return reason
            info = os.stat(path)  # a link that stays inside: what it points to
    except FileNotFoundError:
        return ""
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # ELOOP
            return "it is a symlink loop"
        return f"it cannot be read: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"it is {kind(info.st_mode)}, not a regular file"
    if limit is not None and info.st_size > limit:
        return f"it is larger than {_size(limit)} ({_size(info.st_size)})"
    return ""


def read_regular(path: Path | str, root: Path | str, limit: int,
                 folders: dict[str, str] | None = None) -> bytes | None:
    """The bytes of ``path``, None when it does not exist; :class:`UnsafeFile` when it is
    outside ``root``, not a regular file, or larger than ``limit`` bytes.

    ``folders``: folder as written -> resolved, filled as it goes (see
    :func:`..paths.resolve_through`); with it, ``root`` must be resolved already. The
    common case (a file that is not a link, in a folder resolved before) then costs one
    ``open`` and one ``fstat``: resolving the whole path, two ``realpath`` calls in Python,
    cost ten times the read itself, once per run judged.
    """
    real_folder, name, reason = _place(path, root, folders)
    if reason:
        raise UnsafeFile(reason)
    try:
        return read_bounded(os.path.join(real_folder, name), limit, follow=False)
    except UnsafeFile:
        if not os.path.islink(path):
            raise
    # the last part is a link: follow it only while it stays inside
    reason = outside(path, root)
    if reason:
        raise UnsafeFile(reason)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafeFile("it is a symlink loop") from None
    return read_bounded(os.path.realpath(path), limit, follow=False)


def _within(real: str, base: str) -> bool:
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def read_bounded(path: Path | str, limit: int, *, follow: bool = True) -> bytes | None:
    """The bytes of a regular file of at most ``limit`` bytes; None when it does not exist.

    For a path whose place the caller has checked already: it never blocks (a FIFO is
    opened non-blocking and refused), never reads a device, never holds more than
    ``limit`` + 1 bytes. ``follow=False``: the path is resolved, so a link in its last
    part is refused rather than followed (it appeared after the check).
    """
    flags = _OPEN_FLAGS if not follow else _OPEN_FLAGS & ~getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # ELOOP: a link loop, or a link where none may be
            raise UnsafeFile("it is a symlink loop" if follow else "it is a symlink") from None
        raise UnsafeFile(f"it cannot be read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"it is {kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafeFile(f"it is larger than {_size(limit)} ({_size(info.st_size)})")
        os.set_blocking(fd, True)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > limit:  # grew since the fstat
            raise UnsafeFile(f"it is larger than {_size(limit)}")
        return data
    except OSError as exc:
        raise UnsafeFile(f"it cannot be read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _size(count: int) -> str:
    if count >= 1 << 20:
        return f"{count / (1 << 20):.3g} MiB"
    if count >= 1 << 10:
        return f"{count / (1 << 10):.3g} KiB"
    return f"{count} bytes"
