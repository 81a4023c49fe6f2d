"""The command line: ``metricbridge evaluate FILE ...`` and ``metricbridge app``.

Exit codes: 0 ok, 1 criteria not met (later stages), 2 bad input (message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from metricbridge.criteria import load_criteria
from metricbridge.errors import MetricBridgeError
from metricbridge.evaluate import evaluate_file
from metricbridge.loading import DEFAULT_BINS
from metricbridge.loading.builders import CountingRequest
from metricbridge.narrative import report_text
from metricbridge.scenario import load_scenario
from metricbridge.uncertainty import DEFAULT_RESAMPLES

__all__ = ["main", "build_parser"]

EXIT_OK, EXIT_CRITERIA_NOT_MET, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"needs at least 2 bins, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metricbridge", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    evaluate = commands.add_parser("evaluate", help="metrics of every model in a predictions file")
    evaluate.add_argument("file", type=Path, help="CSV or Parquet file of labels and scores")
    evaluate.add_argument("--label", help="label column (guessed when not given)")
    evaluate.add_argument("--score", action="append", default=[], metavar="COL",
                          help="score column; repeat for several models (default: every column that looks like one)")
    evaluate.add_argument("--positive", metavar="VALUE", help="label value of the positive class")
    evaluate.add_argument("--weight", metavar="COL", help="column of row weights (items a row stands for)")
    evaluate.add_argument("--id", metavar="COL", help="column of item ids")
    evaluate.add_argument("--threshold", type=float, metavar="T", help="flag items with score >= T (default 0.5)")
    evaluate.add_argument("--bins", type=_positive_int, metavar="N",
                          help=f"count scores in N bins (fast, for large files; automatic above 100,000 "
                               f"distinct scores with {DEFAULT_BINS:,} bins)")
    evaluate.add_argument("--exact", action="store_true", help="count every distinct score, however many")
    evaluate.add_argument("--drop-missing", action="store_true", help="drop rows with a missing label or score")
    evaluate.add_argument("--scenario", type=Path, metavar="S.yaml",
                          help="scenario file: outcomes per period, best threshold, status quo")
    evaluate.add_argument("--criteria", type=Path, metavar="C.yaml",
                          help="success criteria: verdicts, the threshold chosen against them; exit 1 unless met")
    evaluate.add_argument("--bootstrap", type=_positive_int, default=DEFAULT_RESAMPLES, metavar="N",
                          help=f"bootstrap resamples for the verdicts (default {DEFAULT_RESAMPLES:,})")
    evaluate.add_argument("--seed", type=int, default=0, metavar="K", help="bootstrap seed (default 0)")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    app = commands.add_parser("app", help="open the metricbridge app in the browser")
    app.add_argument("--port", type=int, default=8501)
    return parser


def _evaluate(args: argparse.Namespace) -> int:
    if args.exact and args.bins:
        raise MetricBridgeError("choose --exact or --bins, not both.")
    mode: CountingRequest = "exact" if args.exact else "binned" if args.bins else "auto"
    scenario = load_scenario(args.scenario) if args.scenario else None
    criteria = load_criteria(args.criteria) if args.criteria else None
    if criteria is not None:
        criteria.check(scenario)  # before any counting: a criteria file that cannot be judged is bad input
    report = evaluate_file(args.file, label=args.label, scores=args.score, positive=args.positive,
                           weight=args.weight, id=args.id, drop_missing=args.drop_missing,
                           threshold=args.threshold, mode=mode, bins=args.bins or DEFAULT_BINS,
                           scenario=scenario, criteria=criteria, resamples=args.bootstrap, seed=args.seed)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(report_text(report))
    if criteria is not None and not report.met:
        return EXIT_CRITERIA_NOT_MET
    return EXIT_OK


def _app(args: argparse.Namespace) -> int:
    entry = Path(__file__).parent / "ui" / "entry.py"
    command = [sys.executable, "-m", "streamlit", "run", str(entry), "--server.port", str(args.port)]
    return subprocess.call(command)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _evaluate(args) if args.command == "evaluate" else _app(args)
    except MetricBridgeError as error:
        print(f"metricbridge: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
