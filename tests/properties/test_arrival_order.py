"""Property: the warehouse does not depend on how the same events arrive (CONTRACT.md, "Events may
arrive late and out of order; every derived table must come out the same whatever the order and
batching of arrival").

Hypothesis draws an arrival: which events are sent twice (exact duplicates), the order of all the
lines, and the cut of that sequence into 1-6 files (one batch each). The events of a small fixed
simulated business are loaded that way into a fresh warehouse, and
- `raw.events` (the envelope and body of each event) must equal the canonical load, with every
  repeated line counted as a duplicate and nothing quarantined (fast, many examples, no dbt);
- every `marts.*` table built by dbt must equal, row for row, the canonical build (slow, few
  examples).
The canonical warehouse loads the simulator's file as written, in one batch.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from tests.dbt_support import all_marts, copy_project, failures, run_dbt
from tests.pipeline_support import simulated_lines

CUSTOMERS, MONTHS, SEED = 60, 6, 23

EVENT_COLUMNS = (
    "event_id, event_type, schema_version, occurred_at, source, customer_id, data::varchar"
)


# --- the business and its canonical warehouse ------------------------------------------------


@pytest.fixture(scope="module")
def events(tmp_path_factory) -> list[str]:
    """The NDJSON lines of the simulated business, in the order the simulator wrote them."""
    lines = simulated_lines(tmp_path_factory.mktemp("business"), CUSTOMERS, MONTHS, SEED)
    assert len(lines) > 1000
    return lines


@pytest.fixture(scope="module")
def canonical_raw(events, tmp_path_factory) -> list[tuple]:
    con, _ = load(events, [], tmp_path_factory.mktemp("canonical-raw"), duckdb_path=":memory:")
    rows = raw_events(con)
    con.close()
    return rows


# --- drawing an arrival -------------------------------------------------------------------


@st.composite
def arrivals(draw, n: int, max_batches: int = 6) -> tuple[list[int], list[int]]:
    """(order, cuts): `order` lists event indexes, each once plus a few twice, in arrival order;
    `cuts` are the positions where a new file begins (0 to max_batches - 1 of them)."""
    twice = draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n // 10))
    order = draw(st.permutations(list(range(n)) + twice))
    batches = draw(st.integers(1, max_batches))
    cuts = draw(
        st.lists(
            st.integers(1, len(order) - 1),
            min_size=batches - 1,
            max_size=batches - 1,
            unique=True,
        )
    )
    return list(order), sorted(cuts)


def write_batches(lines: list[str], order: list[int], cuts: list[int], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *cuts, len(order)]
    files = []
    for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        path = folder / f"batch-{i:02d}.ndjson"
        path.write_text("".join(lines[k] + "\n" for k in order[a:b]))
        files.append(path)
    return files


def load(
    lines: list[str],
    cuts: list[int],
    folder: Path,
    order: list[int] | None = None,
    duckdb_path=None,
):
    """Load `lines` in `order`, cut into files at `cuts`, into a fresh warehouse; returns the open
    connection and the ingest report."""
    order = list(range(len(lines))) if order is None else order
    files = write_batches(lines, order, cuts, folder / "landing")
    con = connect(Path(duckdb_path or folder / "warehouse.duckdb"))
    report = ingest(con, files)  # files in name order = arrival order
    return con, report


def raw_events(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(f"select {EVENT_COLUMNS} from raw.events order by event_id").fetchall()


# --- fast: the loader alone -------------------------------------------------------------------


@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_raw_events_do_not_depend_on_order_batching_or_duplicates(events, canonical_raw, data):
    order, cuts = data.draw(arrivals(len(events)), label="arrival")
    with tempfile.TemporaryDirectory() as tmp:
        con, report = load(events, cuts, Path(tmp), order=order, duckdb_path=":memory:")
        try:
            got = raw_events(con)
            quarantined = con.execute("select count(*) from raw.quarantine").fetchone()[0]
        finally:
            con.close()
    assert got == canonical_raw
    assert quarantined == 0
    assert report.loaded == len(events)
    assert len(report.files) == len(cuts) + 1
    # every repeated line is a counted duplicate; a file byte-identical to an earlier one is
    # skipped whole by the ledger (possible when both hold the same few lines)
    sizes = [b - a for a, b in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    skipped = sum(n for n, f in zip(sizes, report.files, strict=True) if f.skipped)
    assert report.duplicates + skipped == len(order) - len(events)


# --- slow: every mart, through dbt ----------------------------------------------------------


def build_marts(project: Path, warehouse: Path) -> None:
    """Every model (`dbt run`: the data tests run in tests/dbt, not once per arrival order)."""
    result = run_dbt(
        ["run", "--quiet"],
        project,
        {"CHURNIQ_WAREHOUSE": str(warehouse)},
    )
    assert result.success and result.exception is None, (result.exception, failures(result))


def build(lines: list[str], order: list[int], cuts: list[int], folder: Path, project: Path):
    """Load, refresh FX, dbt build; returns every marts.* table as sorted rows."""
    con, report = load(lines, cuts, folder, order=order)
    try:
        unknown = refresh_reference_tables(con, "EUR")
    finally:
        con.close()
    assert not unknown and report.loaded == len(lines)
    build_marts(project, folder / "warehouse.duckdb")
    return all_marts(folder / "warehouse.duckdb")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("dbt"))


@pytest.fixture(scope="module")
def canonical_marts(events, project, tmp_path_factory) -> dict[str, list]:
    marts = build(
        events, list(range(len(events))), [], tmp_path_factory.mktemp("canonical"), project
    )
    names = ("metrics_monthly", "fct_mrr_movements", "fct_subscriptions", "dim_customers")
    assert {f"marts.{n}" for n in names} <= set(marts)
    assert all(
        marts[f"marts.{n}"] for n in ("metrics_monthly", "fct_mrr_movements", "dim_customers")
    )
    return marts


@pytest.mark.slow
@settings(
    max_examples=5,  # each example is a whole dbt run of every model
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_marts_do_not_depend_on_order_batching_or_duplicates(
    events, project, canonical_marts, data
):
    order, cuts = data.draw(arrivals(len(events)), label="arrival")
    with tempfile.TemporaryDirectory() as tmp:
        got = build(events, order, cuts, Path(tmp), project)
    assert set(got) == set(canonical_marts)
    differing = [n for n in sorted(got) if got[n] != canonical_marts[n]]
    assert not differing, {
        n: {
            "only canonical": [r for r in canonical_marts[n] if r not in got[n]][:5],
            "only this arrival": [r for r in got[n] if r not in canonical_marts[n]][:5],
        }
        for n in differing
    }
