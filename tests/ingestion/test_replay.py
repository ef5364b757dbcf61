"""Replay of quarantined lines: fixed lines load exactly once (keeping their provenance), bad
ones stay quarantined with today's reason, re-running changes nothing, a failure rolls the
whole replay back; and the request queue the app files for the pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from foundation.contract.examples import example
from foundation.replay_requests import pending_requests, write_request
from ingestion.loader import connect, ingest
from ingestion.loader.replay import execute_requests, open_quarantine, replay

EARLY = datetime(2026, 2, 1, tzinfo=UTC)  # the loader's clock at first load
LATER = datetime(2026, 6, 1, tzinfo=UTC)  # when the replay runs
FUTURE = "2026-03-01T00:00:00Z"  # in the future at EARLY, in the past at LATER


@pytest.fixture
def warehouse(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def _quarantine_by_hand(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    """Rows quarantined by an older, stricter contract: (line, event_id, reason, text)."""
    for line, event_id, reason, text in rows:
        con.execute(
            "insert into raw.quarantine values ('b-old', 'old.ndjson', ?, ?, ?, 'old rule', ?,"
            " timestamp '2025-12-01', null)",
            [line, event_id, reason, text],
        )


@pytest.fixture
def quarantined(tmp_path: Path, warehouse) -> Path:
    """One file: 2 good events, 1 future-dated (fixable: time passes), 1 malformed line.
    Plus 3 rows quarantined by hand: a now-valid event, a copy of a loaded event (a duplicate)
    and an event with a bad timestamp quarantined for another reason (still failing)."""
    good = [example("customer.created", n=1), example("subscription.started", n=2)]
    future = example("customer.created", n=3, occurred_at=FUTURE)
    f = tmp_path / "a.ndjson"
    f.write_text("\n".join([json.dumps(e) for e in good] + [json.dumps(future), "{oops"]) + "\n")
    report = ingest(warehouse, [f], now=EARLY)
    assert (report.loaded, report.quarantined) == (2, 2)
    bad_time = example("customer.created", n=5)
    bad_time["occurred_at"] = "yesterday"
    _quarantine_by_hand(
        warehouse,
        [
            (1, "ex-customer.created-4", "unknown_event_type", json.dumps(example("customer.created", n=4))),
            (2, good[0]["event_id"], "unknown_event_type", json.dumps(good[0])),
            (3, bad_time["event_id"], "unknown_event_type", json.dumps(bad_time)),
        ],
    )  # fmt: skip
    return f


def _quarantine(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select source_file, source_line, reason_code, replayed_at is not null from raw.quarantine"
        " order by source_file, source_line"
    ).fetchall()


def _events(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select event_id, source_file, source_line from raw.events order by event_id"
    ).fetchall()


def test_replay_loads_fixed_lines_once_and_keeps_bad_ones(quarantined: Path, warehouse):
    result = replay(warehouse, now=LATER)
    # 5 open lines: the future one and the now-valid one load, the copy is a duplicate,
    # "{oops" and the bad timestamp still fail
    assert (result.attempted, result.loaded, result.duplicates, result.still_quarantined) == (
        5,
        2,
        1,
        2,
    )
    events = _events(warehouse)
    assert len(events) == 4
    by_id = {e[0]: e[1:] for e in events}
    # replayed events point back at the line they were quarantined from
    assert by_id["ex-customer.created-3"] == (str(quarantined), 3)
    assert by_id["ex-customer.created-4"] == ("old.ndjson", 1)
    assert _quarantine(warehouse) == [
        (str(quarantined), 3, "future_timestamp", True),
        (str(quarantined), 4, "malformed_json", False),
        ("old.ndjson", 1, "unknown_event_type", True),
        ("old.ndjson", 2, "unknown_event_type", True),
        # still failing: the reason is refreshed to today's verdict
        ("old.ndjson", 3, "invalid_timestamp", False),
    ]
    ledger = warehouse.execute(
        "select source_file, file_format, lines, loaded, duplicates, quarantined"
        " from raw.load_ledger where batch_id = ?",
        [result.batch_id],
    ).fetchall()
    assert ledger == [("replay", "replay", 5, 2, 1, 2)]
    assert open_quarantine(warehouse) == [("invalid_timestamp", 1, 1), ("malformed_json", 1, 1)]

    # idempotent: a second replay only retries the two bad lines and changes nothing
    before = _events(warehouse), _quarantine(warehouse)
    again = replay(warehouse, now=LATER)
    assert (again.attempted, again.loaded, again.duplicates, again.still_quarantined) == (
        2,
        0,
        0,
        2,
    )
    assert (_events(warehouse), _quarantine(warehouse)) == before


def test_replay_by_reason_and_batch(quarantined: Path, warehouse):
    only = replay(warehouse, ["future_timestamp"], now=LATER)
    assert (only.attempted, only.loaded) == (1, 1)
    assert [q[3] for q in _quarantine(warehouse)] == [True, False, False, False, False]
    assert replay(warehouse, batches=["no-such-batch"], now=LATER).attempted == 0
    old = replay(warehouse, batches=["b-old"], now=LATER)
    assert (old.attempted, old.loaded, old.duplicates, old.still_quarantined) == (3, 1, 1, 1)
    with pytest.raises(ValueError, match="unknown reason code nope"):
        replay(warehouse, ["nope"])


def test_a_failure_rolls_the_whole_replay_back(quarantined: Path, warehouse):
    before = _events(warehouse), _quarantine(warehouse)

    def boom(con, result):
        raise RuntimeError("crash inside the transaction")

    with pytest.raises(RuntimeError):
        replay(warehouse, now=LATER, in_transaction=boom)
    assert (_events(warehouse), _quarantine(warehouse)) == before
    assert warehouse.execute(
        "select count(*) from raw.load_ledger where file_format = 'replay'"
    ).fetchall() == [(0,)]
    # and then it works
    assert replay(warehouse, now=LATER).loaded == 2


def test_lines_without_text_are_not_replayable(warehouse):
    warehouse.execute(
        "insert into raw.quarantine values ('b', 'f', 1, null, 'invalid_encoding', 'x', null,"
        " timestamp '2026-01-01', null)"
    )
    result = replay(warehouse)
    assert (result.attempted, result.without_text) == (0, 1)
    assert result.summary() == "nothing to replay (1 open line(s) not replayable)"


def test_requests_are_executed_once_audited_and_archived(
    tmp_path: Path, quarantined: Path, warehouse
):
    home = tmp_path / "home"
    first = write_request(home, "alice", ["future_timestamp"])
    second = write_request(home, "bob", [])
    (home / "requests" / "garbage.json").write_text("{not json")
    assert [r.request_id for r in pending_requests(home)][
        0
    ] == "garbage"  # by name: ids sort by time
    assert {r.requested_by for r in pending_requests(home)} == {"alice", "bob", ""}
    with pytest.raises(ValueError, match="unknown reason code"):
        write_request(home, "alice", ["nope"])
    with pytest.raises(ValueError, match="name the user"):
        write_request(home, "", [])

    outcomes = execute_requests(warehouse, home, now=LATER)
    statuses = {r.request_id: (s, res.loaded) for r, s, res in outcomes}
    assert statuses[first.request_id] == ("done", 1)  # the future-dated line
    assert statuses[second.request_id] == ("done", 1)  # then the rest: the now-valid line
    assert statuses["garbage"][0] == "rejected"
    assert pending_requests(home) == []
    assert len(list((home / "requests" / "done").glob("*.json"))) == 3
    audit = warehouse.execute(
        "select requested_by, reason_codes, status, loaded, still_quarantined"
        " from ops.replay_requests order by requested_by nulls first"
    ).fetchall()
    assert audit == [
        (None, "", "rejected", 0, 0),
        ("alice", "future_timestamp", "done", 1, 0),
        ("bob", "", "done", 1, 2),
    ]
    # a request file left behind after its outcome committed (crash before the move) is only
    # archived, not executed again
    again = home / "requests" / f"{first.request_id}.json"
    (home / "requests" / "done" / again.name).rename(again)
    assert execute_requests(warehouse, home, now=LATER) == []
    assert not again.exists()
    assert warehouse.execute("select count(*) from ops.replay_requests").fetchall() == [(3,)]
    # nothing left to replay for a reason: recorded as such
    write_request(home, "alice", ["future_timestamp"])
    [(_, status, _)] = execute_requests(warehouse, home, now=LATER)
    assert status == "nothing to replay"


def test_cli_lists_and_replays_with_one_line_errors(tmp_path: Path, capsys):
    from cli.main import main

    home = tmp_path / "home"
    assert main(["--home", str(home), "quarantine", "list"]) == 2
    assert "no warehouse at" in capsys.readouterr().err
    con = connect(home / "warehouse.duckdb")
    try:
        f = tmp_path / "a.ndjson"
        good = json.dumps(example("customer.created", n=1))
        f.write_text(f"{good}\n{{oops\n")
        assert ingest(con, [f]).quarantined == 1
    finally:
        con.close()
    write_request(home, "alice", ["malformed_json"])
    assert main(["--home", str(home), "quarantine", "list"]) == 0
    out = capsys.readouterr().out
    assert "malformed_json\t1\t1" in out and "by alice: malformed_json" in out
    assert main(["--home", str(home), "quarantine", "replay", "--reason", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("churniq: error: unknown reason code nope") and err.count("\n") == 1
    assert main(["--home", str(home), "quarantine", "replay", "--reason", "malformed_json"]) == 0
    assert "1 quarantined line(s) replayed: 0 loaded, 0 duplicate, 1 still quarantined" in (
        capsys.readouterr().out
    )
    # while another process holds the warehouse, a one-line error
    holder = connect(home / "warehouse.duckdb")
    try:
        import subprocess
        import sys

        done = subprocess.run(
            [sys.executable, "-m", "cli", "--home", str(home), "quarantine", "replay"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    finally:
        holder.close()
    assert done.returncode == 2 and "is in use (a pipeline run?)" in done.stderr, done.stderr
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        audit = con.execute("select requested_by, status from ops.replay_requests").fetchall()
    finally:
        con.close()
    assert len(audit) == 1 and audit[0][0].startswith("cli:") and audit[0][1] == "done"
