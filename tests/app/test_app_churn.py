"""Churn page through the whole app (AppTest): KPIs, rates, churn types, reasons, scheduled
churn, filters and empty states, on the hand-made snapshot of ``conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from app.data import churn as churn_data
from app.metric_help import DEFINITIONS
from tests.app.page_support import Runner, captions, download_labels, kpis, open_page, source

Builder = Callable[..., Path]

PAGE = "views/churn.py"


def test_kpis_of_last_month(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert kpis(at) == {
        "Customer churn rate": ("9.43%", "-1.57 pp"),  # 10/106 vs 11/100
        "Gross MRR churn rate": ("9.17%", "-3.83 pp"),  # 100/1090 vs (110 + 20)/1000
        "Net MRR churn rate": ("7.34%", "+0.34 pp"),  # (100 − 20)/1090 vs (130 − 60)/1000
        "First-month churners": ("0", "0"),
    }
    columns = [
        "customer_churn_rate",
        "gross_mrr_churn_rate",
        "net_mrr_churn_rate",
        "churned_in_first_month_customers",
    ]
    assert [m.help for m in at.metric] == [DEFINITIONS[c] for c in columns]
    assert (
        "Churned customers in Mar 2024: 10 = 10 of the 106 paying at its start + 0 new "
        "customers in their first month" in captions(at)
    )


def test_voluntary_plus_involuntary_is_churned(snapshot_home: Path) -> None:
    for segments in [((), ()), (("web",), ()), ((), ("DE",)), (("ios",), ("FR",))]:
        series = churn_data.churn_monthly(source(), None, None, *segments)
        assert series is not None and len(series) == 3
        assert (
            series["voluntary_churned_customers"] + series["involuntary_churned_customers"]
            == series["churned_customers"]
        ).all()
    series = churn_data.churn_monthly(source())
    assert series is not None
    assert list(series["voluntary_churned_customers"]) == [0, 9, 8]
    assert list(series["involuntary_churned_customers"]) == [0, 2, 2]
    # The reasons add up to the month's churned customers too.
    for month, churned in ((date(2024, 2, 1), 11), (date(2024, 3, 1), 10)):
        reasons = churn_data.churn_reasons(source(), month, month)
        assert reasons is not None
        assert reasons["churned_customers"].sum() == churned
        by_type = reasons.groupby("churn_type")["churned_customers"].sum()
        row = series[series["month"].dt.date == month].iloc[0]
        assert by_type["voluntary"] == row["voluntary_churned_customers"]
        assert by_type["involuntary"] == row["involuntary_churned_customers"]


def test_charts_tables_and_downloads(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert len(at.get("vega_lite_chart")) == 4
    assert download_labels(at) == [
        "Download churn rates (CSV)",
        "Download churned customers (CSV)",
        "Download churn reasons (CSV)",
        "Download scheduled churn (CSV)",
    ]
    reasons = at.dataframe[0].value
    assert list(reasons["reason"]) == ["not_using", "price", "payment_failed", "unknown"]
    assert list(reasons["initiated_by"]) == ["customer", "customer", "system", "merchant"]
    assert list(reasons["churn_type"]) == ["voluntary", "voluntary", "involuntary", "voluntary"]
    assert list(reasons["churned_customers"]) == [8, 7, 4, 2]  # April is outside the period
    assert list(reasons["churned_mrr"]) == [-80, -70, -40, -20]
    scheduled = at.dataframe[1].value
    assert list(scheduled["subscriptions"]) == [3, 1, 1]
    assert list(scheduled["mrr_at_stake"]) == pytest.approx([25.5, 9.99, 5.0])
    text = captions(at)
    assert "5 pending cancellations (4 customers churning), MRR at stake €40.49" in text
    assert "1 without an effective date" in text
    assert "Jan 2024 – Mar 2024 · For all platforms and countries." in text


def test_country_filter_narrows_segment_figures(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert kpis(at) == {
        "Customer churn rate": ("5.26%", "-4.74 pp"),  # 1/19 vs 2/20
        "Gross MRR churn rate": ("5.26%", "-4.74 pp"),  # 10/190 vs 20/200
        "Net MRR churn rate": ("5.26%", "+0.26 pp"),  # 10/190 vs (20 − 10)/200
        "First-month churners": ("0", "0"),
    }
    assert "Churned customers in Mar 2024: 1 = 1 of the 19 paying at its start" in captions(at)
    # The marts without segment columns stay for all segments, and say so.
    assert "the filter (country: DE) does not apply to it" in captions(at)
    assert list(at.dataframe[0].value["churned_customers"]) == [8, 7, 4, 2]


def test_period_filter_limits_reasons(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 2, 1)).run()
    assert not at.exception
    assert kpis(at)["Customer churn rate"] == ("11.00%", "")  # January has no rate
    reasons = at.dataframe[0].value
    assert list(reasons["reason"]) == ["not_using", "price", "payment_failed"]
    assert list(reasons["churned_customers"]) == [5, 4, 2]


def test_snapshot_without_churn_marts(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    snapshot_builder(home, with_churn=False)
    at = open_page(app_runner, PAGE)
    assert kpis(at)["Customer churn rate"] == ("9.43%", "-1.57 pp")
    infos = [i.value for i in at.info]
    assert "The snapshot has no `marts.churn_reasons_monthly` table yet." in infos
    assert "The snapshot has no `marts.scheduled_churn_monthly` table yet." in infos
    assert download_labels(at) == [
        "Download churn rates (CSV)",
        "Download churned customers (CSV)",
    ]
