"""The command line: ``metricbridge evaluate FILE ...``, ``metricbridge runs list|show|compare``, ``metricbridge app``.

Exit codes: 0 ok (criteria met), 1 criteria not met (a fail or an uncertain verdict), 2 bad input (the message
on stderr says what and how to fix it), 3 internal error (one line: what failed, where the traceback was
written and how to report it; the traceback itself with ``--debug`` or ``METRICBRIDGE_DEBUG=1``). A gate in CI
can tell a NO-GO (1) from a crash (3).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from metricbridge.errors import MetricBridgeError, debugging, internal_error_line
from metricbridge.limits import DEFAULT_RESAMPLES, LIMITS

if TYPE_CHECKING:  # each command imports what it uses: evaluating a file loads no chart or store code
    from metricbridge.counts import ScoreCounts
    from metricbridge.criteria import Criteria
    from metricbridge.evaluate import EvaluationReport
    from metricbridge.loading import Predictions
    from metricbridge.loading.builders import CountingRequest
    from metricbridge.scenario import Scenario
    from metricbridge.segments import SegmentReport

__all__ = ["main", "run", "build_parser"]

EXIT_OK, EXIT_CRITERIA_NOT_MET, EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR = 0, 1, 2, 3
IN_PLACE_BYTES = 1 << 30  # sources.local.IN_PLACE_BYTES, named here to keep help cheap (a test holds them equal)
DEFAULT_BINS = 10_000  # loading.builders.DEFAULT_BINS (a test holds them equal); named here to keep help cheap


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _whole(text: str, what: str, low: int, high: int) -> int:
    """A whole number in [low, high] for ``what``, or an argparse error that says the range."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{what} must be a whole number, not {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"{what} must be from {low:,} to {high:,} (limits.{what.split()[0]}), "
                                         f"not {value:,}")
    return value


def _bins(text: str) -> int:
    return _whole(text, "bins", 2, LIMITS.bins)


def _resamples(text: str) -> int:
    return _whole(text, "resamples", 2, LIMITS.resamples)


def _seed(text: str) -> int:
    return _whole(text, "seed", 0, LIMITS.seed)


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"the threshold must be a number, not {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"the threshold must be a finite number, not {text!r}")
    return value


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="project database (default: $METRICBRIDGE_DB, else one in your data directory)")


def _source_options(parser: argparse.ArgumentParser, holding: str) -> None:
    """The file argument and --in-place, for every command that reads predictions."""
    parser.add_argument("file", type=Path, help=f"CSV or Parquet file of {holding}; also a folder of Parquet "
                                                "parts, a quoted glob ('parts/*.parquet') or DB.duckdb:TABLE, read "
                                                "in place")
    parser.add_argument("--in-place", action="store_true",
                        help="read the file where it is, out of core, instead of loading it (automatic for "
                             f"folders, globs, DuckDB tables and files over {IN_PLACE_BYTES >> 30} GiB)")


def _evaluation_options(parser: argparse.ArgumentParser) -> None:
    """The options of every command that evaluates a file (evaluate, report, flag)."""
    _source_options(parser, "labels and scores")
    parser.add_argument("--label", help="label column (guessed when not given)")
    parser.add_argument("--score", action="append", default=[], metavar="COL",
                        help="score column; repeat for several models (default: every column that looks like one)")
    parser.add_argument("--positive", metavar="VALUE", help="label value of the positive class")
    parser.add_argument("--weight", metavar="COL", help="column of row weights (items a row stands for)")
    parser.add_argument("--id", metavar="COL", help="column of item ids")
    parser.add_argument("--threshold", type=_threshold, metavar="T",
                        help="flag items with score >= T (default: chosen against the criteria, else the scenario's "
                             "best, else 0.5)")
    parser.add_argument("--bins", type=_bins, metavar="N",
                        help=f"count scores in N bins (fast, for large files; automatic above 100,000 "
                             f"distinct scores with {DEFAULT_BINS:,} bins)")
    parser.add_argument("--exact", action="store_true", help="count every distinct score, however many")
    parser.add_argument("--drop-missing", action="store_true", help="drop rows with a missing label or score")
    parser.add_argument("--scenario", type=Path, metavar="S.yaml",
                        help="scenario file: outcomes per period, best threshold, status quo")
    parser.add_argument("--criteria", type=Path, metavar="C.yaml",
                        help="success criteria: verdicts, the threshold chosen against them; exit 1 unless met")
    parser.add_argument("--bootstrap", type=_resamples, default=DEFAULT_RESAMPLES, metavar="N",
                        help=f"bootstrap resamples for the verdicts (default {DEFAULT_RESAMPLES:,}, "
                             f"at most {LIMITS.resamples:,})")
    parser.add_argument("--seed", type=_seed, default=0, metavar="K", help="bootstrap seed, 0 or more (default 0)")


