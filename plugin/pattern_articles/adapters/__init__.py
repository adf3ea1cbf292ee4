"""The thin doors into the core: MkDocs plugin, pytest plugin, command line, and the
Python-Markdown extension (for Zensical or any Markdown pipeline). Logic that grows here
belongs in the core."""
