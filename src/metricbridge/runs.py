"""Keep an evaluation as runs of a project (the CLI's --save and the app's "save as a run")."""

from __future__ import annotations

from pathlib import Path

from metricbridge.criteria import Criteria, criteria_to_yaml
from metricbridge.evaluate import EvaluationReport
from metricbridge.narrative import go_no_go
from metricbridge.scenario import Scenario, scenario_to_yaml
from metricbridge.store import Store

__all__ = ["save_report"]


def save_report(store: Store, report: EvaluationReport, *, path: str | Path, file_name: str, project: str,
                run_name: str | None = None, note: str | None = None, who: str | None = None,
                scenario: Scenario | None = None, criteria: Criteria | None = None,
                threshold_given: bool = False) -> list[str]:
    """One run per model, with the dataset, the scenario and criteria versions it used, and the decision
    (the threshold and why) for each; returns the run ids."""
    scenario = scenario or report.scenario
    if criteria is None and report.verdicts:
        criteria = next(iter(report.verdicts.values())).criteria
    decisions = []
    for model in report.models:
        if model.name in report.verdicts:
            rationale = go_no_go(model.name, report.verdicts[model.name]).strip()
        elif threshold_given:
            rationale = "threshold given by hand"
        else:
            rationale = "the scenario's best threshold" if scenario else "the default threshold"
        decisions.append((model.threshold, rationale))
    columns = {"label": report.data.label, "positive": report.data.positive, "weight": report.data.weight,
               "id": report.data.id, "scores": list(report.data.scores)}
    return store.save_runs(
        project=project, path=path, file_name=file_name, models=report.to_dict()["models"], columns=columns,
        run_name=run_name, note=note, who=who,
        scenario=(scenario.name, scenario_to_yaml(scenario)) if scenario else None,
        criteria=(criteria.name, criteria.version, criteria_to_yaml(criteria), criteria.agreed_by,
                  criteria.agreed_on) if criteria else None,
        decisions=decisions)
