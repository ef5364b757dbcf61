"""Support: tickets by category and channel, resolution time, CSAT, and the churn of customers
with a recent ticket against those without (with confidence intervals from the counts).

Both support marts have no platform, country or offer-type column: only the period applies, and
a caption says so when a segment filter is chosen. Averages over several rows are recomputed
weighted by their counts (``app.data_support``); the median is shown per row only.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.support import (
    CSAT_TREND_HELP,
    SUPPORT_CHURN_HELP,
    SUPPORT_CHURN_POOLED_HELP,
    SUPPORT_DEFINITIONS,
    SUPPORT_ROWS_HELP,
    TICKETS_BY_CATEGORY_HELP,
    TICKETS_TREND_HELP,
    category_channel_chart,
    csat_trend_chart,
    relative_risk_chart,
    support_churn_frame,
    support_churn_rates_chart,
    tickets_trend_chart,
    trend_frame,
)
from app.components import (
    Kpi,
    csv_download,
    empty_state,
    metric,
    open_snapshot,
    snapshot_caption,
    table,
    table_missing,
)
from app.data import snapshot
from app.data import support as support_data


def minutes(value: object) -> str | None:
    """``1,234 min``."""
    return None if fmt.is_missing(value) else f"{float(value):,.0f} min"  # type: ignore[arg-type]


def minutes_delta(current: object, previous: object) -> str | None:
    if fmt.is_missing(current) or fmt.is_missing(previous):
        return None
    diff = round(float(current) - float(previous)) + 0  # type: ignore[arg-type]
    return fmt.signed(f"{diff:,} min", diff)


def period_label(start: date | None, end: date | None) -> str:
    if start is None or end is None:
        return "All months"
    return f"{filters.month_label(start)} – {filters.month_label(end)}"


def scope_note(chosen: filters.Filters) -> str:
    """The support marts have no segment columns: say when a segment filter does not apply."""
    if chosen.segmented or chosen.offer_types:
        return (
            "For all platforms, countries and offer types: the support figures have no segment "
            f"breakdown, so the filter ({chosen.describe()}) does not apply to them."
        )
    return "For all platforms, countries and offer types."


#: KPIs of the tickets: label, column, formatter of the value, of the change, lower is better.
_TICKET_KPIS = (
    ("Tickets opened", "tickets_opened", fmt.count, fmt.count_delta, True),
    ("Tickets resolved", "tickets_resolved", fmt.count, fmt.count_delta, False),
    ("Mean resolution time", "mean_resolution_minutes", None, None, True),
    ("CSAT average", "csat_average", fmt.ratio, fmt.ratio_delta, False),
)


def ticket_kpis(trend: pd.DataFrame) -> list[Kpi]:
    """KPIs of the trend's last month against the month before (when it is in the frame)."""
    current = trend.iloc[-1]
    previous = trend.iloc[-2] if len(trend) > 1 else None
    kpis = []
    for label, column, shown, change, lower_is_better in _TICKET_KPIS:
        value = current[column]
        before = None if previous is None else previous[column]
        kpis.append(
            Kpi(
                label,
                (shown or minutes)(value),
                (change or minutes_delta)(value, before),
                SUPPORT_DEFINITIONS[column],
                inverse=lower_is_better,
                unchanged=not (fmt.is_missing(value) or fmt.is_missing(before)) and value == before,
            )
        )
    return kpis


TICKET_COLUMNS = {
    "category": "Category",
    "channel": "Channel",
    "tickets_opened": st.column_config.NumberColumn("Opened", format="%d"),
    "tickets_resolved": st.column_config.NumberColumn("Resolved", format="%d"),
    "median_resolution_minutes": st.column_config.NumberColumn(
        "Median resolution (min)", format="%.0f"
    ),
    "mean_resolution_minutes": st.column_config.NumberColumn(
        "Mean resolution (min)", format="%.0f"
    ),
    "csat_average": st.column_config.NumberColumn("CSAT average", format="%.2f"),
    "csat_responses": st.column_config.NumberColumn("CSAT responses", format="%d"),
}