def _segment_options(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """--segment (repeatable) and --min-items, on every command that judges segments (segments, evaluate, report)."""
    parser.add_argument("--segment", action="append", required=required, default=None if required else [],
                        metavar="COL", help="a column whose values are segments, each judged on its own at the "
                                            "model's threshold; repeat for several")
    parser.add_argument("--min-items", type=int, default=100, metavar="N",
                        help="segments with fewer rows are 'too few items', not judged (default 100)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="metricbridge", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--debug", action="store_true",
                        help="on an internal error, print the traceback (also METRICBRIDGE_DEBUG=1)")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    evaluate = commands.add_parser("evaluate", help="metrics of every model in a predictions file")
    _evaluation_options(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    _segment_options(evaluate, required=False)
    evaluate.add_argument("--model", metavar="COL",
                          help="the model whose segments are judged (default: the first score column)")
    evaluate.add_argument("--spark", action="store_true",
                          help="count with a local Spark session (pip install 'metricbridge[spark]', Java 17+): the "
                               "same figures; name --label and --score")
    evaluate.add_argument("--save", action="store_true", help="keep this evaluation as a run of --project")
    evaluate.add_argument("--project", metavar="NAME", help="the project to save the run in")
    evaluate.add_argument("--run", metavar="NAME", help="the run's name (default: the file name)")
    evaluate.add_argument("--note", metavar="TEXT", help="a note kept with the run")
    evaluate.add_argument("--who", metavar="NAME", help="who saves it (default: the login name)")
    _db_option(evaluate)
    report = commands.add_parser("report", help="a self-contained HTML report (opens offline)")
    _evaluation_options(report)
    report.add_argument("-o", "--output", type=Path, required=True, metavar="report.html")
    report.add_argument("--model", metavar="COL", help="the model to report on (default: the first score column)")
    _segment_options(report, required=False)
    flag = commands.add_parser("flag", help="the work list: items the model flags, highest score first, as CSV")
    _evaluation_options(flag)
    flag.add_argument("-o", "--output", type=Path, required=True, metavar="worklist.csv")
    flag.add_argument("--model", metavar="COL", help="the score column to flag by (default: the first)")
    segments = commands.add_parser("segments", help="figures and verdicts per segment, failing segments first")
    _evaluation_options(segments)
    _segment_options(segments, required=True)
    segments.add_argument("--model", metavar="COL", help="the score column to judge (default: the first)")
    segments.add_argument("--per-segment-thresholds", action="store_true",
                          help="also one threshold per segment, chosen together under the scenario's capacity (else "
                               "the single threshold's actions), with what each costs and gains")
    segments.add_argument("--json", action="store_true",
                          help="print one JSON object instead of a summary (one --segment: its report; several: "
                               "'segments' keyed by column)")
    watch = commands.add_parser("monitor", help="the criteria window by window, drift, estimates before labels")
    _source_options(watch, "scores (labels where they have arrived)")
    watch.add_argument("--time", required=True, metavar="COL", help="the column of dates or timestamps")
    watch.add_argument("--window", choices=WINDOWS, default="week", help="the length of a window (default week)")
    watch.add_argument("--threshold", type=_threshold, metavar="T",
                       help="the agreed threshold (required unless --reference is a saved run)")
    watch.add_argument("--reference", metavar="REF",
                       help="what to compare with: a labelled file, or a saved run's id (its rows; its threshold when "
                            "--threshold is not given); default: the first four labelled windows")
    _db_option(watch)
    watch.add_argument("--label", help="label column (guessed when not given); empty where labels are pending")
    watch.add_argument("--score", metavar="COL", help="the score column (default: the first)")
    watch.add_argument("--positive", metavar="VALUE", help="label value of the positive class")
    watch.add_argument("--weight", metavar="COL", help="column of row weights")
    watch.add_argument("--scenario", type=Path, metavar="S.yaml")
    watch.add_argument("--criteria", type=Path, metavar="C.yaml")
    watch.add_argument("--bootstrap", type=_resamples, default=DEFAULT_RESAMPLES, metavar="N")
    watch.add_argument("--seed", type=_seed, default=0, metavar="K")
    watch.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    runs = commands.add_parser("runs", help="the runs kept in the project database")
    run_commands = runs.add_subparsers(dest="runs_command", required=True, parser_class=_Parser)
    listing = run_commands.add_parser("list", help="one line per run")
    listing.add_argument("--project", metavar="NAME")
    listing.add_argument("--json", action="store_true")
    _db_option(listing)
    show = run_commands.add_parser("show", help="one run's figures, verdicts and decisions")
    show.add_argument("run", metavar="RUN", help="a run id (or its first characters)")
    show.add_argument("--json", action="store_true")
    _db_option(show)
    compare = run_commands.add_parser("compare", help="two or more runs side by side")
    compare.add_argument("runs", metavar="RUN", nargs="+", help="run ids (or their first characters)")
    compare.add_argument("--json", action="store_true")
    _db_option(compare)
    app = commands.add_parser("app", help="open the metricbridge app in the browser")
    app.add_argument("--port", type=int, default=8501)
    _db_option(app)
    return parser


def _evaluated(args: argparse.Namespace) -> tuple[EvaluationReport, Scenario | None, Criteria | None]:
    _, report, scenario, criteria = _evaluation(args)
    return report, scenario, criteria


def _evaluation(args: argparse.Namespace) -> tuple[Predictions, EvaluationReport, Scenario | None, Criteria | None]:
    """The file loaded once and evaluated: its predictions are kept, so segments are counted without reading the
    file again. Segment columns (``--segment``) must exist and are never guessed as scores."""
    from metricbridge.criteria import load_criteria
    from metricbridge.evaluate import evaluate_predictions, scenario_columns
    from metricbridge.scenario import load_scenario

    if args.exact and args.bins:
        raise MetricBridgeError("choose --exact or --bins, not both.")
    mode: CountingRequest = "exact" if args.exact else "binned" if args.bins else "auto"
    scenario = load_scenario(args.scenario) if args.scenario else None
    criteria = load_criteria(args.criteria) if args.criteria else None
    if criteria is not None:
        criteria.check(scenario)  # before any counting: a criteria file that cannot be judged is bad input
    segments = getattr(args, "segment", None) or []
    options = {"label": args.label, "scores": args.score, "positive": args.positive, "weight": args.weight,
               "id": args.id, "drop_missing": args.drop_missing, "exclude": (*scenario_columns(scenario), *segments)}
    predictions = _predictions(args, **options)
    for column in segments:  # before any counting: a segment column the file lacks is bad input
        predictions.require_column(column, "segment")
    report = evaluate_predictions(predictions, threshold=args.threshold, mode=mode, bins=args.bins or DEFAULT_BINS,
                                  scenario=scenario, criteria=criteria, resamples=args.bootstrap, seed=args.seed,
                                  preview_rows=0)  # no command shows the preview (and it would need pandas)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return predictions, report, scenario, criteria


def _predictions(args: argparse.Namespace, **options: Any) -> Predictions:
    """``args.file`` read in place (out of core) or loaded, with the loader's ``options``."""
    if _in_place(args):
        from metricbridge.sources import open_source

        return open_source(str(args.file), **options)
    from metricbridge.loading import load_predictions

    return load_predictions(args.file, **options)


def _in_place(args: argparse.Namespace) -> bool:
    """Whether to read the data where it is (metricbridge.sources): asked for, or not a plain file to load (a
    folder, a glob, DB.duckdb:TABLE), or a file too large to load."""
    from metricbridge.sources.local import reads_in_place

    return bool(args.in_place) or reads_in_place(args.file)


def _spark_evaluation(args: argparse.Namespace) -> tuple[EvaluationReport, Scenario | None, Criteria | None]:
    """``evaluate --spark``: the file (Parquet, a folder of parts, or CSV) read by a local Spark session and
    counted there; the same JSON as the local path."""
    from metricbridge.criteria import load_criteria
    from metricbridge.scenario import load_scenario
    from metricbridge.sources.spark import evaluate_spark, local_session

    if not args.label or not args.score:
        raise MetricBridgeError("--spark needs the columns named: --label COL and --score COL (repeat for several "
                                "models); Spark data are not guessed from.")
    if args.exact and args.bins:
        raise MetricBridgeError("choose --exact or --bins, not both.")
    scenario = load_scenario(args.scenario) if args.scenario else None
    criteria = load_criteria(args.criteria) if args.criteria else None
    if criteria is not None:
        criteria.check(scenario)
    path = str(args.file)
    session = local_session()
    reader = session.read.option("header", True).option("inferSchema", True)
    frame = reader.csv(path) if path.endswith((".csv", ".tsv", ".txt")) else reader.parquet(path)
    report = evaluate_spark(frame, name=Path(path).name, label=args.label, scores=args.score,
                            positive=args.positive, weight=args.weight, id=args.id, drop_missing=args.drop_missing,
                            threshold=args.threshold, mode="exact" if args.exact else "binned" if args.bins else "auto",
                            bins=args.bins or DEFAULT_BINS, scenario=scenario, criteria=criteria,
                            resamples=args.bootstrap, seed=args.seed)
    return report, scenario, criteria


def _model(report: EvaluationReport, name: str | None) -> str:
    names = [m.name for m in report.models]
    if name is not None and name not in names:
        raise MetricBridgeError(f"--model {name!r} is not a score column evaluated; choose one of: {', '.join(names)}.")
    return name or names[0]


def _report(args: argparse.Namespace) -> int:
    from metricbridge.report import html_report

    predictions, report, scenario, criteria = _evaluation(args)
    name = _model(report, args.model)
    segments = [judged for _, judged in
                _judge_segments(args, predictions, report, scenario, criteria, name).values()] if args.segment else []
    args.output.write_text(html_report(report, name, segments=segments), encoding="utf-8")
    print(f"wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def _flag(args: argparse.Namespace) -> int:
    from metricbridge.export import safe_csv
    from metricbridge.loading import load_predictions

    report, _, _ = _evaluated(args)
    model = report.model(_model(report, args.model))
    items = load_predictions(args.file, label=args.label, scores=[model.name], positive=args.positive,
                             weight=args.weight, id=args.id, drop_missing=args.drop_missing).flagged(
        model.name, model.threshold)
    args.output.write_bytes(safe_csv(items))
    print(f"wrote {len(items):,} items flagged at threshold {model.threshold:.6g} to {args.output}", file=sys.stderr)
    return EXIT_OK


def _judge_segments(args: argparse.Namespace, predictions: Predictions, report: EvaluationReport,
                    scenario: Scenario | None, criteria: Criteria | None,
                    model_name: str) -> dict[str, tuple[ScoreCounts, SegmentReport]]:
    """Each --segment column's counts and report at the model's threshold (the one evaluate uses): the loaded
    file counted once per column, as the model was (same mode and bins, the threshold an edge)."""
    from metricbridge.judge import decision_columns
    from metricbridge.segments import segment_report

    model = report.model(model_name)
    overall = report.verdicts.get(model.name) if criteria is not None else None
    judged = {}
    for column in dict.fromkeys(args.segment):  # a column named twice is judged once
        counts = predictions.counts(model.name, mode=model.counts.mode, bins=model.counts.bins or DEFAULT_BINS,
                                    keys=[column], sums=scenario.value_columns if scenario else (),
                                    decisions=decision_columns(scenario),
                                    edges_at=(model.threshold,) if math.isfinite(model.threshold) else ())
        judged[column] = counts, segment_report(counts, column, threshold=model.threshold, criteria=criteria,
                                                scenario=scenario, resamples=args.bootstrap, seed=args.seed,
                                                min_items=args.min_items, overall=overall)
    return judged


def _segments_short(reports: Sequence[SegmentReport]) -> bool:
    """Whether a segment fails its criteria or is uncertain (exit 1 when criteria were given)."""
    from metricbridge.segments import FAIL, UNCERTAIN

    return any(r.status in (FAIL, UNCERTAIN) for report in reports for r in report.results)


def _segments_text(model: str, report: SegmentReport) -> list[str]:
    """The sentences, failing segments first, then the warning (once) when overall and segments disagree."""
    lines = [f"{model} at threshold {report.threshold:.6g}, by {report.key!r}:"]
    lines += [f"- {sentence}" for sentence in report.sentences() if sentence != report.warning]
    return lines + ([f"warning: {report.warning}"] if report.warning else [])


def _capacity_plan(counts: ScoreCounts, column: str, scenario: Scenario | None,
                   threshold: float) -> tuple[dict[str, Any], list[str]]:
    from metricbridge.present import shared_capacity

    shared = shared_capacity(counts, column, scenario=scenario, threshold=threshold)
    return shared.entry, shared.lines


def _segments(args: argparse.Namespace) -> int:
    """Every segment of each --segment column at the model's threshold (the one evaluate uses), and with
    --per-segment-thresholds one threshold per segment under the shared capacity: exit 1 when criteria are given
    and a segment fails them or is uncertain."""
    predictions, report, scenario, criteria = _evaluation(args)
    name = _model(report, args.model)
    judged = _judge_segments(args, predictions, report, scenario, criteria, name)
    entries: dict[str, dict[str, Any]] = {}
    lines: list[str] = []
    for column, (counts, segments) in judged.items():
        entries[column] = segments.to_dict() | {"model": name}
        lines += ["", *_segments_text(name, segments)] if lines else _segments_text(name, segments)
        if args.per_segment_thresholds:
            entries[column]["per_segment_thresholds"], plan_lines = _capacity_plan(counts, column, scenario,
                                                                                  segments.threshold)
            lines += ["", *plan_lines]
    if args.json:
        threshold = report.model(name).threshold
        whole = (next(iter(entries.values())) if len(entries) == 1 else  # one column: its report, as it always was
                 {"model": name, "threshold": threshold if math.isfinite(threshold) else None, "segments": entries})
        print(json.dumps(whole, allow_nan=False))
    else:
        print("\n".join(lines))
    if criteria is not None and _segments_short([segments for _, segments in judged.values()]):
        return EXIT_CRITERIA_NOT_MET
    return EXIT_OK


WINDOWS = ("day", "week", "month")  # metricbridge.monitor.WINDOWS, not imported: the parser loads no numpy


def _monitor(args: argparse.Namespace) -> int:
    """Exit 1 when a criterion turned from pass, the latest window does not pass, or its scores drifted."""
    from metricbridge.criteria import load_criteria
    from metricbridge.judge import decision_columns
    from metricbridge.loading import load_predictions
    from metricbridge.monitor import count_windows, monitor
    from metricbridge.scenario import load_scenario

    scenario = load_scenario(args.scenario) if args.scenario else None
    criteria = load_criteria(args.criteria) if args.criteria else None
    if criteria is not None:
        criteria.check(scenario)
    options = {"label": args.label, "scores": [args.score] if args.score else [], "positive": args.positive,
               "weight": args.weight}
    predictions = _predictions(args, labels_pending=True, **options)
    score = predictions.scores[0]
    windowed = count_windows(predictions, score, args.time, args.window,
                             sums=scenario.value_columns if scenario else (), decisions=decision_columns(scenario))
    reference, threshold = None, args.threshold
    if args.reference:
        path, run_threshold = _reference(args)
        threshold = threshold if threshold is not None else run_threshold
        reference = load_predictions(path, scores=[score], **{k: v for k, v in options.items()
                                                               if k != "scores"}).counts(score)
    if threshold is None:
        raise MetricBridgeError("monitor needs the agreed threshold: give --threshold T, or --reference RUN_ID of "
                                "a saved run whose threshold was decided.")
    report = monitor(windowed.counts, "window", threshold=threshold, labelled=lambda w: w in windowed.labelled,
                     criteria=criteria, scenario=scenario, reference=reference, resamples=args.bootstrap,
                     seed=args.seed, name=windowed.name)
    if args.json:
        print(json.dumps(report.to_dict(), allow_nan=False))
    else:
        print(_monitor_table(report))
    return EXIT_CRITERIA_NOT_MET if report.alerted or report.latest_short else EXIT_OK


def _reference(args: argparse.Namespace) -> tuple[Path, float | None]:
    """The reference's file, and its threshold when it is a saved run (the latest decision's): a path that
    exists is a file, anything else a run id (or its start) in the project database."""
    import tempfile

    from metricbridge.store import Store

    path = Path(args.reference)
    if path.exists():
        return path, None
    store = Store(args.db) if args.db else Store()
    try:
        run = store.run(args.reference)
    except MetricBridgeError as error:
        raise MetricBridgeError(f"--reference {args.reference!r} is neither a file nor a saved run: {error}") from error
    decided = [d["threshold"] for d in store.decisions(run.id) if d["threshold"] is not None]
    folder = Path(tempfile.gettempdir()) / "metricbridge-references"
    folder.mkdir(exist_ok=True)
    return store.export_dataset(run.dataset_hash, folder), (float(decided[-1]) if decided else None)


def _monitor_table(report: Any) -> str:
    lines = [f"{'window':<18} {'rows':>8} {'labels':<9} {'recall':>7} {'precision':>9} {'flag rate':>9} "
             f"{'PSI':>6}  verdicts"]
    for w in report.windows:
        f = w.figures
        lines.append(f"{w.label:<18} {w.rows:>8,} {'yes' if w.labelled else 'pending':<9} {f['recall']:>7.3f} "
                     f"{f['precision']:>9.3f} {f['flag_rate']:>9.3%} {w.drift.psi:>6.3f}  "
                     + "; ".join(f"{c}: {v}" for c, v in w.verdicts.items()))
    warned = {w.estimate.warning for w in report.windows if w.estimate is not None and w.estimate.warning}
    lines += [f"reference: {report.reference}", *(f"warning: {w}" for w in sorted(warned)),
              *(f"alert: {a}" for a in report.alerts), report.latest()]
    return "\n".join(lines)


def _evaluate(args: argparse.Namespace) -> int:
    from metricbridge.narrative import report_text

    if args.save and not Path(args.file).is_file():
        raise MetricBridgeError(f"--save keeps the data with the run, so it needs one file, not {str(args.file)!r}: "
                                "evaluate it without --save, or save a file of its rows.")
    if args.spark:
        if args.segment:
            raise MetricBridgeError("--segment is not available with --spark yet: count segments locally "
                                    "(metricbridge segments FILE --segment COL reads folders in place).")
        report, scenario, criteria = _spark_evaluation(args)
        name, segments = _model(report, args.model), {}
    else:
        predictions, report, scenario, criteria = _evaluation(args)
        name = _model(report, args.model)
        # segments are judged before anything is saved or printed: a bad segment column is bad input
        judged_columns = _judge_segments(args, predictions, report, scenario, criteria, name) if args.segment else {}
        segments = {column: judged for column, (_, judged) in judged_columns.items()}
    if args.save:
        ids = _save(args, report, scenario, criteria)
        print(f"saved {len(ids)} run{'s' if len(ids) > 1 else ''} in project {args.project!r}: "
              f"{', '.join(i[:8] for i in ids)}", file=sys.stderr)
    if args.json:
        whole = report.to_dict()
        if segments:
            whole["segments"] = {column: judged.to_dict() | {"model": name} for column, judged in segments.items()}
        print(json.dumps(whole, allow_nan=False))
    else:
        print(report_text(report))
        for judged in segments.values():
            print("\n" + "\n".join(_segments_text(name, judged)))
    if criteria is not None and (not report.met or _segments_short(list(segments.values()))):
        return EXIT_CRITERIA_NOT_MET
    return EXIT_OK


def _save(args: argparse.Namespace, report: EvaluationReport, scenario: Scenario | None,
          criteria: Criteria | None) -> list[str]:
    from metricbridge.runs import save_report
    from metricbridge.store import Store

    if not args.project:
        raise MetricBridgeError("--save needs --project NAME: the project the run belongs to.")
    return save_report(Store(args.db), report, path=args.file, file_name=args.file.name, project=args.project,
                       run_name=args.run, note=args.note, who=args.who, scenario=scenario, criteria=criteria,
                       threshold_given=args.threshold is not None)


def _runs(args: argparse.Namespace) -> int:
    from metricbridge.store import Store

    store = Store(args.db)
    if args.runs_command == "list":
        runs = store.runs(args.project)
        if args.json:
            print(json.dumps([{"id": r.id, "project": r.project, "name": r.name, "model": r.model,
                               "created_at": r.created_at.isoformat(), "created_by": r.created_by,
                               "note": r.note, "met": r.summary.get("criteria", {}).get("met")} for r in runs]))
            return EXIT_OK
        for r in runs:
            met = r.summary.get("criteria", {}).get("met")
            verdict = "" if met is None else ("  criteria met" if met else "  criteria not met")
            print(f"{r.id[:8]}  {r.created_at:%Y-%m-%d %H:%M}  {r.project}  {r.name}{verdict}")
        if not runs:
            print("no runs yet: save one with `metricbridge evaluate FILE --save --project NAME`", file=sys.stderr)
        return EXIT_OK
    if args.runs_command == "compare":
        from metricbridge.narrative import compare_runs_text, run_figures  # numpy and pandas: only here

        if len(args.runs) < 2:
            raise MetricBridgeError("compare needs two or more runs.")
        chosen = [store.run(run_id) for run_id in args.runs]
        if args.json:
            print(json.dumps([{"id": r.id, "name": r.name, **run_figures(r.summary)} for r in chosen]))
        else:
            print(compare_runs_text([r.name for r in chosen], [r.summary for r in chosen]))
        return EXIT_OK
    run = store.run(args.run)
    decisions = store.decisions(run.id)
    if args.json:
        print(json.dumps({"id": run.id, "project": run.project, "name": run.name, "model": run.model,
                          "created_at": run.created_at.isoformat(), "created_by": run.created_by,
                          "note": run.note, "summary": run.summary,
                          "decisions": [d | {"created_at": d["created_at"].isoformat()} for d in decisions]},
                         allow_nan=False))
        return EXIT_OK
    summary = run.summary
    print(f"{run.name} ({run.id[:8]}) in {run.project}, saved {run.created_at:%Y-%m-%d %H:%M} by {run.created_by}")
    if run.note:
        print(f"Note: {run.note}")
    print(f"{run.model}: ROC AUC {summary.get('roc_auc')}, threshold {summary.get('threshold')}")
    at = summary.get("at_threshold", {})
    print(f"  caught {at.get('tp')}, false alarms {at.get('fp')}, missed {at.get('fn')}")
    for decision in decisions:
        print(f"Decision: threshold {decision['threshold']} by {decision['decided_by']}: {decision['rationale']}")
    return EXIT_OK


def _app(args: argparse.Namespace) -> int:
    entry = Path(__file__).parent / "ui" / "entry.py"
    command = [sys.executable, "-m", "streamlit", "run", str(entry), "--server.port", str(args.port)]
    environment = os.environ | ({"METRICBRIDGE_DB": str(args.db)} if args.db else {})
    return subprocess.call(command, env=environment)


def run() -> NoReturn:
    """The ``metricbridge`` command: :func:`main`, then out at once. Everything the command wrote is flushed
    and every file and database it opened is closed by then, so the interpreter's teardown (freeing an
    in-memory table of millions of rows one object at a time, a tenth of a second) is skipped."""
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        commands = {"evaluate": _evaluate, "report": _report, "flag": _flag, "segments": _segments, "monitor": _monitor,
                    "runs": _runs,
                    "app": _app}
        return commands[args.command](args)
    except MetricBridgeError as error:
        print(f"metricbridge: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # a bug: one line for the user, the traceback kept for the report
        print(internal_error_line(error, debug=args.debug or debugging()), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
