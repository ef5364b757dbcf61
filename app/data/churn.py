"""Cached queries of the Churn page: customer and revenue churn, cancellation reasons and
scheduled churn."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from app.data.snapshot import (
    Source,
    columns,
    monthly_frame,
    query,
    segment_filter,
    tables,
)
from foundation.vocabulary import BRIDGE_COLUMNS

CHURN_REASONS_TABLE = "marts.churn_reasons_monthly"
SCHEDULED_CHURN_TABLE = "marts.scheduled_churn_monthly"

#: Columns of ``marts.metrics_monthly_by_segment`` summed for the churn page.
CHURN_COLUMNS: tuple[str, ...] = (
    "mrr",
    "paying_customers_at_start",
    "churned_mrr",
    "contraction_mrr",
    "expansion_mrr",
    "reactivation_mrr",
    "churned_customers",
    "churned_from_start_customers",
    "churned_in_first_month_customers",
    "voluntary_churned_customers",
    "involuntary_churned_customers",
)


@st.cache_data(show_spinner=False)
def churn_monthly(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """One row per month in [start, end]: churned customers (from start, in their first month,
    voluntary, involuntary), the MRR churn movements, MRR at start and the churn rates
    (customer, gross MRR, net MRR; METRICS.md) recomputed from the sums of the selection.

    Always summed from ``marts.metrics_monthly_by_segment`` over the selected segments (all of
    them without a selection). MRR at start is the selection's MRR at the end of the previous
    month; when that month is not in the snapshot, the start the movements imply
    (end − movements − FX). ``None`` when the table is missing; an empty frame when no month
    matches.
    """
    available = set(columns(source, "marts.metrics_monthly_by_segment"))
    if not available:
        return None
    where, params = segment_filter(platforms, countries)
    # A column the publisher does not (yet) provide reads as 0 instead of failing.
    sums = ", ".join(
        f"coalesce(sum({c}), 0) as {c}" if c in available else f"0 as {c}" for c in CHURN_COLUMNS
    )
    moved = " + ".join(f"coalesce(sum({c}), 0)" for c in BRIDGE_COLUMNS if c in available)
    sql = f"""
        with summed as (
            select month::date as month, {sums}, {moved or "0"} as moved
            from marts.metrics_monthly_by_segment
            {"where " + " and ".join(where) if where else ""}
            group by 1
        ),
        started as (
            select s.*, coalesce(p.mrr, s.mrr - s.moved) as mrr_at_start
            from summed as s
            left join summed as p on p.month = (s.month - interval 1 month)::date
        )
        select
            month,
            mrr_at_start,
            {", ".join(c for c in CHURN_COLUMNS if c != "mrr")},
            mrr,
            (churned_from_start_customers / nullif(paying_customers_at_start, 0))::double
                as customer_churn_rate,
            (-(churned_mrr + contraction_mrr) / nullif(mrr_at_start, 0))::double
                as gross_mrr_churn_rate,
            (-(churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr)
                / nullif(mrr_at_start, 0))::double as net_mrr_churn_rate
        from started
        where month >= coalesce(?, month) and month <= coalesce(?, month)
        order by month
    """
    return monthly_frame(source, sql, [*params, start, end])


@st.cache_data(show_spinner=False)
def churn_reasons(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """Churn of the months in [start, end] per reason × initiated by × churn type (voluntary /
    involuntary): churned customers, churned subscriptions and churned MRR (negative), most
    churned customers first. The mart has no segment columns: always all segments. ``None``
    when the table is missing."""
    if CHURN_REASONS_TABLE not in tables(source):
        return None
    return query(
        source,
        f"""
        select
            coalesce(reason, 'unknown') as reason,
            coalesce(initiated_by, 'unknown') as initiated_by,
            coalesce(churn_type, 'unknown') as churn_type,
            coalesce(sum(churned_customers), 0)::bigint as churned_customers,
            coalesce(sum(churned_subscriptions), 0)::bigint as churned_subscriptions,
            coalesce(sum(churned_mrr), 0)::double as churned_mrr
        from {CHURN_REASONS_TABLE}
        where month >= coalesce(?, month) and month <= coalesce(?, month)
        group by all
        order by churned_customers desc, churned_subscriptions desc, reason, initiated_by,
            churn_type
        """,
        [start, end],
    )


@st.cache_data(show_spinner=False)
def scheduled_churn(source: Source) -> pd.DataFrame | None:
    """Pending cancellations of the snapshot by the month they take effect (null: no effective
    date): subscriptions, customers, customers whose last live subscription leaves, and MRR at
    stake. All segments. ``None`` when the table is missing."""
    if SCHEDULED_CHURN_TABLE not in tables(source):
        return None
    return query(
        source,
        f"""
        select
            month::date as month,
            coalesce(subscriptions, 0)::bigint as subscriptions,
            coalesce(customers, 0)::bigint as customers,
            coalesce(churning_customers, 0)::bigint as churning_customers,
            coalesce(mrr_at_stake, 0)::double as mrr_at_stake
        from {SCHEDULED_CHURN_TABLE}
        order by month nulls last
        """,
    )
