"""The project database: round trips, migrations, a writer killed mid-save, and concurrent writers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from metricbridge.cli import main
from metricbridge.errors import StoreError
from metricbridge.store import MIGRATIONS, SCHEMA_VERSION, Store

GOOD = Path(__file__).parent / "data" / "good" / "semicolon_yes_no.csv"
ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "data" / "fraud_transactions.parquet"


def _save(store: Store, project: str = "Churn", note: str | None = None, path: Path = GOOD) -> list[str]:
    models = [{"name": "model_a_score", "roc_auc": 0.89, "threshold": 0.5, "criteria": {"met": True}}]
    return store.save_runs(project=project, path=path, file_name=path.name, models=models,
                           columns={"label": "outcome"}, note=note, who="tester",
                           scenario=("Churn offer", "volume: 10\nvalue: {caught: 1}\n"),
                           criteria=("Go/no-go", 1, "name: Go/no-go\nversion: 1\n", ["Head of CX"], None),
                           decisions=[(0.5, "the default threshold")])


def test_a_saved_run_round_trips_with_its_versions_and_decision(tmp_path):
    store = Store(tmp_path / "mb.duckdb")
    (run_id,) = _save(store, note="first try")
    run = store.run(run_id[:8])
    assert (run.project, run.name, run.model, run.note, run.created_by) == (
        "Churn", "semicolon_yes_no.csv", "model_a_score", "first try", "tester")
    assert run.summary["roc_auc"] == 0.89 and run.summary["criteria"]["met"] is True
    assert store.decisions(run_id) == [{"threshold": 0.5, "rationale": "the default threshold",
                                        "decided_by": "tester", "created_at": store.decisions(run_id)[0]["created_at"]}]
    (criteria,) = store.criteria_versions("Churn")
    assert (criteria["name"], criteria["version"], criteria["agreed_by"]) == ("Go/no-go", 1, ["Head of CX"])
    assert store.scenario_versions("Churn")[0]["yaml"].startswith("volume: 10")
    assert run.criteria_version_id == criteria["id"]


def test_datasets_are_kept_once_per_content_and_runs_are_appended(tmp_path):
    store = Store(tmp_path / "mb.duckdb")
    _save(store)
    _save(store, note="again")
    counts = store.counts()
    assert counts["datasets"] == 1 and counts["runs"] == 2 and counts["projects"] == 1
    assert counts["criteria_versions"] == 1 and counts["scenario_versions"] == 1  # the same content, kept once
    ((digest, name, rows),) = store.datasets()
    assert name == GOOD.name and rows == 200
    with duckdb.connect(str(store.path), read_only=True) as con:
        kept = con.execute(f'SELECT count(*) FROM "dataset_{digest[:32]}"').fetchone()[0]
    assert kept == 200


def _size(db: Path) -> int:
    return sum(file.stat().st_size for file in (db, db.with_name(db.name + ".wal")) if file.exists())


def test_the_same_bytes_under_another_name_are_one_dataset_and_add_no_rows(tmp_path):
    store = Store(tmp_path / "mb.duckdb")
    copy = tmp_path / "renamed copy.csv"
    shutil.copy(GOOD, copy)
    _save(store, project="Churn", path=GOOD)
    _save(store, project="Other", path=copy)
    ((_, name, rows),) = store.datasets()
    assert (name, rows) == (GOOD.name, 200)  # kept under the name it was first saved with
    with duckdb.connect(str(store.path), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, 'dataset_')"
                             ).fetchall()
    assert len(tables) == 1
    assert len({run.dataset_hash for run in store.runs()}) == 1


def test_a_run_saved_again_on_the_same_data_adds_about_its_summary_not_its_data(tmp_path):
    """The demo dataset (1 MB of Parquet) is stored once; later saves add their rows of runs and decisions
    (and, now and then, a block of 64 KiB that DuckDB then reuses)."""
    db = tmp_path / "mb.duckdb"
    store = Store(db)
    assert _size(db) < 256 * 1024  # a new database: DuckDB's headers and a few small blocks
    models = [{"name": "score_gbm", "threshold": 0.5, "notes": "x" * 1000}]
    saves = [_size(db)]
    for index in range(6):
        store.save_runs(project="Fraud", path=DEMO, file_name=DEMO.name, models=models, columns={},
                        run_name=f"week {index}")
        saves.append(_size(db))
    dataset = saves[1] - saves[0]
    assert dataset < 2 * DEMO.stat().st_size
    assert saves[-1] - saves[1] < 5 * 65_536 < dataset  # five more saves: well under one copy of the data
    assert store.counts()["datasets"] == 1 and store.counts()["runs"] == 6


def test_reads_open_one_connection_and_an_opened_database_none(tmp_path, monkeypatch):
    db = tmp_path / "mb.duckdb"
    store = Store(db)
    for project in ("Churn", "Fraud", "Tickets"):
        store.save_card(project, problem="p", stakeholders="s", stage="prototyping")
        for _ in range(3):
            _save(store, project=project)
    opened: list[bool] = []
    connect = duckdb.connect

    def counting(*args, **kwargs):
        opened.append(bool(kwargs.get("read_only")))
        return connect(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    assert Store(db).path == db and opened == []  # checked once per file and process
    run_id = store.runs()[0].id
    for read in (lambda: store.runs(), lambda: store.runs("Fraud"), lambda: store.portfolio(),
                 lambda: store.run(run_id[:8]), lambda: store.card("Churn"), lambda: store.counts(),
                 lambda: store.criteria_versions("Churn")):
        opened.clear()
        read()
        assert opened == [True]  # one read-only connection
    portfolio = store.portfolio()
    assert [(row["project"], row["runs"], row["stage"], row["criteria"]) for row in portfolio] == [
        ("Churn", 3, "prototyping", "met"), ("Fraud", 3, "prototyping", "met"), ("Tickets", 3, "prototyping", "met")]


def test_changed_criteria_under_an_existing_version_number_are_refused(tmp_path):
    store = Store(tmp_path / "mb.duckdb")
    _save(store)
    models = [{"name": "m", "threshold": 0.5}]
    with pytest.raises(StoreError, match="version 1 is already kept with other content.*version 2"):
        store.save_runs(project="Churn", path=GOOD, file_name=GOOD.name, models=models, columns={},
                        criteria=("Go/no-go", 1, "name: Go/no-go\nversion: 1\nnote: moved\n", [], None))
    assert store.counts()["runs"] == 1  # nothing of the refused save was kept


def test_migrations_from_an_empty_and_from_an_older_database(tmp_path):
    assert Store(tmp_path / "new.duckdb").schema_version() == SCHEMA_VERSION
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:  # a database as version 1 left it, with a run in it
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
        for statement in MIGRATIONS[1]:
            con.execute(statement)
        con.execute("INSERT INTO schema_version VALUES (1, now())")
        con.execute("INSERT INTO projects VALUES ('p1', 'Old', now(), 'someone')")
        con.execute("INSERT INTO runs VALUES ('r1', 'p1', 'h', 'week 1', 'score', now(), 'someone', NULL, NULL, NULL,"
                    " '{\"name\": \"score\"}')")
    store = Store(old)
    assert store.schema_version() == SCHEMA_VERSION
    (run,) = store.runs("Old")
    assert run.name == "week 1" and run.summary == {"name": "score"}


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "mb.duckdb"
    Store(path)
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer metricbridge"):
        Store(path)


WRITER = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.test_store import _save
    from metricbridge.store import Store
    store = Store(sys.argv[1])
    for i in range(int(sys.argv[3])):
        _save(store, project=sys.argv[2], note=str(i))
""")


