"""``python -m mi``: the ``mi`` command line."""

import sys

from mi.tools.cli import main

sys.exit(main())
