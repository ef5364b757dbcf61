"""Incremental builds equal full builds.

The per-customer models rebuild only the customers with new events (and every customer's recent
months where the as-of date matters). A simulated business is loaded day by day over a month
boundary, with a few old events arriving late in the last batch, and `dbt build` runs after each
day; every intermediate and mart table must then equal a full rebuild of the same events, row for
row.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import duckdb
import pytest

from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from ingestion.loader.readers import read_lines
from ingestion.simulator import simulate
from tests.dbt_support import all_marts, copy_project, failures, run_dbt

# the held-back days straddle the end of January: the as-of month changes between two runs
DAYS = [dt.date(2025, 1, 30), dt.date(2025, 1, 31), dt.date(2025, 2, 1), dt.date(2025, 2, 2)]
BUILD = ["build", "--exclude", "resource_type:unit_test"]


def occurred_on(line: str) -> dt.date:
    return dt.date.fromisoformat(line.split('"occurred_at":"', 1)[1][:10])


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("business")
    summary = simulate(
        customers=300, months=4, seed=41, events_dir=root / "events", truth_dir=root / "truth"
    )
    out = []
    for path in sorted(summary.files):
        out += read_lines(path, path.read_bytes()).column("text").to_pylist()
    return [line for line in out if occurred_on(line) <= DAYS[-1]]


def load_and_build(warehouse: Path, project: Path, batches: list[list[str]], args: list[str]):
    """Load each batch (none when empty) and run dbt with `args` after it."""
    for batch in batches:
        if batch:
            landing = (
                warehouse.parent / f"batch-{len(list(warehouse.parent.glob('batch-*')))}.ndjson"
            )
            landing.write_text("\n".join(batch) + "\n")
            con = connect(warehouse)
            ingest(con, [landing])
            refresh_reference_tables(con, "EUR")
            con.execute("checkpoint")
            con.close()
        result = run_dbt(args, project, {"CHURNIQ_WAREHOUSE": str(warehouse)})
        assert not failures(result), failures(result)


def test_day_by_day_incremental_builds_equal_a_full_build(lines, tmp_path: Path):
    rng = random.Random(5)
    base = [line for line in lines if occurred_on(line) < DAYS[0]]
    # old events of customers that only arrive with the last day (a late offer would rightly make
    # the run a full rebuild, which is not what this test is about)
    late = set(rng.sample([i for i, line in enumerate(base) if "offer.published" not in line], 40))
    days = [[line for line in lines if occurred_on(line) == day] for day in DAYS]
    days[-1] += [base[i] for i in sorted(late)]
    base = [line for i, line in enumerate(base) if i not in late]

    project = copy_project(tmp_path)
    incremental = tmp_path / "incremental.duckdb"
    load_and_build(incremental, project, [base, *days], BUILD)
    full = tmp_path / "full.duckdb"
    load_and_build(full, project, [lines], [*BUILD, "--full-refresh"])

    got = all_marts(incremental, ("intermediate", "marts"))
    want = all_marts(full, ("intermediate", "marts"))
    assert got.keys() == want.keys()
    assert {n for n in want if "customer_months" in n or "mrr_movements" in n}
    for name in want:
        assert got[name] == want[name], name

    con = duckdb.connect(str(incremental), read_only=True)
    try:
        recorded, through = con.execute(
            "select count(*), min(loaded_through) = (select max(loaded_at) from raw.events) "
            "from dbt_state.build_state"
        ).fetchone()
        rebuilt, customers = con.execute(
            "select rebuilt_customers, (select count(*) from intermediate.int_customers) "
            "from dbt_state.build_state where model = 'customer_months'"
        ).fetchone()
    finally:
        con.close()
    assert recorded >= 10 and through
    assert 0 < rebuilt < customers / 2  # the last run really was incremental


def test_a_partial_run_does_not_lose_the_changes_it_skipped(lines, tmp_path: Path):
    """Dagster may materialise customer_months alone: it must not move its watermark past
    changes that the models it reads (through tables such as int_payment_failures) have not
    seen yet, so the next full run still rebuilds those customers."""
    base = [line for line in lines if occurred_on(line) < DAYS[0]]
    day = [line for line in lines if DAYS[0] <= occurred_on(line) <= DAYS[1]]
    project = copy_project(tmp_path)
    incremental = tmp_path / "incremental.duckdb"
    load_and_build(incremental, project, [base], BUILD)
    load_and_build(incremental, project, [day], ["run", "--select", "customer_months"])
    load_and_build(incremental, project, [[]], BUILD)
    full = tmp_path / "full.duckdb"
    load_and_build(full, project, [base + day], [*BUILD, "--full-refresh"])
    schemas = ("intermediate", "marts")
    assert all_marts(incremental, schemas) == all_marts(full, schemas)