def _writer(tmp_path: Path, db: Path, project: str, saves: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT)))
    return subprocess.Popen([sys.executable, str(script), str(db), project, str(saves)], env=os.environ | (env or {}),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("point", ["save_runs:after_dataset", "save_runs:before_commit"])
def test_a_writer_killed_mid_save_leaves_the_database_as_before(tmp_path, point):
    db = tmp_path / "mb.duckdb"
    store = Store(db)
    _save(store, project="Before")
    before = store.counts()
    marker = tmp_path / "paused"
    writer = _writer(tmp_path, db, "Killed", 1, {"METRICBRIDGE_TEST_PAUSE_AT": point,
                                                 "METRICBRIDGE_TEST_PAUSE_FILE": str(marker)})
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(writer.pid, signal.SIGKILL)
    writer.communicate()
    assert writer.returncode == -signal.SIGKILL
    after = Store(db)
    assert after.counts() == before
    assert after.projects() == ["Before"]


def test_two_processes_and_threads_saving_at_once_all_succeed(tmp_path):
    db = tmp_path / "mb.duckdb"
    Store(db)
    writers = [_writer(tmp_path, db, f"Process {i}", 4) for i in range(2)]
    errors: list[BaseException] = []

    def in_thread(index: int) -> None:
        try:
            for _ in range(3):
                _save(Store(db), project=f"Thread {index}")
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=in_thread, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    assert errors == []
    counts = Store(db).counts()
    assert counts["runs"] == 2 * 4 + 3 * 3 and counts["projects"] == 5 and counts["datasets"] == 1


def test_the_cli_saves_lists_and_shows_runs(tmp_path, capsys):
    db = tmp_path / "mb.duckdb"
    code = main(["evaluate", str(GOOD), "--score", "model_a_score", "--save", "--project", "Churn", "--run", "week 1",
                 "--note", "baseline", "--who", "Ana", "--db", str(db)])
    assert code == 0
    assert "saved 1 run in project 'Churn'" in capsys.readouterr().err
    assert main(["runs", "list", "--db", str(db), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert (listed["project"], listed["name"], listed["created_by"], listed["note"]) == ("Churn", "week 1", "Ana",
                                                                                         "baseline")
    assert main(["runs", "show", listed["id"][:8], "--db", str(db), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["summary"]["name"] == "model_a_score" and shown["decisions"][0]["threshold"] == 0.5
    assert main(["runs", "show", "nope", "--db", str(db)]) == 2
    assert "no run matches 'nope'" in capsys.readouterr().err


def test_save_without_a_project_is_bad_input(tmp_path, capsys):
    code = main(["evaluate", str(GOOD), "--save", "--db", str(tmp_path / "mb.duckdb")])
    assert code == 2 and "--project" in capsys.readouterr().err


def test_the_database_path_follows_the_environment(tmp_path, monkeypatch):
    from metricbridge.store import default_db_path

    monkeypatch.setenv("METRICBRIDGE_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"
    monkeypatch.delenv("METRICBRIDGE_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    if sys.platform.startswith("linux"):
        assert default_db_path() == tmp_path / "metricbridge" / "metricbridge.duckdb"


def test_a_criteria_version_is_kept_when_seen_and_a_changed_one_refused(tmp_path):
    store = Store(tmp_path / "mb.duckdb")
    first = store.keep_criteria("Churn", name="Go", version=1, text="a", agreed_by=["Ana"], agreed_on=None)
    assert store.keep_criteria("Churn", name="Go", version=1, text="a", agreed_by=["Ana"], agreed_on=None) == first
    store.keep_criteria("Churn", name="Go", version=2, text="b", agreed_by=["Ana", "Bo"], agreed_on=None)
    assert [(v["version"], v["agreed_by"]) for v in store.criteria_versions("Churn")] == [(1, ["Ana"]),
                                                                                          (2, ["Ana", "Bo"])]
    with pytest.raises(StoreError, match="version 2 is already kept with other content"):
        store.keep_criteria("Churn", name="Go", version=2, text="c", agreed_by=[], agreed_on=None)
