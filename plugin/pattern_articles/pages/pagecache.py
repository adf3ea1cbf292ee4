"""Whole-page cache: a warm build hands back each article exactly as the last build filled it.

Why: with every run cached, a warm build still loaded and validated every bundle, looked up
2,000 result entries (hashing each snippet's dependencies), judged each output against its
golden file and rendered every template again, about 0.4 ms per snippet and the import of
pydantic and markdown-it, to produce the same Markdown as last time. A warm build must cost
what a plain build of the same pages costs, so an unchanged page skips all of that.

An entry is valid only while everything the filled page was made from is unchanged; its key
is the sha256 of

* the article's source file (front matter included: MkDocs derives ``page.meta`` from it),
  its path and the site's article links (bundle id -> page), which the related-patterns
  section uses;
* the *content* of every file in the article's bundle (metadata, snippets, modules, data,
  golden outputs), so editing, adding or deleting any of them misses. Content, not mtimes:
  a checkout or a copy gives new mtimes and the same pages;
* the settings, this package's own code and templates, the author's ``templates_dir``;
* what the result cache's context holds for a run (the interpreters, the allowlisted
  environment variables, the sandbox, ``PATTERN_ARTICLES_*`` variables) and the installed
  distributions (``*.dist-info`` names on ``sys.path``, versions included), so a change
  that could change an output re-runs through the result cache as before.

On top of the key, the entry records a digest of the Markdown and metadata MkDocs handed to
the plugin, so a plugin running before us that changes the text (macros, say) is a miss.
Each entry is sealed (:func:`seal`): a digest of its key and content, or an HMAC of them
with the secret of ``PATTERN_ARTICLES_CACHE_SECRET``; an entry whose seal does not hold is a
miss, never served.

Only pages whose every run passed are stored: a failure, a mismatch or a run skipped because
a service was missing is looked at again on every build. Problems the fill reported (a
heading naming another pattern, a TODO left) are stored with the page and reported again
on a hit, so ``--strict`` fails the same way. Entries are written atomically; an unreadable
or malformed one is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import Place, Problem
from ..settings import Settings

PAGE_FORMAT = 2
"""Bumped whenever the entry layout or the meaning of the key changes (2: sealed entries)."""

SECRET_VARIABLE = "PATTERN_ARTICLES_CACHE_SECRET"
"""A secret (any text) that makes each page entry's seal an HMAC: see :func:`seal`."""

_SKIP_DIRS = frozenset({"__pycache__", ".git", ".pytest_cache", ".mypy_cache", "node_modules"})
_PACKAGE = Path(__file__).resolve().parents[1]  # the whole package: code and templates


@dataclass
class PageEntry:
    """A filled page as the last build made it."""

    markdown: str
    meta: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    runs: int = 0  # how many snippet runs the page shows (counted as cached on a hit)


_DIGEST_CONTENT_LIMIT = 64 << 20
"""Files larger than this (64 MiB) enter the digest by size, mtime and inode, not content:
a sparse file of a terabyte in a bundle must not make every build read a terabyte."""


