"""The data module against the hand-made snapshot (no Streamlit page involved)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from app.charts.overview import movements_frame
from app.data import overview as overview_data
from app.data import snapshot
from tests.app.page_support import source


def test_no_snapshot_means_no_source(home: Path) -> None:
    assert snapshot.current_source() is None
    assert not snapshot.has_metrics(None)


def test_snapshot_without_marts(home: Path, snapshot_builder: Callable[..., Path]) -> None:
    snapshot_builder(home, with_marts=False)
    src = source()
    assert not snapshot.has_metrics(src)
    assert snapshot.months(src) == []
    assert overview_data.monthly_metrics(src) is None
    assert overview_data.monthly_metrics(src, platforms=("web",)) is None
    assert snapshot.segment_options(src) == {"platform": [], "country": [], "offer_type": []}


def test_meta_months_and_options(snapshot_home: Path) -> None:
    src = source()
    meta = snapshot.snapshot_meta(src)
    assert meta.version == "test-v1"
    assert meta.watermark == datetime(2024, 3, 31, 23, 59, 59)
    assert meta.reporting_currency == "EUR"
    assert snapshot.months(src) == [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    assert snapshot.segment_options(src) == {
        "platform": ["ios", "web"],
        "country": ["DE", "FR"],
        "offer_type": ["bundle", "pass", "subscription"],  # of the churn scores (every scoring)
    }


def test_unfiltered_reads_metrics_monthly(snapshot_home: Path) -> None:
    df = overview_data.monthly_metrics(source(), date(2024, 2, 1), date(2024, 3, 1))
    assert df is not None
    assert list(df["month"].dt.date) == [date(2024, 2, 1), date(2024, 3, 1)]
    assert list(df["mrr"]) == [1090, 1105]


def test_segment_sums_and_recomputed_rates(snapshot_home: Path) -> None:
    df = overview_data.monthly_metrics(source(), date(2024, 3, 1), date(2024, 3, 1), ("web",), ())
    assert df is not None and len(df) == 1
    row = df.iloc[0]
    assert row["mrr"] == 805
    assert row["arr"] == 12 * 805
    assert row["paying_customers"] == 75
    # MRR at start from the bridge equals February's web MRR (600 + 190).
    assert row["mrr_at_start"] == 790
    assert row["customer_churn_rate"] == pytest.approx(7 / 76)
    assert row["gross_mrr_churn_rate"] == pytest.approx(70 / 790)
    assert row["net_mrr_churn_rate"] == pytest.approx((70 - 20) / 790)
    assert row["quick_ratio"] == pytest.approx((70 + 20) / 70)
    assert row["arpu"] == pytest.approx(805 / 75)


def test_segment_filters_combine(snapshot_home: Path) -> None:
    df = overview_data.monthly_metrics(source(), None, None, ("web", "ios"), ("FR",))
    assert df is not None
    assert list(df["mrr"]) == [800, 900, 900]
    # With every segment selected the sums equal the published totals.
    everything = overview_data.monthly_metrics(source(), None, None, ("web", "ios"), ("FR", "DE"))
    totals = overview_data.monthly_metrics(source())
    assert everything is not None and totals is not None
    for column in ("mrr", "net_new_mrr", "paying_customers", "customer_churn_rate"):
        assert list(everything[column].fillna(-1)) == pytest.approx(list(totals[column].fillna(-1)))


def test_movements_frame_keeps_fx_only_when_present(snapshot_home: Path) -> None:
    df = overview_data.monthly_metrics(source())
    assert df is not None
    assert "fx_adjustment" in movements_frame(df).columns  # 5 in March
    feb = overview_data.monthly_metrics(source(), date(2024, 2, 1), date(2024, 2, 1))
    assert feb is not None
    frame = movements_frame(feb)
    assert "fx_adjustment" not in frame.columns
    assert frame.iloc[0].to_dict() == {
        "month": date(2024, 2, 1),
        "new_mrr": 160,
        "expansion_mrr": 50,
        "reactivation_mrr": 10,
        "resume_mrr": 0,
        "contraction_mrr": -20,
        "churned_mrr": -110,
        "pause_mrr": 0,
        "net_new_mrr": 90,
    }
