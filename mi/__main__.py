"""``python -m mi``: the ``mi`` command line."""

import sys

from mi.cli import main

sys.exit(main())
