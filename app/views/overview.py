"""Overview: headline KPIs, MRR movements and MRR trend for the selected period and segments."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import filters
from app.charts.overview import movements_chart, movements_frame, trend_chart, trend_frame
from app.components import (
    Kpi,
    csv_download,
    empty_state,
    metric,
    missing_table_text,
    month_kpis,
    month_row,
    open_metrics_page,
    previous_month,
    snapshot_caption,
)
from app.data import overview as overview_data
from app.metric_help import MRR_MOVEMENTS_HELP, MRR_TREND_HELP

#: Headline KPIs: label, metric column, kind of number.
KPI_SPECS: tuple[tuple[str, str, str], ...] = (
    ("MRR", "mrr", "money"),
    ("ARR", "arr", "money"),
    ("Paying customers", "paying_customers", "count"),
    ("Customer churn rate", "customer_churn_rate", "rate"),
    ("Net new MRR", "net_new_mrr", "money"),
)


def headline_kpis(
    current: pd.Series, previous: pd.Series | None, currency: str | None
) -> list[Kpi]:
    """The headline numbers of a month with their change against the previous month."""
    rates = {column for _, column, kind in KPI_SPECS if kind == "rate"}
    return month_kpis(KPI_SPECS, current, previous, currency, lower_is_better=rates)


def render() -> None:
    page = open_metrics_page("Overview")
    if page is None:
        return
    source, meta, currency, chosen = page.source, page.meta, page.currency, page.chosen
    kpi_rows = overview_data.monthly_metrics(
        source, previous_month(chosen.end), chosen.end, *page.segments
    )
    series = overview_data.monthly_metrics(source, chosen.start, chosen.end, *page.segments)
    if kpi_rows is None or series is None:
        empty_state(missing_table_text("marts.metrics_monthly_by_segment"))
        return
    current = month_row(kpi_rows, chosen.end)
    if current is None or series.empty:
        st.warning(f"No data for {chosen.describe()} in the selected period.")
        snapshot_caption(meta)
        return

    st.caption(
        f"{filters.month_label(chosen.end)} compared with "
        f"{filters.month_label(previous_month(chosen.end))} · {chosen.describe()}"
        + (" (rates recomputed from the segments' sums)" if chosen.segmented else "")
    )
    previous = month_row(kpi_rows, previous_month(chosen.end))
    kpis = headline_kpis(current, previous, currency)
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)

    st.subheader("MRR movements", help=MRR_MOVEMENTS_HELP)
    moves = movements_frame(series)
    st.altair_chart(movements_chart(moves, currency), width="stretch")
    csv_download(moves, "mrr_movements.csv", "Download movements (CSV)", key="dl_movements")

    st.subheader("MRR trend", help=MRR_TREND_HELP)
    trend = trend_frame(series)
    st.altair_chart(trend_chart(trend, currency), width="stretch")
    csv_download(trend, "mrr_trend.csv", "Download MRR trend (CSV)", key="dl_trend")

    snapshot_caption(meta)


render()
