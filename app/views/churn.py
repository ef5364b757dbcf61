"""Churn: customer and revenue churn rates, voluntary vs involuntary churn, cancellation reasons
and the churn already scheduled (pending cancellations).

Rates and churned customers follow the global platform and country filters (summed from
``marts.metrics_monthly_by_segment``, rates recomputed from the sums); the reasons and the
scheduled churn come from marts without segment columns and say so in a caption.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.churn import (
    churn_rates_chart,
    churn_rates_frame,
    churn_reasons_chart,
    churn_types_chart,
    churn_types_frame,
    scheduled_churn_chart,
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
    table_missing,
)
from app.data import churn as churn_data
from app.data import snapshot
from app.metric_help import (
    CHURN_RATES_HELP,
    CHURN_REASONS_HELP,
    CHURN_TYPES_HELP,
    SCHEDULED_CHURN_HELP,
)

#: KPIs of the period's last month: label, metric column, kind of number.
KPI_SPECS: tuple[tuple[str, str, str], ...] = (
    ("Customer churn rate", "customer_churn_rate", "rate"),
    ("Gross MRR churn rate", "gross_mrr_churn_rate", "rate"),
    ("Net MRR churn rate", "net_mrr_churn_rate", "rate"),
    ("First-month churners", "churned_in_first_month_customers", "count"),
)


def churn_kpis(current: pd.Series, previous: pd.Series | None) -> list[Kpi]:
    """The month's churn KPIs with their change against the previous month (all: lower is
    better)."""
    every = [column for _, column, _ in KPI_SPECS]
    return month_kpis(KPI_SPECS, current, previous, lower_is_better=every)


def all_segments_note(chosen: filters.Filters) -> str:
    """Caption of a figure from a mart without segment columns."""
    if chosen.segmented:
        return (
            f"For all platforms and countries: this figure has no segment breakdown, so the "
            f"filter ({chosen.describe()}) does not apply to it."
        )
    return "For all platforms and countries."


def render_reasons(
    source: snapshot.Source, chosen: filters.Filters, start: date, end: date, currency: str | None
) -> None:
    st.subheader("Cancellation reasons", help=CHURN_REASONS_HELP)
    reasons = churn_data.churn_reasons(source, start, end)
    if table_missing(reasons, "marts.churn_reasons_monthly"):
        return
    st.caption(
        f"{filters.month_label(start)} – {filters.month_label(end)} · " + all_segments_note(chosen)
    )
    if reasons.empty or reasons["churned_customers"].sum() == 0:
        st.info("No churned customers in the selected period.")
        return
    shown = reasons[reasons["churned_customers"] > 0].reset_index(drop=True)
    st.altair_chart(churn_reasons_chart(shown), width="stretch")
    table(
        reasons,
        hide_index=True,
        column_config={
            "reason": "Reason",
            "initiated_by": "Initiated by",
            "churn_type": "Churn",
            "churned_customers": st.column_config.NumberColumn("Churned customers", format="%d"),
            "churned_subscriptions": st.column_config.NumberColumn(
                "Ended subscriptions", format="%d"
            ),
            "churned_mrr": st.column_config.NumberColumn(
                f"Churned MRR{f' ({currency})' if currency else ''}", format="%.2f"
            ),
        },
        subscribers=False,
    )
    csv_download(
        reasons.assign(start_month=start, end_month=end)[
            ["start_month", "end_month", *reasons.columns]
        ],
        f"churn_reasons_{start:%Y-%m}_{end:%Y-%m}.csv",
        "Download churn reasons (CSV)",
        key="dl_churn_reasons",
    )


def render_scheduled(
    source: snapshot.Source, chosen: filters.Filters, currency: str | None
) -> None:
    st.subheader("Scheduled churn", help=SCHEDULED_CHURN_HELP)
    scheduled = churn_data.scheduled_churn(source)
    if table_missing(scheduled, "marts.scheduled_churn_monthly"):
        return
    if scheduled.empty:
        st.caption(all_segments_note(chosen))
        st.info("No pending cancellations.")
        return
    undated = scheduled[scheduled["month"].isna()]
    st.caption(
        f"{fmt.count(scheduled['subscriptions'].sum())} pending cancellations "
        f"({fmt.count(scheduled['churning_customers'].sum())} customers churning), "
        f"MRR at stake {fmt.money(scheduled['mrr_at_stake'].sum(), currency)} · "
        "as of the snapshot, whatever the period · "
        + all_segments_note(chosen)
        + (
            f" {fmt.count(undated['subscriptions'].sum())} without an effective date are in "
            "the table and the download, not in the chart."
            if not undated.empty
            else ""
        )
    )
    if scheduled["month"].notna().any():
        st.altair_chart(scheduled_churn_chart(scheduled, currency), width="stretch")
    table(
        scheduled,
        hide_index=True,
        column_config={
            "month": st.column_config.DateColumn("Takes effect", format="MMM YYYY"),
            "subscriptions": st.column_config.NumberColumn("Pending cancellations", format="%d"),
            "customers": st.column_config.NumberColumn("Customers", format="%d"),
            "churning_customers": st.column_config.NumberColumn("Customers churning", format="%d"),
            "mrr_at_stake": st.column_config.NumberColumn(
                f"MRR at stake{f' ({currency})' if currency else ''}", format="%.2f"
            ),
        },
        subscribers=False,
    )
    csv_download(
        scheduled,
        "scheduled_churn.csv",
        "Download scheduled churn (CSV)",
        key="dl_scheduled_churn",
    )


def render() -> None:
    page = open_metrics_page("Churn")
    if page is None:
        return
    source, meta, currency, chosen = page.source, page.meta, page.currency, page.chosen
    series = page.monthly_series(churn_data.churn_monthly)
    if series is None:
        return
    in_period = series[series["month"].dt.date >= chosen.start].reset_index(drop=True)
    current = month_row(series, chosen.end)
    if current is None or in_period.empty:
        st.warning(f"No data for {chosen.describe()} in the selected period.")
        snapshot_caption(meta)
        return

    st.caption(
        f"{filters.month_label(chosen.end)} compared with "
        f"{filters.month_label(previous_month(chosen.end))} · {chosen.describe()}"
        " · rates recomputed from the sums over the country × platform segments"
    )
    kpis = churn_kpis(current, month_row(series, previous_month(chosen.end)))
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    st.caption(
        f"Churned customers in {filters.month_label(chosen.end)}: "
        f"{fmt.count(current['churned_customers'])} = "
        f"{fmt.count(current['churned_from_start_customers'])} of the "
        f"{fmt.count(current['paying_customers_at_start'])} paying at its start + "
        f"{fmt.count(current['churned_in_first_month_customers'])} new customers in their first "
        "month (first-month churners, not in the customer churn rate)."
    )

    st.subheader("Churn rates", help=CHURN_RATES_HELP)
    rates = churn_rates_frame(in_period)
    st.altair_chart(churn_rates_chart(rates), width="stretch")
    csv_download(rates, "churn_rates.csv", "Download churn rates (CSV)", key="dl_churn_rates")

    st.subheader("Voluntary and involuntary churn", help=CHURN_TYPES_HELP)
    types = churn_types_frame(in_period)
    st.altair_chart(churn_types_chart(types), width="stretch")
    csv_download(
        types, "churned_customers.csv", "Download churned customers (CSV)", key="dl_churn_types"
    )

    render_reasons(source, chosen, chosen.start, chosen.end, currency)
    render_scheduled(source, chosen, currency)
    snapshot_caption(meta)


render()
