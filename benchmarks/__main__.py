"""Entry point: ``python -m benchmarks [--quick] [--models ...] [--output DIR]``."""

import sys

from benchmarks.run import main

sys.exit(main())
