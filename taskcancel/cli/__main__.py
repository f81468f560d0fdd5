"""``python -m taskcancel.cli``: the same as the ``taskcancel`` command."""

import sys

from . import main

sys.exit(main())
