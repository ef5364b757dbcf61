"""Cached queries of the Overview page: the monthly metrics, as published or summed over a
segment selection."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app.data.snapshot import (
    Source,
    columns,
    has_metrics,
    query,
    segment_filter,
)
from foundation.vocabulary import BRIDGE_COLUMNS

#: Columns of ``marts.metrics_monthly_by_segment`` that may be summed across segments.
ADDITIVE_COLUMNS: tuple[str, ...] = (
    "mrr",
    "paying_customers",
    "paying_customers_at_start",
    *BRIDGE_COLUMNS,
    "net_new_mrr",
    "new_customers",
    "churned_customers",
    "churned_from_start_customers",
    "churned_in_first_month_customers",
    "reactivated_customers",
    "voluntary_churned_customers",
    "involuntary_churned_customers",
    "trial_mrr",
    "one_time_revenue",
    "refunds",
)

# Rates recomputed from the sums of a segment selection (METRICS.md). MRR at the start of the
# month comes from the bridge (end − movements − FX), so it needs no previous-month row.
_SEGMENT_RATES_SQL = """
    select
        *,
        12 * mrr as arr,
        churned_from_start_customers / nullif(paying_customers_at_start, 0)
            as customer_churn_rate,
        -(churned_mrr + contraction_mrr) / nullif(mrr_at_start, 0) as gross_mrr_churn_rate,
        -(churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr)
            / nullif(mrr_at_start, 0) as net_mrr_churn_rate,
        (new_mrr + expansion_mrr + reactivation_mrr)
            / nullif(abs(churned_mrr + contraction_mrr), 0) as quick_ratio,
        mrr / nullif(paying_customers, 0) as arpu
    from summed
"""


@st.cache_data(show_spinner=False)
def monthly_metrics(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """One row per month in [start, end] with MRR, movements, customers and rates.

    Without a platform/country selection this reads ``marts.metrics_monthly`` as published.
    With one, it sums ``marts.metrics_monthly_by_segment`` over the selected segments and
    recomputes the rates from the sums (a rate cannot be averaged across segments). ``None``
    when the needed table is missing; an empty frame when no month matches.
    """
    where, params = ["month >= coalesce(?, month)", "month <= coalesce(?, month)"], [start, end]
    if not platforms and not countries:
        if not has_metrics(source):
            return None
        sql = f"select * from marts.metrics_monthly where {' and '.join(where)} order by month"
    else:
        available = set(columns(source, "marts.metrics_monthly_by_segment"))
        if not available:
            return None
        segments, segment_params = segment_filter(platforms, countries)
        where.extend(segments)
        params.extend(segment_params)
        # A column the publisher does not (yet) provide reads as null instead of failing.
        sums = ", ".join(
            f"sum({c}) as {c}" if c in available else f"cast(null as double) as {c}"
            for c in ADDITIVE_COLUMNS
        )
        bridge = " - ".join(f"coalesce(sum({c}), 0)" for c in BRIDGE_COLUMNS if c in available)
        sql = f"""
            with summed as (
                select month, {sums}, sum(mrr) - {bridge} as mrr_at_start
                from marts.metrics_monthly_by_segment
                where {" and ".join(where)}
                group by month
            )
            {_SEGMENT_RATES_SQL}
            order by month
        """
    df = query(source, sql, params)
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return df.reset_index(drop=True)
