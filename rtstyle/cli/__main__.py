"""``python -m rtstyle.cli``: the ``rtstyle`` command."""
import sys

from . import main

sys.exit(main())
