"""``python -m metricbridge`` is the ``metricbridge`` command."""

from metricbridge.cli import run

run()
