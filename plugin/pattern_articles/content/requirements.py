"""The distributions a bundle's snippets need (``requires:`` in ``bundle.yml``).

Why: a snippet that imports a package nobody installed fails with a ``ModuleNotFoundError``
that names a module, not the distribution to install (``import yaml`` needs ``PyYAML``), and
only after a run. Declared requirements are checked before any run, in the interpreter that
runs the Python snippets (the build's own), and a missing one is reported with the line of
``bundle.yml`` that declares it and the command that installs it.

Each entry is a PEP 508 requirement: a distribution name, optional extras, optional version
specifiers and an optional environment marker (``redis>=5``, ``httpx[http2]>=0.27,<1``,
``uvloop; sys_platform != 'win32'``). ``packaging`` parses them when it is installed (MkDocs
and pytest depend on it); a small parser of the same grammar's common part does otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import Place, Problem

if TYPE_CHECKING:
    from .bundle import Bundle

_NAME = re.compile(r"^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$")
_SPEC = re.compile(r"^\s*(===|==|!=|~=|>=|<=|>|<)\s*([A-Za-z0-9.*+!_-]+)\s*$")


@dataclass(frozen=True)
class Unmet:
    """A requirement this interpreter does not satisfy."""

    index: int  # its position under ``requires:`` (its line in bundle.yml)
    requirement: str  # as written
    name: str
    installed: str | None  # the version found when it is too old or too new, else None


def check_syntax(text: str) -> str:
    """``text`` when it is a requirement, else a ``ValueError`` saying what is wrong."""
    _parse(text)
    return text


def _parse(text: str) -> tuple[str, list[tuple[str, str]], str]:
    """(name, [(operator, version)], marker); the specifier list is empty with ``packaging``."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:  # pragma: no cover - packaging comes with MkDocs and pytest
        return _parse_simple(text)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        first = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise ValueError(f"{text!r} is not a requirement ({first}); write e.g. 'redis>=5'") from None
    if req.url:
        raise ValueError(f"{text!r} names a URL; write the distribution and version, e.g. 'redis>=5'")
    return req.name, [], str(req.marker) if req.marker else ""


def _parse_simple(text: str) -> tuple[str, list[tuple[str, str]], str]:
    body, _, marker = text.partition(";")
    match = _NAME.match(body)
    if match is None:
        raise ValueError(f"{text!r} is not a requirement; write e.g. 'redis>=5'")
    specs: list[tuple[str, str]] = []
    rest = match.group(3).strip().strip("()")
    for part in filter(None, (p.strip() for p in rest.split(","))):
        spec = _SPEC.match(part)
        if spec is None:
            raise ValueError(f"{text!r}: cannot read the version specifier {part!r}; write e.g. 'redis>=5'")
        specs.append((spec.group(1), spec.group(2)))
    return match.group(1), specs, marker.strip()


def unmet(requirements: list[str]) -> list[Unmet]:
    """The requirements the running interpreter does not satisfy."""
    from importlib import metadata

    found: list[Unmet] = []
    for index, text in enumerate(requirements):
        name, simple_specs, marker = _parse(text)
        try:
            version: str | None = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = None
        if not _applies(text, marker):
            continue
        if version is None:
            found.append(Unmet(index, text, name, None))
        elif not _satisfied(text, version, simple_specs):
            found.append(Unmet(index, text, name, version))
    return found


def _applies(text: str, marker: str) -> bool:
    if not marker:
        return True
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - without packaging a marker is taken to apply
        return True
    req = Requirement(text)
    return req.marker is None or req.marker.evaluate()


def _satisfied(text: str, version: str, simple_specs: list[tuple[str, str]]) -> bool:
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover
        return all(_compare(version, op, wanted) for op, wanted in simple_specs)
    return Requirement(text).specifier.contains(version, prereleases=True)


def _compare(version: str, op: str, wanted: str) -> bool:
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) if p.isdigit() else 0 for p in re.split(r"[.+-]", v.rstrip(".*")))

    have, want = key(version), key(wanted)
    size = max(len(have), len(want))
    have, want = have + (0,) * (size - len(have)), want + (0,) * (size - len(want))
    return {"==": have == want, "===": version == wanted, "!=": have != want, ">=": have >= want,
            "<=": have <= want, ">": have > want, "<": have < want,
            "~=": have >= want and have[: max(1, len(key(wanted)) - 1)] == want[: max(1, len(key(wanted)) - 1)],
            }[op]


def unmet_for(bundle: Bundle) -> list[Unmet]:
    """:func:`unmet` for the bundle's ``requires:``, once per bundle load."""
    key = "unmet-requirements"
    found: list[Unmet] | None = bundle.derived.get(key)
    if found is None:
        found = bundle.derived[key] = unmet(list(bundle.model.requires))
    return found


#: The start of a run's reason when it was not started for want of a requirement.
REASON = "not run: missing requirement"


def reason(missing: list[Unmet]) -> str:
    return f"{REASON} " + ", ".join(_what(m) for m in missing)


def _what(missing: Unmet) -> str:
    if missing.installed is None:
        return f"'{missing.requirement}' (not installed)"
    return f"'{missing.requirement}' ({missing.name} {missing.installed} is installed)"


def problem(bundle: Bundle, missing: list[Unmet], run_id: str = "") -> Problem:
    """One warning naming the first unmet requirement's line and the command to install them all."""
    import shlex
    import sys

    first = missing[0]
    install = "pip install " + " ".join(shlex.quote(m.requirement.split(";")[0].strip()) for m in missing)
    where = f"{run_id} " if run_id else ""
    return Problem(
        f"{where}{reason(missing)}",
        bundle.place("requires", first.index) if bundle.lines else Place(bundle.metadata_path),
        f"{install} (into the Python that runs the build, {sys.executable}), or correct the "
        f"requirement in {bundle.metadata_path.name}",
    )


def module_hint(stderr: str) -> str:
    """For a run that failed with ``ModuleNotFoundError``: what to declare and install."""
    match = re.search(r"ModuleNotFoundError: No module named '([^'.]+)", stderr)
    if match is None:
        return ""
    module = match.group(1)
    return (f"the snippet imports '{module}', which is not installed: install the distribution that "
            f"provides it (often 'pip install {module}') and declare it in bundle.yml under "
            f"'requires:' (e.g. requires: [{module}]), so a build names it before running anything")
