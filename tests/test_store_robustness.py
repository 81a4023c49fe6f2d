"""The project database against paths that are not one: each is named as what it is, at once, and left as it
was; "busy" only while another process really holds the file."""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from metricbridge.cli import main
from metricbridge.errors import StoreError
from metricbridge.store import SCHEMA_VERSION, Store

GOOD = Path(__file__).parent / "data" / "good" / "semicolon_yes_no.csv"
DEMO = Path(__file__).resolve().parents[1] / "data" / "fraud_transactions.parquet"
DAMAGED = "damaged: restore it from a copy or point --db elsewhere"
NOT_OURS = "not a metricbridge database"


def _save(store: Store, project: str = "Churn") -> list[str]:
    return store.save_runs(project=project, path=GOOD, file_name=GOOD.name, models=[{"name": "model_a_score"}],
                           columns={"label": "outcome"}, who="tester", decisions=[(0.5, "the default threshold")])


def _real_database(folder: Path) -> Path:
    """A metricbridge database with a run and its dataset, made in its own folder."""
    folder.mkdir()
    path = folder / "real.duckdb"
    _save(Store(path))
    return path


# -- the bad files, built in a temporary folder -----------------------------------------------------------------
def _truncated(tmp_path: Path) -> Path:
    content = _real_database(tmp_path / "source").read_bytes()
    path = tmp_path / "truncated.duckdb"
    path.write_bytes(content[:len(content) // 3])
    return path


def _headers_cut(tmp_path: Path) -> Path:
    path = tmp_path / "headers_cut.duckdb"
    path.write_bytes(_real_database(tmp_path / "source").read_bytes()[:5000])
    return path


def _random_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "random.duckdb"
    path.write_bytes(random.Random(0).randbytes(20_000))
    return path


def _sqlite(tmp_path: Path) -> Path:
    path = tmp_path / "projects.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as con:  # closed before the file is compared
        con.execute("CREATE TABLE runs (id TEXT)")
        con.execute("INSERT INTO runs VALUES ('r1')")
        con.commit()
    return path


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "notes.duckdb"
    path.write_text("name,score\nweek 1,0.8\n")
    return path


def _parquet(tmp_path: Path) -> Path:
    path = tmp_path / "predictions.parquet"  # the data file given as --db by mistake
    shutil.copy(DEMO, path)
    return path


def _directory(tmp_path: Path) -> Path:
    path = tmp_path / "folder.duckdb"
    path.mkdir()
    (path / "keep.txt").write_text("a file in the folder")
    return path


def _foreign(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
        con.execute("INSERT INTO sales VALUES (1, 9.5)")
        con.execute("CREATE VIEW big_sales AS SELECT * FROM sales WHERE amount > 100")
    return path


def _empty(tmp_path: Path) -> Path:
    path = tmp_path / "empty.duckdb"
    path.touch()
    return path


# builder, fragments the message holds
BAD_PATHS: list[tuple[Callable[[Path], Path], list[str]]] = [
    (_truncated, [DAMAGED, "cut short", "its tables need"]),
    (_headers_cut, [DAMAGED, "cut short", "5,000 bytes"]),
    (_random_bytes, [NOT_OURS, "does not start with DuckDB's header"]),
    (_sqlite, [NOT_OURS, "SQLite database"]),
    (_text, [NOT_OURS, "text file", "'name,score'"]),
    (_parquet, [NOT_OURS, "Parquet file"]),
    (_directory, [NOT_OURS, "directory"]),
    (_foreign, [NOT_OURS, "DuckDB database of something else", "big_sales, sales", "does not write into it"]),
    (_empty, [NOT_OURS, "empty file (0 bytes)", "delete it"]),
]


def _snapshot(path: Path) -> tuple[object, ...]:
    """The bytes and time of a file (or the listing and time of a folder), and what lies beside it."""
    info = path.stat()
    content = sorted(p.name for p in path.iterdir()) if path.is_dir() else path.read_bytes()
    return content, info.st_mtime_ns, info.st_size, sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("build, fragments", BAD_PATHS, ids=[build.__name__.strip("_") for build, _ in BAD_PATHS])
def test_a_path_that_is_not_a_usable_database_is_named_at_once_and_left_as_it_was(tmp_path, capsys, build,
                                                                                  fragments):
    path = build(tmp_path)
    before = _snapshot(path)
    started = time.monotonic()
    with pytest.raises(StoreError) as raised:
        Store(path)  # the default retry time: nothing here may wait for it
    assert time.monotonic() - started < 1.0
    message = str(raised.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message
    assert "busy" not in message and "try again" not in message
    assert main(["runs", "list", "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert fragments[0] in err and "Traceback" not in err
    assert _snapshot(path) == before


def test_a_truncated_database_gives_a_store_error_wherever_it_is_cut(tmp_path):
    """Cut anywhere, a database either still reads (only free space was cut) or says it is damaged, at open when
    the cut falls between two blocks, else at the first read that needs what is missing; never another
    exception, and the cut file is not written."""
    source = _real_database(tmp_path / "source")
    content = source.read_bytes()
    (digest, _, _), = Store(source).datasets()
    with duckdb.connect(str(source), read_only=True) as con:
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    on_blocks = range(12_288, len(content), block_size)
    between = range(12_288 + 1000, len(content), len(content) // 16)
    outcomes = set()
    for cut in sorted({1, 100, 4096, 12_287, *on_blocks, *between}):
        path = tmp_path / f"cut_{cut}.duckdb"
        path.write_bytes(content[:cut])
        before = _snapshot(path)
        step = "open"
        try:
            store = Store(path)
            step = "read"
            store.runs()
            store.portfolio()
            store.counts()
            store.export_dataset(digest, tmp_path)
            outcomes.add("all read")
        except StoreError as error:
            too_short_to_tell = cut < 12  # DuckDB's magic bytes end at byte 12
            assert DAMAGED in str(error) or (too_short_to_tell and NOT_OURS in str(error)), (cut, str(error))
            outcomes.add(f"damaged at {step}")
        assert _snapshot(path)[:3] == before[:3], cut
    assert {"damaged at open", "damaged at read"} <= outcomes


def test_damage_inside_a_table_is_named_by_the_read_that_meets_it(tmp_path):
    path = _real_database(tmp_path / "source")
    with duckdb.connect(str(path), read_only=True) as con:
        (table, digest), = con.execute("SELECT table_name, hash FROM datasets").fetchall()
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        block = con.execute(f"SELECT min(block_id) FROM pragma_storage_info('{table}') WHERE block_id >= 0"
                            ).fetchone()[0]
    content = bytearray(path.read_bytes())
    at = 3 * 4096 + block * block_size + 64  # past the three headers, inside the dataset's first block
    content[at:at + 64] = bytes(byte ^ 0xFF for byte in content[at:at + 64])
    path.write_bytes(bytes(content))
    store = Store(path)
    assert len(store.runs()) == 1  # the other tables still read
    with pytest.raises(StoreError, match="checksum.*" + DAMAGED):
        store.export_dataset(digest, tmp_path)


def test_an_empty_duckdb_database_becomes_a_metricbridge_database(tmp_path):
    path = tmp_path / "fresh.duckdb"
    duckdb.connect(str(path)).close()  # made by someone with duckdb, nothing in it yet
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION
    _save(store)
    assert store.counts()["runs"] == 1


def test_a_new_database_is_made_whole_before_it_appears(tmp_path):
    path = tmp_path / "nested" / "folders" / "mb.duckdb"
    Store(path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["mb.duckdb"]  # no partial file, no log left
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == SCHEMA_VERSION


def _permissions_bind() -> bool:
    """Whether a read-only file refuses this process (not for root with its usual capabilities)."""
    if sys.platform == "win32":
        return False
    with tempfile.TemporaryDirectory() as folder:
        probe = Path(folder) / "probe"
        probe.write_text("")
        probe.chmod(0o444)
        try:
            probe.open("a").close()
        except PermissionError:
            return True
        return False


def test_a_folder_that_cannot_be_made_is_said_so(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="a part of its folder is a file.*a folder you can write"):
        Store(blocker / "db" / "mb.duckdb")
    assert blocker.read_text() == "not a folder"


@pytest.mark.skipif(not _permissions_bind(), reason="file permissions do not bind here (root, Windows)")
def test_a_folder_that_cannot_be_written_is_said_so(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(StoreError, match=r"cannot be created in .*locked.*a folder you can write"):
            Store(folder / "mb.duckdb")
        with pytest.raises(StoreError, match="folder .* cannot be created"):
            Store(folder / "sub" / "mb.duckdb")
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not _permissions_bind(), reason="file permissions do not bind here (root, Windows)")
def test_a_database_that_cannot_be_written_is_still_read(tmp_path):
    path = _real_database(tmp_path / "shared")
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        store = Store(path)
        assert len(store.runs()) == 1  # reads take read-only connections
        with pytest.raises(StoreError, match="cannot be written .permission denied.*its folder"):
            _save(store)
    finally:
        path.parent.chmod(0o755)
        path.chmod(0o644)


def test_a_database_removed_while_in_use_is_started_again(tmp_path):
    path = tmp_path / "mb.duckdb"
    store = Store(path)
    _save(store)
    path.unlink()
    assert store.runs() == []
    _save(store)
    assert store.counts()["runs"] == 1


def test_a_database_a_newer_metricbridge_migrated_since_it_was_opened_is_not_written(tmp_path):
    path = tmp_path / "mb.duckdb"
    store = Store(path)
    _save(store)
    with duckdb.connect(str(path)) as con:
        con.execute("INSERT INTO schema_version VALUES (?, now())", [SCHEMA_VERSION + 1])
    with pytest.raises(StoreError, match="newer metricbridge"):
        _save(store)
    with pytest.raises(StoreError, match="newer metricbridge"):
        Store(path)  # the refused write left no mark that the file was checked
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchone()[0] == 1


# -- another process holding the file ----------------------------------------------------------------------------
HOLDER = textwrap.dedent("""
    import sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
    print("holding", flush=True)
    time.sleep(float(sys.argv[3]))
    con.close()
""")


def _hold(tmp_path: Path, db: Path, mode: str, seconds: float) -> subprocess.Popen:
    """Another process holding ``db`` open (``mode`` "read" or "write") for ``seconds``, once it says so."""
    script = tmp_path / "hold.py"
    script.write_text(HOLDER)
    holder = subprocess.Popen([sys.executable, str(script), str(db), mode, str(seconds)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n", holder.communicate()
    return holder


def test_a_database_another_process_holds_is_waited_for_then_called_busy(tmp_path):
    db = tmp_path / "mb.duckdb"
    _save(Store(db))
    holder = _hold(tmp_path, db, "write", 60)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match=r"is busy: .*\(PID \d+\) holds it, and did not let go within 0.5 s"
                           ) as raised:
            Store(db, retry_seconds=0.5).runs()
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.communicate()  # and its pipes closed
    assert 0.5 <= waited < 10
    assert f"PID {holder.pid}" in str(raised.value)


def test_a_database_is_read_as_soon_as_the_other_process_lets_go(tmp_path):
    db = tmp_path / "mb.duckdb"
    _save(Store(db))
    holder = _hold(tmp_path, db, "write", 0.5)
    try:
        (run,) = Store(db, retry_seconds=30).runs()
    finally:
        holder.communicate(timeout=30)
    assert run.model == "model_a_score"


def test_readers_in_two_processes_do_not_wait_for_each_other(tmp_path):
    db = tmp_path / "mb.duckdb"
    _save(Store(db))
    holder = _hold(tmp_path, db, "read", 60)
    try:
        started = time.monotonic()
        store = Store(db)  # the default retry time
        assert len(store.runs()) == 1 and store.portfolio()[0]["runs"] == 1
        assert time.monotonic() - started < 1.0
        with pytest.raises(StoreError, match="busy"):  # a writer still waits for the reader
            _save(Store(db, retry_seconds=0.2))
    finally:
        holder.kill()
        holder.communicate()  # and its pipes closed


def test_threads_reading_while_others_write_all_succeed(tmp_path):
    """Reads use read-only connections and writes read-write ones, which DuckDB refuses to mix in one process:
    the store's threads take turns by kind."""
    db = tmp_path / "mb.duckdb"
    store = Store(db)
    errors: list[BaseException] = []
    writing = threading.Event()
    writing.set()

    def write(index: int) -> None:
        try:
            for _ in range(3):
                _save(store, project=f"Writer {index}")
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    def read() -> None:
        try:
            while writing.is_set():
                store.runs()
                store.portfolio()
        except BaseException as error:  # collected and asserted below
            errors.append(error)

    writers = [threading.Thread(target=write, args=(i,)) for i in range(2)]
    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    writing.clear()
    for thread in readers:
        thread.join()
    assert errors == []
    assert store.counts()["runs"] == 6