def folder_digest(folder: Path) -> str:
    """sha256 over the relative path and the content of every file under ``folder``.

    Sorted walk, so the digest does not depend on the order the filesystem lists files in.
    A bundle may be someone else's pull request, so the walk never follows a link and never
    opens what is not a regular file: a symbolic link enters the digest as the text it
    points to (``ln -s /dev d``, ``ln -s . a`` loops and links out cost one ``readlink``),
    a FIFO, socket or device as its kind (opening a FIFO would block the build forever).
    Regular files are opened non-blocking without following a link that appeared since the
    walk, and read in chunks: memory stays bounded whatever their size.
    """
    digest = hashlib.sha256()
    entries: list[tuple[str, str]] = []
    for current, dirs, names in os.walk(folder):  # followlinks=False: a linked folder is a link
        kept = []
        for name in dirs:
            if name in _SKIP_DIRS:
                continue
            if os.path.islink(os.path.join(current, name)):
                names.append(name)  # its target's text, below; never descended into
            else:
                kept.append(name)
        dirs[:] = sorted(kept)
        for name in names:
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(current, name)
            entries.append((os.path.relpath(full, folder), full))
    for relative, full in sorted(entries):
        digest.update(relative.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(_entry_digest(full))
    return digest.hexdigest()


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _entry_digest(full: str) -> bytes:
    """What one walked entry adds to a folder's digest (see :func:`folder_digest`)."""
    try:
        info = os.lstat(full)
    except OSError:
        return b"\0missing"
    if stat.S_ISLNK(info.st_mode):
        try:
            return b"\0link\0" + os.fsencode(os.readlink(full))
        except OSError:
            return b"\0unreadable link"
    if not stat.S_ISREG(info.st_mode):
        return b"\0special\0" + str(stat.S_IFMT(info.st_mode)).encode()
    if info.st_size > _DIGEST_CONTENT_LIMIT:
        return b"\0large\0" + f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}".encode()
    part = hashlib.sha256()
    try:
        fd = os.open(full, _OPEN_FLAGS)
    except OSError:
        return b"\0unreadable"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced since the lstat
            return b"\0unreadable"
        os.set_blocking(fd, True)
        size = 0
        while size <= _DIGEST_CONTENT_LIMIT:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            size += len(chunk)
            part.update(chunk)
    except OSError:
        return b"\0unreadable"
    finally:
        os.close(fd)
    return size.to_bytes(8, "big") + part.digest()


def _installed() -> list[str]:
    """Names of the installed distributions' metadata folders (they carry the version)."""
    found: list[str] = []
    for entry in sys.path:
        with contextlib.suppress(OSError):
            if entry and os.path.isdir(entry):
                found.extend(sorted(n for n in os.listdir(entry) if n.endswith((".dist-info", ".egg-info"))))
    return found


def _code_digest() -> str:
    """This package's code and templates: a new version of the plugin re-fills every page."""
    return folder_digest(_PACKAGE)


def run_context(settings: Settings) -> dict[str, object]:
    """What the runner's cache context holds (see ``Runner._context``) for any run."""
    from ..engine import RunnerSettings, default_languages, interpreter_identity

    allow = sorted(set(RunnerSettings().env_allowlist) | set(settings.env_allowlist))
    env = {name: os.environ[name] for name in allow if name in os.environ and name != "PATH"}
    # the cache secret changes no output, and a key (a file name) must not be a hash of it
    ours = {k: v for k, v in os.environ.items() if k.startswith("PATTERN_ARTICLES_") and k != SECRET_VARIABLE}
    return {
        "interpreters": {name: interpreter_identity(command)
                         for name, command in sorted(default_languages().items())},
        "env": env,
        "ours": dict(sorted(ours.items())),
        "sandbox": settings.sandbox_mode,
    }


