"""``python -m rtstyle.cli``: the ``rtstyle`` command."""
from . import main

raise SystemExit(main())
