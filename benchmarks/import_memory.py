"""Memory the plugin's code takes in the build process before it holds any data.

Run:  python benchmarks/import_memory.py

In a fresh interpreter: the PSS and RSS after importing what a plain mkdocs-material build
imports, then after importing what a cold build with pattern-articles adds (the plugin, the
pydantic metadata model, markdown-it, the runner, filling and judging) and loading the
section templates. The difference is a floor under the build process's share of
``memory_ratio`` in ``bench.py``: it is there before the first bundle is read.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

PLAIN = ("mkdocs.commands.build", "mkdocs.config.config_options", "material.plugins.search.plugin",
         "pymdownx.superfences", "pymdownx.tabbed", "pymdownx.highlight", "pygments.lexers.python")
OURS = ("pattern_articles.adapters.mkdocs_plugin", "pattern_articles.content.model", "pattern_articles.pages.fill",
        "pattern_articles.engine.verify", "pattern_articles.engine.runner", "pattern_articles.pages.pagecache",
        "pattern_articles.content.trace", "pattern_articles.engine.expect", "markdown_it")


def memory() -> tuple[float, float]:
    """(PSS, RSS) of this process in MiB."""
    pss = rss = 0.0
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
            elif line.startswith("Rss:"):
                rss = int(line.split()[1]) / 1024
    return pss, rss


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugin"))
    for name in PLAIN:
        importlib.import_module(name)
    plain = memory()
    for name in OURS:
        importlib.import_module(name)
    from pattern_articles.pages.fill import environment
    from pattern_articles.settings import Settings

    templates = environment(Settings())  # the plugin's own Jinja2 environment
    for name in templates.list_templates(extensions=["j2"]):
        templates.get_template(name)  # compiled, as a build does filling its first pages
    ours = memory()
    print(f"plain build's imports:           PSS {plain[0]:6.1f} MiB, RSS {plain[1]:6.1f} MiB")
    print(f"plus pattern-articles' imports:  PSS {ours[0]:6.1f} MiB, RSS {ours[1]:6.1f} MiB")
    print(f"difference:                      PSS {ours[0] - plain[0]:6.1f} MiB, RSS {ours[1] - plain[1]:6.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
