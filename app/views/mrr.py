"""MRR & movements: the MRR bridge of a month, its movements by segment, and the revenue KPIs."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.base import MOVEMENTS
from app.charts.mrr import (
    BRIDGE_STEPS,
    bridge_frame,
    segment_bridge_frame,
    segment_movements_chart,
    waterfall_chart,
)
from app.components import (
    Kpi,
    csv_download,
    metric,
    month_kpis,
    month_row,
    open_metrics_page,
    previous_month,
    snapshot_caption,
    table,
)
from app.data import mrr as mrr_data
from app.metric_help import MRR_BRIDGE_HELP, MRR_SEGMENTS_HELP

MONTH_KEY = "mrr_month"

#: KPIs of the chosen month: label, metric column, kind of number.
KPI_SPECS: tuple[tuple[str, str, str], ...] = (
    ("ARR", "arr", "money"),
    ("ARPU", "arpu", "money"),
    ("Quick ratio", "quick_ratio", "ratio"),
    ("Net revenue retention", "net_revenue_retention", "rate"),
)


def bridge_kpis(current: pd.Series, previous: pd.Series | None, currency: str | None) -> list[Kpi]:
    """The month's revenue KPIs with their change against the previous month."""
    return month_kpis(KPI_SPECS, current, previous, currency)


def choose_month(options: list[date]) -> date:
    """The month of the bridge, within the filtered period (default: its last month)."""
    if st.session_state.get(MONTH_KEY) not in options:
        st.session_state.pop(MONTH_KEY, None)  # a narrower period dropped it: back to default
    return st.selectbox(
        "Month",
        options,
        index=len(options) - 1,
        format_func=filters.month_label,
        key=MONTH_KEY,
        help="Month of the bridge, the KPIs and the segment breakdown.",
    )


def balance_caption(row: pd.Series, currency: str | None) -> str:
    movements = float(row["net_new_mrr"])
    return (
        f"MRR at start {fmt.money(row['mrr_at_start'], currency)} "
        f"+ movements {fmt.money(movements, currency)} "
        f"+ FX adjustment {fmt.money(row['fx_adjustment'], currency)} "
        f"= MRR at end {fmt.money(row['mrr'], currency)}"
    )


def render() -> None:
    page = open_metrics_page("MRR & movements")
    if page is None:
        return
    source, meta, currency, chosen = page.source, page.meta, page.currency, page.chosen
    series = page.monthly_series(mrr_data.mrr_bridge)
    if series is None:
        return
    in_period = [m for m in series["month"].dt.date if chosen.start <= m <= chosen.end]
    if not in_period:
        st.warning(f"No data for {chosen.describe()} in the selected period.")
        snapshot_caption(meta)
        return

    month = choose_month(in_period)
    current = month_row(series, month)
    assert current is not None  # month comes from the series
    previous = month_row(series, previous_month(month))
    st.caption(
        f"{filters.month_label(month)} compared with "
        f"{filters.month_label(previous_month(month))} · {chosen.describe()}"
        " · figures summed over the country × platform segments"
    )
    kpis = bridge_kpis(current, previous, currency)
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)

    st.subheader(f"MRR bridge, {filters.month_label(month)}", help=MRR_BRIDGE_HELP)
    bridge = bridge_frame(current)
    st.altair_chart(waterfall_chart(bridge, currency), width="stretch")
    st.caption(balance_caption(current, currency))
    if round(float(current["bridge_gap"]), 2) != 0:
        st.warning(
            "The bridge does not balance: MRR at end differs from MRR at start + movements + FX "
            f"by {fmt.money(current['bridge_gap'], currency)}. Check the published snapshot."
        )
    csv_download(
        bridge[["step", "amount", "start", "end"]].assign(month=month)[
            ["month", "step", "amount", "start", "end"]
        ],
        f"mrr_bridge_{month:%Y-%m}.csv",
        "Download MRR bridge (CSV)",
        key="dl_bridge",
    )

    st.subheader("Movements by segment", help=MRR_SEGMENTS_HELP)
    by_segment = mrr_data.mrr_bridge_by_segment(source, month, *page.segments)
    if by_segment is None or by_segment.empty:
        st.info("No segment breakdown for this month.")
    else:
        segment_rows = segment_bridge_frame(by_segment)
        st.altair_chart(segment_movements_chart(segment_rows, currency), width="stretch")
        table(
            segment_rows,
            hide_index=True,
            column_config={
                "country": "Country",
                "platform": "Platform",
                **{
                    c: st.column_config.NumberColumn(label, format="%.2f")
                    for c, label in (
                        ("mrr_at_start", "MRR at start"),
                        *((step, MOVEMENTS[step][0]) for step in BRIDGE_STEPS),
                        ("net_new_mrr", "Net new MRR"),
                        ("mrr", "MRR at end"),
                    )
                },
            },
            subscribers=False,
        )
        csv_download(
            segment_rows.assign(month=month)[["month", *segment_rows.columns]],
            f"mrr_movements_by_segment_{month:%Y-%m}.csv",
            "Download movements by segment (CSV)",
            key="dl_segments",
        )

    snapshot_caption(meta)


render()
