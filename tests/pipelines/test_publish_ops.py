"""The `ops` schema of the serving snapshot after small pipeline runs on a temporary home:
loads and freshness per source, quarantine by reason with redacted samples, row counts, the
run's asset checks and dbt tests, and a replay request filed (as the app does) then executed
by the next run and audited. Also the redaction of samples on its own."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from foundation.contract.examples import example
from foundation.replay_requests import pending_requests, write_request
from foundation.settings import get_settings
from ingestion.loader import connect, ingest
from ingestion.publish import REDACTED, sample_view
from ingestion.simulator import simulate
from pipelines.run import run_pipeline

EMAIL = "jane.doe@example.com"


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


@pytest.mark.slow
def test_ops_tables_of_a_small_run_with_a_replay_request(tmp_path: Path):
    """Three bad lines loaded earlier (quarantined), a replay request filed as the app does,
    then one run: it executes the request first (nothing fixed: the lines stay quarantined),
    loads a small simulated business and publishes the ops tables."""
    home = tmp_path / "home"
    settings = get_settings(home=home)
    simulate(
        customers=40,
        months=2,
        seed=3,
        events_dir=settings.paths.landing,
        truth_dir=settings.paths.ground_truth,
    )
    personal = example("customer.created", n=1)
    personal["customer_id"] = EMAIL
    future = example("customer.created", n=2, occurred_at="2100-01-01T00:00:00Z")
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join([json.dumps(personal), json.dumps(future), "{broken " + EMAIL]) + "\n")
    con = connect(settings.paths.warehouse)
    try:
        assert ingest(con, [bad]).quarantined == 3
    finally:
        con.close()
    request = write_request(home, "alice", ["future_timestamp", "personal_data"])

    meta = run_pipeline(settings)
    assert pending_requests(home) == []

    con = duckdb.connect(str(settings.paths.serving), read_only=True)
    try:
        [(run_id, version)] = _rows(con, "select run_id, version from ops.run")
        assert run_id and version == meta["serving_snapshot"]["version"]
        sources = {
            r[0]: r[1:]
            for r in _rows(
                con, "select source, batches, lines, quarantined, events_stored from ops.sources"
            )
        }
        # the bad file and the simulated files; then the replay batch of the request
        files = sources["landing files"]
        assert files[2] == 3 and files[1] == files[3] + 3
        assert sources["replay"] == (1, 2, 2, 0)
        assert _rows(con, "select count(*) from ops.loads") == [(files[0] + 1,)]
        audit = _rows(
            con,
            "select request_id, requested_by, reason_codes, status, attempted, loaded,"
            " still_quarantined from ops.replay_requests",
        )
        # nothing was fixed in between: both lines retried, both still quarantined
        assert audit == [
            (request.request_id, "alice", "future_timestamp,personal_data", "done", 2, 0, 2)
        ]
        reasons = _rows(
            con,
            "select reason_code, open_lines, replayed_lines from ops.quarantine_reasons"
            " order by reason_code",
        )
        assert reasons == [
            ("future_timestamp", 1, 0),
            ("malformed_json", 1, 0),
            ("personal_data", 1, 0),
        ]
        samples = _rows(
            con,
            "select reason_code, event_type, source_file, source_line, excerpt"
            " from ops.quarantine_samples order by reason_code",
        )
        assert [s[:4] for s in samples] == [
            ("future_timestamp", "customer.created", "bad.ndjson", 2),
            ("malformed_json", None, "bad.ndjson", 3),
            ("personal_data", "customer.created", "bad.ndjson", 1),
        ]
        assert all(EMAIL not in s[4] for s in samples), samples
        # the personal attributes are never shown
        assert '"country"' in samples[2][4] and '"DE"' not in samples[2][4]
        table_rows = dict(_rows(con, "select table_name, rows from ops.table_rows"))
        assert set(table_rows) == set(meta["serving_snapshot"]["tables"])
        assert (
            table_rows["marts.dim_customers"]
            == _rows(con, "select count(*) from marts.dim_customers")[0][0]
        )
        checks = _rows(
            con, "select kind, check_name, passed, this_run from ops.check_results order by 1, 2"
        )
        assert {c[0] for c in checks} == {"asset_check", "dbt_test"}, checks
        assert all(c[3] for c in checks)  # every result shown is from this run
        by_name = {c[1]: c[2] for c in checks if c[0] == "asset_check"}
        assert by_name["quarantine_ratio"] is True  # 3 bad lines among thousands: < 1 %
        assert "score_drift" in by_name
        # the bridge check runs after the publish step: it reaches the next snapshot only
        assert "mrr_bridge_balances" not in by_name
        dbt = {c[1]: c[2] for c in checks if c[0] == "dbt_test"}
        assert dbt and all(dbt.values()), dbt
    finally:
        con.close()
    wh = duckdb.connect(str(settings.paths.warehouse), read_only=True)
    try:  # recorded in the warehouse, the bridge check included, under the run's id
        recorded = _rows(
            wh, "select count(*) from ops.check_results where check_name = 'mrr_bridge_balances'"
        )
        assert recorded == [(1,)]
    finally:
        wh.close()


def test_sample_view_shows_envelope_and_offending_field_only():
    line = example("payment.succeeded", n=1)
    line["data"]["amount_minor"] = -100
    event_type, field, excerpt = sample_view(json.dumps(line), "data.amount_minor: must be >= 0")
    assert (event_type, field) == ("payment.succeeded", "data.amount_minor")
    shown = json.loads(excerpt)
    assert shown["data"]["amount_minor"] == -100
    others = len(line["data"]) - 1  # elided, then (too long) counted
    assert shown["data"] in (
        {k: (-100 if k == "amount_minor" else "…") for k in line["data"]},
        {"amount_minor": -100, "…": f"{others} other field(s)"},
    )
    assert shown["event_id"] == line["event_id"]

    person = example("customer.created", n=2)
    person["customer_id"] = EMAIL
    event_type, field, excerpt = sample_view(
        json.dumps(person), "customer_id looks like an e-mail address"
    )
    assert field == "customer_id" and EMAIL not in excerpt
    assert json.loads(excerpt)["customer_id"] == REDACTED
    # a personal attribute named by the reason is still redacted
    person["data"]["country"] = "XX"
    _, field, excerpt = sample_view(json.dumps(person), "data.country: not allowed")
    assert field == "data.country" and json.loads(excerpt)["data"]["country"] == REDACTED

    assert sample_view(f"{{not json {EMAIL} " + "x" * 200, "line is not valid JSON")[2] == (
        (f"{{not json {REDACTED} " + "x" * 200)[:79] + "…"  # 80 characters in all
    )
    assert sample_view(None, "x")[2].startswith("(text removed")