def render_tickets(
    source: snapshot.Source, start: date | None, end: date | None, span: str
) -> None:
    trend = support_data.support_trend(source, start, end)
    if table_missing(trend, "marts.support_monthly"):
        return
    if trend.empty:
        st.info("No support tickets in the selected period.")
        return
    month = trend.iloc[-1]["month"].date()
    kpis = ticket_kpis(trend)
    st.caption(
        f"{filters.month_label(month)}"
        + (
            f" compared with {filters.month_label(trend.iloc[-2]['month'].date())}"
            if len(trend) > 1
            else ""
        )
        + f" · CSAT from {fmt.count(trend.iloc[-1]['csat_responses'])} responses"
    )
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)

    st.subheader("Tickets by category and channel", help=TICKETS_BY_CATEGORY_HELP)
    by = support_data.tickets_by_category_channel(source, start, end)
    assert by is not None  # the table exists: the trend came from it
    st.caption(
        f"{span}: {fmt.count(by['tickets_opened'].sum())} tickets opened, "
        f"{fmt.count(by['tickets_resolved'].sum())} resolved · mean resolution time weighted by "
        "tickets resolved, CSAT weighted by responses (the median is per month only, below)"
    )
    st.altair_chart(category_channel_chart(by), width="stretch")
    table(by, hide_index=True, column_config=TICKET_COLUMNS, subscribers=False)
    csv_download(
        by,
        "support_by_category_channel.csv",
        "Download tickets by category and channel (CSV)",
        key="dl_support_by_category",
    )

    st.subheader("Tickets per month", help=TICKETS_TREND_HELP)
    frame = trend_frame(trend)
    st.altair_chart(tickets_trend_chart(frame), width="stretch")
    csv_download(
        frame,
        "support_monthly_totals.csv",
        "Download tickets per month (CSV)",
        key="dl_support_trend",
    )

    st.subheader("CSAT trend", help=CSAT_TREND_HELP)
    if frame["csat_average"].notna().any():
        st.altair_chart(csat_trend_chart(frame), width="stretch")
    else:
        st.info("No CSAT responses in the selected period.")
    csv_download(
        frame[["month", "csat_average", "csat_responses"]],
        "support_csat.csv",
        "Download CSAT trend (CSV)",
        key="dl_support_csat",
    )

    st.subheader("Resolution time per month, category and channel", help=SUPPORT_ROWS_HELP)
    rows = support_data.support_rows(source, start, end)
    assert rows is not None
    st.caption(
        f"{fmt.count(len(rows))} rows, newest month first: medians of several rows cannot be "
        "combined, so the median resolution time is shown per row only."
    )
    table(
        rows,
        hide_index=True,
        column_config={
            "month": st.column_config.DateColumn("Month", format="MMM YYYY"),
            **TICKET_COLUMNS,
        },
        subscribers=False,
    )
    csv_download(
        rows, "support_monthly.csv", "Download monthly support rows (CSV)", key="dl_support_rows"
    )


def interval_text(value: float, lower: float, upper: float, kind: str) -> str:
    """``2.61 (95% CI 2.40–2.83)`` or, for a difference, ``+7.10 pp (95% CI …)``."""
    level = f"{support_data.CONFIDENCE:.0%} CI"
    if fmt.is_missing(value):
        return "n/a"
    if kind == "pp":
        shown = fmt.signed(f"{value * 100:.2f} pp", value)
        bounds = (
            f"{lower * 100:+.2f} to {upper * 100:+.2f} pp"
            if not (fmt.is_missing(lower) or fmt.is_missing(upper))
            else "n/a"
        )
    else:
        shown = f"{value:.2f}"
        bounds = (
            f"{lower:.2f}–{upper:.2f}"
            if not (fmt.is_missing(lower) or fmt.is_missing(upper))
            else "n/a: a group has no churner"
        )
    return f"{shown} ({level} {bounds})"


