"""End-to-end test of the dbt project on a small hand-written warehouse.

Builds raw.events / raw.fx_rates / raw.currencies in a temporary DuckDB file (dbt_warehouse_fixture.py),
runs `dbt build` (models, data tests, unit tests, the bridge test) in-process and checks hand-computed
values of the marts.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dbt_warehouse_fixture import build_warehouse, leakage_and_coupon_events  # noqa: E402

from pipelines.dbt_project import dbt_vars  # noqa: E402
from tests.dbt_support import copy_project, failures, run_dbt  # noqa: E402


@pytest.fixture(scope="module")
def project_copy(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("dbt"))


@pytest.fixture(scope="module")
def warehouse(project_copy, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    path = build_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    result = run_dbt(["build"], project_copy, {"CHURNIQ_WAREHOUSE": str(path)})
    assert result.exception is None, result.exception
    assert result.success, failures(result)
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def _one(con, sql):
    return con.execute(sql).fetchone()


def test_parse_without_warehouse(project_copy, tmp_path):
    missing = tmp_path / "does_not_exist.duckdb"
    result = run_dbt(["parse"], project_copy, {"CHURNIQ_WAREHOUSE": str(missing)})
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
    result = run_dbt(
        ["run", "--vars", dbt_vars(as_of="2025-02-12")],
        project_copy,
        {"CHURNIQ_WAREHOUSE": str(path)},
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


# --------------------------------------------------------------------------- metric layer marts


def test_cohort_retention(warehouse):
    rows = warehouse.execute(
        "select cohort_month, months_since, cohort_customers, active_customers, logo_retention, mrr, "
        "revenue_retention from marts.cohort_retention order by cohort_month, months_since"
    ).fetchall()
    # one cohort (January: c1..c10; c11 only trials); c8's two subscriptions count once
    assert [(str(r[0]), r[1], r[2], r[3]) for r in rows] == [
        ("2025-01-01", 0, 10, 10),
        ("2025-01-01", 1, 10, 5),
        ("2025-01-01", 2, 10, 7),
    ]
    assert [r[4] for r in rows] == [1.0, 0.5, 0.7]
    assert [r[5] for r in rows] == [Decimal("104.411"), Decimal("53.162"), Decimal("66.142")]
    assert rows[1][6] == pytest.approx(53.162 / 104.411)


def test_payment_recovery(warehouse):
    rows = warehouse.execute(
        "select month, failed_renewals, recovered, recovery_rate, recovered_mrr, failed_mrr, "
        "cancelled_during_dunning, open_windows from marts.payment_recovery_monthly order by month"
    ).fetchall()
    jan, feb, mar = rows
    assert jan[1:3] == (0, 0) and jan[3] is None
    # c2 recovered after 7 days (USD 12.99 x 0.9 on 5 Feb); c3 ended unpaid; c4 cancelled in dunning
    assert feb[1:4] == (3, 1, pytest.approx(1 / 3))
    assert feb[4] == Decimal("11.691") and feb[5] == Decimal("31.671") and feb[6] == 1
    # c6 paid 19 days after the failure: outside the 14-day window
    assert mar[1:3] == (1, 0) and mar[5] == Decimal("7.8") and mar[7] == 0
    by_code = warehouse.execute(
        "select failure_code, provider, failed_renewals, recovered from marts.payment_recovery_by_code "
        "where month = date '2025-02-01' order by 1, 2"
    ).fetchall()
    assert by_code == [("card_expired", "adyen", 1, 0), ("insufficient_funds", "adyen", 2, 1)]


def test_scheduled_churn(warehouse):
    # c1 withdrew its cancellation; c9's is pending
    rows = warehouse.execute(
        "select subscription_id, customer_id, reason, cast(effective_at as date), days_until_effective, "
        "is_last_live_subscription, mrr_at_stake from marts.scheduled_churn"
    ).fetchall()
    assert rows == [("s9", "c9", "too_expensive", dt.date(2025, 4, 8), 8, True, Decimal("9.99"))]
    monthly = warehouse.execute(
        "select month, subscriptions, mrr_at_stake from marts.scheduled_churn_monthly"
    ).fetchall()
    assert monthly == [(dt.date(2025, 4, 1), 1, Decimal("9.99"))]


def test_revenue_by_segment(warehouse):
    rows = warehouse.execute(
        "select month, offer_type, platform, provider, country, payments, refunds, one_time_revenue, "
        "net_cash_revenue from marts.revenue_monthly_by_segment order by month, offer_type, platform"
    ).fetchall()
    D = Decimal
    assert rows == [
        (
            dt.date(2025, 1, 1),
            "subscription",
            "web",
            "stripe",
            "DE",
            D("29.97"),
            D("10"),
            D("0"),
            D("19.97"),
        ),
        (dt.date(2025, 2, 1), "pass", "web", "unknown", "DE", D("0"), D("0"), D("5"), D("0")),
        (
            dt.date(2025, 2, 1),
            "subscription",
            "ios",
            "adyen",
            "US",
            D("10.392"),
            D("0"),
            D("0"),
            D("10.392"),
        ),
        (
            dt.date(2025, 3, 1),
            "subscription",
            "ios",
            "app_store",
            "JP",
            D("7.8"),
            D("0"),
            D("0"),
            D("7.8"),
        ),
    ]
    bad = warehouse.execute(
        """
        select m.month from marts.metrics_monthly m
        left join (select month, sum(payments) p, sum(refunds) r, sum(one_time_revenue) o
                   from marts.revenue_monthly_by_segment group by month) s using (month)
        where m.payments <> coalesce(s.p, 0) or m.refunds <> coalesce(s.r, 0)
           or m.one_time_revenue <> coalesce(s.o, 0)
        """
    ).fetchall()
    assert bad == []


def test_trials_support_and_churn_reasons(warehouse):
    trials = warehouse.execute(
        "select month, offer_id, trials_ended, converted, conversion_rate from marts.trial_conversion_monthly"
    ).fetchall()
    assert trials == [
        (dt.date(2025, 1, 1), "monthly", 1, 1, 1.0)
    ]  # c3; c11's trial ends after the as-of
    support = _one(
        warehouse,
        "select tickets_opened, tickets_resolved, median_resolution_minutes, csat_average, csat_responses "
        "from marts.support_monthly where month = date '2025-01-01' and category = 'billing' and channel = 'email'",
    )
    assert support == (1, 1, 60.0, 4.0, 1)
    feb = _one(
        warehouse,
        "select customers_with_ticket, churned_with_ticket, customers_without_ticket, churned_without_ticket "
        "from marts.support_churn where month = date '2025-02-01'",
    )
    assert feb == (1, 1, 9, 2)  # c8 had a ticket and churned; c3, c4 churned without one
    reasons = warehouse.execute(
        "select month, reason, initiated_by, churn_type, churned_subscriptions, churned_customers, churned_mrr "
        "from marts.churn_reasons_monthly order by month, reason"
    ).fetchall()
    D = Decimal
    assert reasons == [
        (dt.date(2025, 2, 1), "not_using", "customer", "voluntary", 1, 1, D("-9.99")),
        (dt.date(2025, 2, 1), "payment_failed", "system", "involuntary", 1, 1, D("-9.99")),
        # c4 cancelled during dunning: voluntary, with its own reason
        (dt.date(2025, 2, 1), "too_expensive", "customer", "voluntary", 1, 1, D("-9.99")),
        (dt.date(2025, 3, 1), "unknown", "unknown", "voluntary", 1, 1, D("0")),
    ]


def test_metrics_daily_bridge(warehouse):
    rows = warehouse.execute(
        "select day, mrr, net_new_mrr, fx_adjustment, paying_customers from marts.metrics_daily order by day"
    ).fetchall()
    assert rows[0][0] == dt.date(2025, 1, 1) and rows[-1][0] == dt.date(2025, 3, 31)
    for prev, cur in zip(rows, rows[1:], strict=False):
        assert cur[1] == prev[1] + cur[2] + cur[3], cur[0]
    month_ends = {r[0]: (r[1], r[4]) for r in rows}
    assert month_ends[dt.date(2025, 3, 31)] == (Decimal("66.142"), 7)
    assert month_ends[dt.date(2025, 2, 28)] == (Decimal("53.162"), 5)


def test_customer_months(warehouse):
    by_month = dict(
        warehouse.execute(
            "select month, count(*) from marts.customer_months group by month"
        ).fetchall()
    )
    # live at the month end (paused and trialing included)
    assert by_month == {dt.date(2025, 1, 1): 10, dt.date(2025, 2, 1): 7, dt.date(2025, 3, 1): 8}
    bad = warehouse.execute(
        """
        select m.month from marts.metrics_monthly m
        join (select month, sum(mrr) mrr from marts.customer_months group by month) c using (month)
        where m.mrr <> c.mrr
        """
    ).fetchall()
    assert bad == []

    def row(cid, month, cols):
        return _one(
            warehouse,
            f"select {cols} from marts.customer_months where customer_id = '{cid}' and month = date '{month}'",
        )

    # c8: billing ticket in January, churns 6 Feb (label observable), comes back in March
    assert row(
        "c8",
        "2025-01-01",
        "tickets_30d, billing_tickets_30d, last_csat, churned_within_30d, label_observable_30d",
    ) == (1, 1, 4, True, True)
    assert row("c8", "2025-03-01", "past_churns, past_reactivations, label_observable_30d") == (
        1,
        1,
        False,
    )
    assert row(
        "c1", "2025-03-01", "tenure_days, minutes_watched_4w, sessions_4w, has_pending_cancellation"
    ) == (80, Decimal("300"), 7, False)
    assert row("c9", "2025-03-01", "has_pending_cancellation") == (True,)
    assert row("c2", "2025-02-01", "failed_payments_30d, recovered_payments_90d, currency") == (
        1,
        1,
        "USD",
    )


@pytest.fixture(scope="module")
def leak_warehouse(project_copy, tmp_path_factory) -> duckdb.DuckDBPyConnection:
    path = build_warehouse(
        tmp_path_factory.mktemp("wh_leak") / "warehouse.duckdb", leakage_and_coupon_events()
    )
    result = run_dbt(["run"], project_copy, {"CHURNIQ_WAREHOUSE": str(path)})
    assert result.success, result.exception
    con = duckdb.connect(str(path), read_only=True)
    yield con
    con.close()


def test_customer_months_no_leakage(leak_warehouse):
    """t1 and t2 are identical until 2025-01-31 23:59:59; t1's events one second later (one of them
    backdated to 2025-01-20) must not change its January features."""
    cur = leak_warehouse.execute(
        "select * exclude (customer_id, subscription_id) from marts.customer_months "
        "where customer_id in ('t1', 't2') and month < date '2025-03-01' order by month, customer_id"
    )
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    jan_t1, jan_t2, feb_t1, feb_t2 = rows
    assert jan_t1 == jan_t2
    jan = dict(zip(cols, jan_t1, strict=True))
    assert jan["mrr"] == Decimal("9.99") and jan["minutes_watched_4w"] == Decimal("120")
    feb = dict(zip(cols, feb_t1, strict=True))
    assert feb["mrr"] == Decimal("14.99") and feb["failed_payments_30d"] == 1
    assert feb["technical_tickets_30d"] == 1 and feb["last_csat"] == 1
    assert feb["has_pending_cancellation"] and feb["price_increases_90d"] == 1
    assert feb_t1 != feb_t2
    # the as-of history (metrics) applies the backdated change from 2025-01-20
    (jan_mrr,) = leak_warehouse.execute(
        "select current_mrr from marts.fct_subscriptions where subscription_id = 't1s'"
    ).fetchone()
    assert jan_mrr == Decimal("14.99")


def test_coupon_expiry_is_expansion_and_in_coupon_performance(leak_warehouse):
    moves = leak_warehouse.execute(
        "select movement_date, movement_type, mrr_change from marts.fct_mrr_movements "
        "where customer_id = 'k1' order by movement_date"
    ).fetchall()
    assert moves == [
        (dt.date(2025, 1, 10), "new", Decimal("4.99")),
        (dt.date(2025, 2, 10), "expansion", Decimal("5")),
    ]
    coupon = _one(
        leak_warehouse,
        "select redemptions, subscriptions, expired_while_live, mrr_during_coupon, mrr_after_coupon, "
        "retention_3m from marts.coupon_performance where coupon_id = 'WELCOME50' and campaign_id = 'welcome'",
    )
    assert coupon == (1, 1, 1, Decimal("4.99"), Decimal("9.99"), None)
    (expiring,) = _one(
        leak_warehouse,
        "select coupon_expiring_30d from marts.customer_months where customer_id = 'k1' and month = date '2025-01-01'",
    )
    assert expiring  # ends 2025-02-10, within 30 days of the January month end
