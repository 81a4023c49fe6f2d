"""End to end in a real headless Chromium against `streamlit run app.py` (one server for the whole run).

Chromium is Debian's package (`apt-get install chromium`); Playwright drives it, as `playwright install` cannot
download a browser here. Without Chromium these tests skip, except under CI=true where they must run.
Screenshots are saved in each test's tmp dir.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from metricbridge.evaluate import evaluate_file
from tests.browser import CHROMIUM_ARGS, ROOT, chromium_path, streamlit_server

pytestmark = pytest.mark.browser
DEMO = ROOT / "data" / "fraud_transactions.parquet"
BAD = Path(__file__).parent / "data" / "bad"

if chromium_path() is None:
    message = "Chromium is not installed: `apt-get install chromium` (Debian) to run the browser tests"
    if os.environ.get("CI") == "true":
        raise RuntimeError(message + " (CI=true requires them)")
    pytest.skip(message, allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="session")
def database(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store") / "mb.duckdb"


@pytest.fixture(scope="session")
def server(tmp_path_factory, database) -> Iterator[str]:
    with streamlit_server(tmp_path_factory.mktemp("streamlit") / "server.log",
                          env={"METRICBRIDGE_DB": str(database)}) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 2200})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    context.close()


def demo_report():
    """What the app opens on: the fraud demo, its scenario and criteria (threshold chosen against them)."""
    from metricbridge.criteria import load_criteria
    from metricbridge.scenario import load_scenario

    return evaluate_file(DEMO, scenario=load_scenario(ROOT / "data" / "scenarios" / "demo_fraud.yaml"),
                         criteria=load_criteria(ROOT / "data" / "criteria" / "demo_fraud.yaml"))


def settle(page) -> None:
    """Wait until Streamlit has finished running the script (its status widget is gone)."""
    page.wait_for_selector("[data-testid='stApp']")
    page.wait_for_timeout(500)
    page.wait_for_function("!document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(300)


def metric_value(page, label: str) -> str:
    metric = page.locator("[data-testid='stMetric']").filter(has=page.get_by_text(label, exact=True)).first
    return metric.locator("[data-testid='stMetricValue']").inner_text().strip()


def test_the_demo_loads_on_the_home_page(page, server, tmp_path):
    page.goto(server)
    settle(page)
    page.get_by_text("Loaded: Card fraud review (demo)").first.wait_for()  # a rerun may briefly show two
    assert metric_value(page, "Rows") == "40,000"
    page.screenshot(path=tmp_path / "home.png", full_page=True)


def test_moving_the_threshold_changes_the_counts(page, server, tmp_path):
    page.goto(f"{server}/metrics")
    settle(page)
    report = demo_report()
    assert metric_value(page, "Caught") == f"{report.model('score_gbm').at_threshold['tp']:,.0f}"
    page.screenshot(path=tmp_path / "metrics_default.png")
    box = page.get_by_label("Exact threshold")
    box.fill("0.2")
    box.press("Enter")
    expected = report.at(0.2).model("score_gbm").at_threshold
    page.wait_for_function(
        "v => [...document.querySelectorAll('[data-testid=stMetricValue]')].some(e => e.innerText.trim() === v)",
        arg=f"{expected['fp']:,.0f}")
    settle(page)
    assert metric_value(page, "Caught") == f"{expected['tp']:,.0f}"
    assert metric_value(page, "False alarms") == f"{expected['fp']:,.0f}"
    assert re.search(r"threshold=0\.2\b", page.url)
    page.screenshot(path=tmp_path / "metrics_0.2.png")


def test_a_bad_upload_shows_the_specific_error(page, server, tmp_path):
    page.goto(f"{server}/data")
    settle(page)
    page.get_by_text("Upload a file").click()
    settle(page)
    page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(BAD / "text_in_score.csv")
    error = page.get_by_text(re.compile(r"'text_in_score.csv': score column 'score' holds text"))
    error.wait_for()
    assert "row 4: 'high'" in error.inner_text()
    page.screenshot(path=tmp_path / "bad_upload.png", full_page=True)


def test_editing_the_scenario_moves_the_best_threshold(page, server, tmp_path):
    from metricbridge.scenario import load_scenario

    scenario = load_scenario(ROOT / "data" / "scenarios" / "demo_fraud.yaml")
    page.goto(f"{server}/outcomes")
    settle(page)
    best = page.get_by_text(re.compile(r"^Best within capacity"))
    before = evaluate_file(DEMO, scenario=scenario).outcomes["score_gbm"]
    assert f"threshold {before.thresholds[before.best_index]:.4g}" in best.inner_text()
    page.get_by_text("Scenario: Card fraud review queue (demo)").click()
    box = page.get_by_label("Most manual reviews per day")
    box.fill("1500")
    box.press("Enter")
    after = evaluate_file(DEMO, scenario=scenario.with_changes(capacity=1500.0)).outcomes["score_gbm"]
    expected = f"threshold {after.thresholds[after.best_index]:.4g}"
    page.wait_for_function(
        "t => [...document.querySelectorAll('p')].some(p => p.innerText.startsWith('Best within capacity')"
        " && p.innerText.includes(t))", arg=expected)
    assert f"+{after.value[after.best_index]:,.0f} USD" in best.inner_text()
    page.screenshot(path=tmp_path / "outcomes.png", full_page=True)


def test_the_status_quo_page_draws_its_charts(page, server, tmp_path):
    page.goto(f"{server}/status_quo")
    settle(page)
    page.get_by_text("score_gbm vs Amount rule").wait_for()
    # comparison, break-even bar and tornado: charts draw after the text, so wait for all three
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 3")
    page.get_by_text("stays best while that ratio is between").wait_for()
    page.screenshot(path=tmp_path / "status_quo.png", full_page=True)


def test_the_segments_page_names_the_failing_segment_and_draws_its_bars(page, server, tmp_path):
    page.goto(f"{server}/segments")
    settle(page)
    page.get_by_text("merchant segment", exact=False).first.wait_for(timeout=60_000)
    page.get_by_text("In the 'fuel' merchant segment the model catches", exact=False).first.wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 1")
    settle(page)
    page.get_by_text("Share of flags that are right (precision)").first.wait_for()  # the figure picker
    page.screenshot(path=Path("/tmp/segments.png") if os.environ.get("KEEP_SHOTS") else tmp_path / "segments.png",
                    full_page=True)


def test_the_monitoring_page_says_the_latest_week_and_draws_criteria_and_drift(page, server, tmp_path):
    page.goto(f"{server}/monitoring?demo=monitoring&model=score_gbm&threshold=0.6")
    settle(page)
    page.get_by_text("Week 2024-07-15: recall estimated", exact=False).first.wait_for(timeout=90_000)
    page.get_by_text("turned from pass to", exact=False).first.wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 2")
    page.wait_for_timeout(500)  # the charts' marks draw after their frames
    assert page.locator("[data-testid='stVegaLiteChart'] canvas, [data-testid='stVegaLiteChart'] svg").count() >= 2
    page.screenshot(path=Path("/tmp/monitoring.png") if os.environ.get("KEEP_SHOTS") else tmp_path / "monitoring.png",
                    full_page=True)


def test_the_criteria_page_gives_verdicts_and_draws_the_map(page, server, tmp_path):
    result = demo_report().verdicts["score_gbm"]
    page.goto(f"{server}/criteria")
    settle(page)
    page.get_by_text(f"Chosen threshold: {result.choice.chosen:.4g}").wait_for()
    for verdict in result.verdicts:
        line = page.get_by_text(verdict.criterion.describe()).first
        assert line.is_visible()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 1")
    page.screenshot(path=tmp_path / "criteria.png", full_page=True)


def test_saving_a_run_and_seeing_it_in_progress(page, server, database, tmp_path):
    from metricbridge.store import Store

    page.goto(f"{server}/projects")
    settle(page)
    page.get_by_label("New project").fill("Browser pilot")
    page.get_by_role("button", name="Create project").click()
    settle(page)
    page.get_by_role("button", name="Save as a run").wait_for()
    page.get_by_label("Note (what changed this time)").fill("from the browser")
    page.get_by_role("button", name="Save as a run").click()
    page.get_by_text("Saved 2 run(s).").wait_for()
    runs = Store(database).runs("Browser pilot")
    assert len(runs) == 2 and runs[0].note == "from the browser"
    page.screenshot(path=tmp_path / "projects.png", full_page=True)
    page.goto(f"{server}/progress")
    settle(page)
    page.get_by_text("Decisions").wait_for()
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stVegaLiteChart\"]').length >= 1")
    page.screenshot(path=tmp_path / "progress.png", full_page=True)


def test_the_report_opens_from_disk_with_the_network_blocked(browser, tmp_path):
    from metricbridge.present import summary_sentences
    from metricbridge.report import html_report

    report = demo_report()
    path = tmp_path / "report.html"
    path.write_text(html_report(report), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1100, "height": 1600})
    requests, errors = [], []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else (requests.append(route.request.url), route.abort()))
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert requests == [] and errors == []
    squares = page.locator("svg").first.locator("g.mark-rect path")
    assert page.locator("svg").count() >= 3 and squares.count() >= 1000  # the 1,000 squares are drawn
    body = page.inner_text("body")
    for sentence in summary_sentences(report, "score_gbm", report.model("score_gbm").threshold):
        assert sentence in body
    page.screenshot(path=tmp_path / "report.png", full_page=True)
    context.close()


def test_a_scenario_named_like_a_script_shows_as_text(page, server, tmp_path):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    scenario = tmp_path / "evil.yaml"
    scenario.write_text('name: "<script>alert(1)</script><img src=x onerror=alert(2)>"\nitem: transaction\n'
                        "positive: fraud\nvolume: 1000\nvalue: {caught: 10, false_alarm: -1}\n")
    page.goto(f"{server}/outcomes")
    settle(page)
    page.locator("[data-testid='stFileUploader'] input[type='file']").last.set_input_files(scenario)
    shows_literally = "document.body.innerText.includes('<script>alert(1)</script><img src=x onerror=alert(2)>')"
    page.wait_for_function(shows_literally)
    settle(page)
    page.get_by_role("link", name="For stakeholders").click()  # the same session, so the same scenario
    settle(page)
    page.wait_for_function(shows_literally)
    assert page.locator("script:has-text('alert(1)')").count() == 0 and page.locator("img[src='x']").count() == 0
    assert dialogs == []
    page.screenshot(path=tmp_path / "escaped.png", full_page=True)


def test_a_folder_of_parts_opened_in_place_loads_like_the_file(page, server, tmp_path):
    """The Data page's "Open a large dataset": a folder of Parquet parts typed in, read in place; Home then
    shows it loaded with every row of the file it was split from."""
    import pandas as pd

    frame = pd.read_parquet(DEMO)
    folder = tmp_path / "parts"
    folder.mkdir()
    for index, part in enumerate((frame.iloc[:15_000], frame.iloc[15_000:])):
        part.to_parquet(folder / f"part-{index}.parquet")
    page.goto(f"{server}/data")
    settle(page)
    page.get_by_text("Open a large dataset").click()
    settle(page)
    page.get_by_role("textbox", name="Path or table").fill(str(folder))
    page.get_by_test_id("stBaseButton-secondaryFormSubmit").click()  # the form's "Open"
    settle(page)
    page.get_by_text("label", exact=False).first.wait_for()
    page.screenshot(path=tmp_path / "data_in_place.png", full_page=True)
    page.locator("[data-testid='stSidebarNav'] a").first.click()  # Home, in the same session
    settle(page)
    page.get_by_text("Loaded: parts").first.wait_for(timeout=60_000)
    assert metric_value(page, "Rows") == f"{len(frame):,}"
    page.screenshot(path=Path("/tmp/home_in_place.png") if os.environ.get("KEEP_SHOTS") else
                    tmp_path / "home_in_place.png", full_page=True)