CHURN_COLUMNS = {
    "month": st.column_config.DateColumn("Month", format="MMM YYYY"),
    "customers_with_ticket": st.column_config.NumberColumn("With ticket", format="%d"),
    "churned_with_ticket": st.column_config.NumberColumn("Churned (with)", format="%d"),
    "churn_rate_with_ticket": st.column_config.NumberColumn("Churn rate (with)", format="percent"),
    "customers_without_ticket": st.column_config.NumberColumn("Without ticket", format="%d"),
    "churned_without_ticket": st.column_config.NumberColumn("Churned (without)", format="%d"),
    "churn_rate_without_ticket": st.column_config.NumberColumn(
        "Churn rate (without)", format="percent"
    ),
    "rate_difference": st.column_config.NumberColumn("Difference", format="percent"),
    "rate_difference_lower": st.column_config.NumberColumn("Diff. CI low", format="percent"),
    "rate_difference_upper": st.column_config.NumberColumn("Diff. CI high", format="percent"),
    "relative_churn_risk": st.column_config.NumberColumn("Relative risk", format="%.2f"),
    "relative_churn_risk_lower": st.column_config.NumberColumn("RR CI low", format="%.2f"),
    "relative_churn_risk_upper": st.column_config.NumberColumn("RR CI high", format="%.2f"),
}


def render_churn(source: snapshot.Source, start: date | None, end: date | None, span: str) -> None:
    st.subheader("Churn with and without a recent ticket", help=SUPPORT_CHURN_HELP)
    monthly = support_data.support_churn(source, start, end)
    if table_missing(monthly, "marts.support_churn"):
        return
    pooled = support_data.pooled_churn(monthly)
    if pooled is None:
        st.info("No paying customers at the start of a month in the selected period.")
        return
    kpis = [
        Kpi(
            "Churn rate with a recent ticket",
            fmt.percent(pooled["churn_rate_with_ticket"]),
            None,
            SUPPORT_CHURN_POOLED_HELP,
        ),
        Kpi(
            "Churn rate without",
            fmt.percent(pooled["churn_rate_without_ticket"]),
            None,
            SUPPORT_CHURN_POOLED_HELP,
        ),
        Kpi(
            "Relative churn risk",
            fmt.ratio(pooled["relative_churn_risk"]),
            None,
            SUPPORT_CHURN_POOLED_HELP,
        ),
    ]
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    st.caption(
        f"{span}, {fmt.count(len(monthly))} month{'' if len(monthly) == 1 else 's'} pooled "
        "(customer-months): "
        f"{fmt.count(pooled['churned_with_ticket'])} of "
        f"{fmt.count(pooled['customers_with_ticket'])} with a ticket in the 30 days before the "
        f"month churned, {fmt.count(pooled['churned_without_ticket'])} of "
        f"{fmt.count(pooled['customers_without_ticket'])} without. "
        "Relative churn risk "
        + interval_text(
            pooled["relative_churn_risk"],
            pooled["relative_churn_risk_lower"],
            pooled["relative_churn_risk_upper"],
            "ratio",
        )
        + ", Katz log method; difference "
        + interval_text(
            pooled["rate_difference"],
            pooled["rate_difference_lower"],
            pooled["rate_difference_upper"],
            "pp",
        )
        + ", Newcombe hybrid score method."
    )
    frame = support_churn_frame(monthly)
    left, right = st.columns(2)
    with left:
        st.altair_chart(support_churn_rates_chart(frame), width="stretch")
    with right:
        if frame["relative_churn_risk"].notna().any():
            st.altair_chart(relative_risk_chart(frame), width="stretch")
        else:
            st.info("No month with churners in both groups: no relative risk to show.")
    table(frame, hide_index=True, column_config=CHURN_COLUMNS, subscribers=False)
    csv_download(
        frame,
        "support_churn.csv",
        "Download churn with and without a ticket (CSV)",
        key="dl_support_churn",
    )


def render() -> None:
    opened = open_snapshot("Support")
    if opened is None:
        return
    source, meta = opened
    if not (support_data.has_support(source) or support_data.has_support_churn(source)):
        empty_state("The snapshot has no `marts.support_monthly` or `marts.support_churn` yet.")
        snapshot_caption(meta)
        return
    chosen = filters.current()
    span = period_label(chosen.start, chosen.end)
    st.caption(f"{span} · {scope_note(chosen)}")
    render_tickets(source, chosen.start, chosen.end, span)
    render_churn(source, chosen.start, chosen.end, span)
    snapshot_caption(meta)


render()
