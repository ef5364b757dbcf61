"""The core outbox source: every outbox event reaches `raw.events` exactly once, on SQLite and
on PostgreSQL, whatever the commit order of the core's transactions and wherever the reader is
killed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from core_support import Core, envelope, make_core

from foundation.contract.examples import all_examples, example
from ingestion.loader import connect, ingest
from ingestion.loader.load import load_batch
from ingestion.sources import core_outbox
from ingestion.sources.core_outbox import SOURCE, read_cursor
from tests.pg_support import fresh_pg_database, require_pg


def pull_outbox(con, url: str, **kw):
    """Pull, after waiting (at most 5 s) for transactions of other tests on the same
    PostgreSQL server: the reader's horizon is the cluster-wide oldest transaction in
    flight, so a parallel test's open transaction would delay delivery here."""
    if url.startswith("postgresql"):
        engine = sa.create_engine(url)
        deadline = time.monotonic() + 5
        try:
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    newest = conn.execute(sa.text("select max(txid) from outbox")).scalar()
                    horizon = conn.execute(
                        sa.text("select pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
                    ).scalar()
                if newest is None or horizon > newest:
                    break
                time.sleep(0.05)
        finally:
            engine.dispose()
    return core_outbox.pull_outbox(con, url, **kw)


REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("outbox_worker.py")
TYPES = [e["event_type"] for e in all_examples()]


# --- the two core databases ------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url():
    require_pg()
    with fresh_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def core(request, tmp_path: Path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'core.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    c = make_core(url)
    yield c
    c.engine.dispose()


@pytest.fixture
def pg_core(pg_url):
    c = make_core(pg_url)
    yield c
    c.engine.dispose()


@pytest.fixture
def warehouse(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def events(n: int, start: int = 0, seed: int = 11) -> list[dict]:
    rng = random.Random(seed + start)
    out = []
    for i in range(start, start + n):
        e = example(rng.choice(TYPES), n=i, event_id=f"core-{i:06d}")
        if e["customer_id"]:
            e["customer_id"] = f"c_{i % 13}"
        out.append(e)
    return out


RAW = "event_id, event_type, schema_version, occurred_at, source, customer_id, data::varchar"


def raw_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(f"select {RAW} from raw.events order by event_id").fetchall()


def state(con: duckdb.DuckDBPyConnection) -> tuple:
    """Everything a pull may change."""
    return (
        con.execute(f"select {RAW}, batch_id, source_line from raw.events order by all").fetchall(),
        con.execute("select * from raw.quarantine order by all").fetchall(),
        con.execute("select * from raw.load_ledger order by all").fetchall(),
        con.execute("select * from raw.source_cursors order by all").fetchall(),
    )


def file_load(tmp_path: Path, texts: list[str]) -> list[tuple]:
    """The raw rows the same envelopes give when loaded from an NDJSON file."""
    path = tmp_path / "same.ndjson"
    path.write_text("".join(t + "\n" for t in texts))
    con = connect(tmp_path / "from-file.duckdb")
    try:
        ingest(con, [path])
        return raw_rows(con)
    finally:
        con.close()


# --- exactly once ----------------------------------------------------------------------------


def test_events_of_several_transactions_arrive_once_as_written(core: Core, warehouse, tmp_path):
    written = events(24)
    for i in range(0, 24, 6):  # four transactions, a pull after the second
        core.commit(written[i : i + 6])
        if i == 6:
            first = pull_outbox(warehouse, core.url, batch_size=8)
            assert first.loaded == 12
    report = pull_outbox(warehouse, core.url, batch_size=8)
    assert (report.loaded, report.duplicates, report.quarantined) == (12, 0, 0)
    assert len(report.files) == 2  # 8 + 4: the short batch ends the pull

    rows = core.rows()
    assert raw_rows(warehouse) == file_load(tmp_path, [r[2] for r in rows])
    loaded = warehouse.execute(
        "select event_id, data::varchar, source_file, source_line from raw.events"
    ).fetchall()
    by_id = {e["event_id"]: e for e in written}
    seq_of = {json.loads(text)["event_id"]: seq for _, seq, text in rows}
    assert sorted(r[0] for r in loaded) == sorted(by_id)
    for event_id, data, source_file, source_line in loaded:
        assert json.loads(data) == by_id[event_id]["data"]
        assert (source_file, source_line) == (SOURCE, seq_of[event_id])
    assert read_cursor(warehouse)[1:] == rows[-1][:2]
    ledger = warehouse.execute(
        "select source_file, file_format, sum(lines), sum(loaded) from raw.load_ledger group by all"
    ).fetchall()
    assert ledger == [(SOURCE, "outbox", 24, 24)]


def test_pulling_again_changes_nothing(core: Core, warehouse):
    core.commit(events(12) + ["{not json"])
    pull_outbox(warehouse, core.url, batch_size=7)
    before = state(warehouse)
    again = pull_outbox(warehouse, core.url, batch_size=7)
    assert (again.files, again.loaded, again.restarted) == ([], 0, False)
    assert state(warehouse) == before


def test_bad_envelopes_are_quarantined_and_the_cursor_moves_past(core: Core, warehouse):
    good = events(3)
    future = example("customer.created", n=90, event_id="core-future")
    future["occurred_at"] = "2099-01-01T00:00:00Z"
    unknown = example("customer.created", n=91, event_id="core-unknown")
    unknown["event_type"] = "customer.teleported"
    bad = ['{"event_id": "core-broken", ', envelope(unknown), envelope(future)]
    core.commit([good[0], *bad, good[1]])
    core.commit([good[2]])
    report = pull_outbox(warehouse, core.url, batch_size=4)
    assert (report.loaded, report.quarantined) == (3, 3)
    rows = core.rows()
    assert read_cursor(warehouse)[1:] == rows[-1][:2]
    quarantined = warehouse.execute(
        "select source_file, source_line, reason_code, raw_text from raw.quarantine "
        "order by source_line"
    ).fetchall()
    seq_of = {text: seq for _, seq, text in rows}
    assert quarantined == [
        (SOURCE, seq_of[bad[0]], "malformed_json", bad[0]),
        (SOURCE, seq_of[bad[1]], "unknown_event_type", bad[1]),
        (SOURCE, seq_of[bad[2]], "future_timestamp", bad[2]),
    ]
    assert pull_outbox(warehouse, core.url).files == []
    assert warehouse.execute("select count(*) from raw.quarantine").fetchall()[0][0] == 3


# --- commit order on PostgreSQL ----------------------------------------------------------------


def test_a_row_committed_late_with_a_smaller_seq_is_not_skipped(pg_core: Core, warehouse):
    core = pg_core
    core.commit(events(1, start=0))  # committed before A begins: readable at once
    with core.engine.connect() as a, core.engine.connect() as b:
        txn_a = a.begin()
        core.write(a, events(1, start=1))  # seq 2, the older transaction
        txn_b = b.begin()
        core.write(b, events(1, start=2))  # seq 3
        txn_b.commit()  # B commits first
        while_a_open = pull_outbox(warehouse, core.url)
        assert while_a_open.loaded == 1  # only the row before A; B's waits behind A
        assert read_cursor(warehouse)[2] == 1
        txn_a.commit()
    report = pull_outbox(warehouse, core.url)
    assert report.loaded == 2
    assert [r[0] for r in raw_rows(warehouse)] == ["core-000000", "core-000001", "core-000002"]
    assert read_cursor(warehouse)[1:] == core.rows()[-1][:2]
    assert pull_outbox(warehouse, core.url).files == []


def test_rows_are_read_in_transaction_order_not_seq_order(pg_core: Core, warehouse):
    core = pg_core
    with core.engine.connect() as a, core.engine.connect() as b:
        txn_b = b.begin()
        b.execute(sa.text("select pg_current_xact_id()"))  # B's id is the older one
        txn_a = a.begin()
        core.write(a, events(1, start=0))  # seq 1, younger transaction
        core.write(b, events(1, start=1))  # seq 2, older transaction
        txn_a.commit()
        assert pull_outbox(warehouse, core.url).files == []  # A waits behind B
        txn_b.commit()
    report = pull_outbox(warehouse, core.url, batch_size=1)
    assert report.loaded == 2
    # the older transaction's seq 2 came first, then seq 1; the cursor is on seq 1
    order = warehouse.execute("select source_line from raw.events order by loaded_at").fetchall()
    assert order == [(2,), (1,)]
    ledger = warehouse.execute("select count(*) from raw.load_ledger").fetchall()[0][0]
    assert ledger == 2
    assert read_cursor(warehouse)[2] == 1
    assert pull_outbox(warehouse, core.url).files == []


# --- a reader killed mid-batch -----------------------------------------------------------------


def _worker(tmp: Path, url: str, batch_size: int, hang_at: int = 0):
    marker = tmp / f"marker-{time.monotonic_ns()}"
    cmd = [sys.executable, str(WORKER), str(tmp / "warehouse.duckdb"), url, str(batch_size)]
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([*cmd, str(marker), str(hang_at)], cwd=REPO, env=env)
    return proc, marker


def _wait_for(marker: Path, text: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (marker.exists() and marker.read_text() == text):
        assert proc.poll() is None, f"worker exited early ({proc.returncode})"
        assert time.monotonic() < deadline, f"worker never reached {text!r}"
        time.sleep(0.01)


def _kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _consistent(tmp: Path, core: Core) -> int:
    """The warehouse holds exactly the outbox rows up to its cursor; returns how many."""
    con = connect(tmp / "warehouse.duckdb")
    try:
        cursor = read_cursor(con)
        upto = [r for r in core.rows() if cursor and r[:2] <= cursor[1:]]
        got = con.execute(
            """select source_line from raw.events union all
               select source_line from raw.quarantine order by 1"""
        ).fetchall()
        assert [g[0] for g in got] == sorted(r[1] for r in upto)
        lines = con.execute("select coalesce(sum(lines), 0) from raw.load_ledger").fetchall()[0][0]
        assert lines == len(upto)
        return len(upto)
    finally:
        con.close()


def test_a_reader_killed_inside_its_transaction_loses_and_repeats_nothing(core: Core, tmp_path):
    bad = '{"event_id": "core-torn"'
    written = events(30)
    core.commit(written[:12])
    core.commit([bad, *written[12:]])
    proc, marker = _worker(tmp_path, core.url, batch_size=10, hang_at=2)
    _wait_for(marker, "in-transaction", proc)
    _kill(proc)  # the second batch had its events and cursor written, not committed
    assert _consistent(tmp_path, core) == 10

    con = connect(tmp_path / "warehouse.duckdb")
    try:
        report = pull_outbox(con, core.url, batch_size=25)
        assert (report.loaded, report.duplicates, report.quarantined) == (20, 0, 1)
        assert sorted(r[0] for r in raw_rows(con)) == sorted(e["event_id"] for e in written)
        rows = core.rows()
        assert read_cursor(con)[1:] == rows[-1][:2]
        assert con.execute("select raw_text from raw.quarantine").fetchall() == [(bad,)]
    finally:
        con.close()
    assert _consistent(tmp_path, core) == 31


def test_a_reader_killed_at_random_times_loses_and_repeats_nothing(core: Core, tmp_path):
    rng = random.Random(5)
    written = events(36)
    for i in range(0, 36, 9):
        core.commit(written[i : i + 9] + [f'{{"broken": {i}'])
    seen = 0
    for _ in range(2):  # a batch takes about 0.5 s (planning the validator's SQL)
        proc, marker = _worker(tmp_path, core.url, batch_size=10)
        _wait_for(marker, "ready", proc)
        time.sleep(rng.uniform(0.0, 1.2))
        _kill(proc)
        now = _consistent(tmp_path, core)
        assert now >= seen
        seen = now
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        pull_outbox(con, core.url, batch_size=40)
        counts = con.execute("select count(*), count(distinct event_id) from raw.events")
        assert counts.fetchall() == [(36, 36)]
        quarantine = con.execute("select reason_code, count(*) from raw.quarantine group by 1")
        assert quarantine.fetchall() == [("malformed_json", 4)]
        assert read_cursor(con)[1:] == core.rows()[-1][:2]
    finally:
        con.close()
    assert _consistent(tmp_path, core) == 40


def test_a_failing_batch_rolls_back_with_its_cursor(core: Core, warehouse, monkeypatch):
    core.commit(events(10))

    def failing(con, lines, source, *, in_transaction, **kw):
        def hook(c, result):
            in_transaction(c, result)
            if lines.column("line_no")[0].as_py() > 5:
                raise RuntimeError("disk full")

        return load_batch(con, lines, source, in_transaction=hook, **kw)

    monkeypatch.setattr(core_outbox, "load_batch", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        pull_outbox(warehouse, core.url, batch_size=5)
    assert read_cursor(warehouse)[2] == 5
    assert warehouse.execute("select count(*) from raw.events").fetchall()[0][0] == 5
    monkeypatch.undo()
    assert pull_outbox(warehouse, core.url, batch_size=5).loaded == 5


# --- the reader and the core --------------------------------------------------------------------


def test_the_reader_holds_no_lock_on_the_core_while_loading(core: Core, warehouse, monkeypatch):
    core.commit(events(6))
    checked = []

    def loading(con, lines, source, *, in_transaction, **kw):
        def hook(c, result):
            in_transaction(c, result)
            # the core takes the strongest lock on its outbox, and writes, mid-load
            with core.engine.begin() as conn:
                if core.dialect == "postgresql":
                    conn.execute(sa.text("lock table outbox in access exclusive mode nowait"))
                else:
                    conn.exec_driver_sql("pragma busy_timeout = 0")
                    conn.exec_driver_sql("begin exclusive")
                core.write(conn, [example("customer.updated", n=500 + len(checked))])
            checked.append(result.lines)

        return load_batch(con, lines, source, in_transaction=hook, **kw)

    monkeypatch.setattr(core_outbox, "load_batch", loading)
    report = pull_outbox(warehouse, core.url, batch_size=4)
    assert checked and report.loaded == sum(checked)


def test_the_reader_never_writes_to_the_core(core: Core):
    with (
        core_outbox.read_only_engine(core.url) as engine,
        engine.connect() as conn,
        pytest.raises(sa.exc.DBAPIError),
    ):
        conn.execute(core.outbox.delete())


def test_a_cursor_of_another_or_a_recreated_database_starts_over(tmp_path: Path, warehouse):
    first = make_core(f"sqlite:///{tmp_path / 'a.db'}")
    first.commit(events(5))
    pull_outbox(warehouse, first.url)
    # another database: its seqs 1..3 are below the cursor (5) but are new events
    other = make_core(f"sqlite:///{tmp_path / 'b.db'}")
    other.commit(events(3, start=100))
    report = pull_outbox(warehouse, other.url)
    assert (report.restarted, report.loaded) == (True, 3)
    assert read_cursor(warehouse)[0].endswith("b.db")
    # the first database recreated at the same path: fewer rows than the cursor says
    first.engine.dispose()
    (tmp_path / "a.db").unlink()
    again = make_core(first.url)
    again.commit(events(2, start=200))
    report = pull_outbox(warehouse, again.url)  # origin differs (b.db) anyway
    assert (report.restarted, report.loaded) == (True, 2)
    again.commit(events(2, start=300))
    assert pull_outbox(warehouse, again.url).loaded == 2
    # same path, recreated again, with the cursor (seq 4) past its newest row (seq 2)
    again.engine.dispose()
    (tmp_path / "a.db").unlink()
    third = make_core(first.url)
    third.commit(events(2, start=400))
    report = pull_outbox(warehouse, third.url)
    assert (report.restarted, report.loaded) == (True, 2)
    assert warehouse.execute("select count(*) from raw.events").fetchall()[0][0] == 14


def test_no_core_file_or_no_outbox_pulls_nothing(tmp_path: Path, warehouse):
    missing = tmp_path / "absent.db"
    report = pull_outbox(warehouse, f"sqlite:///{missing}")
    assert report.missing and not missing.exists()
    sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}").connect().close()
    assert pull_outbox(warehouse, f"sqlite:///{tmp_path / 'empty.db'}").missing
    assert core_outbox.outbox_frontier(f"sqlite:///{missing}") is None


def test_the_frontier_is_what_a_pull_could_read(core: Core):
    assert core_outbox.outbox_frontier(core.url) is None
    core.commit(events(3))
    assert core_outbox.outbox_frontier(core.url) == core.rows()[-1][:2]
