"""``marts.cohort_retention_by_segment`` on a small simulated business: summed over segments it
equals ``marts.cohort_retention`` exactly, it equals an independent pandas computation from its
inputs (customer MRR intervals, FX rates, months, customer attributes), and its dbt data test
that checks the sums does fail when they differ.

Only the mart's upstream graph is built (``+cohort_retention_by_segment +cohort_retention``),
without unit tests, to stay fast.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from ingestion.loader.readers import read_lines
from ingestion.simulator import simulate
from tests.dbt_support import copy_project, failures, run_dbt

SELECT = ["--select", "+cohort_retention_by_segment", "+cohort_retention"]
KEYS = ["cohort_month", "months_since", "country", "platform", "acquisition_channel"]
SUMS_TEST = "cohort_retention_by_segment_sums_to_cohort_retention"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cohort_segments")
    summary = simulate(
        customers=250, months=4, seed=23, events_dir=root / "events", truth_dir=root / "truth"
    )
    lines: list[str] = []
    for path in sorted(summary.files):
        lines += read_lines(path, path.read_bytes()).column("text").to_pylist()
    landing = root / "events.ndjson"
    landing.write_text("\n".join(lines) + "\n")
    warehouse = root / "warehouse.duckdb"
    con = connect(warehouse)
    ingest(con, [landing])
    refresh_reference_tables(con, "EUR")
    con.execute("checkpoint")
    con.close()
    project = copy_project(root)
    result = run_dbt(
        [
            "build",
            *SELECT,
            "--exclude",
            "resource_type:unit_test",
            "--indirect-selection",
            "cautious",
        ],
        project,
        {"CHURNIQ_WAREHOUSE": str(warehouse)},
    )
    assert result.exception is None, result.exception
    assert not failures(result), failures(result)
    ran = {r.node.name for r in result.result}
    assert SUMS_TEST in ran  # the equality data test ran, and passed
    return warehouse, project


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def test_segments_sum_to_cohort_retention_exactly(built) -> None:
    warehouse, _ = built
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        published = con.execute(
            "select cohort_month, months_since, month, cohort_customers, active_customers, mrr,"
            " logo_retention, revenue_retention from marts.cohort_retention order by all"
        ).fetchall()
        summed = con.execute(
            """
            select cohort_month, months_since, min(month), sum(cohort_customers)::integer,
                   sum(active_customers)::integer, sum(mrr),
                   sum(active_customers) / sum(cohort_customers),
                   sum(mrr)::double / nullif(sum(mrr_month0)::double, 0)
            from marts.cohort_retention_by_segment
            group by cohort_month, months_since
            order by all
            """
        ).fetchall()
        segments = con.execute(
            "select count(distinct country), count(distinct platform),"
            " count(distinct acquisition_channel), count(distinct cohort_month), count(*)"
            " from marts.cohort_retention_by_segment"
        ).fetchone()
    finally:
        con.close()
    assert len(published) >= 4 and len(summed) == len(published)
    for mine, theirs in zip(summed, published, strict=True):
        assert mine[:6] == theirs[:6]  # keys, month, counts and MRR: exactly (decimals)
        assert mine[6] == pytest.approx(theirs[6])
        assert (mine[7] is None) == (theirs[7] is None)
        if theirs[7] is not None:
            assert mine[7] == pytest.approx(theirs[7])
    # not vacuous: several segments of every kind, several cohorts
    countries, platforms, channels, cohorts, rows = segments
    assert countries > 1 and platforms > 1 and channels > 1 and cohorts >= 3
    assert rows > len(published)


def expected_by_pandas(warehouse: Path) -> pd.DataFrame:
    """The mart from its inputs in pandas: cohort = month of the first day with MRR > 0; per
    month end, the customer's MRR summed over currencies at that day's rate; paying = MRR > 0."""
    intervals = _frame(
        warehouse,
        "select customer_id, currency, valid_from, valid_to, mrr_local"
        " from intermediate.int_customer_mrr_intervals",
    )
    fx = _frame(
        warehouse, "select currency, rate_date, unit_rate from intermediate.int_fx_rates_daily"
    )
    months = _frame(
        warehouse, "select month, month_end from intermediate.int_months order by month"
    )
    customers = _frame(
        warehouse,
        "select customer_id, segment_country, segment_platform, acquisition_channel"
        " from intermediate.int_customers",
    )
    attributes = {
        c: (co, p, ch)
        for c, co, p, ch in zip(
            customers["customer_id"],
            customers["segment_country"],
            customers["segment_platform"],
            customers["acquisition_channel"],
            strict=True,
        )
    }
    for frame, column in ((intervals, "valid_from"), (intervals, "valid_to"), (fx, "rate_date")):
        frame[column] = pd.to_datetime(frame[column])
    months["month"] = pd.to_datetime(months["month"])
    months["month_end"] = pd.to_datetime(months["month_end"])
    rate = {
        (c, d): r for c, d, r in zip(fx["currency"], fx["rate_date"], fx["unit_rate"], strict=True)
    }

    paid = intervals[intervals["mrr_local"] > 0]
    cohort = paid.groupby("customer_id")["valid_from"].min().dt.to_period("M").dt.to_timestamp()
    segment = {
        c: tuple(v or "unknown" for v in attributes.get(c, (None, None, None)))
        for c in cohort.index
    }
    mrr: dict[tuple, Decimal] = {}  # (customer, month) -> MRR at the month end
    for row in paid.itertuples():
        for m in months.itertuples():
            if m.month < cohort[row.customer_id]:
                continue
            ends = row.valid_to if not pd.isna(row.valid_to) else pd.Timestamp("9999-12-31")
            if row.valid_from <= m.month_end < ends:
                key = (row.customer_id, m.month)
                amount = Decimal(str(row.mrr_local)) * Decimal(
                    str(rate[(row.currency, m.month_end)])
                )
                mrr[key] = mrr.get(key, Decimal(0)) + amount
    rows = []
    for customer, start in cohort.items():
        for m in months.itertuples():
            if m.month < start:
                continue
            value = mrr.get((customer, m.month), Decimal(0))
            k = (m.month.year - start.year) * 12 + m.month.month - start.month
            rows.append((start, k, *segment[customer], 1, int(value > 0), value))
    frame = pd.DataFrame(rows, columns=[*KEYS, "cohort_customers", "active_customers", "mrr"])
    out = frame.groupby(KEYS, as_index=False).agg(
        cohort_customers=("cohort_customers", "sum"),
        active_customers=("active_customers", "sum"),
        mrr=("mrr", "sum"),
    )
    month0 = out[out["months_since"] == 0].set_index(KEYS[:1] + KEYS[2:])["mrr"]
    out["mrr_month0"] = [
        month0[(c, co, p, ch)]
        for c, co, p, ch in zip(
            out["cohort_month"],
            out["country"],
            out["platform"],
            out["acquisition_channel"],
            strict=True,
        )
    ]
    return out.sort_values(KEYS).reset_index(drop=True)


def test_equals_an_independent_pandas_computation(built) -> None:
    warehouse, _ = built
    mart = _frame(
        warehouse,
        f"select {', '.join(KEYS)}, cohort_customers, active_customers, mrr, mrr_month0"
        f" from marts.cohort_retention_by_segment order by {', '.join(KEYS)}",
    )
    mart["cohort_month"] = pd.to_datetime(mart["cohort_month"])
    expected = expected_by_pandas(warehouse)
    assert len(mart) == len(expected)
    pd.testing.assert_frame_equal(
        mart[[*KEYS, "cohort_customers", "active_customers"]].astype({"months_since": "int64"}),
        expected[[*KEYS, "cohort_customers", "active_customers"]].astype(
            {"months_since": "int64", "cohort_customers": "int64", "active_customers": "int64"}
        ),
        check_dtype=False,
    )
    for column in ("mrr", "mrr_month0"):
        got = [float(v) for v in mart[column]]
        want = [float(v) for v in expected[column]]
        assert got == pytest.approx(want, abs=1e-9), column


def test_the_sums_data_test_fails_on_a_difference(built, tmp_path: Path) -> None:
    warehouse, project = built
    tampered = tmp_path / "tampered.duckdb"
    tampered.write_bytes(warehouse.read_bytes())
    con = duckdb.connect(str(tampered))
    con.execute(
        "update marts.cohort_retention_by_segment set active_customers = active_customers + 1"
        " where rowid = (select min(rowid) from marts.cohort_retention_by_segment)"
    )
    con.close()
    result = run_dbt(["test", "--select", SUMS_TEST], project, {"CHURNIQ_WAREHOUSE": str(tampered)})
    assert [name for name, status, _ in failures(result)] == [SUMS_TEST]
