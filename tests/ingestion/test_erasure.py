"""Right to erasure in raw: after `customer.erased`, no personal attribute of the customer is
left in raw.events or raw.quarantine, whatever the order the events arrive in."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from foundation.contract.examples import example
from ingestion.loader import connect
from ingestion.loader.erasure import PERSONAL_ATTRIBUTES, scrub_all_erased
from ingestion.loader.load import FileResult, load_batch

CREATED = example("customer.created", n=1, customer_id="c_1")
UPDATED = example("customer.updated", n=2, customer_id="c_1", data={"country": "FR"})
STARTED = example("subscription.started", n=3, customer_id="c_1")
ERASED = example("customer.erased", n=4, customer_id="c_1", occurred_at="2026-02-01T00:00:00Z")
OTHER = example("customer.created", n=5, customer_id="c_2")
BAD_COUNTRY = example("customer.updated", n=6, customer_id="c_1", data={"country": "XX"})
TORN = '{"event_id": "torn", "customer_id": "c_1", "data": {"country": "DE"'
OTHER_TORN = '{"event_id": "torn-2", "customer_id": "c_2", "data": {"country": "DE"'


@pytest.fixture
def warehouse(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    yield con
    con.close()


def load(con: duckdb.DuckDBPyConnection, *lines: dict | str) -> FileResult:
    texts = [line if isinstance(line, str) else json.dumps(line) for line in lines]
    table = pa.table({"line_no": pa.array(range(1, len(texts) + 1), pa.int64()), "text": texts})
    return load_batch(con, table, "test")


def data_of(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    rows = con.execute("select event_id, data::varchar from raw.events").fetchall()
    return {event_id: json.loads(data) for event_id, data in rows}


def quarantine(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    rows = con.execute("select event_id, raw_text from raw.quarantine").fetchall()
    return dict(rows)


def assert_erased(con: duckdb.DuckDBPyConnection) -> None:
    data = data_of(con)
    assert data[CREATED["event_id"]] == {} and data[UPDATED["event_id"]] == {}
    assert data[STARTED["event_id"]] == STARTED["data"]  # revenue facts stay whole
    assert data[OTHER["event_id"]] == OTHER["data"]  # nobody else is touched
    dump = con.execute(
        "select string_agg(data::varchar, '') from raw.events where customer_id = 'c_1'"
    ).fetchall()[0][0]
    assert not any(key in dump for key in PERSONAL_ATTRIBUTES)


def test_an_erasure_scrubs_the_customers_earlier_events_and_quarantined_lines(warehouse):
    load(warehouse, CREATED, STARTED, OTHER, BAD_COUNTRY, TORN, OTHER_TORN)
    load(warehouse, UPDATED)
    assert quarantine(warehouse)[BAD_COUNTRY["event_id"]] is not None
    result = load(warehouse, ERASED)
    assert (result.loaded, result.scrubbed) == (1, 2)
    assert_erased(warehouse)
    kept = quarantine(warehouse)
    assert kept[BAD_COUNTRY["event_id"]] is None
    texts = [r[0] for r in warehouse.execute("select raw_text from raw.quarantine").fetchall()]
    assert sorted(texts, key=str) == sorted([None, None, OTHER_TORN], key=str)


def test_events_arriving_after_the_erasure_are_scrubbed_as_they_land(warehouse):
    load(warehouse, ERASED, OTHER)
    result = load(warehouse, CREATED, UPDATED, STARTED, BAD_COUNTRY, TORN)
    assert (result.loaded, result.quarantined, result.scrubbed) == (3, 2, 2)
    assert_erased(warehouse)
    assert set(quarantine(warehouse).values()) == {None}


def test_the_original_of_a_scrubbed_event_again_is_a_duplicate_not_a_conflict(warehouse):
    load(warehouse, CREATED, UPDATED, STARTED, OTHER, ERASED)
    before = data_of(warehouse)
    again = load(warehouse, CREATED, UPDATED)
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 2, 0)
    assert data_of(warehouse) == before
    assert_erased(warehouse)


def test_raw_is_the_same_whatever_the_order_and_batching(tmp_path: Path):
    batches = [[CREATED, OTHER], [UPDATED, STARTED], [ERASED]]
    results = set()
    for i, order in enumerate(itertools.permutations(batches)):
        con = connect(tmp_path / f"w{i}.duckdb")
        try:
            for batch in order:
                load(con, *batch)
            assert_erased(con)
            results.add(tuple(sorted((k, json.dumps(v)) for k, v in data_of(con).items())))
        finally:
            con.close()
    assert len(results) == 1


def test_a_customer_who_is_not_erased_keeps_everything(warehouse):
    result = load(warehouse, CREATED, UPDATED, BAD_COUNTRY)
    assert result.scrubbed == 0
    assert data_of(warehouse)[CREATED["event_id"]] == CREATED["data"]
    assert quarantine(warehouse)[BAD_COUNTRY["event_id"]] == json.dumps(BAD_COUNTRY)


def test_events_loaded_before_erasure_was_enforced_can_be_scrubbed_at_once(warehouse):
    load(warehouse, CREATED, UPDATED, STARTED, OTHER, BAD_COUNTRY, ERASED)
    # as a warehouse written by an older loader would hold them
    warehouse.execute(
        "update raw.events set data = ? where event_id = ?",
        [json.dumps(CREATED["data"]), CREATED["event_id"]],
    )
    warehouse.execute('update raw.quarantine set raw_text = \'x, "customer_id": "c_1"\'')
    assert scrub_all_erased(warehouse) == 1
    assert_erased(warehouse)
    assert set(quarantine(warehouse).values()) == {None}


def test_extra_keys_of_an_erased_customer_go_on_every_event(warehouse):
    """Payloads accept extensions: an e-mail or a phone there goes with the erasure, on the
    customer's events of any type; the contract's facts stay (issue 14, finding 3)."""
    extra = {"email": "x@example.org", "phone": "+1 555 0100", "full_name": "X Y"}
    created = CREATED | {"event_id": "ex-1", "data": CREATED["data"] | extra}
    started = STARTED | {"event_id": "ex-2", "data": STARTED["data"] | {"billing_name": "X Y"}}
    other = OTHER | {"event_id": "ex-3", "data": OTHER["data"] | {"email": "o@example.org"}}
    load(warehouse, created, started, other)
    load(warehouse, ERASED)
    data = data_of(warehouse)
    assert data["ex-1"] == {}
    assert data["ex-2"] == STARTED["data"]
    assert data["ex-3"] == other["data"]  # nobody else is touched
    again = load(warehouse, created, started)  # the originals again: duplicates
    assert (again.loaded, again.duplicates, again.quarantined) == (0, 2, 0)
    assert data_of(warehouse) == data


def test_the_batches_holding_an_erased_customer_are_recorded_for_their_archives(warehouse):
    first = load(warehouse, CREATED, OTHER, BAD_COUNTRY)
    second = load(warehouse, OTHER_TORN)
    third = load(warehouse, ERASED)
    recorded = warehouse.execute(
        "select batch_id, customer_id from raw.erasure_archives order by all"
    ).fetchall()
    assert recorded == sorted([(first.batch_id, "c_1"), (third.batch_id, "c_1")])
    assert second.batch_id not in {b for b, _ in recorded}
    late = load(warehouse, STARTED)  # a line after the erasure: its file too
    assert (late.batch_id, "c_1") in warehouse.execute(
        "select batch_id, customer_id from raw.erasure_archives"
    ).fetchall()
