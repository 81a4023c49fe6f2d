"""The project database: one DuckDB file of projects, datasets, runs, scenario and criteria versions, and
decisions. Everything is appended, never overwritten.

DuckDB allows one read-write process per file, and the app and the CLI may run at once, so the store holds
no connection between operations: each opens, runs one transaction, and closes, retrying for a bounded time
while another process holds the file. A write is one transaction: a process killed in the middle leaves the
database as it was. Every value is bound as a parameter; the only identifiers built from data are dataset
table names, made from a content hash.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from metricbridge.digests import file_digest, text_digest
from metricbridge.errors import StoreError

file_hash = file_digest  # the name this module has exported

__all__ = ["Store", "default_db_path", "SCHEMA_VERSION", "RunRecord", "file_hash", "current_user", "STAGES"]

STAGES = ("ideation", "experimentation", "data collection", "prototyping", "tech transfer", "monitoring",
          "succeeded", "stopped")

SCHEMA_VERSION = 2
_RETRY_SECONDS = 30.0

# Forward migrations: version -> statements. Never edit a released one; add the next.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        "CREATE TABLE projects (id VARCHAR PRIMARY KEY, name VARCHAR UNIQUE NOT NULL, created_at TIMESTAMP NOT NULL,"
        " created_by VARCHAR)",
        "CREATE TABLE project_cards (project_id VARCHAR NOT NULL, version INTEGER NOT NULL, problem VARCHAR,"
        " stakeholders VARCHAR, stage VARCHAR, stage_reason VARCHAR, created_at TIMESTAMP NOT NULL,"
        " created_by VARCHAR, PRIMARY KEY (project_id, version))",
        "CREATE TABLE datasets (hash VARCHAR PRIMARY KEY, name VARCHAR, table_name VARCHAR NOT NULL,"
        " rows BIGINT NOT NULL, created_at TIMESTAMP NOT NULL)",
        "CREATE TABLE scenario_versions (id VARCHAR PRIMARY KEY, project_id VARCHAR NOT NULL, name VARCHAR NOT NULL,"
        " version INTEGER NOT NULL, content_hash VARCHAR NOT NULL, yaml VARCHAR NOT NULL, created_at TIMESTAMP"
        " NOT NULL, created_by VARCHAR)",
        "CREATE TABLE criteria_versions (id VARCHAR PRIMARY KEY, project_id VARCHAR NOT NULL, name VARCHAR NOT NULL,"
        " version INTEGER NOT NULL, content_hash VARCHAR NOT NULL, yaml VARCHAR NOT NULL, agreed_by VARCHAR,"
        " agreed_on DATE, created_at TIMESTAMP NOT NULL, created_by VARCHAR)",
        "CREATE TABLE runs (id VARCHAR PRIMARY KEY, project_id VARCHAR NOT NULL, dataset_hash VARCHAR NOT NULL,"
        " name VARCHAR NOT NULL, model VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, created_by VARCHAR,"
        " note VARCHAR, scenario_version_id VARCHAR, criteria_version_id VARCHAR, summary VARCHAR NOT NULL)",
        "CREATE TABLE decisions (id VARCHAR PRIMARY KEY, run_id VARCHAR NOT NULL, threshold DOUBLE,"
        " scenario_version_id VARCHAR, criteria_version_id VARCHAR, rationale VARCHAR, decided_by VARCHAR,"
        " created_at TIMESTAMP NOT NULL)",
    ),
    2: (
        # The column choices a run was evaluated with, so it can be evaluated again from its dataset.
        "ALTER TABLE runs ADD COLUMN columns VARCHAR",
    ),
}


def default_db_path() -> Path:
    """$METRICBRIDGE_DB, else metricbridge.duckdb in the user's data directory."""
    configured = os.environ.get("METRICBRIDGE_DB")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "metricbridge" / "metricbridge.duckdb"


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _writer_lock(path: Path) -> threading.Lock:
    """One lock per database file in this process."""
    key = str(path.resolve())
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


def _pause_for_tests(point: str) -> None:
    """Lets the crash test kill a writer at a known point of a save (does nothing otherwise)."""
    if os.environ.get("METRICBRIDGE_TEST_PAUSE_AT") == point:
        Path(os.environ["METRICBRIDGE_TEST_PAUSE_FILE"]).write_text(point)
        time.sleep(60)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunRecord:
    id: str
    project: str
    name: str
    model: str
    dataset_hash: str
    created_at: dt.datetime
    created_by: str | None
    note: str | None
    summary: dict[str, Any]
    scenario_version_id: str | None = None
    criteria_version_id: str | None = None


