"""The project database: one DuckDB file of projects, datasets, runs, scenario and criteria versions, and
decisions. Everything is appended, never overwritten.

DuckDB allows one read-write process per file (or many read-only ones), and the app and the CLI may run at
once, so the store holds no connection between operations: each opens, runs, and closes, reads on a
read-only connection (so readers in two processes do not wait for each other) and writes in one transaction,
retrying for a bounded time only while another process really holds the file. A write is one transaction: a
process killed in the middle leaves the database as it was. Every value is bound as a parameter; the only
identifiers built from data are dataset table names, made from a content hash.

A path that cannot be a metricbridge database is told apart before connecting, from the file system and the
file's first bytes (a directory, an empty file, a SQLite, text or other non-DuckDB file, a DuckDB file cut
short), and after connecting from what DuckDB says and what the database holds (a damaged file, a DuckDB
database of something else, one from a newer metricbridge): each is refused at once, with what to do, and
nothing is written to a file that is not one of ours. The schema is checked (and migrated) once per file
version and process, not on every connection.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import re
import stat
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

# A DuckDB file starts with a 4 KiB main header (an 8-byte checksum, then these magic bytes) and two 4 KiB
# database headers; a shorter file is one cut short.
_MAGIC, _MAGIC_AT, _HEADERS_BYTES = b"DUCK", 8, 3 * 4096
# New files use 64 KiB blocks: every table that holds a row takes at least one block, so DuckDB's default
# 256 KiB made the eight small tables of a new database about 2 MB; large tables compress as well as with the
# default (16 KiB blocks compress them worse). The block size is read from the file: older files keep theirs.
_BLOCK_SIZE = 65_536
# No connection installs or loads an extension: opening a SQLite file would otherwise make DuckDB download
# its SQLite reader (what the store uses, Parquet and CSV, is built in).
_CONFIG: dict[str, Any] = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
# What DuckDB says when another process (or a connection of another configuration in this one) has the file.
_HELD = re.compile(r"could not set lock|conflicting lock|different configuration", re.IGNORECASE)
_HOLDER = re.compile(r"Conflicting lock is held in (.*?\(PID \d+\))")
# What DuckDB says when a file's blocks are missing or do not match their checksums.
_DAMAGE = re.compile(r"corrupt|checksum|could not read enough bytes|not a valid duckdb database", re.IGNORECASE)

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


class _FileLock:
    """How this process's threads share one database file: readers together, a writer alone (DuckDB refuses
    a read-only and a read-write connection to one file in one process at once, and the second of two
    conflicting writers). A waiting writer goes before readers that come after it. Not reentrant."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._writing = False
        self._writers_waiting = 0

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            self._changed.wait_for(lambda: not self._writing and not self._writers_waiting)
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._changed:
            self._writers_waiting += 1
            try:
                self._changed.wait_for(lambda: not self._writing and not self._readers)
            finally:
                self._writers_waiting -= 1
            self._writing = True
        try:
            yield
        finally:
            with self._changed:
                self._writing = False
                self._changed.notify_all()


_LOCKS: dict[str, _FileLock] = {}
_LOCKS_GUARD = threading.Lock()
# The files whose schema this process has checked (and migrated), with the stamp they had then.
_CHECKED: dict[str, tuple[tuple[int, ...] | None, ...]] = {}


def _key(path: Path) -> str:
    return str(path.resolve())


def _file_lock(path: Path) -> _FileLock:
    """One lock per database file in this process."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(_key(path), _FileLock())


def _stamp(path: Path) -> tuple[tuple[int, ...] | None, ...]:
    """What changes whenever the database is written: the file's and its write-ahead log's identity, size
    and time."""
    stamps: list[tuple[int, ...] | None] = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            info = file.stat()
            stamps.append((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns))
        except OSError:
            stamps.append(None)
    return tuple(stamps)


def _pause_for_tests(point: str) -> None:
    """Lets the crash test kill a writer at a known point of a save (does nothing otherwise)."""
    if os.environ.get("METRICBRIDGE_TEST_PAUSE_AT") == point:
        Path(os.environ["METRICBRIDGE_TEST_PAUSE_FILE"]).write_text(point)
        time.sleep(60)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _not_ours(path: Path, what: str) -> str:
    return (f"{path} is not a metricbridge database ({what}): point --db at a metricbridge database, or at a "
            "new file to start one.")


def _damaged(path: Path, what: str) -> str:
    return (f"the project database {path} cannot be read ({what}); it is damaged: restore it from a copy or "
            "point --db elsewhere.")


def _looks_like_text(head: bytes, *, whole: bool) -> bool:
    """Whether a file's first bytes (all of it when ``whole``) read as UTF-8 text."""
    if not head.strip() or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        if whole or error.start < len(head) - 3:  # not a character cut at the end of the sample
            return False
        text = head[:error.start].decode("utf-8")
    return all(character.isprintable() or character.isspace() for character in text)


