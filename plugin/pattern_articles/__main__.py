"""``python -m pattern_articles`` is the CLI."""

import sys

from .adapters.cli import main

sys.exit(main())