class Store:
    """The project database at ``path`` (created and migrated on first use)."""

    def __init__(self, path: str | Path | None = None, *, retry_seconds: float = _RETRY_SECONDS) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.retry_seconds = retry_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._transaction(lambda con: None)  # create and migrate

    # -- connections --------------------------------------------------------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.retry_seconds
        wait = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as error:
                if "lock" not in str(error).lower() or time.monotonic() > deadline:
                    raise StoreError(f"the project database {self.path} is busy or cannot be opened "
                                     f"({str(error).splitlines()[0]}); try again in a moment.") from error
                time.sleep(wait)
                wait = min(wait * 2, 0.5)
            except duckdb.Error as error:
                raise StoreError(f"the project database {self.path} cannot be opened "
                                 f"({str(error).splitlines()[0]}).") from error

    @contextlib.contextmanager
    def _connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = self._connect()
        try:
            self._migrate(con)
            yield con
        finally:
            con.close()

    def _transaction(self, work: Callable[[duckdb.DuckDBPyConnection], Any]) -> Any:
        """Run ``work`` in one transaction. Threads of this process take turns (DuckDB would refuse the second
        of two conflicting writers); another process is waited for when connecting."""
        with _writer_lock(self.path), self._connection() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                result = work(con)
                con.execute("COMMIT")
                return result
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._connection() as con:
            return con.execute(sql, list(params)).fetchall()

    @staticmethod
    def _migrate(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
        current = (con.execute("SELECT max(version) FROM schema_version").fetchone() or (None,))[0] or 0
        if current > SCHEMA_VERSION:
            raise StoreError(f"the project database was written by a newer metricbridge (schema {current}, this "
                             f"one knows {SCHEMA_VERSION}); upgrade metricbridge.")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in MIGRATIONS[version]:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def schema_version(self) -> int:
        return int(self._read("SELECT max(version) FROM schema_version")[0][0])

    # -- projects -------------------------------------------------------------------------------------------
    @staticmethod
    def _project(con: duckdb.DuckDBPyConnection, name: str, who: str | None) -> str:
        found = con.execute("SELECT id FROM projects WHERE name = ?", [name]).fetchone()
        if found:
            return str(found[0])
        project_id = uuid.uuid4().hex
        con.execute("INSERT INTO projects VALUES (?, ?, ?, ?)", [project_id, name, _now(), who or current_user()])
        return project_id

    def create_project(self, name: str, *, who: str | None = None) -> str:
        """The project's id (an existing project of that name keeps its id)."""
        if not name.strip():
            raise StoreError("a project needs a name.")
        return str(self._transaction(lambda con: self._project(con, name, who)))

    def project_id(self, name: str) -> str:
        found = self._read("SELECT id FROM projects WHERE name = ?", [name])
        if not found:
            names = [row[0] for row in self._read("SELECT name FROM projects ORDER BY name")]
            raise StoreError(f"no project named {name!r}; the projects are: {', '.join(names) or 'none yet'}.")
        return str(found[0][0])

    def projects(self) -> list[str]:
        return [str(row[0]) for row in self._read("SELECT name FROM projects ORDER BY created_at, name")]

    # -- project cards ----------------------------------------------------------------------------------------
    def save_card(self, project: str, *, problem: str, stakeholders: str, stage: str, stage_reason: str = "",
                  who: str | None = None) -> int:
        """A new version of the project's card (the shared document its stakeholders read); its number."""
        if stage not in STAGES:
            raise StoreError(f"unknown stage {stage!r}; the stages are: {', '.join(STAGES)}.")

        def work(con: duckdb.DuckDBPyConnection) -> int:
            project_id = self._project(con, project, who)
            version = int((con.execute("SELECT count(*) FROM project_cards WHERE project_id = ?",
                                       [project_id]).fetchone() or (0,))[0]) + 1
            con.execute("INSERT INTO project_cards VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [project_id, version, problem, stakeholders, stage, stage_reason, _now(),
                         who or current_user()])
            return version
        return int(self._transaction(work))

    def card(self, project: str) -> dict[str, Any] | None:
        """The latest card of a project, or None before the first."""
        rows = self._read("SELECT version, problem, stakeholders, stage, stage_reason, created_at, created_by FROM "
                          "project_cards WHERE project_id = ? ORDER BY version DESC LIMIT 1",
                          [self.project_id(project)])
        if not rows:
            return None
        keys = ("version", "problem", "stakeholders", "stage", "stage_reason", "created_at", "created_by")
        return dict(zip(keys, rows[0], strict=True))

    def portfolio(self) -> list[dict[str, Any]]:
        """Every project with its stage and why, its latest run and whether that run met its criteria."""
        rows = []
        for name in self.projects():
            card = self.card(name) or {}
            runs = self.runs(name)
            latest = runs[-1] if runs else None
            met = latest.summary.get("criteria", {}).get("met") if latest else None
            rows.append({"project": name, "stage": card.get("stage", "ideation"),
                         "why": card.get("stage_reason") or "", "problem": card.get("problem") or "",
                         "runs": len(runs), "latest run": latest.name if latest else None,
                         "criteria": None if met is None else ("met" if met else "not met")})
        return rows

    def export_dataset(self, digest: str, folder: str | Path) -> Path:
        """The stored rows of a dataset as a Parquet file in ``folder`` (to evaluate a run again)."""
        table = self._read("SELECT table_name FROM datasets WHERE hash = ?", [digest])
        if not table:
            raise StoreError(f"no dataset {digest[:12]} in {self.path}.")
        target = Path(folder) / f"{digest[:32]}.parquet"
        if not target.exists():
            literal = str(target).replace("'", "''")
            with self._connection() as con:
                con.execute(f'COPY "{table[0][0]}" TO \'{literal}\' (FORMAT parquet)')
        return target

    def version_text(self, kind: str, version_id: str | None) -> str | None:
        """The YAML of a scenario or criteria version a run cites (``kind``: "scenario" or "criteria")."""
        if version_id is None:
            return None
        table = {"scenario": "scenario_versions", "criteria": "criteria_versions"}[kind]
        rows = self._read(f"SELECT yaml FROM {table} WHERE id = ?", [version_id])
        return str(rows[0][0]) if rows else None

    def run_columns(self, run_id: str) -> dict[str, Any]:
        rows = self._read("SELECT columns FROM runs WHERE id = ?", [run_id])
        return json.loads(rows[0][0]) if rows and rows[0][0] else {}

    # -- datasets -------------------------------------------------------------------------------------------
    def _save_dataset(self, con: duckdb.DuckDBPyConnection, path: Path, name: str) -> str:
        digest = file_digest(path)
        if con.execute("SELECT 1 FROM datasets WHERE hash = ?", [digest]).fetchone():
            return digest
        table = f"dataset_{digest[:32]}"  # from the hash: hex only, safe as an identifier
        literal = str(path).replace("'", "''")
        with path.open("rb") as handle:
            reader = "read_parquet" if handle.read(4) == b"PAR1" else "read_csv"
        options = "" if reader == "read_parquet" else ", header = true, all_varchar = true"
        # the rows exactly as read (text kept as text), once per content; CSV that is not UTF-8 is Latin-1
        try:
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {reader}(\'{literal}\'{options})')
        except duckdb.InvalidInputException:
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {reader}(\'{literal}\'{options}, '
                        "encoding = 'latin-1')")
        rows = (con.execute(f'SELECT count(*) FROM "{table}"').fetchone() or (0,))[0]
        con.execute("INSERT INTO datasets VALUES (?, ?, ?, ?, ?)", [digest, name, table, rows, _now()])
        return digest

    def datasets(self) -> list[tuple[str, str, int]]:
        return [(str(r[0]), str(r[1]), int(r[2])) for r in self._read(
            "SELECT hash, name, rows FROM datasets ORDER BY created_at")]

    # -- versions -------------------------------------------------------------------------------------------
    def _scenario_version(self, con: duckdb.DuckDBPyConnection, project_id: str, name: str, text: str,
                          who: str | None) -> str:
        content = text_digest(text)
        found = con.execute("SELECT id FROM scenario_versions WHERE project_id = ? AND content_hash = ?",
                            [project_id, content]).fetchone()
        if found:
            return str(found[0])
        version = (con.execute("SELECT count(*) FROM scenario_versions WHERE project_id = ? AND name = ?",
                               [project_id, name]).fetchone() or (0,))[0] + 1
        version_id = uuid.uuid4().hex
        con.execute("INSERT INTO scenario_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [version_id, project_id, name, version, content, text, _now(), who or current_user()])
        return version_id

    def _criteria_version(self, con: duckdb.DuckDBPyConnection, project_id: str, name: str, version: int,
                          text: str, agreed_by: Sequence[str], agreed_on: dt.date | None, who: str | None) -> str:
        content = text_digest(text)
        found = con.execute("SELECT id, content_hash FROM criteria_versions WHERE project_id = ? AND name = ? AND "
                            "version = ?", [project_id, name, version]).fetchone()
        if found and found[1] != content:
            raise StoreError(f"criteria {name!r} version {version} is already kept with other content; a change "
                             f"of targets needs a new version number (version {version + 1}).")
        if found:
            return str(found[0])
        version_id = uuid.uuid4().hex
        con.execute("INSERT INTO criteria_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [version_id, project_id, name, version, content, text, json.dumps(list(agreed_by)), agreed_on,
                     _now(), who or current_user()])
        return version_id

    def keep_criteria(self, project: str, *, name: str, version: int, text: str, agreed_by: Sequence[str],
                      agreed_on: dt.date | None, who: str | None = None) -> str:
        """Keep a criteria version as soon as it is seen (refused when that number holds other content)."""
        def work(con: duckdb.DuckDBPyConnection) -> str:
            return self._criteria_version(con, self._project(con, project, who), name, version, text, agreed_by,
                                          agreed_on, who)
        return str(self._transaction(work))

    def criteria_versions(self, project: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT id, name, version, yaml, agreed_by, agreed_on, created_at FROM criteria_versions "
                          "WHERE project_id = ? ORDER BY name, version", [self.project_id(project)])
        return [{"id": r[0], "name": r[1], "version": r[2], "yaml": r[3], "agreed_by": json.loads(r[4] or "[]"),
                 "agreed_on": r[5], "created_at": r[6]} for r in rows]

    def scenario_versions(self, project: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT id, name, version, yaml, created_at FROM scenario_versions WHERE project_id = ? "
                          "ORDER BY name, version", [self.project_id(project)])
        return [{"id": r[0], "name": r[1], "version": r[2], "yaml": r[3], "created_at": r[4]} for r in rows]

    # -- runs -----------------------------------------------------------------------------------------------
    def save_runs(self, *, project: str, path: str | Path, file_name: str, models: Sequence[dict[str, Any]],
                  columns: dict[str, Any], run_name: str | None = None, note: str | None = None,
                  who: str | None = None, scenario: tuple[str, str] | None = None,
                  criteria: tuple[str, int, str, Sequence[str], dt.date | None] | None = None,
                  decisions: Sequence[tuple[float | None, str]] = ()) -> list[str]:
        """Save one run per model of an evaluation (its JSON entry as ``summary``), the dataset once per
        content, the scenario and criteria versions, and a decision per model, in one transaction."""
        source = Path(path)
        who = who or current_user()
        if not project.strip():
            raise StoreError("a run is saved in a project: give it a name (--project NAME).")

        def work(con: duckdb.DuckDBPyConnection) -> list[str]:
            project_id = self._project(con, project, who)
            digest = self._save_dataset(con, source, file_name)
            _pause_for_tests("save_runs:after_dataset")
            scenario_id = self._scenario_version(con, project_id, scenario[0], scenario[1], who) if scenario else None
            criteria_id = self._criteria_version(con, project_id, *criteria, who) if criteria else None
            ids = []
            for index, summary in enumerate(models):
                run_id = uuid.uuid4().hex
                name = run_name or file_name
                name = f"{name} · {summary['name']}" if len(models) > 1 else name
                con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [run_id, project_id, digest, name, summary["name"], _now(), who, note, scenario_id,
                             criteria_id, json.dumps(summary), json.dumps(columns)])
                if index < len(decisions):
                    threshold, rationale = decisions[index]
                    con.execute("INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                [uuid.uuid4().hex, run_id, threshold, scenario_id, criteria_id, rationale, who,
                                 _now()])
                ids.append(run_id)
            _pause_for_tests("save_runs:before_commit")
            return ids
        return list(self._transaction(work))

    def runs(self, project: str | None = None) -> list[RunRecord]:
        where, params = ("WHERE p.name = ?", [project]) if project else ("", [])
        if project:
            self.project_id(project)  # a clear error for an unknown project
        rows = self._read(
            "SELECT r.id, p.name, r.name, r.model, r.dataset_hash, r.created_at, r.created_by, r.note, r.summary, "
            f"r.scenario_version_id, r.criteria_version_id FROM runs r JOIN projects p ON p.id = r.project_id {where} "
            "ORDER BY r.created_at, r.name", params)
        return [RunRecord(id=r[0], project=r[1], name=r[2], model=r[3], dataset_hash=r[4], created_at=r[5],
                          created_by=r[6], note=r[7], summary=json.loads(r[8]), scenario_version_id=r[9],
                          criteria_version_id=r[10]) for r in rows]

    def run(self, run_id: str) -> RunRecord:
        matches = [r for r in self.runs() if r.id == run_id or r.id.startswith(run_id)]
        if len(matches) != 1:
            raise StoreError(f"no run {'matches' if not matches else 'is unique for'} {run_id!r}; list them with "
                             "`metricbridge runs list`.")
        return matches[0]

    def decisions(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT threshold, rationale, decided_by, created_at FROM decisions WHERE run_id = ? "
                          "ORDER BY created_at", [run_id])
        return [{"threshold": r[0], "rationale": r[1], "decided_by": r[2], "created_at": r[3]} for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (for checks and the crash test)."""
        tables = ("projects", "datasets", "runs", "scenario_versions", "criteria_versions", "decisions")
        return {table: int(self._read(f"SELECT count(*) FROM {table}")[0][0]) for table in tables}
