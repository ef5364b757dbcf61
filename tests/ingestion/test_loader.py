"""Ingestion: idempotent, every kind of bad input quarantined with its line, nothing lost,
the same raw events whatever the order and batching of arrival."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from foundation.contract.examples import all_examples, example
from ingestion.loader import InputError, connect, ingest


def write_ndjson(path: Path, events: list) -> Path:
    path.write_text("".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events))
    return path


def many_events(n: int) -> list[dict]:
    rng = random.Random(7)
    types = [e["event_type"] for e in all_examples()]
    out = []
    for i in range(n):
        e = example(rng.choice(types), n=i)
        if e["customer_id"]:
            e["customer_id"] = f"c_{i % 17}"
        out.append(e)
    return out


def raw_rows(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select event_id, event_type, occurred_at, customer_id, data::varchar from raw.events "
        "order by event_id"
    ).fetchall()


@pytest.fixture
def warehouse(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def test_same_file_twice_changes_nothing(tmp_path: Path, warehouse):
    f = write_ndjson(tmp_path / "a.ndjson", many_events(200) + ["not json"])
    first = ingest(warehouse, [f])
    assert (first.loaded, first.duplicates, first.quarantined) == (200, 0, 1)
    before = (
        raw_rows(warehouse),
        warehouse.execute("select count(*) from raw.quarantine").fetchall(),
    )
    second = ingest(warehouse, [f])
    assert second.files[0].skipped and second.loaded == 0
    after = raw_rows(warehouse), warehouse.execute("select count(*) from raw.quarantine").fetchall()
    assert before == after


def test_same_events_in_another_file_are_duplicates(tmp_path: Path, warehouse):
    events = many_events(50)
    ingest(warehouse, [write_ndjson(tmp_path / "a.ndjson", events)])
    # the same events again, reordered and with another line layout, plus one new
    again = list(reversed(events)) + [example("customer.created", n=999)]
    report = ingest(warehouse, [write_ndjson(tmp_path / "b.ndjson", again)])
    assert (report.loaded, report.duplicates, report.quarantined) == (1, 50, 0)
    assert warehouse.execute("select count(*) from raw.events").fetchall()[0][0] == 51


def test_duplicate_inside_one_file_is_counted_once(tmp_path: Path, warehouse):
    e = example("customer.created")
    report = ingest(warehouse, [write_ndjson(tmp_path / "a.ndjson", [e, e, e])])
    assert (report.loaded, report.duplicates) == (1, 2)


def test_conflicting_duplicate_keeps_the_first(tmp_path: Path, warehouse):
    first = example("customer.created")
    changed = example("customer.created")
    changed["data"]["country"] = "FR"
    report = ingest(warehouse, [write_ndjson(tmp_path / "a.ndjson", [first, changed])])
    assert (report.loaded, report.quarantined) == (1, 1)
    assert warehouse.execute("select data->>'country' from raw.events").fetchall() == [("DE",)]
    later = ingest(warehouse, [write_ndjson(tmp_path / "b.ndjson", [changed])])
    assert later.quarantined == 1
    reasons = warehouse.execute(
        "select reason_code, source_line from raw.quarantine order by source_file"
    ).fetchall()
    assert reasons == [("conflicting_duplicate", 2), ("conflicting_duplicate", 1)]


def test_bad_lines_are_quarantined_with_file_line_text_and_reason(tmp_path: Path, warehouse):
    good = many_events(20)
    neg = example("payment.succeeded", n=90)
    neg["data"]["amount_minor"] = -100
    bad = {
        '{"event_id": ': "malformed_json",
        json.dumps(
            {**example("subscription.started", n=91), "event_type": "sub.x"}
        ): "unknown_event_type",
        json.dumps(
            {**example("customer.created", n=92), "data": {"signup_platform": "web"}}
        ): "missing_field",
        json.dumps(neg): "negative_amount",
        json.dumps(
            example("customer.created", n=93, occurred_at="2100-01-01T00:00:00Z")
        ): "future_timestamp",
        json.dumps(
            {
                **example("offer.published", n=94),
                "data": {**example("offer.published")["data"], "currency": "ZZZ"},
            }
        ): "unknown_currency",
    }
    lines = [json.dumps(e) for e in good[:10]] + list(bad) + [json.dumps(e) for e in good[10:]]
    f = tmp_path / "mixed.ndjson"
    f.write_bytes("\n".join(lines).encode() + b"\n\xff\xfe broken bytes\n")
    report = ingest(warehouse, [f])
    assert (report.loaded, report.quarantined) == (20, len(bad) + 1)
    rows = warehouse.execute(
        "select source_file, source_line, reason_code, raw_text from raw.quarantine order by source_line"
    ).fetchall()
    assert [r[2] for r in rows] == list(bad.values()) + ["invalid_encoding"]
    assert [r[1] for r in rows] == list(range(11, 11 + len(bad))) + [len(lines) + 1]
    assert [r[3] for r in rows[:-1]] == list(bad)
    assert {r[0] for r in rows} == {str(f)}


def test_parquet_csv_and_gzip_read_the_same_events(tmp_path: Path):
    events = many_events(60)
    table = pa.table(
        {
            k: [e[k] if k != "data" else json.dumps(e["data"]) for e in events]
            for k in (
                "event_id",
                "event_type",
                "schema_version",
                "occurred_at",
                "source",
                "customer_id",
                "data",
            )
        }
    )
    pq.write_table(table, tmp_path / "e.parquet")
    import pyarrow.csv as pacsv

    pacsv.write_csv(table, tmp_path / "e.csv")
    (tmp_path / "e.ndjson.gz").write_bytes(
        gzip.compress("".join(json.dumps(e) + "\n" for e in events).encode())
    )
    results = []
    for name in ("e.parquet", "e.csv", "e.ndjson.gz"):
        con = connect(tmp_path / f"{name}.duckdb")
        report = ingest(con, [tmp_path / name])
        assert (report.loaded, report.quarantined) == (60, 0), name
        results.append(raw_rows(con))
        con.close()
    assert results[0] == results[1] == results[2]


def test_order_and_batching_do_not_change_raw_events(tmp_path: Path):
    events = many_events(300)
    reference = connect(tmp_path / "ref.duckdb")
    ingest(reference, [write_ndjson(tmp_path / "all.ndjson", events)])
    expected = raw_rows(reference)
    rng = random.Random(3)
    for attempt in range(3):
        shuffled = events + rng.sample(events, 40)  # with repeats
        rng.shuffle(shuffled)
        cuts = sorted(rng.sample(range(1, len(shuffled)), 4))
        con = connect(tmp_path / f"w{attempt}.duckdb")
        files = []
        for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(shuffled)], strict=True)):
            files.append(write_ndjson(tmp_path / f"w{attempt}-{i}.ndjson", shuffled[a:b]))
        report = ingest(con, files)
        assert report.loaded == 300 and report.duplicates == 40
        assert raw_rows(con) == expected
        con.close()


def test_user_mistakes_are_one_line_errors(tmp_path: Path, warehouse):
    with pytest.raises(InputError, match="no such file"):
        ingest(warehouse, [tmp_path / "missing.ndjson"])
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="unsupported file type"):
        ingest(warehouse, [tmp_path / "notes.txt"])
    # a file that cannot be read line by line is no user mistake: it is quarantined whole
    # (tests/ingestion/test_hostile_files.py)
    # nothing half-loaded
    assert warehouse.execute("select count(*) from raw.load_ledger").fetchall()[0][0] == 0


def test_cli_reports_counts_and_fails_cleanly(tmp_path: Path):
    f = write_ndjson(tmp_path / "a.ndjson", many_events(30) + ["{oops"])
    cmd = [sys.executable, "-m", "cli", "--home", str(tmp_path / "home"), "ingest"]
    ok = subprocess.run([*cmd, str(f)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "30 loaded, 0 duplicate, 1 quarantined" in ok.stdout
    again = subprocess.run([*cmd, str(f)], capture_output=True, text=True)
    assert "already loaded" in again.stdout
    bad = subprocess.run([*cmd, str(tmp_path / "nope.ndjson")], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no such file" in bad.stderr
    assert "Traceback" not in bad.stderr
