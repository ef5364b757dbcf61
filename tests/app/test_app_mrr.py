"""MRR & movements page through the whole app (AppTest): bridge, KPIs, segments, filters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from app.charts.mrr import BRIDGE_STEPS, bridge_frame
from app.data import mrr as mrr_data
from app.metric_help import DEFINITIONS
from tests.app.page_support import Runner, captions, download_labels, kpis, open_page, source

Builder = Callable[..., Path]

PAGE = "views/mrr.py"


def test_kpis_of_last_month(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert at.selectbox(key="mrr_month").value == date(2024, 3, 1)
    assert kpis(at) == {
        "ARR": ("€13,260", "+€180.00"),
        "ARPU": ("€10.52", "+€0.24"),  # 1105/105 vs 1090/106
        "Quick ratio": ("1.20", "-0.49"),  # (100 + 20 + 0) / |−100 + 0| vs 220/130
        # 1 − (100 − 20)/1090 vs 1 − (110 + 20 − 50 − 10)/1000
        "Net revenue retention": ("92.66%", "-0.34 pp"),
    }
    columns = ["arr", "arpu", "quick_ratio", "net_revenue_retention"]
    assert [m.help for m in at.metric] == [DEFINITIONS[c] for c in columns]


def test_waterfall_balances(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert (
        "MRR at start €1,090.00 + movements €10.00 + FX adjustment €5.00 = MRR at end €1,105.00"
        in captions(at)
    )
    assert not at.warning  # no bridge gap
    # The frame behind the waterfall, for every month and segment selection.
    for segments in [((), ()), (("web",), ()), ((), ("DE",)), (("ios",), ("FR",))]:
        series = mrr_data.mrr_bridge(source(), None, None, *segments)
        assert series is not None and len(series) == 3
        for _, row in series.iterrows():
            frame = bridge_frame(row)
            assert list(frame["step"])[0] == "MRR at start"
            assert list(frame["step"])[-1] == "MRR at end"
            start, end = frame["amount"].iloc[0], frame["amount"].iloc[-1]
            assert start + frame["amount"].iloc[1:-1].sum() == end
            assert frame["end"].iloc[-2] == end  # the last step lands on MRR at end
            assert row["bridge_gap"] == 0
    # March MRR at start is February's published MRR, not derived from the movements.
    march = mrr_data.mrr_bridge(source(), date(2024, 3, 1), date(2024, 3, 1))
    assert march is not None and march.iloc[0]["mrr_at_start"] == 1090
    assert {c: march.iloc[0][c] for c in BRIDGE_STEPS} == {
        "new_mrr": 100,
        "reactivation_mrr": 0,
        "expansion_mrr": 20,
        "resume_mrr": 0,
        "contraction_mrr": 0,
        "churned_mrr": -100,
        "pause_mrr": -10,
        "fx_adjustment": 5,
    }


def test_segments_table_chart_and_downloads(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert len(at.get("vega_lite_chart")) == 2
    table = at.dataframe[0].value
    assert list(zip(table["country"], table["platform"], strict=True)) == [
        ("DE", "web"),
        ("FR", "ios"),
        ("FR", "web"),
    ]
    assert list(table["mrr_at_start"]) == [190, 300, 600]
    assert list(table["mrr"]) == [205, 300, 600]
    assert list(table["fx_adjustment"]) == [5, 0, 0]
    assert table["mrr"].sum() == 1105  # the segments add up to the bridge
    assert download_labels(at) == [
        "Download MRR bridge (CSV)",
        "Download movements by segment (CSV)",
    ]


def test_country_filter_narrows_everything(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert kpis(at) == {
        "ARR": ("€2,460.00", "+€180.00"),  # 12 × 205 vs 12 × 190
        "ARPU": ("€10.25", "+€0.25"),  # 205/20 vs 190/19
        "Quick ratio": ("2.00", "+1.50"),  # 20/10 vs 10/20
        "Net revenue retention": ("94.74%", "-0.26 pp"),  # 1 − 10/190 vs 1 − 10/200
    }
    assert (
        "MRR at start €190.00 + movements €10.00 + FX adjustment €5.00 = MRR at end €205.00"
        in captions(at)
    )
    table = at.dataframe[0].value
    assert list(table["country"]) == ["DE"]


def test_month_choice_and_null_quick_ratio(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.selectbox(key="mrr_month").set_value(date(2024, 2, 1)).run()
    assert kpis(at)["Quick ratio"] == ("1.69", "")  # January has no quick ratio to compare
    assert "MRR at start €1,000.00" in captions(at)

    at.selectbox(key="mrr_month").set_value(date(2024, 1, 1)).run()
    # Nothing lost in January: no quick ratio; no MRR at start: no net revenue retention.
    assert kpis(at) == {
        "ARR": ("€12,000", ""),
        "ARPU": ("€10.00", ""),
        "Quick ratio": ("—", ""),
        "Net revenue retention": ("—", ""),
    }
    assert "MRR at start €0.00 + movements €1,000.00" in captions(at)


def test_period_filter_limits_the_months(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.selectbox(key="mrr_month").set_value(date(2024, 3, 1)).run()
    at.select_slider(key="filter_period").set_range(date(2024, 1, 1), date(2024, 2, 1)).run()
    assert not at.exception
    month = at.selectbox(key="mrr_month")
    assert month.options == ["Jan 2024", "Feb 2024"]
    assert month.value == date(2024, 2, 1)
    assert kpis(at)["ARR"] == ("€13,080", "+€1,080.00")


@pytest.mark.parametrize("month", [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)])
def test_by_segment_query_sums_to_bridge(snapshot_home: Path, month: date) -> None:
    total = mrr_data.mrr_bridge(source(), month, month)
    parts = mrr_data.mrr_bridge_by_segment(source(), month)
    assert total is not None and parts is not None
    for column in ("mrr_at_start", *BRIDGE_STEPS, "mrr"):
        assert parts[column].sum() == total.iloc[0][column]


def test_every_movement_of_the_vocabulary_has_its_label_and_colour():
    """The app's one mapping of the movements covers exactly the bridge columns that dbt builds
    (foundation.vocabulary): a new movement type fails here until it is named and coloured."""
    from app.charts.base import MOVEMENTS
    from foundation.vocabulary import BRIDGE_COLUMNS

    assert set(MOVEMENTS) == set(BRIDGE_COLUMNS)
