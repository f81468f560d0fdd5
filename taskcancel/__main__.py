"""``python -m taskcancel``: the same as the ``taskcancel`` command."""

import sys

from .cli import main

sys.exit(main())
