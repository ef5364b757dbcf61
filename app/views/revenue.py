"""Revenue & payments: cash revenue (successful payments − refunds − chargebacks) by offer type,
platform, provider and country, its trend, one-time revenue, refunds and chargebacks, and failed
payments with their recovery.

Revenue figures come from ``marts.revenue_monthly_by_segment``, summed in DuckDB over the global
filters (period, platform, country, offer type). The payment recovery marts have a month but no
platform, country or offer-type column: only the period applies to them, and a caption says so.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.base import ONE_TIME_TYPES, month_frame
from app.charts.revenue import (
    one_time_chart,
    recovery_codes_chart,
    recovery_trend_chart,
    revenue_breakdown_chart,
    revenue_trend_chart,
    reversals_chart,
)
from app.components import (
    csv_download,
    empty_state,
    metric,
    month_kpis,
    month_row,
    open_snapshot,
    previous_month,
    snapshot_caption,
    table,
    table_missing,
)
from app.data import revenue as revenue_data
from app.data import snapshot
from app.metric_help import (
    COMMERCE_DEFINITIONS,
    ONE_TIME_HELP,
    RECOVERY_CODES_HELP,
    RECOVERY_TREND_HELP,
    REVENUE_SEGMENTS_HELP,
    REVENUE_TREND_HELP,
    REVERSALS_HELP,
)

DIMENSION_KEY = "revenue_dimension"
#: Values of the breakdown over time shown by name (the rest summed as "other").
TREND_TOP = 10

#: KPIs of the period's last month: label, column, kind of number.
REVENUE_KPIS: tuple[tuple[str, str, str], ...] = (
    ("Net cash revenue", "net_cash_revenue", "money"),
    ("Successful payments", "payments", "money"),
    ("One-time revenue", "one_time_revenue", "money"),
    ("Refunds + chargebacks", "refunds_and_chargebacks", "money"),
    ("Refunded or charged back", "reversed_share", "rate"),
)
RECOVERY_KPIS: tuple[tuple[str, str, str], ...] = (
    ("Failed renewals", "failed_renewals", "count"),
    ("Recovered", "recovered", "count"),
    ("Recovery rate", "recovery_rate", "rate"),
    ("Recovered MRR", "recovered_mrr", "money"),
    ("Failed MRR", "failed_mrr", "money"),
)
LOWER_IS_BETTER = frozenset(
    {"refunds_and_chargebacks", "reversed_share", "failed_renewals", "failed_mrr"}
)

REVENUE_COLUMNS = {
    "payments": "Successful payments",
    "refunds": "Refunds",
    "chargebacks": "Chargebacks",
    "net_cash_revenue": "Net cash revenue",
    "one_time_revenue": "One-time revenue",
}
COUNT_COLUMNS = {
    "payments_count": "Payments",
    "refunds_count": "Refunds (count)",
    "chargebacks_count": "Chargebacks (count)",
    "purchases_count": "Purchases",
    "purchases": "Purchases",
    "failed_renewals": "Failed renewals",
    "recovered": "Recovered",
    "cancelled_during_dunning": "Cancelled during dunning",
    "open_windows": "Open windows",
}
SHARE_COLUMNS = {
    "share_of_net_revenue": "Share of net cash revenue",
    "refund_share": "Refunds ÷ payments",
    "chargeback_share": "Chargebacks ÷ payments",
    "reversed_share": "Refunded or charged back ÷ payments",
    "reversed_count_share": "Refunds + chargebacks ÷ payments (counts)",
    "recovery_rate": "Recovery rate",
}


def column_config(frame: pd.DataFrame, currency: str | None) -> dict:
    """Labels and number formats of the columns of a revenue or recovery table."""
    unit = f" ({currency})" if currency else ""
    money = {
        **REVENUE_COLUMNS,
        "average_purchase": "Average purchase",
        "recovered_mrr": "Recovered MRR",
        "failed_mrr": "Failed MRR",
    }
    config: dict = {
        "month": st.column_config.DateColumn("Month", format="MMM YYYY"),
        **{c: label for c, label in revenue_data.DIMENSIONS.items()},
        "failure_code": "Failure code",
    }
    for column in frame.columns:
        if column in money:
            config[column] = st.column_config.NumberColumn(f"{money[column]}{unit}", format="%.2f")
        elif column in COUNT_COLUMNS:
            config[column] = st.column_config.NumberColumn(COUNT_COLUMNS[column], format="%d")
        elif column in SHARE_COLUMNS:
            config[column] = st.column_config.NumberColumn(SHARE_COLUMNS[column], format="percent")
    return config


def segment_note(chosen: filters.Filters) -> str:
    """Caption of the payment recovery figures (marts without segment columns)."""
    base = "For all platforms, countries and offer types"
    if chosen.segmented or chosen.offer_types:
        return (
            f"{base}: the payment recovery tables have no platform, country or offer-type "
            f"column, so the filter ({chosen.describe()}) does not apply to them."
        )
    return f"{base} (the payment recovery tables have no segment breakdown)."


def period_of(source: snapshot.Source, chosen: filters.Filters) -> tuple[date, date] | None:
    """The global period; without one (no monthly metrics), every month of the revenue or
    the recovery mart."""
    if chosen.start is not None and chosen.end is not None:
        return chosen.start, chosen.end
    months = revenue_data.revenue_months(source)
    if months is not None:
        return months
    recovery = revenue_data.recovery_monthly(source)
    if recovery is None or recovery.empty:
        return None
    return recovery["month"].min().date(), recovery["month"].max().date()


def period_label(start: date, end: date) -> str:
    return f"{filters.month_label(start)} – {filters.month_label(end)}"


def render_kpi_row(kpis: list) -> None:
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)


#: The monthly revenue of the selection, as downloaded under the KPIs.
MONTHLY_COLUMNS = [*revenue_data.REVENUE_SUMS, "refund_share", "chargeback_share", "reversed_share"]


def render_revenue(
    source: snapshot.Source, chosen: filters.Filters, start: date, end: date, currency: str | None
) -> None:
    segments = (chosen.platforms, chosen.countries, chosen.offer_types)
    series = revenue_data.revenue_monthly(source, previous_month(start), end, *segments)
    if table_missing(series, "marts.revenue_monthly_by_segment"):
        return
    series["refunds_and_chargebacks"] = series["refunds"] + series["chargebacks"]
    in_period = series[series["month"].dt.date >= start].reset_index(drop=True)
    counts = ["payments_count", "refunds_count", "chargebacks_count", "purchases_count"]
    if not in_period[counts].to_numpy().any():
        st.warning(f"No revenue for {chosen.describe()} in the selected period.")
        return

    current = month_row(series, end)
    assert current is not None  # every month of the period has a row
    st.caption(
        f"{filters.month_label(end)} compared with "
        f"{filters.month_label(previous_month(end))} · {chosen.describe()}"
        " · summed over the offer type × platform × provider × country segments"
    )
    render_kpi_row(
        month_kpis(
            REVENUE_KPIS,
            current,
            month_row(series, previous_month(end)),
            currency,
            LOWER_IS_BETTER,
            definitions=COMMERCE_DEFINITIONS,
        )
    )
    csv_download(
        month_frame(in_period, MONTHLY_COLUMNS),
        f"revenue_monthly_{start:%Y-%m}_{end:%Y-%m}.csv",
        "Download monthly revenue (CSV)",
        key="dl_revenue_monthly",
    )
    render_segments(source, chosen, start, end, currency)
    render_one_time(source, chosen, start, end, currency)
    render_reversals(in_period, start, end, currency)


def render_segments(
    source: snapshot.Source, chosen: filters.Filters, start: date, end: date, currency: str | None
) -> None:
    segments = (chosen.platforms, chosen.countries, chosen.offer_types)
    st.subheader("Revenue by segment", help=REVENUE_SEGMENTS_HELP)
    if st.session_state.get(DIMENSION_KEY) not in revenue_data.DIMENSIONS:
        st.session_state.pop(DIMENSION_KEY, None)
    dimension = st.radio(
        "Break down by",
        list(revenue_data.DIMENSIONS),
        format_func=revenue_data.DIMENSIONS.get,
        horizontal=True,
        key=DIMENSION_KEY,
    )
    label = revenue_data.DIMENSIONS[dimension]
    st.caption(f"{period_label(start, end)} · {chosen.describe()}")
    by_value = revenue_data.revenue_by_dimension(source, dimension, start, end, *segments)
    if by_value is None or by_value.empty:
        st.info("No revenue in the selected period.")
        return
    st.altair_chart(revenue_breakdown_chart(by_value, dimension, label, currency), width="stretch")
    table(
        by_value,
        hide_index=True,
        column_config=column_config(by_value, currency),
        subscribers=False,
    )
    csv_download(
        by_value.assign(start_month=start, end_month=end)[
            ["start_month", "end_month", *by_value.columns]
        ],
        f"revenue_by_{dimension}_{start:%Y-%m}_{end:%Y-%m}.csv",
        f"Download revenue by {label.lower()} (CSV)",
        key="dl_revenue_by_segment",
    )

    st.subheader(f"Revenue trend by {label.lower()}", help=REVENUE_TREND_HELP)
    trend = revenue_data.revenue_trend_by_dimension(
        source, dimension, start, end, *segments, top=TREND_TOP
    )
    if trend is None or trend.empty:
        return
    if (trend[dimension] == revenue_data.OTHER).any():
        st.caption(
            f"The {TREND_TOP} {label.lower()} values with the most net cash revenue over the "
            f"period by name, the rest summed as “{revenue_data.OTHER}”."
        )
    st.altair_chart(revenue_trend_chart(trend, dimension, label, currency), width="stretch")
    frame = month_frame(
        trend, [dimension, "payments", "refunds", "chargebacks", "net_cash_revenue"]
    )
    csv_download(
        frame,
        f"revenue_trend_by_{dimension}.csv",
        f"Download revenue trend by {label.lower()} (CSV)",
        key="dl_revenue_trend",
    )


def render_one_time(
    source: snapshot.Source, chosen: filters.Filters, start: date, end: date, currency: str | None
) -> None:
    st.subheader("One-time revenue", help=ONE_TIME_HELP)
    one_time = revenue_data.one_time_revenue(
        source, start, end, chosen.platforms, chosen.countries, chosen.offer_types
    )
    if one_time is None or one_time.empty:
        st.info("No one-time purchases (passes, live pay-per-view, TVOD) in the selection.")
        return
    totals = (
        one_time.groupby("offer_type", as_index=False)[["purchases", "one_time_revenue"]]
        .sum()
        .sort_values(["one_time_revenue", "offer_type"], ascending=[False, True])
        .reset_index(drop=True)
    )
    totals["average_purchase"] = totals["one_time_revenue"] / totals["purchases"].where(
        totals["purchases"] > 0
    )
    kinds = ", ".join(
        f"{ONE_TIME_TYPES.get(row.offer_type, row.offer_type)} "
        f"{fmt.money(row.one_time_revenue, currency)}"
        for row in totals.itertuples()
    )
    st.caption(
        f"{period_label(start, end)}: {fmt.count(totals['purchases'].sum())} purchases, "
        f"{fmt.money(totals['one_time_revenue'].sum(), currency)} ({kinds}). Their payments are "
        "part of the successful payments above."
    )
    st.altair_chart(one_time_chart(one_time, currency), width="stretch")
    table(totals, hide_index=True, column_config=column_config(totals, currency), subscribers=False)
    csv_download(
        month_frame(one_time, ["offer_type", "purchases", "one_time_revenue"]),
        "one_time_revenue.csv",
        "Download one-time revenue (CSV)",
        key="dl_one_time_revenue",
    )


REVERSAL_COLUMNS = [
    "payments",
    "payments_count",
    "refunds",
    "refunds_count",
    "chargebacks",
    "chargebacks_count",
    "refund_share",
    "chargeback_share",
    "reversed_share",
    "reversed_count_share",
]


def render_reversals(in_period: pd.DataFrame, start: date, end: date, currency: str | None) -> None:
    st.subheader("Refunds and chargebacks", help=REVERSALS_HELP)
    payments = float(in_period["payments"].sum())
    refunds, chargebacks = float(in_period["refunds"].sum()), float(in_period["chargebacks"].sum())
    share = (refunds + chargebacks) / payments if payments else None
    st.caption(
        f"{period_label(start, end)}: refunds {fmt.money(refunds, currency)} "
        f"({fmt.count(in_period['refunds_count'].sum())}), chargebacks "
        f"{fmt.money(chargebacks, currency)} ({fmt.count(in_period['chargebacks_count'].sum())})"
        + (
            f" = {fmt.percent(share)} of the successful payments ({fmt.money(payments, currency)})"
            if share is not None
            else ""
        )
        + "."
    )
    frame = month_frame(in_period, REVERSAL_COLUMNS)
    st.altair_chart(reversals_chart(frame, currency), width="stretch")
    table(frame, hide_index=True, column_config=column_config(frame, currency), subscribers=False)
    csv_download(
        frame,
        "refunds_and_chargebacks.csv",
        "Download refunds and chargebacks (CSV)",
        key="dl_reversals",
    )


RECOVERY_COLUMNS = [
    "failed_renewals",
    "recovered",
    "recovery_rate",
    "recovered_mrr",
    "failed_mrr",
    "cancelled_during_dunning",
    "open_windows",
]


def render_recovery(
    source: snapshot.Source, chosen: filters.Filters, start: date, end: date, currency: str | None
) -> None:
    st.subheader("Failed payments and recovery", help=RECOVERY_TREND_HELP)
    monthly = revenue_data.recovery_monthly(source, previous_month(start), end)
    if not table_missing(monthly, "marts.payment_recovery_monthly"):
        in_period = monthly[monthly["month"].dt.date >= start].reset_index(drop=True)
        st.caption(
            f"{period_label(start, end)} · by month of the first failure · " + segment_note(chosen)
        )
        current = month_row(monthly, end)
        if in_period.empty or current is None:
            st.info(f"No payment recovery figures for {filters.month_label(end)} yet.")
        else:
            render_kpi_row(
                month_kpis(
                    RECOVERY_KPIS,
                    current,
                    month_row(monthly, previous_month(end)),
                    currency,
                    LOWER_IS_BETTER,
                    definitions=COMMERCE_DEFINITIONS,
                )
            )
            open_now = int(current["open_windows"])
            st.caption(
                f"{filters.month_label(end)}: {fmt.count(current['cancelled_during_dunning'])} "
                "cancelled during dunning (voluntary churn)"
                + (
                    f"; {fmt.count(open_now)} failed renewals still have an open dunning "
                    "window, so the month's recovery rate can still rise."
                    if open_now
                    else "."
                )
            )
        if not in_period.empty:
            frame = month_frame(in_period, RECOVERY_COLUMNS)
            st.altair_chart(recovery_trend_chart(frame), width="stretch")
            table(
                frame,
                hide_index=True,
                column_config=column_config(frame, currency),
                subscribers=False,
            )
            csv_download(
                frame,
                "payment_recovery.csv",
                "Download payment recovery (CSV)",
                key="dl_recovery",
            )

    st.subheader("Failed payments by failure code and provider", help=RECOVERY_CODES_HELP)
    by_code = revenue_data.recovery_by_code(source, start, end)
    if table_missing(by_code, "marts.payment_recovery_by_code"):
        return
    st.caption(f"{period_label(start, end)} · " + segment_note(chosen))
    if by_code.empty:
        st.info("No failed renewals in the selected period.")
        return
    st.altair_chart(recovery_codes_chart(by_code), width="stretch")
    table(
        by_code, hide_index=True, column_config=column_config(by_code, currency), subscribers=False
    )
    csv_download(
        by_code.assign(start_month=start, end_month=end)[
            ["start_month", "end_month", *by_code.columns]
        ],
        f"payment_recovery_by_code_{start:%Y-%m}_{end:%Y-%m}.csv",
        "Download failed payments by code and provider (CSV)",
        key="dl_recovery_by_code",
    )


PAGE_TABLES = (
    revenue_data.REVENUE_TABLE,
    revenue_data.RECOVERY_TABLE,
    revenue_data.RECOVERY_BY_CODE_TABLE,
)


def render() -> None:
    opened = open_snapshot(
        "Revenue & payments",
        needs=PAGE_TABLES,
        missing=(
            "The snapshot has no `marts.revenue_monthly_by_segment` or "
            "`marts.payment_recovery_monthly` table yet."
        ),
    )
    if opened is None:
        return
    source, meta = opened
    chosen = filters.current()
    period = period_of(source, chosen)
    if period is None:
        empty_state("The snapshot has no months of revenue or payments yet.")
        return
    start, end = period
    render_revenue(source, chosen, start, end, meta.reporting_currency)
    render_recovery(source, chosen, start, end, meta.reporting_currency)
    snapshot_caption(meta)


render()
