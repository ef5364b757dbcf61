"""The connectors' state, the core's webhook counts and the provider views recorded in the
warehouse (`ingestion.sources.connector_state`), on a temporary home and a SQLite core."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from foundation.contract.examples import example
from foundation.contract.webhooks import provider_webhooks_table
from foundation.home import Home
from ingestion.loader import connect, ingest
from ingestion.sources.connector_state import (
    landing_source,
    read_states,
    record_connectors,
    record_state,
)
from ingestion.sources.provider_webhooks import webhook_counts, webhook_frontier

STATE = {
    "source": "stripe",
    "kind": "api",
    "updated_at": "2026-03-01T10:00:00Z",
    "last_backfill_at": "2026-03-01T09:59:00+00:00",
    "since": None,
    "complete": True,
    "objects_read": 120,
    "events_written": 97,
    "untranslatable": 2,
    "ignored": {"balance.available": 3, "payout.paid": 1},
    "files": ["stripe-20260301T095900Z-00001.ndjson"],
    "cursor": {"customers": "cus_9"},
}


def _write_state(home: Home, state: dict) -> None:
    home.connectors.mkdir(parents=True, exist_ok=True)
    home.connector_state(state["source"]).write_text(json.dumps(state))


def _core(path: Path, rows: list[tuple]) -> str:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    table = provider_webhooks_table(sa.MetaData())
    table.create(engine)
    with engine.begin() as conn:
        for provider, event_id, event_type, status, written, received in rows:
            conn.execute(
                table.insert().values(
                    provider=provider,
                    provider_event_id=event_id,
                    event_type=event_type,
                    status=status,
                    events_written=written,
                    received_at=received,
                    payload="{}",
                )
            )
    engine.dispose()
    return url


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_landing_source_reads_the_importers_file_names() -> None:
    assert landing_source("/x/stripe-20260301T095900Z-00001.ndjson") == "stripe"
    assert landing_source("import-20260301T095900Z-00012.ndjson.gz") == "import"
    assert landing_source("events-2026-03.ndjson") is None


def test_state_commits_with_the_sources_landing_files(tmp_path: Path) -> None:
    """A stripe landing file writes the stripe state row in its own transaction; a file of
    another name writes none; a broken state file is reported and skipped."""
    home = Home(tmp_path / "home")
    _write_state(home, STATE)
    home.connector_state("import").write_text('{"source": "import", "kind": "ftp"}')
    home.landing.mkdir(parents=True)
    stripe_file = home.landing / "stripe-20260301T095900Z-00001.ndjson"
    stripe_file.write_text(json.dumps(example("customer.created", n=1)) + "\n")
    other = home.landing / "events.ndjson"
    other.write_text(json.dumps(example("customer.created", n=2)) + "\n")
    states, problems = read_states(home)
    assert [s.source for s in states] == ["stripe"]
    assert problems == ["import.json: kind 'ftp' is not one of api, events_file, csv"]

    con = connect(home.warehouse)
    try:
        seen: list[int] = []

        def spy(c: duckdb.DuckDBPyConnection, result) -> None:
            record_state(states)(c, result)
            seen.append(_rows(c, "select count(*) from raw.connector_state")[0][0])

        report = ingest(con, [other, stripe_file], in_transaction=spy)
        assert report.loaded == 2
        # inside the other file's transaction nothing, inside the stripe file's the row
        assert seen == [0, 1]
        [row] = _rows(
            con,
            """select source, kind, updated_at, last_backfill_at, since, complete, objects_read,
                      events_written, untranslatable, ignored::varchar, files::varchar
               from raw.connector_state""",
        )
    finally:
        con.close()
    assert row == (
        "stripe",
        "api",
        datetime(2026, 3, 1, 10, 0),
        datetime(2026, 3, 1, 9, 59),
        None,
        True,
        120,
        97,
        2,
        '{"balance.available":3,"payout.paid":1}',
        '["stripe-20260301T095900Z-00001.ndjson"]',
    )


def test_a_failing_batch_rolls_back_the_state_with_it(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    _write_state(home, STATE)
    states, _ = read_states(home)
    path = tmp_path / "stripe-20260301T095900Z-00001.ndjson"
    path.write_text(json.dumps(example("customer.created", n=1)) + "\n")

    def failing(c: duckdb.DuckDBPyConnection, result) -> None:
        record_state(states)(c, result)
        raise RuntimeError("killed")

    con = connect(home.warehouse)
    try:
        with pytest.raises(RuntimeError):
            ingest(con, [path], in_transaction=failing)
        assert _rows(con, "select count(*) from raw.connector_state") == [(0,)]
        assert _rows(con, "select count(*) from raw.events") == [(0,)]
    finally:
        con.close()


def test_webhook_counts_and_provider_views(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    _write_state(home, STATE)
    t1, t2, t3 = (datetime(2026, 3, 2, h) for h in (8, 9, 10))
    url = _core(
        tmp_path / "core.db",
        [
            ("stripe", "evt_1", "invoice.paid", "translated", 2, t1),
            ("stripe", "evt_2", "invoice.paid", "translated", 1, t3),
            ("stripe", "evt_3", "balance.available", "ignored", 0, t2),
            ("stripe", "evt_4", "customer.subscription.updated", "untranslatable", 1, t2),
        ],
    )
    pq.write_table(
        pa.table(
            {
                "source": ["stripe", "stripe"],
                "as_of": pa.array([datetime(2026, 3, 1, 9, 59)] * 2, pa.timestamp("us")),
                "customer_id": ["cus_1", "cus_2"],
                "subscription_id": ["sub_1", "sub_2"],
                "status": ["active", "past_due"],
                "currency": ["usd", "JPY"],
                "mrr": pa.array([Decimal("8.333333"), Decimal("1000")], pa.decimal128(18, 6)),
            }
        ),
        home.provider_view("stripe"),
    )
    # a view of a source without a state file is loaded too; an unreadable one is reported
    home.provider_view("paddle").write_bytes(b"not parquet")

    con = connect(home.warehouse)
    try:
        # an earlier run's rows of the source are replaced, not added to
        con.execute(
            "insert into raw.provider_views values ('stripe', '2026-02-01', 'cus_old', 'sub_old',"
            " 'active', 'EUR', 1, '2026-02-01')"
        )
        report = record_connectors(con, home, url)
        assert report.views == {"stripe": 2}
        assert report.problems and report.problems[0].startswith("paddle_provider_view.parquet:")
        assert _rows(
            con,
            """select provider, event_type, status, webhooks, events_written, last_received_at
               from raw.webhook_counts order by all""",
        ) == [
            ("stripe", "balance.available", "ignored", 1, 0, t2),
            ("stripe", "customer.subscription.updated", "untranslatable", 1, 1, t2),
            ("stripe", "invoice.paid", "translated", 2, 3, t3),
        ]
        assert _rows(
            con,
            """select source, as_of, customer_id, status, currency, mrr
               from raw.provider_views order by customer_id""",
        ) == [
            ("stripe", datetime(2026, 3, 1, 9, 59), "cus_1", "active", "USD", Decimal("8.333333")),
            ("stripe", datetime(2026, 3, 1, 9, 59), "cus_2", "past_due", "JPY", Decimal("1000")),
        ]
        assert _rows(con, "select source, objects_read from raw.connector_state") == [
            ("stripe", 120)
        ]
        # the webhook inbox emptied (a recreated core): the counts are replaced, not kept
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("delete from provider_webhooks"))
        engine.dispose()
        record_connectors(con, home, url)
        assert _rows(con, "select count(*) from raw.webhook_counts") == [(0,)]
    finally:
        con.close()
    assert webhook_frontier(url) == {}


def test_no_core_or_no_inbox_means_no_webhooks_yet(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'absent.db'}"
    assert webhook_counts(missing) is None and webhook_frontier(missing) == {}
    assert not (tmp_path / "absent.db").exists()  # never created by reading
    empty = tmp_path / "core.db"
    engine = sa.create_engine(f"sqlite:///{empty}")
    with engine.begin() as conn:
        conn.execute(sa.text("create table outbox (seq integer)"))
    engine.dispose()
    assert webhook_counts(f"sqlite:///{empty}") is None

    home = Home(tmp_path / "home")
    con = connect(home.warehouse)
    try:
        report = record_connectors(con, home, missing)
    finally:
        con.close()
    assert report.inbox_missing and not report.states and not report.views
    assert report.summary() == "connectors: none (no state file, no webhook)"
