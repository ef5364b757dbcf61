"""No leakage in the churn features: `marts.customer_months` rows up to a cutoff are the same
whether the warehouse holds every event or only those that occurred by the cutoff.

Two warehouses of one simulated business: the whole history, and the history cut at a month
end. Every feature of every customer month up to the cutoff must be identical in both, so no
feature reads anything after its month end; only the labels (which look ahead by design) and
their observability may differ.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from ingestion.loader.readers import read_lines
from ingestion.simulator import simulate
from tests.dbt_support import copy_project, failures, run_dbt

LOOKING_AHEAD = ("churned_within_", "label_observable_")


def occurred_on(line: str) -> dt.date:
    return dt.date.fromisoformat(line.split('"occurred_at":"', 1)[1][:10])


def build(warehouse: Path, project: Path, lines: list[str]) -> None:
    landing = warehouse.with_suffix(".ndjson")
    landing.write_text("\n".join(lines) + "\n")
    con = connect(warehouse)
    ingest(con, [landing])
    refresh_reference_tables(con, "EUR")
    con.execute("checkpoint")
    con.close()
    result = run_dbt(
        ["run", "--select", "+customer_months"], project, {"CHURNIQ_WAREHOUSE": str(warehouse)}
    )
    assert not failures(result), failures(result)


def feature_rows(warehouse: Path, through: dt.date) -> tuple[list[str], list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        columns = [
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'marts' and table_name = 'customer_months' "
                "order by ordinal_position"
            ).fetchall()
            if not c.startswith(LOOKING_AHEAD)
        ]
        rows = con.execute(
            f"select {', '.join(columns)} from marts.customer_months "
            "where month_end <= ? order by customer_id, month",
            [through],
        ).fetchall()
    finally:
        con.close()
    return columns, rows


def test_features_up_to_a_cutoff_ignore_every_later_event(tmp_path: Path):
    root = tmp_path / "business"
    summary = simulate(
        customers=300, months=5, seed=17, events_dir=root / "events", truth_dir=root / "truth"
    )
    lines = []
    for path in sorted(summary.files):
        lines += read_lines(path, path.read_bytes()).column("text").to_pylist()
    last = max(occurred_on(line) for line in lines)
    # the month end two months before the data ends: later events change labels and states
    cutoff = last.replace(day=1) - dt.timedelta(days=1)
    cutoff = cutoff.replace(day=1) - dt.timedelta(days=1)
    project = copy_project(tmp_path)
    full, cut = tmp_path / "full.duckdb", tmp_path / "cut.duckdb"
    build(full, project, lines)
    build(cut, project, [line for line in lines if occurred_on(line) <= cutoff])

    columns, everything = feature_rows(full, cutoff)
    _, known_then = feature_rows(cut, cutoff)
    assert len(everything) > 300  # several month ends of a few hundred customers
    assert {r[columns.index("month_end")] for r in known_then} >= {cutoff}
    diff = sorted(set(everything) ^ set(known_then))
    assert not diff, diff[:5]
    # not vacuous: what looks ahead does differ (labels at the cutoff are known only in full)
    observable = (
        "select count(*) from marts.customer_months where month_end = ? and label_observable_30d"
    )
    counts = []
    for warehouse in (full, cut):
        con = duckdb.connect(str(warehouse), read_only=True)
        counts.append(con.execute(observable, [cutoff]).fetchone()[0])
        con.close()
    assert counts[0] > 0 and counts[1] == 0