class PageCache:
    """Filled pages under ``<cache_dir>/pages``, one JSON file per key."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.folder = Path(folder) / "pages"
        self.settings = settings
        self._static: str | None = None
        self._bundles: dict[Path, str] = {}

    def _static_part(self) -> str:
        """Everything in the key that is the same for every page of one build (computed once)."""
        if self._static is None:
            s = self.settings
            templates = s.absolute(s.templates_dir) if s.templates_dir is not None else None
            material = {
                "format": PAGE_FORMAT,
                "settings": {f.name: getattr(s, f.name) for f in fields(s)},
                "code": _code_digest(),
                "templates": folder_digest(templates) if templates is not None and templates.is_dir() else "",
                "context": run_context(s),
                "installed": _installed(),
            }
            blob = json.dumps(material, sort_keys=True, default=str).encode("utf-8")
            self._static = hashlib.sha256(blob).hexdigest()
        return self._static

    def bundle_digest(self, bundle_dir: Path) -> str:
        """The digest of one bundle's files, computed once per build (per PageCache)."""
        known = self._bundles.get(bundle_dir)
        if known is None:
            known = self._bundles[bundle_dir] = folder_digest(bundle_dir)
        return known

    def key(self, source: bytes, path: Path, bundle_dir: Path, links: Mapping[str, str]) -> str:
        """The name of the entry for one article (see the module docstring)."""
        digest = hashlib.sha256()
        for part in (self._static_part(), str(path), str(bundle_dir), self.bundle_digest(bundle_dir),
                     json.dumps(sorted(links.items()))):
            digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
        digest.update(source)
        return digest.hexdigest()

    @staticmethod
    def input_digest(markdown: str, meta: Mapping[str, Any]) -> str:
        """What MkDocs handed the plugin for the page."""
        blob = json.dumps([markdown, dict(meta)], sort_keys=True, default=str, ensure_ascii=False)
        return hashlib.sha256(blob.encode("utf-8", "surrogateescape")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def has(self, key: str) -> bool:
        """Whether an entry exists (it may still turn out stale or for other input text)."""
        return self._path(key).is_file()

    def load(self, key: str, input_digest: str) -> PageEntry | None:
        """The stored page, or None (missing, unreadable, malformed, or other input text)."""
        try:
            body = unsealed(self._path(key).read_bytes(), key)
            if body is None:  # damaged, written for another key, or not sealed by us
                return None
            entry = json.loads(body)
        except (OSError, ValueError):
            return None
        try:
            if entry["format"] != PAGE_FORMAT or entry["key"] != key or entry["input"] != input_digest:
                return None
            problems = [
                Problem(p["message"], Place(p["path"], int(p["line"])) if p["path"] is not None else None,
                        p["hint"], p["level"], p["detail"])
                for p in entry["problems"]
            ]
            markdown, meta, runs = entry["markdown"], entry["meta"], int(entry["runs"])
        except (KeyError, TypeError, ValueError):
            return None
        if not isinstance(markdown, str) or not isinstance(meta, dict):
            return None
        return PageEntry(markdown, meta, problems, runs)

    def store(self, key: str, input_digest: str, page: PageEntry) -> None:
        """Write an entry atomically; a failure to write only costs a fill next time."""
        from ..engine import write_atomic

        problems = [
            {**{k: v for k, v in asdict(p).items() if k != "place"},
             "path": str(p.place.path) if p.place is not None else None,
             "line": p.place.line if p.place is not None else 0}
            for p in page.problems
        ]
        entry = {"format": PAGE_FORMAT, "key": key, "input": input_digest, "markdown": page.markdown,
                 "meta": page.meta, "problems": problems, "runs": page.runs}
        try:
            data = json.dumps(entry, ensure_ascii=False, default=str).encode("utf-8", "surrogateescape")
        except (TypeError, ValueError):
            return  # metadata that is not JSON: such a page is simply filled every time
        write_atomic(self._path(key), seal(data, key) + data)


_SEAL_HEAD = b"pattern-articles-page "


def seal(body: bytes, key: str) -> bytes:
    """The first line of an entry: a digest of its key and body, or their HMAC.

    Why: an entry is served as the page's Markdown, HTML included, without filling it
    again, so an entry changed on disk would be published as it stands. The plain digest
    (``sha256``) refuses an entry that is damaged or was written for another key (a torn
    write, a copied file); anyone who can write the cache folder can also compute it. With
    ``PATTERN_ARTICLES_CACHE_SECRET`` set, the seal is an HMAC (``hmac-sha256``) that only a
    holder of the secret can make, which is what a cache shared with untrusted jobs needs
    (see docs/guide/security.md); entries sealed the other way are then misses.
    """
    secret = os.environ.get(SECRET_VARIABLE, "")
    material = key.encode("ascii", "replace") + b"\0" + body
    if secret:
        import hmac

        kind, mac = b"hmac-sha256", hmac.new(secret.encode("utf-8", "surrogateescape"), material,
                                             hashlib.sha256).hexdigest()
    else:
        kind, mac = b"sha256", hashlib.sha256(material).hexdigest()
    return _SEAL_HEAD + kind + b" " + mac.encode("ascii") + b"\n"


def unsealed(data: bytes, key: str) -> bytes | None:
    """The body of an entry whose seal is the one :func:`seal` makes now, else None."""
    import hmac

    head, newline, body = data.partition(b"\n")
    if not newline or not head.startswith(_SEAL_HEAD):
        return None
    return body if hmac.compare_digest(head + b"\n", seal(body, key)) else None


def cacheable(statuses: Iterable[str]) -> bool:
    """A page is stored only when every run it shows passed."""
    return all(status == "passed" for status in statuses)