def _kind_of(head: bytes, *, whole: bool) -> str:
    """What a file that is not a DuckDB database seems to be, from its first bytes."""
    if head.startswith(b"SQLite format 3\x00"):
        return "it is a SQLite database"
    if head.startswith(b"PAR1"):
        return "it is a Parquet file"
    if _looks_like_text(head, whole=whole):
        start = head[:40].decode("utf-8", errors="replace").strip().splitlines()[0]
        return f"it is a text file, starting {start!r}"
    return "it does not start with DuckDB's header"


def _diagnose(path: Path) -> str | None:
    """Why ``path`` cannot be a metricbridge database, told from the file system and the file's first bytes
    alone (no connection, nothing written); None when it may be one, or does not exist yet."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        return (f"the project database {path} cannot be created: a part of its folder is a file, not a folder; "
                "point --db at a file in a folder you can write.")
    except OSError as error:
        return f"the project database {path} cannot be reached ({error.strerror}): check the path or its permissions."
    if stat.S_ISDIR(info.st_mode):
        return _not_ours(path, f"it is a directory; a file in it would do, e.g. {path / 'metricbridge.duckdb'}")
    if not stat.S_ISREG(info.st_mode):
        return _not_ours(path, "it is not a regular file")
    if info.st_size == 0:
        # Never one of ours: a new database is made whole under another name and then linked into place.
        return (f"{path} is an empty file (0 bytes), not a metricbridge database: delete it to start a new "
                "database there, or point --db elsewhere.")
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError as error:
        return (f"the project database {path} cannot be read ({error.strerror}): check its permissions, or "
                "point --db elsewhere.")
    if head[_MAGIC_AT:_MAGIC_AT + len(_MAGIC)] != _MAGIC:
        return _not_ours(path, _kind_of(head, whole=len(head) == info.st_size))
    if info.st_size < _HEADERS_BYTES:
        return _damaged(path, f"it is cut short: {info.st_size:,} bytes, less than DuckDB's "
                              f"{_HEADERS_BYTES:,} bytes of headers")
    return None


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


_RUN_COLUMNS = ("SELECT r.id, p.name, r.name, r.model, r.dataset_hash, r.created_at, r.created_by, r.note, "
                "r.summary, r.scenario_version_id, r.criteria_version_id FROM runs r JOIN projects p ON "
                "p.id = r.project_id")


def _run_record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(id=row[0], project=row[1], name=row[2], model=row[3], dataset_hash=row[4],
                     created_at=row[5], created_by=row[6], note=row[7], summary=json.loads(row[8]),
                     scenario_version_id=row[9], criteria_version_id=row[10])


class Store:
    """The project database at ``path``: created, or checked and migrated, on construction; a
    :class:`StoreError` says why a path cannot be used (without waiting unless another process holds it)."""

    def __init__(self, path: str | Path | None = None, *, retry_seconds: float = _RETRY_SECONDS) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        self.retry_seconds = retry_seconds
        self._open()

    # -- opening --------------------------------------------------------------------------------------------
    def _open(self) -> None:
        """Refuse a path that is not a metricbridge database, create a missing one, migrate an older one; once
        per version of the file in this process."""
        before = _stamp(self.path)
        if before[0] is not None and _CHECKED.get(_key(self.path)) == before:
            return
        problem = _diagnose(self.path)
        if problem:
            raise StoreError(problem)
        if before[0] is None:
            self._create()
        with self._reading(checked=False) as con:
            version = self._inspect(con)
            missing = self._missing_blocks(con)
        if missing:
            raise StoreError(_damaged(self.path, missing))
        if version < SCHEMA_VERSION:
            self._transaction(self._migrate, checked=False)
        _CHECKED[_key(self.path)] = _stamp(self.path)

    def _reopen_if_gone(self) -> None:
        if not self.path.exists():  # removed since it was opened: start a new one, as a new Store would
            self._open()

    def _create(self) -> None:
        """A new, migrated database, made whole under a temporary name and then linked into place, so the path
        never holds a half-made file (and two processes creating it at once keep one)."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"the folder {folder} for the project database cannot be created "
                             f"({error.strerror or error}): point --db at a file in a folder you can write.") from error
        partial = folder / f".{self.path.name}.{uuid.uuid4().hex[:12]}.partial"
        try:
            con = duckdb.connect(str(partial), config=_CONFIG | {"default_block_size": str(_BLOCK_SIZE)})
            try:
                con.execute("BEGIN TRANSACTION")
                self._migrate(con)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")  # everything in the file itself: its write-ahead log is not linked
            finally:
                con.close()
            try:
                os.link(partial, self.path)
            except FileExistsError:
                pass  # another process made it first: that one is used
            except OSError:  # a file system without hard links: create it in place
                if not self.path.exists():
                    os.replace(partial, self.path)
        except (OSError, duckdb.Error) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else _first_line(error)
            raise StoreError(f"a new project database cannot be created in {folder} ({reason}): point --db at a "
                             "file in a folder you can write.") from error
        finally:
            for leftover in (partial, partial.with_name(partial.name + ".wal")):
                leftover.unlink(missing_ok=True)

    def _inspect(self, con: duckdb.DuckDBPyConnection) -> int:
        """The schema version of an open database (0 for an empty one); refuses a DuckDB database of something
        else and one from a newer metricbridge."""
        try:
            tables = sorted(str(row[0]) for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() UNION ALL "
                "SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
            ).fetchall())
            current = 0
            if "schema_version" in tables:
                current = int((con.execute("SELECT max(version) FROM schema_version").fetchone() or (0,))[0] or 0)
        except duckdb.Error as error:
            raise StoreError(_damaged(self.path, _first_line(error))) from error
        if "schema_version" not in tables and tables:
            shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
            raise StoreError(_not_ours(self.path, f"it is a DuckDB database of something else, with {shown} and no "
                                                  "schema_version table; metricbridge does not write into it"))
        if current > SCHEMA_VERSION:
            raise StoreError(f"the project database {self.path} was written by a newer metricbridge (schema "
                             f"{current}, this one knows {SCHEMA_VERSION}); upgrade metricbridge.")
        return current

    def _missing_blocks(self, con: duckdb.DuckDBPyConnection) -> str | None:
        """What is missing from a file cut short, or None. A DuckDB file is its headers and whole blocks, so a
        size between two blocks means it was cut (a copy interrupted, a disk full), found here without reading
        the tables; only then are the blocks its tables and catalog use looked up, since a partial block at
        the end that nothing uses (a write interrupted before it counted) harms nothing. A cut on a block
        boundary is found by the first read that needs a missing block."""
        try:
            block_size = int((con.execute("SELECT block_size FROM pragma_database_size()").fetchone() or (0,))[0])
            size = self.path.stat().st_size
            if not block_size or (size - _HEADERS_BYTES) % block_size == 0:
                return None
            tables = [str(row[0]) for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall()]
            used = [con.execute("SELECT max(block_id) FROM pragma_metadata_info()").fetchone()]
            used += [con.execute("SELECT max(block_id) FROM pragma_storage_info(?)", [table]).fetchone()
                     for table in tables]
        except (duckdb.Error, OSError) as error:
            return _first_line(error)
        needed = max((int(row[0]) for row in used if row and row[0] is not None and row[0] >= 0), default=-1) + 1
        if _HEADERS_BYTES + needed * block_size <= size:
            return None
        return (f"it is cut short: {size:,} bytes, and its tables need {_HEADERS_BYTES + needed * block_size:,}")

    def _migrate(self, con: duckdb.DuckDBPyConnection) -> None:
        """Every missing migration, inside the caller's transaction (looked at again there: another process
        may have migrated the file since it was inspected)."""
        current = self._inspect(con)
        if current == SCHEMA_VERSION:
            return
        con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP)")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])

    # -- connections --------------------------------------------------------------------------------------
    def _connect(self, *, read_only: bool) -> duckdb.DuckDBPyConnection:
        """A connection, waited for (up to ``retry_seconds``) only while another connection holds the file."""
        deadline = time.monotonic() + self.retry_seconds
        wait = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=_CONFIG)
            except duckdb.Error as error:
                if not _HELD.search(str(error)):
                    raise StoreError(self._cannot_open(error)) from error
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    holder = _HOLDER.search(str(error))
                    raise StoreError(f"the project database {self.path} is busy: "
                                     f"{holder.group(1) if holder else 'another connection'} holds it, and did "
                                     f"not let go within {self.retry_seconds:g} s; try again when it is done."
                                     ) from error
                time.sleep(min(wait, remaining))
                wait = min(wait * 2, 0.5)

    def _cannot_open(self, error: duckdb.Error) -> str:
        """Why DuckDB could not open the file, in the user's terms."""
        problem = _diagnose(self.path)
        if problem:
            return problem
        detail = _first_line(error)
        if "permission denied" in detail.lower():  # its first bytes were read: it is writing that is refused
            return (f"the project database {self.path} cannot be written (permission denied): it and its folder "
                    "(where DuckDB keeps its write-ahead log) must be writable; or point --db elsewhere.")
        if "version" in detail.lower() and not _DAMAGE.search(detail):
            return (f"the project database {self.path} was written by another DuckDB ({detail}); install the "
                    "duckdb that wrote it, or point --db elsewhere.")
        return _damaged(self.path, detail)

    def _failed(self, error: duckdb.Error) -> None:
        """A query's error: a damaged file is said so; anything else is a bug and is raised as it is."""
        if _DAMAGE.search(str(error)):
            raise StoreError(_damaged(self.path, _first_line(error))) from error

    @contextlib.contextmanager
    def _reading(self, *, checked: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for one read (several queries), closed after it."""
        if checked:
            self._reopen_if_gone()
        with _file_lock(self.path).shared():
            con = self._connect(read_only=True)
            try:
                yield con
            except duckdb.Error as error:
                self._failed(error)
                raise
            finally:
                con.close()

    def _transaction(self, work: Callable[[duckdb.DuckDBPyConnection], Any], *, checked: bool = True) -> Any:
        """Run ``work`` in one transaction on a read-write connection. Threads of this process take turns;
        another process is waited for when connecting. A database migrated by a newer metricbridge since it
        was opened is not written."""
        if checked:
            self._reopen_if_gone()
        with _file_lock(self.path).exclusive():
            con = self._connect(read_only=False)
            committed = False
            try:
                con.execute("BEGIN TRANSACTION")
                try:
                    if checked:
                        self._refuse_newer(con)
                    result = work(con)
                    con.execute("COMMIT")
                    committed = True
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        con.execute("ROLLBACK")
                    raise
                return result
            except duckdb.Error as error:
                self._failed(error)
                raise
            finally:
                con.close()
                if committed and checked:  # its schema was just looked at: a later Store need not look again
                    _CHECKED[_key(self.path)] = _stamp(self.path)

    def _refuse_newer(self, con: duckdb.DuckDBPyConnection) -> None:
        current = (con.execute("SELECT max(version) FROM schema_version").fetchone() or (0,))[0] or 0
        if current > SCHEMA_VERSION:
            raise StoreError(f"the project database {self.path} was migrated by a newer metricbridge since it was "
                             f"opened (schema {current}, this one knows {SCHEMA_VERSION}); upgrade metricbridge.")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._reading() as con:
            return con.execute(sql, list(params)).fetchall()

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

    @staticmethod
    def _project_id(con: duckdb.DuckDBPyConnection, name: str) -> str:
        found = con.execute("SELECT id FROM projects WHERE name = ?", [name]).fetchone()
        if not found:
            names = [str(row[0]) for row in con.execute("SELECT name FROM projects ORDER BY name").fetchall()]
            raise StoreError(f"no project named {name!r}; the projects are: {', '.join(names) or 'none yet'}.")
        return str(found[0])

    def create_project(self, name: str, *, who: str | None = None) -> str:
        """The project's id (an existing project of that name keeps its id)."""
        if not name.strip():
            raise StoreError("a project needs a name.")
        return str(self._transaction(lambda con: self._project(con, name, who)))

    def project_id(self, name: str) -> str:
        with self._reading() as con:
            return self._project_id(con, name)

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

    _CARD_KEYS = ("version", "problem", "stakeholders", "stage", "stage_reason", "created_at", "created_by")

    def card(self, project: str) -> dict[str, Any] | None:
        """The latest card of a project, or None before the first."""
        with self._reading() as con:
            row = con.execute("SELECT version, problem, stakeholders, stage, stage_reason, created_at, created_by "
                              "FROM project_cards WHERE project_id = ? ORDER BY version DESC LIMIT 1",
                              [self._project_id(con, project)]).fetchone()
        return dict(zip(self._CARD_KEYS, row, strict=True)) if row else None

    def portfolio(self) -> list[dict[str, Any]]:
        """Every project with its stage and why, its latest run and whether that run met its criteria."""
        with self._reading() as con:
            rows = con.execute(
                "WITH card AS (SELECT project_id, stage, stage_reason, problem FROM project_cards "
                "  QUALIFY row_number() OVER (PARTITION BY project_id ORDER BY version DESC) = 1), "
                "latest AS (SELECT project_id, name, summary, count(*) OVER (PARTITION BY project_id) AS runs "
                "  FROM runs QUALIFY row_number() OVER (PARTITION BY project_id ORDER BY created_at DESC, "
                "  name DESC) = 1) "
                "SELECT p.name, c.stage, c.stage_reason, c.problem, l.runs, l.name, l.summary FROM projects p "
                "LEFT JOIN card c ON c.project_id = p.id LEFT JOIN latest l ON l.project_id = p.id "
                "ORDER BY p.created_at, p.name").fetchall()
        portfolio = []
        for name, stage, why, problem, runs, latest, summary in rows:
            met = json.loads(summary).get("criteria", {}).get("met") if summary else None
            portfolio.append({"project": name, "stage": stage or "ideation", "why": why or "",
                              "problem": problem or "", "runs": int(runs or 0), "latest run": latest,
                              "criteria": None if met is None else ("met" if met else "not met")})
        return portfolio

    def export_dataset(self, digest: str, folder: str | Path) -> Path:
        """The stored rows of a dataset as a Parquet file in ``folder`` (to evaluate a run again)."""
        target = Path(folder) / f"{digest[:32]}.parquet"
        with self._reading() as con:
            table = con.execute("SELECT table_name FROM datasets WHERE hash = ?", [digest]).fetchone()
            if not table:
                raise StoreError(f"no dataset {digest[:12]} in {self.path}.")
            if not target.exists():
                # written beside and renamed, so a reader never finds half a file
                partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}")
                literal = str(partial).replace("'", "''")
                try:
                    con.execute(f'COPY "{table[0]}" TO \'{literal}\' (FORMAT parquet)')
                    os.replace(partial, target)
                except (OSError, duckdb.IOException) as error:
                    partial.unlink(missing_ok=True)
                    if isinstance(error, duckdb.Error) and _DAMAGE.search(str(error)):
                        raise
                    raise StoreError(f"the dataset cannot be written to {folder} ({_first_line(error)}).") from error
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
    @staticmethod
    def _save_dataset(con: duckdb.DuckDBPyConnection, path: Path, name: str, digest: str) -> str:
        """The dataset of ``digest`` (the hash of the file at ``path``), stored once per content: a second
        save of the same bytes, under any name, adds nothing."""
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
        with self._reading() as con:
            rows = con.execute("SELECT id, name, version, yaml, agreed_by, agreed_on, created_at FROM "
                               "criteria_versions WHERE project_id = ? ORDER BY name, version",
                               [self._project_id(con, project)]).fetchall()
        return [{"id": r[0], "name": r[1], "version": r[2], "yaml": r[3], "agreed_by": json.loads(r[4] or "[]"),
                 "agreed_on": r[5], "created_at": r[6]} for r in rows]

    def scenario_versions(self, project: str) -> list[dict[str, Any]]:
        with self._reading() as con:
            rows = con.execute("SELECT id, name, version, yaml, created_at FROM scenario_versions WHERE "
                               "project_id = ? ORDER BY name, version", [self._project_id(con, project)]).fetchall()
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
        digest = file_digest(source)  # before the transaction: other processes need not wait for the hashing

        def work(con: duckdb.DuckDBPyConnection) -> list[str]:
            project_id = self._project(con, project, who)
            self._save_dataset(con, source, file_name, digest)
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
        """The runs of a project (of every project when None), oldest first; one connection, one query."""
        with self._reading() as con:
            if project:
                project_id = self._project_id(con, project)  # a clear error for an unknown project
                rows = con.execute(f"{_RUN_COLUMNS} WHERE r.project_id = ? ORDER BY r.created_at, r.name",
                                   [project_id]).fetchall()
            else:
                rows = con.execute(f"{_RUN_COLUMNS} ORDER BY r.created_at, r.name").fetchall()
        return [_run_record(row) for row in rows]

    def run(self, run_id: str) -> RunRecord:
        """The run whose id is, or starts with, ``run_id``."""
        rows = self._read(f"{_RUN_COLUMNS} WHERE starts_with(r.id, ?) ORDER BY r.id LIMIT 2", [run_id])
        if len(rows) != 1:
            raise StoreError(f"no run {'matches' if not rows else 'is unique for'} {run_id!r}; list them with "
                             "`metricbridge runs list`.")
        return _run_record(rows[0])

    def decisions(self, run_id: str) -> list[dict[str, Any]]:
        rows = self._read("SELECT threshold, rationale, decided_by, created_at FROM decisions WHERE run_id = ? "
                          "ORDER BY created_at", [run_id])
        return [{"threshold": r[0], "rationale": r[1], "decided_by": r[2], "created_at": r[3]} for r in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (for checks and the crash test)."""
        tables = ("projects", "datasets", "runs", "scenario_versions", "criteria_versions", "decisions")
        (row,) = self._read("SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables))
        return {table: int(count) for table, count in zip(tables, row, strict=True)}
