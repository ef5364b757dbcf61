"""App test fixtures: a tiny hand-made serving snapshot (3 months × 3 country/platform segments).

The figures are chosen by hand so tests can assert exact display strings; ``metrics_monthly``
holds the totals of ``metrics_monthly_by_segment`` and every row satisfies the MRR bridge
(MRR end = MRR start + movements + FX).

| month | segment | mrr | paying | at start | churned from start | net new (excl. FX) |
|---|---|---|---|---|---|---|
| Jan | FR/web, FR/ios, DE/web | 500, 300, 200 | 50, 30, 20 | 0 | 0 | 1000 |
| Feb | FR/web, FR/ios, DE/web | 600, 300, 190 | 57, 30, 19 | 50, 30, 20 | 3, 6, 2 | 90 |
| Mar | FR/web, FR/ios, DE/web | 600, 300, 205 | 55, 30, 20 | 57, 30, 19 | 6, 3, 1 | 10 (+5 FX in DE) |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import app.components
from app.signin import SESSION_KEY
from app.users import save_user
from foundation.vocabulary import BRIDGE_COLUMNS

SEGMENT_COLUMNS = (
    "month, country, platform, mrr, paying_customers, paying_customers_at_start, new_mrr, "
    "expansion_mrr, contraction_mrr, churned_mrr, reactivation_mrr, pause_mrr, resume_mrr, "
    "fx_adjustment, net_new_mrr, new_customers, churned_customers, churned_from_start_customers, "
    "churned_in_first_month_customers, reactivated_customers, voluntary_churned_customers, "
    "involuntary_churned_customers, trial_mrr, one_time_revenue, refunds"
)

# month, country, platform, mrr, paying, at_start, new, exp, contr, churn, react, pause, resume,
# fx, net_new, new_c, churned_c, churned_from_start, churned_first_month, react_c, vol, invol,
# trial_mrr, one_time, refunds
SEGMENT_ROWS = """
('2024-01-01','FR','web', 500, 50,  0, 500,  0,   0,   0,  0,   0, 0, 0, 500, 50, 0, 0, 0, 0, 0, 0, 40, 15, 0),
('2024-01-01','FR','ios', 300, 30,  0, 300,  0,   0,   0,  0,   0, 0, 0, 300, 30, 0, 0, 0, 0, 0, 0, 20,  0, 0),
('2024-01-01','DE','web', 200, 20,  0, 200,  0,   0,   0,  0,   0, 0, 0, 200, 20, 0, 0, 0, 0, 0, 0, 10,  5, 0),
('2024-02-01','FR','web', 600, 57, 50, 100, 50, -20, -30,  0,   0, 0, 0, 100, 10, 3, 3, 0, 0, 2, 1, 30,  0, 5),
('2024-02-01','FR','ios', 300, 30, 30,  60,  0,   0, -60,  0,   0, 0, 0,   0,  6, 6, 6, 0, 0, 6, 0, 10,  0, 0),
('2024-02-01','DE','web', 190, 19, 20,   0,  0,   0, -20, 10,   0, 0, 0, -10,  0, 2, 2, 0, 1, 1, 1,  0,  0, 0),
('2024-03-01','FR','web', 600, 55, 57,  50, 20,   0, -60,  0, -10, 0, 0,   0,  5, 6, 6, 0, 0, 4, 2, 25, 10, 0),
('2024-03-01','FR','ios', 300, 30, 30,  30,  0,   0, -30,  0,   0, 0, 0,   0,  3, 3, 3, 0, 0, 3, 0,  5,  0, 0),
('2024-03-01','DE','web', 205, 20, 19,  20,  0,   0, -10,  0,   0, 0, 5,  10,  2, 1, 1, 0, 0, 1, 0,  0,  0, 0)
"""

MONEY = [
    "mrr",
    *BRIDGE_COLUMNS,
    "net_new_mrr",
    "trial_mrr",
    "one_time_revenue",
    "refunds",
]


def _money_casts(columns: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(
        f"{c}::decimal(18,2) as {c}"
        if c in MONEY
        else ("month::date as month" if c == "month" else c)
        for c in names
    )


def build_snapshot(
    home: Path,
    *,
    with_marts: bool = True,
    with_meta: bool = True,
    with_scores: bool = True,
    with_churn: bool = True,
) -> Path:
    """Write ``home/serving.duckdb`` and return its path."""
    home.mkdir(parents=True, exist_ok=True)
    path = home / "serving.duckdb"
    with duckdb.connect(str(path)) as con:
        if with_meta:
            con.execute("create schema meta")
            con.execute(
                "create table meta.snapshot as select 'test-v1' as version,"
                " timestamp '2024-04-01 02:00:00' as published_at,"
                " timestamp '2024-03-31 23:59:59' as watermark, 'EUR' as reporting_currency"
            )
        if not with_marts:
            return path
        con.execute("create schema marts")
        con.execute(
            f"create table marts.metrics_monthly_by_segment as select {_money_casts(SEGMENT_COLUMNS)}"
            f" from (values {SEGMENT_ROWS}) as t({SEGMENT_COLUMNS})"
        )
        # Hand-written totals (not derived from the segment table, so the tests check the app's
        # aggregation against independent numbers).
        con.execute(
            """
            create table marts.metrics_monthly as
            select month::date as month, mrr::decimal(18,2) as mrr,
                   (12 * mrr)::decimal(18,2) as arr, paying_customers,
                   paying_customers_at_start, new_mrr::decimal(18,2) as new_mrr,
                   expansion_mrr::decimal(18,2) as expansion_mrr,
                   contraction_mrr::decimal(18,2) as contraction_mrr,
                   churned_mrr::decimal(18,2) as churned_mrr,
                   reactivation_mrr::decimal(18,2) as reactivation_mrr,
                   pause_mrr::decimal(18,2) as pause_mrr, resume_mrr::decimal(18,2) as resume_mrr,
                   fx_adjustment::decimal(18,2) as fx_adjustment,
                   net_new_mrr::decimal(18,2) as net_new_mrr, churned_from_start_customers,
                   customer_churn_rate
            from (values
                ('2024-01-01', 1000, 100,   0, 1000,  0,   0,    0,  0,   0, 0, 0, 1000,  0, null),
                ('2024-02-01', 1090, 106, 100,  160, 50, -20, -110, 10,   0, 0, 0,   90, 11, 0.11),
                ('2024-03-01', 1105, 105, 106,  100, 20,   0, -100,  0, -10, 0, 5,   10, 10, 10 / 106)
            ) as t(month, mrr, paying_customers, paying_customers_at_start, new_mrr,
                   expansion_mrr, contraction_mrr, churned_mrr, reactivation_mrr, pause_mrr,
                   resume_mrr, fx_adjustment, net_new_mrr, churned_from_start_customers,
                   customer_churn_rate)
            """
        )
        con.execute(
            "create table marts.dim_customers (customer_id varchar, country varchar,"
            " signup_platform varchar, cohort_month date, status varchar,"
            " current_mrr decimal(18,2), lifetime_revenue decimal(18,2))"
        )
        con.execute(
            "create table marts.fct_mrr_movements (movement_date date, customer_id varchar,"
            " movement_type varchar, mrr_change decimal(18,2), mrr_before decimal(18,2),"
            " mrr_after decimal(18,2))"
        )
        if with_scores:
            _add_churn_scores(con)
        if with_churn:
            _add_churn_marts(con)
    return path


# marts.churn_reasons_monthly: per month, the churned customers add up to metrics_monthly's
# churned customers (Feb 11, Mar 10), voluntary/involuntary to the segments' sums (Feb 9/2,
# Mar 8/2) and churned MRR to its churned MRR (Feb -110, Mar -100).
# Over Jan–Mar by reason: not_using 8 (-80), price 7 (-70), payment_failed 4 (-40, involuntary,
# system), unknown 2 (-20, merchant). A row of Apr 2024 lies outside the snapshot's months.
CHURN_REASON_ROWS = """
('2024-02-01', 'price',          'customer', 'voluntary',   5, 4, -40),
('2024-02-01', 'not_using',      'customer', 'voluntary',   5, 5, -50),
('2024-02-01', 'payment_failed', 'system',   'involuntary', 2, 2, -20),
('2024-03-01', 'price',          'customer', 'voluntary',   3, 3, -30),
('2024-03-01', 'not_using',      'customer', 'voluntary',   4, 3, -30),
('2024-03-01', 'unknown',        'merchant', 'voluntary',   2, 2, -20),
('2024-03-01', 'payment_failed', 'system',   'involuntary', 2, 2, -20),
('2024-04-01', 'price',          'customer', 'voluntary',   9, 9, -90)
"""
CHURN_REASON_COLUMNS = (
    "month, reason, initiated_by, churn_type, churned_subscriptions, churned_customers, churned_mrr"
)

# marts.scheduled_churn_monthly: 5 pending cancellations (4 customers churning), MRR at stake
# 40.49; one has no effective date.
SCHEDULED_ROWS = """
('2024-04-01', 3, 3, 2, 25.50),
('2024-05-01', 1, 1, 1,  9.99),
(null,         1, 1, 1,  5.00)
"""
SCHEDULED_COLUMNS = "month, subscriptions, customers, churning_customers, mrr_at_stake"


def _add_churn_marts(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        "create table marts.churn_reasons_monthly as select month::date as month, reason,"
        " initiated_by, churn_type, churned_subscriptions::integer as churned_subscriptions,"
        " churned_customers::integer as churned_customers,"
        " churned_mrr::decimal(38,22) as churned_mrr"
        f" from (values {CHURN_REASON_ROWS}) as t({CHURN_REASON_COLUMNS})"
    )
    con.execute(
        "create table marts.scheduled_churn_monthly as select month::date as month,"
        " subscriptions::integer as subscriptions, customers::integer as customers,"
        " churning_customers::integer as churning_customers,"
        " mrr_at_stake::decimal(38,22) as mrr_at_stake"
        f" from (values {SCHEDULED_ROWS}) as t({SCHEDULED_COLUMNS})"
    )


# ml.churn_scores: two scorings. Only the latest (2024-03-31) may show; the earlier one differs
# in every probability and has a customer (c9) the latest does not. Latest scoring, by MRR at
# risk (MRR × 30-day probability):
# | customer | band | p | mrr | at risk | ltv (low–high) | reason group | offer | platform | country |
# |---|---|---|---|---|---|---|---|---|---|
# | c1 | high | 0.8 | 20 | 16 | 200 (120–280) | failed_payments | subscription | web | FR |
# | c3 | medium | 0.5 | 30 | 15 | 300 (180–420) | failed_payments | subscription | web | DE |
# | c8 | high | 0.9 | 10 | 9 | 100 (60–140) | pending_cancellation | subscription | web | DE |
# | c2 | high | 0.6 | 10 | 6 | 100 (60–140) | pending_cancellation | subscription | ios | FR |
# | c5 | low | 0.1 | 40 | 4 | 400 (240–560) | tenure | bundle | web | DE |
# | c4 | medium | 0.3 | 10 | 3 | 100 (60–140) | engagement | subscription | web | FR |
# | c6 | low | 0.1 | 20 | 2 | 200 (120–280) | (none) | subscription | ios | FR |
# | c7 | low | 0.2 | 0 | 0 | 0 (0–0) | trial | subscription | web | FR |
# Totals: 8 subscribers, MRR at risk 55, MRR 140, expected churners 3.5.
SCORE_ROWS = """
('c1', 'high',   0.8, 20, ['2 failed payments in the last 30 days', 'watch time down 50 % over 4 weeks'], ['failed_payments', 'engagement'], 'subscription', 'web', 'FR'),
('c2', 'high',   0.6, 10, ['cancellation requested'], ['pending_cancellation'], 'subscription', 'ios', 'FR'),
('c3', 'medium', 0.5, 30, ['1 failed payment in the last 30 days'], ['failed_payments'], 'subscription', 'web', 'DE'),
('c4', 'medium', 0.3, 10, ['watch time down 40 % over 4 weeks'], ['engagement'], 'subscription', 'web', 'FR'),
('c5', 'low',    0.1, 40, ['subscriber for 3 months'], ['tenure'], 'bundle', 'web', 'DE'),
('c6', 'low',    0.1, 20, [], [], 'subscription', 'ios', 'FR'),
('c7', 'low',    0.2,  0, ['in a trial'], ['trial'], 'subscription', 'web', 'FR'),
('c8', 'high',   0.9, 10, ['cancellation requested'], ['pending_cancellation'], 'subscription', 'web', 'DE')
"""
SCORE_COLUMNS = "customer_id, risk_band, p, mrr, reasons, groups, offer_type, platform, country"


def _add_churn_scores(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists ml")
    latest = f"""
        select customer_id, timestamp '2024-03-31 00:00:00' as scored_at, 30 as horizon_days,
               p::double as churn_probability,
               least(p * 1.5, 1.0)::double as churn_probability_60d,
               least(p * 2, 1.0)::double as churn_probability_90d, risk_band,
               10.0::double as expected_remaining_months,
               6.0::double as expected_remaining_months_lower,
               14.0::double as expected_remaining_months_upper, mrr::double as mrr,
               mrr * 10.0 as predicted_ltv, mrr * 6.0 as predicted_ltv_lower,
               mrr * 14.0 as predicted_ltv_upper, reasons::varchar[] as top_reasons,
               groups::varchar[] as top_reason_groups, reasons[1]::varchar as top_reason,
               offer_type, platform, country, 'm-2' as model_version
        from (values {SCORE_ROWS}) as t({SCORE_COLUMNS})
    """
    # The earlier scoring: other probabilities, bands and one customer more (c9).
    earlier = """
        select customer_id, timestamp '2024-02-29 00:00:00' as scored_at, horizon_days,
               1 - churn_probability as churn_probability, churn_probability_60d,
               churn_probability_90d, 'high' as risk_band, expected_remaining_months,
               expected_remaining_months_lower, expected_remaining_months_upper, mrr + 5 as mrr,
               predicted_ltv, predicted_ltv_lower, predicted_ltv_upper, top_reasons,
               top_reason_groups, top_reason, offer_type, platform, country,
               'm-1' as model_version
        from latest
        union all
        select 'c9', timestamp '2024-02-29 00:00:00', 30, 0.99, 0.99, 0.99, 'high', 1, 0, 2,
               100, 100, 50, 150, ['old reason'], ['price_change'], 'old reason',
               'pass', 'web', 'FR', 'm-1'
    """
    con.execute(
        f"create table ml.churn_scores as with latest as ({latest}) "
        f"select * from latest union all select * from ({earlier})"
    )


MAIN = Path(__file__).resolve().parents[2] / "app" / "main.py"


TESTER, TESTER_PASSWORD = "tester", "tester-password"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CHURNIQ_HOME with no data and one dashboard user, `tester` (admin)."""
    path = tmp_path / "churniq"
    path.mkdir()
    monkeypatch.setenv("CHURNIQ_HOME", str(path))
    save_user(path, TESTER, TESTER_PASSWORD, "admin")
    return path


