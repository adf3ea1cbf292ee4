"""pattern-articles: complete design-pattern articles from metadata and verified example code.

The folders show the architecture; everything but ``adapters`` is free of MkDocs:

* ``content/``  what the author wrote: articles, bundles (``bundle.yml``, its model, prose
  files and ``requires:``), snippet references and regions, traces, the heading check;
* ``engine/``   running snippets: isolated, parallel, cached runs, their services, golden
  outputs and verdicts (its public surface is ``pattern_articles.engine``);
* ``pages/``    what readers get: filled sections, the catalogue, cached pages;
* ``commands/`` the authoring commands ``new``, ``eject`` and ``render``, which drive a
  whole project (``project.py``, at the top);
* ``adapters/`` the thin doors in: the MkDocs plugin, the pytest plugin, the CLI and the
  Python-Markdown extension;
* at the top, what they all share: ``settings``, ``project``, ``errors``, ``paths`` and
  ``files`` (reading a bundle's files safely).
"""

__version__ = "0.1.0"
