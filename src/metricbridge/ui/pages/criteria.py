"""Success criteria: the agreement, its verdicts with their certainty, the chosen threshold, the map."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from metricbridge import charts, views
from metricbridge.criteria import (
    OUTCOME,
    TEST_SET,
    THRESHOLD_FREE,
    Criteria,
    criteria_to_yaml,
    differences,
    load_criteria,
    next_version,
    parse_criteria,
)
from metricbridge.errors import MetricBridgeError
from metricbridge.judge import CriteriaResult
from metricbridge.narrative import amount
from metricbridge.ui import charting, state, store_state, widgets

_BADGE = {"pass": ":green-badge[pass]", "fail": ":red-badge[fail]", "uncertain": ":orange-badge[uncertain]"}


def _loader() -> None:
    uploaded = st.file_uploader("Load a criteria file (YAML)", type=["yaml", "yml"], key="criteria_file")
    if uploaded is not None and st.session_state.get("criteria_file_loaded") != uploaded.file_id:
        st.session_state["criteria_file_loaded"] = uploaded.file_id
        try:
            text = uploaded.getvalue().decode("utf-8", "replace")
            criteria = load_criteria(uploaded.name, text=text)
            project = store_state.selected_project()
            if project:  # every version seen is kept, and a changed file under an old number is refused
                store_state.store().keep_criteria(project, name=criteria.name, version=criteria.version,
                                                  text=criteria_to_yaml(criteria), agreed_by=criteria.agreed_by,
                                                  agreed_on=criteria.agreed_on)
            state.set_criteria(criteria, loaded=True)
        except MetricBridgeError as error:
            st.error(str(error))


def _agreement(criteria: Criteria) -> None:
    who = ", ".join(criteria.agreed_by) or "nobody yet"
    when = criteria.agreed_on.isoformat() if criteria.agreed_on else "not yet"
    st.markdown(f"**{criteria.name}** · version {criteria.version} · agreed by {who} on {when} · "
                f"{criteria.confidence:.0%} sure")
    if criteria.note:
        st.caption(criteria.note)


def _editor(criteria: Criteria, status_quo: list[str]) -> Criteria:
    key = f"cr{st.session_state[state.EDITS]}_"
    with st.expander("Edit the criteria"):
        rows = pd.DataFrame([{"metric": c.metric, "comparison": c.comparison, "bound": c.bound,
                              "relative_to": c.relative_to or ""} for c in criteria.criteria])
        table = st.data_editor(rows, num_rows="dynamic", key=key + "table", hide_index=True, column_config={
            "metric": st.column_config.SelectboxColumn(options=[*THRESHOLD_FREE, *TEST_SET, *OUTCOME],
                                                       required=True),
            "comparison": st.column_config.SelectboxColumn(options=["at_least", "at_most"], required=True),
            "bound": st.column_config.NumberColumn(required=True),
            "relative_to": st.column_config.SelectboxColumn(options=["", *status_quo])})
        left, right = st.columns(2)
        direction, metric = criteria.objective or ("maximize", "value" if status_quo else "f1")
        objective = left.selectbox("Objective", [f"{d} {m}" for d in ("maximize", "minimize")
                                                 for m in (*TEST_SET, *OUTCOME)],
                                   index=[f"{d} {m}" for d in ("maximize", "minimize")
                                          for m in (*TEST_SET, *OUTCOME)].index(f"{direction} {metric}"),
                                   key=key + "objective")
        confidence = right.slider("How sure must we be", 0.55, 0.99, float(criteria.confidence), 0.01,
                                  key=key + "confidence")
    entries = []
    for row in table.to_dict("records"):
        if not row.get("metric") or pd.isna(row.get("bound")):
            continue
        entry = {"metric": row["metric"], row.get("comparison") or "at_least": float(row["bound"])}
        if row.get("relative_to"):
            entry["relative_to"] = row["relative_to"]
        entries.append(entry)
    try:
        return parse_criteria({"name": criteria.name, "version": criteria.version,
                               "agreed_by": list(criteria.agreed_by), "agreed_on": criteria.agreed_on,
                               "note": criteria.note, "confidence": confidence, "objective": objective,
                               "criteria": entries}, source="the edited criteria")
    except MetricBridgeError as error:
        st.error(str(error))
        return criteria


def _verdicts(result: CriteriaResult) -> None:
    for verdict in result.verdicts:
        value = "n/a" if verdict.value is None else amount(verdict.value)
        line = (f"{_BADGE[verdict.verdict]} **{verdict.criterion.describe()}**: {value} against "
                f"{amount(verdict.target)}, holds in **{verdict.probability:.0%}** of resamples")
        if verdict.labels_needed:
            line += f" · about {verdict.labels_needed:,} more labelled items would settle it"
        st.markdown(line)


def _choice(result: CriteriaResult) -> None:
    choice = result.choice
    if choice.chosen is not None:
        spread = (f"; across resamples it would lie between {choice.spread[0]:.4g} and {choice.spread[1]:.4g}"
                  if choice.spread else "")
        st.success(f"Chosen threshold: {choice.chosen:.4g}, the best objective where every criterion passes and "
                   f"the work fits the capacity{spread}.")
    else:
        st.warning(f"No threshold meets every criterion; the closest is {choice.closest:.4g}. "
                   + " ".join(choice.blocking))


def _versions(agreement: state.Agreement) -> None:
    changes = differences(agreement.loaded, agreement.current)
    st.subheader(f"Changes since version {agreement.loaded.version}")
    if not changes:
        st.caption("The targets are as agreed.")
        return
    st.markdown("\n".join(f"- {change}" for change in changes))
    who = st.text_input("Agreed by (comma separated)", key="criteria_agreed_by")
    agreed_by = tuple(name.strip() for name in who.split(",") if name.strip())
    if agreed_by:
        new = next_version(agreement.current, started_from=agreement.loaded, agreed_by=agreed_by,
                           today=dt.date.today())
        widgets.download(f"Download version {new.version} (YAML)", lambda: criteria_to_yaml(new),
                         file_name=f"criteria_v{new.version}.yaml", mime="application/x-yaml")
    else:
        st.caption("Changing targets makes a new version: say who agreed to download it.")


def _history(criteria: Criteria) -> None:
    """Every version of these criteria kept in the selected project, and the difference between any two."""
    project = store_state.selected_project()
    try:  # no project chosen: no database is opened (nor created) just to look at the criteria
        kept = store_state.read(store_state.store(), "criteria_versions", project) if project else []
        versions = [v for v in kept if v["name"] == criteria.name]
    except MetricBridgeError as error:
        st.caption(f"Version history unavailable: {error}")
        return
    if not versions:
        st.caption("Versions are kept once a run judged under them is saved in a project (Projects and runs).")
        return
    st.dataframe(pd.DataFrame([{"version": v["version"], "agreed by": ", ".join(v["agreed_by"]),
                                "agreed on": v["agreed_on"], "kept on": v["created_at"]} for v in versions]),
                 hide_index=True)
    numbers = [v["version"] for v in versions]
    if len(numbers) >= 2:
        left, right = st.columns(2)
        older = left.selectbox("Compare version", numbers, index=len(numbers) - 2, key="history_old")
        newer = right.selectbox("with version", numbers, index=len(numbers) - 1, key="history_new")
        texts = {v["version"]: v["yaml"] for v in versions}
        changes = differences(load_criteria("old", text=texts[older]), load_criteria("new", text=texts[newer]))
        st.markdown("\n".join(f"- {change}" for change in changes) or "No differences.")


def render() -> None:
    st.title("Success criteria")
    report = widgets.loaded_report()
    if report is None:
        return
    _loader()
    agreement = state.current_agreement()
    if agreement is None:
        st.info("Load a criteria file to judge the model against targets agreed up front.")
        return
    _agreement(agreement.current)
    state.set_criteria(_editor(agreement.current, [sq.name for sq in report.status_quo]))
    agreement = state.current_agreement() or agreement
    name = widgets.pick_model(report)
    threshold = widgets.threshold_control(report, name)
    state.sync_url()
    judged = widgets.verdicts(report, name, threshold=threshold)
    widgets.settle_threshold(threshold, state.chosen(report, name, wait=False))
    if st.session_state.get(state.CRITERIA_ERROR) or name not in judged.verdicts:
        st.error(st.session_state.get(state.CRITERIA_ERROR) or "These criteria cannot be judged here.")
        return
    result = judged.verdicts[name]
    st.markdown(("### :green[Met]" if result.met else "### :red[Not met]") + f" at threshold {result.threshold:.4g}")
    _verdicts(result)
    _choice(result)
    st.subheader("Which operating points would meet every criterion")
    grid, places = views.feasibility(judged, agreement.current, name)
    charting.show(charts.feasibility_chart(grid, places=places, model=state.view(views.deployment_pr, report, name)))
    st.caption("Each square is a possible operating point at the deployment's prevalence; the diamonds are "
               "today's status quos and the black line this model. Criteria on AUC or Brier are not part of it.")
    _versions(agreement)
    st.subheader("Version history")
    _history(agreement.current)
