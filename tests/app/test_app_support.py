"""Support page through the whole app (AppTest): ticket KPIs, tickets by category and channel
(weighted averages), the monthly rows with their medians, the CSAT trend, churn with vs without
a recent ticket with its confidence intervals, filters, downloads and empty states.

The support marts are added by hand to the snapshot of ``conftest.py`` (months Jan–Mar 2024 in
``metrics_monthly``, so the default period is Jan–Mar 2024).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from statsmodels.stats.proportion import confint_proportions_2indep

from app.charts.support import SUPPORT_DEFINITIONS
from app.components import EMPTY_STATE
from app.data import support as support_data
from tests.app.page_support import (
    Runner,
    assert_empty_state,
    captions,
    csv_files,
    download_labels,
    kpis,
    open_page,
    source,
)

Builder = Callable[..., Path]
PAGE = "views/support.py"

# marts.support_monthly: month, category, channel, opened, resolved, median, mean, csat, responses.
# Per month over every category and channel (weighted by the counts):
# | month | opened | resolved | mean resolution (by resolved) | CSAT (by responses) | responses |
# |---|---|---|---|---|---|
# | Jan | 7 | 5 | (40·3 + 100·2) / 5 = 64 | (4·2 + 3·1) / 3 = 3.667 | 3 |
# | Feb | 5 | 5 | (60·3 + 220·2) / 5 = 124 | (5·1 + 2.5·2) / 3 = 3.333 | 3 |
# | Mar | 6 | 5 | (20·1 + 100·4) / 5 = 84 (a plain mean of the means: 60) | (4·1 + 3·3) / 4 = 3.25 | 4 |
# Jan–Mar per category × channel (Jan technical/chat has no resolved ticket, no mean: weight 0):
# | billing/chat | 7 opened | 7 resolved | (40·3 + 60·3 + 20·1) / 7 = 45.714 | (4·2 + 5 + 4) / 4 = 4.25 | 4 |
# | technical/chat | 6 | 4 | 100 | 3.0 | 3 |
# | technical/email | 3 | 2 | 220 | 2.5 | 2 |
# | billing/email | 2 | 2 | 100 | 3.0 | 1 |
# April lies outside the snapshot's months (the period).
SUPPORT_ROWS = """
('2024-01-01', 'billing',   'chat',  4, 3,   30,   40, 4.0, 2),
('2024-01-01', 'billing',   'email', 2, 2,  100,  100, 3.0, 1),
('2024-01-01', 'technical', 'chat',  1, 0, null, null, null, 0),
('2024-02-01', 'billing',   'chat',  2, 3,   50,   60, 5.0, 1),
('2024-02-01', 'technical', 'email', 3, 2,  200,  220, 2.5, 2),
('2024-03-01', 'billing',   'chat',  1, 1,   20,   20, 4.0, 1),
('2024-03-01', 'technical', 'chat',  5, 4,   90,  100, 3.0, 3),
('2024-04-01', 'billing',   'chat',  9, 9,    9,    9, 1.0, 9)
"""
SUPPORT_COLUMNS = (
    "month, category, channel, tickets_opened, tickets_resolved, median_resolution_minutes,"
    " mean_resolution_minutes, csat_average, csat_responses"
)

# marts.support_churn: the groups add up to conftest's paying customers at start (Feb 100,
# Mar 106) and their churned to its churned from start (Feb 11, Mar 10). January has nobody at
# risk (left out); April is outside the period.
# Feb: 2/10 = 20% vs 9/90 = 10%, relative risk 2.00. Mar: 0/20 vs 10/86: relative risk 0, no
# log interval (no churner with a ticket).
# Pooled Feb–Mar: 2/30 = 6.67% vs 19/176 = 10.80%, relative risk (2/30)/(19/176) = 0.62,
# difference −4.13 pp.
CHURN_ROWS = """
('2024-01-01',  0, 0,  0,  0),
('2024-02-01', 10, 2, 90,  9),
('2024-03-01', 20, 0, 86, 10),
('2024-04-01', 50, 50, 50, 0)
"""
CHURN_COLUMNS = (
    "month, customers_with_ticket, churned_with_ticket, customers_without_ticket,"
    " churned_without_ticket"
)


def add_support(path: Path, *, monthly: bool = True, churn: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        if monthly:
            con.execute(
                "create table marts.support_monthly as select month::date as month, category,"
                " channel, tickets_opened::integer as tickets_opened,"
                " tickets_resolved::integer as tickets_resolved,"
                " median_resolution_minutes::double as median_resolution_minutes,"
                " mean_resolution_minutes::double as mean_resolution_minutes,"
                " csat_average::double as csat_average, csat_responses::integer as csat_responses"
                f" from (values {SUPPORT_ROWS}) as t({SUPPORT_COLUMNS})"
            )
        if churn:
            # The mart's own rate columns are deliberately wrong: the page recomputes them.
            con.execute(
                "create table marts.support_churn as select month::date as month,"
                " customers_with_ticket::integer as customers_with_ticket,"
                " churned_with_ticket::integer as churned_with_ticket,"
                " 0.99::double as churn_rate_with_ticket,"
                " customers_without_ticket::integer as customers_without_ticket,"
                " churned_without_ticket::integer as churned_without_ticket,"
                " 0.99::double as churn_rate_without_ticket, 1.0::double as relative_churn_risk"
                f" from (values {CHURN_ROWS}) as t({CHURN_COLUMNS})"
            )


@pytest.fixture
def support_home(home: Path, snapshot_builder: Builder) -> Path:
    add_support(snapshot_builder(home))
    return home


def test_ticket_kpis_of_last_month(support_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    shown = kpis(at)
    assert {k: shown[k] for k in list(shown)[:4]} == {
        "Tickets opened": ("6", "+1"),
        "Tickets resolved": ("5", "0"),
        "Mean resolution time": ("84 min", "-40 min"),  # weighted; a plain mean would be 60
        "CSAT average": ("3.25", "-0.08"),  # 13/4 vs 10/3
    }
    helps = [m.help for m in at.metric][:4]
    assert helps == [
        SUPPORT_DEFINITIONS[c]
        for c in ("tickets_opened", "tickets_resolved", "mean_resolution_minutes", "csat_average")
    ]
    text = captions(at)
    assert "Jan 2024 – Mar 2024 · For all platforms, countries and offer types." in text
    assert "Mar 2024 compared with Feb 2024 · CSAT from 4 responses" in text
    assert "Jan 2024 – Mar 2024: 18 tickets opened, 15 resolved" in text
    assert "Data as of 2024-03-31 23:59 (watermark, UTC)" in text


def test_category_channel_weighted_and_rows_with_median(
    support_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    by = at.dataframe[0].value
    assert list(zip(by["category"], by["channel"], strict=True)) == [
        ("billing", "chat"),
        ("technical", "chat"),
        ("technical", "email"),
        ("billing", "email"),
    ]
    assert list(by["tickets_opened"]) == [7, 6, 3, 2]
    assert list(by["tickets_resolved"]) == [7, 4, 2, 2]
    assert list(by["mean_resolution_minutes"]) == pytest.approx([320 / 7, 100, 220, 100])
    assert list(by["csat_average"]) == pytest.approx([4.25, 3.0, 2.5, 3.0])
    assert list(by["csat_responses"]) == [4, 3, 2, 1]
    assert "median_resolution_minutes" not in by.columns  # medians are not combined

    rows = at.dataframe[1].value
    assert len(rows) == 7  # April is outside the period
    assert list(rows["median_resolution_minutes"].iloc[:2]) == [90, 20]  # March, most opened first
    assert "7 rows, newest month first" in captions(at)

    assert len(at.get("vega_lite_chart")) == 5
    assert download_labels(at) == [
        "Download tickets by category and channel (CSV)",
        "Download tickets per month (CSV)",
        "Download CSAT trend (CSV)",
        "Download monthly support rows (CSV)",
        "Download churn with and without a ticket (CSV)",
    ]
    files = csv_files(downloads)
    trend = files["support_monthly_totals.csv"]
    assert list(trend["month"]) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert list(trend["tickets_opened"]) == [7, 5, 6]
    assert list(trend["mean_resolution_minutes"]) == pytest.approx([64, 124, 84])
    assert list(trend["csat_average"]) == pytest.approx([11 / 3, 10 / 3, 3.25])
    csat = files["support_csat.csv"]
    assert list(csat.columns) == ["month", "csat_average", "csat_responses"]
    assert list(csat["csat_responses"]) == [3, 3, 4]
    assert list(files["support_by_category_channel.csv"]["tickets_opened"]) == [7, 6, 3, 2]
    assert len(files["support_monthly.csv"]) == 7


def expected_intervals(a: int, n1: int, c: int, n2: int) -> tuple[tuple[float, ...], ...]:
    """Independent computation (statsmodels): difference (Newcombe) and ratio (Katz log)."""
    diff = confint_proportions_2indep(a, n1, c, n2, method="newcomb", compare="diff")
    ratio = confint_proportions_2indep(a, n1, c, n2, method="log", compare="ratio")
    return tuple(diff), tuple(ratio)


def test_churn_with_and_without_ticket(
    support_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    shown = kpis(at)
    assert shown["Churn rate with a recent ticket"] == ("6.67%", "")
    assert shown["Churn rate without"] == ("10.80%", "")
    assert shown["Relative churn risk"] == ("0.62", "")
    (dl, du), (rl, ru) = expected_intervals(2, 30, 19, 176)
    assert (
        "Jan 2024 – Mar 2024, 2 months pooled (customer-months): 2 of 30 with a ticket in the 30 "
        "days before the month churned, 19 of 176 without. Relative churn risk 0.62 "
        f"(95% CI {rl:.2f}–{ru:.2f}), Katz log method; difference -4.13 pp "
        f"(95% CI {dl * 100:+.2f} to {du * 100:+.2f} pp), Newcombe hybrid score method."
    ) in captions(at)

    table = at.dataframe[2].value
    assert [d.date() for d in pd.to_datetime(table["month"])] == [
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    # The rates come from the counts, not from the mart's rate columns (0.99 on purpose).
    assert list(table["churn_rate_with_ticket"]) == pytest.approx([0.2, 0.0])
    assert list(table["churn_rate_without_ticket"]) == pytest.approx([0.1, 10 / 86])
    assert list(table["relative_churn_risk"]) == pytest.approx([2.0, 0.0])
    (dl, du), (rl, ru) = expected_intervals(2, 10, 9, 90)
    feb = table.iloc[0]
    assert (feb["rate_difference_lower"], feb["rate_difference_upper"]) == pytest.approx((dl, du))
    assert (feb["relative_churn_risk_lower"], feb["relative_churn_risk_upper"]) == pytest.approx(
        (rl, ru)
    )
    mar = table.iloc[1]
    assert math.isnan(mar["relative_churn_risk_lower"])  # no churner with a ticket
    dl, du = confint_proportions_2indep(0, 20, 10, 86, method="newcomb", compare="diff")
    assert (mar["rate_difference_lower"], mar["rate_difference_upper"]) == pytest.approx((dl, du))
    download = csv_files(downloads)["support_churn.csv"]
    assert list(download["customers_with_ticket"]) == [10, 20]
    assert list(download["relative_churn_risk"]) == pytest.approx([2.0, 0.0])


def test_period_filter(support_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 2, 1)).run()
    assert not at.exception
    shown = kpis(at)
    assert shown["Tickets opened"] == ("5", "-2")
    assert shown["Mean resolution time"] == ("124 min", "+60 min")
    assert shown["CSAT average"] == ("3.33", "-0.33")
    assert shown["Churn rate with a recent ticket"] == ("20.00%", "")
    assert shown["Relative churn risk"] == ("2.00", "")
    by = at.dataframe[0].value
    assert dict(zip(by["category"] + "/" + by["channel"], by["tickets_opened"], strict=True)) == {
        "billing/chat": 6,
        "billing/email": 2,
        "technical/email": 3,
        "technical/chat": 1,
    }
    assert len(at.dataframe[1].value) == 5
    assert "Jan 2024 – Feb 2024, 1 month pooled" in captions(at)


def test_segment_filter_does_not_apply(support_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert (
        "the support figures have no segment breakdown, so the filter (country: DE) does not "
        "apply to them." in captions(at)
    )
    assert kpis(at)["Tickets opened"] == ("6", "+1")


def test_no_snapshot(home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert EMPTY_STATE in at.info[0].value
    assert not at.metric and not at.dataframe


def test_snapshot_without_support_marts(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    snapshot_builder(home)
    assert_empty_state(
        open_page(app_runner, PAGE), "no `marts.support_monthly` or `marts.support_churn`"
    )


def test_snapshot_with_only_one_mart(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    add_support(snapshot_builder(home), churn=False)
    at = open_page(app_runner, PAGE)
    assert [i.value for i in at.info] == ["The snapshot has no `marts.support_churn` table yet."]
    assert kpis(at)["Tickets opened"] == ("6", "+1")

    (home / "serving.duckdb").unlink()
    add_support(snapshot_builder(home), monthly=False)  # a new snapshot: only the churn mart
    at = open_page(app_runner, PAGE)
    assert [i.value for i in at.info] == ["The snapshot has no `marts.support_monthly` table yet."]
    assert kpis(at)["Relative churn risk"] == ("0.62", "")


def test_data_functions(support_home: Path) -> None:
    src = source()
    whole = support_data.support_trend(src)  # no period: every month, April too
    assert whole is not None and len(whole) == 4
    by = support_data.tickets_by_category_channel(src, date(2024, 3, 1), date(2024, 3, 1))
    assert by is not None
    assert list(by["mean_resolution_minutes"]) == pytest.approx([100, 20])
    rows = support_data.support_rows(src, date(2024, 1, 1), date(2024, 1, 1))
    assert rows is not None and len(rows) == 3
    churn = support_data.support_churn(src)
    assert churn is not None and len(churn) == 3  # January (nobody at risk) is left out
    pooled = support_data.pooled_churn(churn)
    assert pooled is not None
    assert pooled["customers_with_ticket"] == 80 and pooled["churned_with_ticket"] == 52
    empty = support_data.support_churn(src, date(2024, 1, 1), date(2024, 1, 1))
    assert empty is not None and empty.empty and support_data.pooled_churn(empty) is None


def test_the_intervals_per_row() -> None:
    """The table's intervals are models.experiments' (tested against the formulas there);
    the ratio is undefined without churners in a group."""
    rows = pd.DataFrame(
        {
            "churned_with_ticket": [52, 3],
            "customers_with_ticket": [80, 10],
            "churned_without_ticket": [19, 0],
            "customers_without_ticket": [176, 10],
        }
    )
    out = support_data.with_intervals(rows)
    (dl, du), (rl, ru) = expected_intervals(52, 80, 19, 176)
    first = out.iloc[0]
    assert first["rate_difference"] == pytest.approx(52 / 80 - 19 / 176)
    assert (first["rate_difference_lower"], first["rate_difference_upper"]) == pytest.approx(
        (dl, du)
    )
    assert (
        first["relative_churn_risk_lower"],
        first["relative_churn_risk_upper"],
    ) == pytest.approx((rl, ru))
    second = out.iloc[1]
    assert math.isnan(second["relative_churn_risk"]) and math.isnan(
        second["relative_churn_risk_lower"]
    )
    assert second["rate_difference"] == pytest.approx(0.3)
