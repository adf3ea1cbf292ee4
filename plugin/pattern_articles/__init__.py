"""pattern-articles: complete design-pattern articles from metadata and verified example code.

The package is split so the architecture shows in the file list:

* core (no MkDocs import): ``article``, ``bundle``, ``snippets``, ``runner``, ``cache``,
  ``expect``, ``trace``, ``fill``, ``checks``, ``settings``, ``project``;
* adapters: ``mkdocs_plugin``, ``pytest_plugin``, ``cli``.
"""

__version__ = "0.1.0"
