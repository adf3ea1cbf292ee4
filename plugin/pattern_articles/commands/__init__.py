"""The authoring commands: ``new`` (start an article and its bundle), ``eject`` (write the
generated sections into the source, so the prose becomes the author's) and ``render``
(completed articles as Markdown for other generators). They drive a whole :class:`Project`,
so they sit above it, between the project and the command line."""
