"""Write completed articles as Markdown for other generators (``pattern-articles render``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .project import Project


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_all(project: Project, out_dir: Path, flavor: str = "mkdocs") -> int:
    """Render every article into ``out_dir`` (mirroring docs paths); 1 if any warning."""
    warnings = 0
    refs = project.articles()
    project.start([project.bundle(b) for b in sorted({r.bundle_id for r in refs})])
    for ref in refs:
        rendered = project.render_file(ref)
        for problem in rendered.problems:
            if problem.level == "warning":
                warnings += 1
            print(f"{ref.docs_path}: {problem.format()}")
        target = out_dir / ref.docs_path
        atomic_write(target, rendered.markdown)
        print(f"wrote {target}")
    return 1 if warnings else 0
