"""Revenue & payments page through the whole app (AppTest) and its data functions: KPIs,
revenue by segment and over time, one-time revenue, refunds and chargebacks, payment recovery,
filters, downloads and empty states.

The revenue and recovery marts are hand-made below, on top of conftest's snapshot (months Jan–Mar
2024, platforms web / ios, countries FR / DE). Expected figures, computed by hand:

``marts.revenue_monthly_by_segment`` (Jan has no row: all its figures are 0; the Apr row lies
outside the snapshot's months):

| month | offer | platform | provider | country | payments | refunds | chargebacks | one-time | net |
|---|---|---|---|---|---|---|---|---|---|
| Feb | subscription | web | stripe | FR | 500 (50) | 20 (2) | 0 | 0 | 480 |
| Feb | subscription | ios | app_store | FR | 300 (30) | 0 | 10 (1) | 0 | 290 |
| Feb | pass | web | stripe | DE | 40 (4) | 0 | 0 | 40 (4) | 40 |
| Mar | subscription | web | stripe | FR | 600 (60) | 30 (3) | 0 | 0 | 570 |
| Mar | subscription | web | paypal | DE | 200 (20) | 0 | 20 (2) | 0 | 180 |
| Mar | subscription | ios | app_store | FR | 300 (30) | 10 (1) | 0 | 0 | 290 |
| Mar | tvod | ios | app_store | FR | 25 (5) | 5 (1) | 0 | 25 (5) | 20 |
| Mar | pass | web | stripe | DE | 50 (5) | 0 | 0 | 50 (5) | 50 |

Feb: payments 840, refunds 20, chargebacks 10, net 810, one-time 40 (share reversed 30/840).
Mar: payments 1175, refunds 45, chargebacks 20, net 1110, one-time 75 (share reversed 65/1175).
By provider over Jan–Mar: stripe net 1140, app_store 600, paypal 180 (total 1920).

``marts.payment_recovery_monthly``: Jan 10 failed / 5 recovered, Feb 20 / 8, Mar 10 / 6 with 3
open windows; ``marts.payment_recovery_by_code`` splits them (see ``BY_CODE_ROWS``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from app.data import revenue as revenue_data
from app.metric_help import COMMERCE_DEFINITIONS
from tests.app.page_support import (
    Runner,
    assert_empty_state,
    captions,
    download_labels,
    kpis,
    open_page,
    source,
    table,
)

Builder = Callable[..., Path]

PAGE = "views/revenue.py"

REVENUE_COLUMNS = (
    "month, offer_type, platform, provider, country, payments, refunds, chargebacks, "
    "one_time_revenue, net_cash_revenue, payments_count, refunds_count, chargebacks_count, "
    "purchases_count"
)
REVENUE_ROWS = """
('2024-02-01', 'subscription', 'web', 'stripe',    'FR', 500, 20,  0,  0, 480, 50, 2, 0, 0),
('2024-02-01', 'subscription', 'ios', 'app_store', 'FR', 300,  0, 10,  0, 290, 30, 0, 1, 0),
('2024-02-01', 'pass',         'web', 'stripe',    'DE',  40,  0,  0, 40,  40,  4, 0, 0, 4),
('2024-03-01', 'subscription', 'web', 'stripe',    'FR', 600, 30,  0,  0, 570, 60, 3, 0, 0),
('2024-03-01', 'subscription', 'web', 'paypal',    'DE', 200,  0, 20,  0, 180, 20, 0, 2, 0),
('2024-03-01', 'subscription', 'ios', 'app_store', 'FR', 300, 10,  0,  0, 290, 30, 1, 0, 0),
('2024-03-01', 'tvod',         'ios', 'app_store', 'FR',  25,  5,  0, 25,  20,  5, 1, 0, 5),
('2024-03-01', 'pass',         'web', 'stripe',    'DE',  50,  0,  0, 50,  50,  5, 0, 0, 5),
('2024-04-01', 'subscription', 'web', 'stripe',    'FR', 999,  0,  0,  0, 999, 99, 0, 0, 0)
"""
RECOVERY_COLUMNS = (
    "month, failed_renewals, recovered, recovery_rate, recovered_mrr, failed_mrr, "
    "cancelled_during_dunning, open_windows"
)
RECOVERY_ROWS = """
('2024-01-01', 10, 5, 0.5, 50, 100, 1, 0),
('2024-02-01', 20, 8, 0.4, 80, 200, 2, 0),
('2024-03-01', 10, 6, 0.6, 60, 120, 0, 3)
"""
# Over Jan–Mar: insufficient_funds × stripe 18 failed / 7 recovered (7/18, not the mean of
# 3/6 and 4/12), insufficient_funds × app_store 10 / 6, card_expired × stripe 8 / 4,
# card_expired × app_store 4 / 2.
BY_CODE_COLUMNS = "month, failure_code, provider, " + RECOVERY_COLUMNS.split(", ", 1)[1]
BY_CODE_ROWS = """
('2024-01-01', 'insufficient_funds', 'stripe',     6, 3, 0.5,       30,  60, 1, 0),
('2024-01-01', 'card_expired',       'app_store',  4, 2, 0.5,       20,  40, 0, 0),
('2024-02-01', 'insufficient_funds', 'stripe',    12, 4, 0.3333333, 40, 120, 1, 0),
('2024-02-01', 'card_expired',       'stripe',     8, 4, 0.5,       40,  80, 1, 0),
('2024-03-01', 'insufficient_funds', 'app_store', 10, 6, 0.6,       60, 120, 0, 3)
"""
MONEY = {
    "payments",
    "refunds",
    "chargebacks",
    "one_time_revenue",
    "net_cash_revenue",
    "recovered_mrr",
    "failed_mrr",
}


def _casts(columns: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    return ", ".join(
        "month::date as month"
        if c == "month"
        else f"{c}::decimal(38,16) as {c}"
        if c in MONEY
        else f"{c}::double as {c}"
        if c == "recovery_rate"
        else f"{c}::integer as {c}"
        if c.endswith(("_count", "renewals", "recovered", "dunning", "windows"))
        else c
        for c in names
    )


def add_commerce_marts(
    path: Path, *, revenue: bool = True, recovery: bool = True, by_code: bool = True
) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        for wanted, table, columns, rows in (
            (revenue, revenue_data.REVENUE_TABLE, REVENUE_COLUMNS, REVENUE_ROWS),
            (recovery, revenue_data.RECOVERY_TABLE, RECOVERY_COLUMNS, RECOVERY_ROWS),
            (by_code, revenue_data.RECOVERY_BY_CODE_TABLE, BY_CODE_COLUMNS, BY_CODE_ROWS),
        ):
            if wanted:
                con.execute(
                    f"create table {table} as select {_casts(columns)}"
                    f" from (values {rows}) as t({columns})"
                )


@pytest.fixture
def revenue_home(snapshot_home: Path) -> Path:
    add_commerce_marts(snapshot_home / "serving.duckdb")
    return snapshot_home


# --- The page -------------------------------------------------------------------------------


def test_kpis_of_last_month(revenue_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    shown = kpis(at)
    assert {k: shown[k] for k in list(shown)[:5]} == {
        "Net cash revenue": ("€1,110.00", "+€300.00"),  # 1175 − 45 − 20 vs 840 − 20 − 10
        "Successful payments": ("€1,175.00", "+€335.00"),
        "One-time revenue": ("€75.00", "+€35.00"),
        "Refunds + chargebacks": ("€65.00", "+€35.00"),
        "Refunded or charged back": ("5.53%", "+1.96 pp"),  # 65/1175 vs 30/840
    }
    assert {k: shown[k] for k in list(shown)[5:]} == {
        "Failed renewals": ("10", "-10"),
        "Recovered": ("6", "-2"),
        "Recovery rate": ("60.00%", "+20.00 pp"),  # 6/10 vs 8/20
        "Recovered MRR": ("€60.00", "-€20.00"),
        "Failed MRR": ("€120.00", "-€80.00"),
    }
    columns = [
        "net_cash_revenue",
        "payments",
        "one_time_revenue",
        "refunds_and_chargebacks",
        "reversed_share",
        "failed_renewals",
        "recovered",
        "recovery_rate",
        "recovered_mrr",
        "failed_mrr",
    ]
    assert [m.help for m in at.metric] == [COMMERCE_DEFINITIONS[c] for c in columns]
    assert "Revenue (cash)** = successful payments − refunds − chargebacks" in at.metric[0].help
    text = captions(at)
    assert "Mar 2024 compared with Feb 2024 · all platforms and countries" in text
    assert "3 failed renewals still have an open dunning window" in text
    assert not at.exception


def test_breakdown_trend_one_time_and_reversals(
    revenue_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    assert at.radio(key="revenue_dimension").value == "offer_type"
    by_type = table(at, "offer_type")
    assert list(by_type["offer_type"]) == ["subscription", "pass", "tvod"]
    assert list(by_type["net_cash_revenue"]) == pytest.approx([1810, 90, 20])
    assert list(by_type["share_of_net_revenue"]) == pytest.approx(
        [1810 / 1920, 90 / 1920, 20 / 1920]
    )

    at.radio(key="revenue_dimension").set_value("provider").run()
    assert not at.exception
    by_provider = table(at, "provider")
    assert list(by_provider["provider"]) == ["stripe", "app_store", "paypal"]
    assert list(by_provider["net_cash_revenue"]) == pytest.approx([1140, 600, 180])
    assert list(by_provider["payments"]) == pytest.approx([1190, 625, 200])
    assert list(by_provider["reversed_share"]) == pytest.approx([50 / 1190, 25 / 625, 20 / 200])
    assert "Revenue trend by provider" in [s.value for s in at.subheader]

    frame, name = downloads["dl_revenue_by_segment"]
    assert name == "revenue_by_provider_2024-01_2024-03.csv"
    assert list(frame["provider"]) == ["stripe", "app_store", "paypal"]
    assert set(frame["start_month"]) == {date(2024, 1, 1)}
    trend, _ = downloads["dl_revenue_trend"]
    assert [
        (str(m), p, n) for m, p, n in trend[["month", "provider", "net_cash_revenue"]].values
    ] == [
        ("2024-02-01", "stripe", 520),
        ("2024-02-01", "app_store", 290),
        ("2024-03-01", "stripe", 620),
        ("2024-03-01", "app_store", 310),
        ("2024-03-01", "paypal", 180),
    ]
    one_time, _ = downloads["dl_one_time_revenue"]
    assert [tuple(r) for r in one_time.astype(str).values] == [
        ("2024-02-01", "pass", "4", "40.0"),
        ("2024-03-01", "pass", "5", "50.0"),
        ("2024-03-01", "tvod", "5", "25.0"),
    ]
    totals = table(at, "offer_type")  # the one-time table (the breakdown is by provider now)
    assert list(totals["offer_type"]) == ["pass", "tvod"]
    assert list(totals["purchases"]) == [9, 5]
    assert list(totals["average_purchase"]) == pytest.approx([10, 5])
    monthly, name = downloads["dl_revenue_monthly"]
    assert name == "revenue_monthly_2024-01_2024-03.csv"
    assert list(monthly["net_cash_revenue"]) == [0, 810, 1110]
    assert list(monthly["one_time_revenue"]) == [0, 40, 75]
    reversals, name = downloads["dl_reversals"]
    assert name == "refunds_and_chargebacks.csv"
    assert [str(m) for m in reversals["month"]] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert list(reversals["refunds"]) == [0, 20, 45]
    assert list(reversals["chargebacks_count"]) == [0, 1, 2]
    assert list(reversals["reversed_share"].fillna(-1)) == pytest.approx([-1, 30 / 840, 65 / 1175])
    text = captions(at)
    assert "Jan 2024 – Mar 2024: 14 purchases, €115.00 (Pass €90.00, TVOD €25.00)" in text
    assert (
        "Jan 2024 – Mar 2024: refunds €65.00 (7), chargebacks €30.00 (3) = 4.71% of the "
        "successful payments (€2,015.00)." in text
    )
    assert len(at.get("vega_lite_chart")) == 6
    assert download_labels(at) == [
        "Download monthly revenue (CSV)",
        "Download revenue by provider (CSV)",
        "Download revenue trend by provider (CSV)",
        "Download one-time revenue (CSV)",
        "Download refunds and chargebacks (CSV)",
        "Download payment recovery (CSV)",
        "Download failed payments by code and provider (CSV)",
    ]


def test_recovery_figures_and_downloads(
    revenue_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    monthly, _ = downloads["dl_recovery"]
    assert list(monthly["failed_renewals"]) == [10, 20, 10]
    assert list(monthly["recovery_rate"]) == pytest.approx([0.5, 0.4, 0.6])
    assert list(monthly["open_windows"]) == [0, 0, 3]
    codes = table(at, "failure_code")
    assert [
        tuple(r) for r in codes[["failure_code", "provider", "failed_renewals", "recovered"]].values
    ] == [
        ("insufficient_funds", "stripe", 18, 7),
        ("insufficient_funds", "app_store", 10, 6),
        ("card_expired", "stripe", 8, 4),
        ("card_expired", "app_store", 4, 2),
    ]
    assert list(codes["recovery_rate"]) == pytest.approx([7 / 18, 0.6, 0.5, 0.5])
    frame, name = downloads["dl_recovery_by_code"]
    assert name == "payment_recovery_by_code_2024-01_2024-03.csv"
    assert list(frame["recovered_mrr"]) == pytest.approx([70, 60, 40, 20])
    assert "For all platforms, countries and offer types" in captions(at)


def test_country_filter_applies_to_revenue_not_recovery(
    revenue_home: Path, app_runner: Runner
) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    shown = kpis(at)
    assert {k: shown[k] for k in list(shown)[:5]} == {
        "Net cash revenue": ("€230.00", "+€190.00"),  # 200 − 20 + 50 vs 40
        "Successful payments": ("€250.00", "+€210.00"),
        "One-time revenue": ("€50.00", "+€10.00"),
        "Refunds + chargebacks": ("€20.00", "+€20.00"),
        "Refunded or charged back": ("8.00%", "+8.00 pp"),
    }
    assert shown["Failed renewals"] == ("10", "-10")  # recovery has no country column
    assert (
        "the payment recovery tables have no platform, country or offer-type column, so the "
        "filter (country: DE) does not apply to them." in captions(at)
    )
    assert list(table(at, "offer_type")["offer_type"]) == ["subscription", "pass"]


def test_offer_type_and_period_filters(revenue_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_offer_types").set_value(["subscription"]).run()
    assert not at.exception
    assert kpis(at)["Net cash revenue"] == ("€1,040.00", "+€270.00")  # 570 + 180 + 290 vs 770
    assert kpis(at)["One-time revenue"] == ("€0.00", "€0.00")
    assert any(
        i.value == "No one-time purchases (passes, live pay-per-view, TVOD) in the selection."
        for i in at.info
    )
    at.multiselect(key="filter_offer_types").set_value([])
    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 2, 1)).run()
    assert not at.exception
    assert kpis(at)["Net cash revenue"] == ("€810.00", "+€810.00")  # January had none
    assert kpis(at)["Recovery rate"] == ("40.00%", "-10.00 pp")
    codes = table(at, "failure_code")
    assert list(codes["failed_renewals"]) == [18, 8, 4]  # March's failures are outside


def test_a_selection_without_revenue_warns(revenue_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_platforms").set_value(["ios"])
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert at.warning[0].value == (
        "No revenue for platform: ios · country: DE in the selected period."
    )
    assert [m.label for m in at.metric][0] == "Failed renewals"  # recovery still shows


def test_no_snapshot(home: Path, app_runner: Runner) -> None:
    assert_empty_state(open_page(app_runner, PAGE))


@pytest.mark.parametrize("with_marts", [False, True])
def test_snapshot_without_its_tables(
    home: Path, app_runner: Runner, snapshot_builder: Builder, with_marts: bool
) -> None:
    snapshot_builder(home, with_marts=with_marts)
    assert_empty_state(open_page(app_runner, PAGE), "marts.revenue_monthly_by_segment")


def test_snapshot_with_revenue_only(snapshot_home: Path, app_runner: Runner) -> None:
    add_commerce_marts(snapshot_home / "serving.duckdb", recovery=False, by_code=False)
    at = open_page(app_runner, PAGE)
    infos = [i.value for i in at.info]
    assert "The snapshot has no `marts.payment_recovery_monthly` table yet." in infos
    assert "The snapshot has no `marts.payment_recovery_by_code` table yet." in infos
    assert kpis(at)["Net cash revenue"] == ("€1,110.00", "+€300.00")
    assert "Failed renewals" not in kpis(at)


def test_snapshot_with_recovery_only(snapshot_home: Path, app_runner: Runner) -> None:
    add_commerce_marts(snapshot_home / "serving.duckdb", revenue=False)
    at = open_page(app_runner, PAGE)
    assert at.info[0].value == "The snapshot has no `marts.revenue_monthly_by_segment` table yet."
    assert list(kpis(at)) == [
        "Failed renewals",
        "Recovered",
        "Recovery rate",
        "Recovered MRR",
        "Failed MRR",
    ]


# --- The data functions ---------------------------------------------------------------------


def test_revenue_monthly_fills_months_and_sums(revenue_home: Path) -> None:
    series = revenue_data.revenue_monthly(source(), date(2023, 12, 1), date(2024, 3, 1))
    assert series is not None
    assert [m.date() for m in series["month"]] == [
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    assert list(series["net_cash_revenue"]) == [0, 0, 810, 1110]
    assert list(series["payments_count"]) == [0, 0, 84, 120]
    assert list(series["purchases_count"]) == [0, 0, 4, 10]
    assert pd.isna(series["reversed_share"].iloc[0])  # no payments: no share
    assert series["reversed_count_share"].iloc[3] == pytest.approx(7 / 120)
    web_fr = revenue_data.revenue_monthly(
        source(), date(2024, 3, 1), date(2024, 3, 1), ("web",), ("FR",)
    )
    assert web_fr is not None and list(web_fr["net_cash_revenue"]) == [570]
    tvod = revenue_data.revenue_monthly(
        source(), date(2024, 3, 1), date(2024, 3, 1), (), (), ("tvod",)
    )
    assert tvod is not None and list(tvod["refunds"]) == [5]


def test_revenue_by_dimension_and_trend(revenue_home: Path) -> None:
    by_country = revenue_data.revenue_by_dimension(source(), "country", None, None)
    assert by_country is not None
    # Without a period the April row counts too.
    assert list(by_country["country"]) == ["FR", "DE"]
    assert list(by_country["net_cash_revenue"]) == [1650 + 999, 270]
    trend = revenue_data.revenue_trend_by_dimension(
        source(), "country", date(2024, 1, 1), date(2024, 3, 1), top=1
    )
    assert trend is not None
    assert [
        (m.month, c, n) for m, c, n in trend[["month", "country", "net_cash_revenue"]].values
    ] == [
        (2, "FR", 770),
        (2, revenue_data.OTHER, 40),
        (3, "FR", 880),
        (3, revenue_data.OTHER, 230),
    ]
    with pytest.raises(ValueError, match="break down by"):
        revenue_data.revenue_by_dimension(source(), "payments; drop table x", None, None)
    assert revenue_data.revenue_months(source()) == (date(2024, 2, 1), date(2024, 4, 1))


def test_recovery_functions(revenue_home: Path) -> None:
    monthly = revenue_data.recovery_monthly(source(), date(2024, 2, 1), date(2024, 3, 1))
    assert monthly is not None
    assert list(monthly["recovered"]) == [8, 6]
    by_code = revenue_data.recovery_by_code(source(), date(2024, 2, 1), date(2024, 2, 1))
    assert by_code is not None
    assert list(by_code["recovery_rate"]) == pytest.approx([4 / 12, 4 / 8])


def test_functions_without_the_tables(snapshot_home: Path) -> None:
    src = source()
    assert revenue_data.revenue_months(src) is None
    assert revenue_data.revenue_monthly(src, date(2024, 1, 1), date(2024, 3, 1)) is None
    assert revenue_data.revenue_by_dimension(src, "country", None, None) is None
    assert revenue_data.revenue_trend_by_dimension(src, "country", None, None) is None
    assert revenue_data.one_time_revenue(src, None, None) is None
    assert revenue_data.recovery_monthly(src) is None
    assert revenue_data.recovery_by_code(src) is None