@pytest.fixture
def snapshot_builder() -> Callable[..., Path]:
    """``build_snapshot`` for tests that need a variant (test modules do not import conftest)."""
    return build_snapshot


@pytest.fixture
def snapshot_home(home: Path) -> Path:
    """A CHURNIQ_HOME with the hand-made serving snapshot."""
    build_snapshot(home)
    return home


def run_app(user: str | None = TESTER) -> AppTest:
    """Run the whole app (entry point + default page) once, signed in as `user` (None: not
    signed in); rerun with ``.run()``."""
    at = AppTest.from_file(str(MAIN), default_timeout=30)
    if user is not None:
        at.session_state[SESSION_KEY] = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def app_runner() -> Callable[..., AppTest]:
    """Call after CHURNIQ_HOME is prepared (``home`` / ``snapshot_home``)."""
    return run_app


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple[pd.DataFrame, str]]:
    """Key → (frame, file name) of every CSV download the page offers (pages import
    ``csv_download`` from ``app.components`` on every run, so they get this recorder)."""
    recorded: dict[str, tuple[pd.DataFrame, str]] = {}
    original = app.components.csv_download

    def record(frame: pd.DataFrame, file_name: str, label: str, key: str) -> None:
        recorded[key] = (frame.copy(), file_name)
        original(frame, file_name, label, key)

    monkeypatch.setattr(app.components, "csv_download", record)
    return recorded
