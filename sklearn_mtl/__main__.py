"""``python -m sklearn_mtl`` runs the ``sklearn-mtl`` command."""

import sys

from .cli import main

sys.exit(main())
