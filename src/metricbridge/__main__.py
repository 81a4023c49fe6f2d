"""``python -m metricbridge`` is the ``metricbridge`` command."""

import sys

from metricbridge.cli import main

sys.exit(main())
