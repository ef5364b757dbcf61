"""End-to-end test of the dbt project on a small hand-written warehouse.

Builds raw.events / raw.fx_rates / raw.currencies in a temporary DuckDB file (dbt_warehouse_fixture.py),
runs `dbt build` (models, data tests, unit tests, the bridge test) in-process and checks hand-computed
values of the marts.
"""

from __future__ import annotations

import os
import shutil
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dbt_warehouse_fixture import build_warehouse  # noqa: E402

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def _run_dbt(args: list[str], project_dir: Path, env: dict[str, str]):
    from dbt.cli.main import dbtRunner

    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return dbtRunner().invoke(
            [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
        )
    finally:
        _release_duckdb()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so that the test
    (or any later step of the same process) can open the warehouse with another configuration."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    """A copy of the project so target/ and logs/ of parallel runs never collide."""
    dst = tmp_path_factory.mktemp("dbt") / "dbt_project"
    shutil.copytree(
        PROJECT_DIR,
        dst,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb*"),
    )
    return dst


@pytest.fixture(scope="module")
def warehouse(project_copy, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    path = build_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    result = _run_dbt(["build"], project_copy, {"CHURNIQ_WAREHOUSE": str(path)})
    assert result.exception is None, result.exception
    failed = [
        (r.node.name, r.status, r.message)
        for r in result.result
        if str(r.status) not in ("success", "pass")
    ]
    assert result.success, failed
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def _one(con, sql):
    return con.execute(sql).fetchone()


def test_parse_without_warehouse(project_copy, tmp_path):
    missing = tmp_path / "does_not_exist.duckdb"
    result = _run_dbt(["parse"], project_copy, {"CHURNIQ_WAREHOUSE": str(missing)})
    assert result.success, result.exception
    assert (project_copy / "target" / "manifest.json").exists()
    assert not missing.exists()


def test_annual_plan_normalised_to_monthly(warehouse):
    # P1Y 119.88 EUR => 9.99 / month
    (mrr,) = _one(
        warehouse, "select current_mrr from marts.fct_subscriptions where subscription_id = 's1'"
    )
    assert mrr == Decimal("9.99")
    (mrr,) = _one(
        warehouse, "select current_mrr from marts.fct_subscriptions where subscription_id = 's9'"
    )
    assert mrr == Decimal("9.99")  # P3M 29.97


def test_currency_conversion(warehouse):
    # USD 12.99 at 0.8 (rate on the watermark day)
    (usd,) = _one(warehouse, "select current_mrr from marts.dim_customers where customer_id = 'c2'")
    assert usd == Decimal("10.392")
    # JPY 1200 (no minor unit) at 0.0065
    (jpy,) = _one(warehouse, "select current_mrr from marts.dim_customers where customer_id = 'c6'")
    assert jpy == Decimal("7.8")


def test_monthly_bridge_values(warehouse):
    rows = warehouse.execute(
        """
        select month, mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr, reactivation_mrr,
               pause_mrr, resume_mrr, fx_adjustment, net_new_mrr, paying_customers, paying_customers_at_start
        from marts.metrics_monthly order by month
        """
    ).fetchall()
    assert [str(r[0]) for r in rows] == ["2025-01-01", "2025-02-01", "2025-03-01"]
    jan, feb, mar = rows
    D = Decimal
    # January: 8 x 9.99 EUR + 12.99 USD x 0.9 + 1200 JPY x 0.0065 new, c5 upgraded on 31 Jan UTC (+5)
    assert jan[1] == D("104.411")
    assert jan[2] == D("99.411") and jan[3] == D("5") and jan[9] == 0
    assert jan[11] == 10 and jan[12] == 0
    # February: 3 churns, 2 pauses, USD 0.9 -> 0.8 on 10 Feb: fx = 12.99 x -0.1
    assert feb[5] == D("-29.97") and feb[7] == D("-19.98") and feb[9] == D("-1.299")
    assert feb[1] == D("53.162") and feb[11] == 5 and feb[12] == 10
    # March: contraction -7, resume +9.99, reactivation +9.99, churn of a paused customer (0)
    assert mar[4] == D("-7") and mar[8] == D("9.99") and mar[6] == D("9.99") and mar[5] == 0
    assert mar[1] == D("66.142") and mar[11] == 7
    for prev, cur in zip(rows, rows[1:], strict=False):
        assert cur[1] == prev[1] + cur[10] + cur[9]


def test_churn_counts_and_types(warehouse):
    feb = _one(
        warehouse,
        """
        select churned_customers, churned_from_start_customers, voluntary_churned_customers,
               involuntary_churned_customers, customer_churn_rate
        from marts.metrics_monthly where month = date '2025-02-01'
        """,
    )
    assert feb == (3, 3, 2, 1, pytest.approx(0.3))
    mar = _one(
        warehouse,
        """
        select churned_customers, churned_from_start_customers, churned_in_first_month_customers,
               reactivated_customers, customer_churn_rate
        from marts.metrics_monthly where month = date '2025-03-01'
        """,
    )
    assert mar == (1, 0, 1, 1, 0.0)
    types = dict(
        warehouse.execute(
            "select subscription_id, churn_type from marts.fct_subscriptions where ended_at is not null"
        ).fetchall()
    )
    assert types == {"s3": "involuntary", "s4": "voluntary", "s8": "voluntary", "s10": "voluntary"}


def test_movements(warehouse):
    rows = warehouse.execute(
        "select customer_id, movement_type, mrr_change from marts.fct_mrr_movements "
        "where movement_type <> 'new' order by movement_date, customer_id"
    ).fetchall()
    assert rows == [
        ("c5", "expansion", Decimal("5")),
        ("c7", "pause", Decimal("-9.99")),
        ("c8", "churn", Decimal("-9.99")),
        ("c10", "pause", Decimal("-9.99")),
        ("c3", "churn", Decimal("-9.99")),
        ("c4", "churn", Decimal("-9.99")),
        ("c5", "contraction", Decimal("-7")),
        ("c7", "resume", Decimal("9.99")),
        ("c8", "reactivation", Decimal("9.99")),
        ("c10", "churn", Decimal("0")),
    ]


def test_customers_and_revenue(warehouse):
    status = dict(
        warehouse.execute("select customer_id, status from marts.dim_customers").fetchall()
    )
    assert status["c1"] == "active"
    assert status["c3"] == "churned"
    assert status["c10"] == "churned"
    assert status["c11"] == "trialing"
    c9 = _one(
        warehouse,
        "select lifetime_revenue, cohort_month from marts.dim_customers where customer_id = 'c9'",
    )
    assert c9[0] == Decimal("19.97") and str(c9[1]) == "2025-01-01"
    (cohort,) = _one(
        warehouse, "select cohort_month from marts.dim_customers where customer_id = 'c11'"
    )
    assert cohort is None
    mar = _one(
        warehouse,
        "select trial_mrr, one_time_revenue from marts.metrics_monthly where month = date '2025-03-01'",
    )
    assert mar == (Decimal("9.99"), Decimal("0"))
    feb = _one(
        warehouse,
        "select one_time_revenue, refunds from marts.metrics_monthly where month = date '2025-02-01'",
    )
    assert feb == (Decimal("5"), Decimal("0"))
    (refunds,) = _one(
        warehouse, "select refunds from marts.metrics_monthly where month = date '2025-01-01'"
    )
    assert refunds == Decimal("10")


def test_segments_sum_to_total(warehouse):
    bad = warehouse.execute(
        """
        select m.month from marts.metrics_monthly m
        join (select month, sum(mrr) mrr, sum(paying_customers) p, sum(fx_adjustment) fx
              from marts.metrics_monthly_by_segment group by month) s using (month)
        where m.mrr <> s.mrr or m.paying_customers <> s.p or m.fx_adjustment <> s.fx
        """
    ).fetchall()
    assert bad == []
    (us_fx,) = _one(
        warehouse,
        "select fx_adjustment from marts.metrics_monthly_by_segment "
        "where month = date '2025-02-01' and country = 'US' and platform = 'ios'",
    )
    assert us_fx == Decimal("-1.299")


def test_money_columns_are_exact_decimals(warehouse):
    types = dict(
        warehouse.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'metrics_monthly'"
        ).fetchall()
    )
    for col in [
        "mrr",
        "arr",
        "new_mrr",
        "fx_adjustment",
        "net_new_mrr",
        "trial_mrr",
        "one_time_revenue",
        "refunds",
    ]:
        assert types[col].startswith("DECIMAL"), (col, types[col])


def test_as_of_var(project_copy, tmp_path):
    path = build_warehouse(tmp_path / "warehouse.duckdb")
    result = _run_dbt(
        ["run", "--vars", "{as_of: '2025-02-12'}"], project_copy, {"CHURNIQ_WAREHOUSE": str(path)}
    )
    assert result.success, result.exception
    con = duckdb.connect(str(path), read_only=True)
    try:
        months = [
            str(r[0])
            for r in con.execute("select month from marts.metrics_monthly order by 1").fetchall()
        ]
        assert months == ["2025-01-01", "2025-02-01"]
        status = dict(con.execute("select customer_id, status from marts.dim_customers").fetchall())
        assert status["c3"] == "active" and status["c7"] == "paused" and status["c10"] == "paused"
        (feb_mrr,) = con.execute(
            "select mrr from marts.metrics_monthly where month = date '2025-02-01'"
        ).fetchone()
        # as of 12 Feb: c1, c2 (USD at 0.8), c3, c4, c5 (14.99), c6, c9
        assert feb_mrr == Decimal("9.99") * 4 + Decimal("10.392") + Decimal("14.99") + Decimal(
            "7.8"
        )
    finally:
        con.close()
