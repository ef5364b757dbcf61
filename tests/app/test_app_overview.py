"""Overview page through the whole app (AppTest): KPIs, filters, charts, empty states."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
from streamlit.proto.Metric_pb2 import Metric as MetricProto
from streamlit.testing.v1 import AppTest

from app.components import EMPTY_STATE
from app.filters import Filters
from app.metric_help import DEFINITIONS
from tests.app.page_support import download_labels, kpis

Runner = Callable[[], AppTest]
Builder = Callable[..., Path]


def metric(at: AppTest, label: str) -> MetricProto:
    return next(m for m in at.metric if m.label == label).proto


def test_empty_state_without_snapshot(home: Path, app_runner: Runner) -> None:
    at = app_runner()
    assert EMPTY_STATE in at.info[0].value
    assert "`churniq run`" in at.info[0].value
    assert not at.metric
    assert not at.sidebar.get("multiselect")


def test_empty_state_when_snapshot_has_no_marts(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    snapshot_builder(home, with_marts=False)
    at = app_runner()
    assert EMPTY_STATE in at.info[0].value
    assert not at.metric


def test_kpis_show_last_month_against_previous(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    assert kpis(at) == {
        "MRR": ("€1,105.00", "+€15.00"),
        "ARR": ("€13,260", "+€180.00"),
        "Paying customers": ("105", "-1"),
        "Customer churn rate": ("9.43%", "-1.57 pp"),  # 10/106 vs 11/100
        "Net new MRR": ("€10.00", "-€80.00"),
    }
    # A falling churn rate is good news: green with a down arrow.
    churn = metric(at, "Customer churn rate")
    assert churn.color == MetricProto.GREEN and churn.direction == MetricProto.DOWN
    assert metric(at, "Net new MRR").color == MetricProto.RED


def test_kpi_help_is_the_metric_definition(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    columns = ["mrr", "arr", "paying_customers", "customer_churn_rate", "net_new_mrr"]
    assert [m.help for m in at.metric] == [DEFINITIONS[c] for c in columns]


def test_caption_shows_watermark_and_currency(snapshot_home: Path, app_runner: Runner) -> None:
    captions = " ".join(c.value for c in app_runner().caption)
    assert "2024-03-31 23:59" in captions
    assert "EUR" in captions
    assert "test-v1" in captions


def test_platform_filter_sums_segments(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    at.multiselect(key="filter_platforms").set_value(["web"]).run()
    assert not at.exception
    assert kpis(at) == {
        "MRR": ("€805.00", "+€15.00"),  # FR/web 600 + DE/web 205, Feb 600 + 190
        "ARR": ("€9,660.00", "+€180.00"),
        "Paying customers": ("75", "-1"),
        "Customer churn rate": ("9.21%", "+2.07 pp"),  # 7/76 vs 5/70, recomputed from sums
        "Net new MRR": ("€10.00", "-€80.00"),
    }
    assert metric(at, "Customer churn rate").color == MetricProto.RED
    assert at.session_state["filters"] == Filters(
        date(2024, 1, 1), date(2024, 3, 1), platforms=("web",)
    )


def test_unchanged_kpi_is_grey(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    at.multiselect(key="filter_platforms").set_value(["web"])
    at.multiselect(key="filter_countries").set_value(["FR"]).run()
    assert kpis(at)["MRR"] == ("€600.00", "€0.00")
    mrr = metric(at, "MRR")
    assert mrr.color == MetricProto.GRAY and mrr.direction == MetricProto.NONE


def test_period_filter_moves_the_kpi_month(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    assert at.select_slider(key="filter_period").options == ["Jan 2024", "Feb 2024", "Mar 2024"]
    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 2, 1)).run()
    assert kpis(at)["MRR"] == ("€1,090.00", "+€90.00")
    assert kpis(at)["Customer churn rate"] == ("11.00%", "")  # January has no rate

    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 1, 1)).run()
    assert kpis(at)["MRR"] == ("€1,000.00", "")  # no previous month: no delta
    assert kpis(at)["Customer churn rate"][0] == "—"


def test_charts_and_downloads(snapshot_home: Path, app_runner: Runner) -> None:
    at = app_runner()
    assert len(at.get("vega_lite_chart")) == 2
    assert download_labels(at) == [
        "Download movements (CSV)",
        "Download MRR trend (CSV)",
    ]


def test_new_snapshot_is_picked_up(
    snapshot_home: Path, app_runner: Runner, snapshot_builder: Builder, tmp_path: Path
) -> None:
    """Publishing swaps the file; the cache key (file identity) changes with it."""
    at = app_runner()
    assert kpis(at)["MRR"][0] == "€1,105.00"

    staged = snapshot_builder(tmp_path / "staging")
    with duckdb.connect(str(staged)) as con:
        con.execute("update marts.metrics_monthly set mrr = 2000 where month = date '2024-03-01'")
    os.replace(staged, snapshot_home / "serving.duckdb")

    at.run()
    assert kpis(at)["MRR"] == ("€2,000.00", "+€910.00")
