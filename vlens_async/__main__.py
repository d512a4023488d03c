"""``python -m vlens_async`` is the ``vlens`` command."""

import sys

from .cli import main

sys.exit(main())
