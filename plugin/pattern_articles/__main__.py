"""``python -m pattern_articles`` is the CLI."""

import sys

from .cli import main

sys.exit(main())
