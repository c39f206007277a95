"""``python -m sklearn_mtl.cli`` runs the ``sklearn-mtl`` command (as it did when cli was a module)."""

import sys

from . import main

sys.exit(main())
