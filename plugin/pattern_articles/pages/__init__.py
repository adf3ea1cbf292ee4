"""What readers and authors get: filled sections (Jinja2 templates), the catalogue block,
whole filled pages kept between builds, completed Markdown for other generators, and the
authoring commands ``new`` and ``eject``."""
