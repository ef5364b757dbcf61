"""Cached queries of the "Offers & coupons" page: offer performance, coupons and trial
conversion.

Same rules as :mod:`app.data`: every function takes the :class:`~app.data.snapshot.Source` first (the
cache key), opens the snapshot read-only through :func:`app.data.snapshot.query`, aggregates in DuckDB
and returns a few rows per month or per value; ``None`` when a table is missing. User input only
reaches DuckDB as parameters.

Rates over several rows (months, offers, segments) are always recomputed from the summed
numerators and denominators, never averaged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app.data.snapshot import (
    Source,
    in_list,
    months_frame,
    query,
    tables,
)

OFFERS_TABLE = "marts.offer_performance"
COUPONS_TABLE = "marts.coupon_performance"
TRIALS_TABLE = "marts.trial_conversion_monthly"

#: Columns of ``marts.offer_performance`` in display order.
OFFER_COLUMNS: tuple[str, ...] = (
    "offer_id",
    "title",
    "offer_type",
    "subscriptions_started",
    "trials",
    "conversions",
    "trial_conversion_rate",
    "active_now",
    "churned",
    "retention_1m",
    "retention_1m_eligible",
    "retention_3m",
    "retention_3m_eligible",
    "retention_6m",
    "retention_6m_eligible",
    "current_mrr",
    "current_mrr_on_offer",
    "purchases",
    "one_time_revenue",
)
_OFFER_MONEY = {"current_mrr", "current_mrr_on_offer", "one_time_revenue"}
_OFFER_RATES = {"trial_conversion_rate", "retention_1m", "retention_3m", "retention_6m"}
_OFFER_ORDER = (
    "order by current_mrr desc, subscriptions_started desc, one_time_revenue desc, offer_id"
)


def _offer_where(offer_types: tuple[str, ...]) -> tuple[str, list[Any]]:
    if not offer_types:
        return "true", []
    return in_list("coalesce(offer_type, 'unknown')", offer_types), list(offer_types)


def _offer_select() -> str:
    def cast(c: str) -> str:
        if c in _OFFER_MONEY or c in _OFFER_RATES:
            return f"{c}::double as {c}"
        return c

    return ", ".join(cast(c) for c in OFFER_COLUMNS)


@st.cache_data(show_spinner=False)
def offer_summary(source: Source, offer_types: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Totals over the offers of the selected offer types: offers, subscriptions started,
    trials, conversions, active now, churned, current MRR, purchases, one-time revenue, and the
    trial conversion rate and retention at 1, 3 and 6 months recomputed from the sums
    (retained = retention × eligible per offer). None without the mart."""
    if OFFERS_TABLE not in tables(source):
        return None
    where, params = _offer_where(offer_types)
    retained = ", ".join(
        f"coalesce(sum(retention_{k}m * retention_{k}m_eligible), 0)::double as retained_{k}m, "
        f"coalesce(sum(retention_{k}m_eligible), 0)::bigint as retention_{k}m_eligible"
        for k in (1, 3, 6)
    )
    df = query(
        source,
        f"""
        select
            count(*) as offers,
            coalesce(sum(subscriptions_started), 0)::bigint as subscriptions_started,
            coalesce(sum(trials), 0)::bigint as trials,
            coalesce(sum(conversions), 0)::bigint as conversions,
            coalesce(sum(active_now), 0)::bigint as active_now,
            coalesce(sum(churned), 0)::bigint as churned,
            coalesce(sum(current_mrr), 0)::double as current_mrr,
            coalesce(sum(purchases), 0)::bigint as purchases,
            coalesce(sum(one_time_revenue), 0)::double as one_time_revenue,
            {retained}
        from {OFFERS_TABLE}
        where {where}
        """,
        params,
    )
    if df is None:
        return None
    row = df.to_dict("records")[0]
    row["trial_conversion_rate"] = row["conversions"] / row["trials"] if row["trials"] else None
    for k in (1, 3, 6):
        eligible = row[f"retention_{k}m_eligible"]
        row[f"retention_{k}m"] = round(row.pop(f"retained_{k}m")) / eligible if eligible else None
    return row


@st.cache_data(show_spinner=False)
def offer_page(
    source: Source, offer_types: tuple[str, ...], page: int, page_size: int
) -> pd.DataFrame | None:
    """One page (1-based) of the offers of the selected offer types, most current MRR first
    (then subscriptions started, one-time revenue). None without the mart."""
    if OFFERS_TABLE not in tables(source):
        return None
    where, params = _offer_where(offer_types)
    return query(
        source,
        f"select {_offer_select()} from {OFFERS_TABLE} where {where} {_OFFER_ORDER}"
        " limit ? offset ?",
        [*params, int(page_size), (max(int(page), 1) - 1) * int(page_size)],
    )


@st.cache_data(show_spinner=False)
def offer_retention_top(
    source: Source, offer_types: tuple[str, ...] = (), top: int = 10
) -> pd.DataFrame | None:
    """The `top` offers with the most subscriptions started (at least one eligible for the
    1-month retention): retention at 1, 3 and 6 months with their eligible counts."""
    if OFFERS_TABLE not in tables(source):
        return None
    where, params = _offer_where(offer_types)
    return query(
        source,
        f"""
        select offer_id, coalesce(title, offer_id) as title, subscriptions_started,
               retention_1m::double as retention_1m, retention_1m_eligible,
               retention_3m::double as retention_3m, retention_3m_eligible,
               retention_6m::double as retention_6m, retention_6m_eligible
        from {OFFERS_TABLE}
        where {where} and retention_1m_eligible > 0
        order by subscriptions_started desc, offer_id
        limit ?
        """,
        [*params, int(top)],
    )


@st.cache_data(show_spinner=False)
def one_time_offers_top(
    source: Source, offer_types: tuple[str, ...] = (), top: int = 15
) -> pd.DataFrame | None:
    """The `top` offers with the most one-time revenue (purchases > 0)."""
    if OFFERS_TABLE not in tables(source):
        return None
    where, params = _offer_where(offer_types)
    return query(
        source,
        f"""
        select offer_id, coalesce(title, offer_id) as title, offer_type, purchases,
               one_time_revenue::double as one_time_revenue
        from {OFFERS_TABLE}
        where {where} and purchases > 0
        order by one_time_revenue desc, purchases desc, offer_id
        limit ?
        """,
        [*params, int(top)],
    )


# --- Coupons --------------------------------------------------------------------------------

COUPON_COLUMNS: tuple[str, ...] = (
    "coupon_id",
    "campaign_id",
    "redemptions",
    "subscriptions",
    "customers",
    "redemptions_90d_observable",
    "churned_within_90d",
    "churn_rate_90d",
    "retention_3m",
    "expired_while_live",
    "mrr_during_coupon",
    "mrr_after_coupon",
    "mrr_after_to_during_ratio",
)
_COUPON_DOUBLES = {
    "churn_rate_90d",
    "retention_3m",
    "mrr_during_coupon",
    "mrr_after_coupon",
    "mrr_after_to_during_ratio",
}


@st.cache_data(show_spinner=False)
def coupon_summary(source: Source) -> dict[str, Any] | None:
    """Totals over every coupon × campaign: rows, redemptions, the churn within 90 days
    recomputed from the sums, redemptions whose coupon expired while live and their MRR during
    and after the coupon (with the after ÷ during ratio of the sums). None without the mart."""
    if COUPONS_TABLE not in tables(source):
        return None
    df = query(
        source,
        f"""
        select
            count(*) as coupons,
            coalesce(sum(redemptions), 0)::bigint as redemptions,
            coalesce(sum(redemptions_90d_observable), 0)::bigint as redemptions_90d_observable,
            coalesce(sum(churned_within_90d), 0)::bigint as churned_within_90d,
            coalesce(sum(expired_while_live), 0)::bigint as expired_while_live,
            coalesce(sum(mrr_during_coupon), 0)::double as mrr_during_coupon,
            coalesce(sum(mrr_after_coupon), 0)::double as mrr_after_coupon
        from {COUPONS_TABLE}
        """,
    )
    if df is None:
        return None
    row = df.to_dict("records")[0]
    observable = row["redemptions_90d_observable"]
    row["churn_rate_90d"] = row["churned_within_90d"] / observable if observable else None
    during = row["mrr_during_coupon"]
    row["mrr_after_to_during_ratio"] = row["mrr_after_coupon"] / during if during else None
    return row


@st.cache_data(show_spinner=False)
def coupon_page(source: Source, page: int, page_size: int) -> pd.DataFrame | None:
    """One page (1-based) of the coupon × campaign rows, most redemptions first."""
    if COUPONS_TABLE not in tables(source):
        return None
    select = ", ".join(f"{c}::double as {c}" if c in _COUPON_DOUBLES else c for c in COUPON_COLUMNS)
    return query(
        source,
        f"select {select} from {COUPONS_TABLE}"
        " order by redemptions desc, coupon_id, campaign_id limit ? offset ?",
        [int(page_size), (max(int(page), 1) - 1) * int(page_size)],
    )


# --- Trial conversion -----------------------------------------------------------------------


def _trials_selection(
    source: Source, start: date | None, end: date | None, offer_types: tuple[str, ...]
) -> tuple[str, list[Any]]:
    """The trial rows of the period (and offer types, through the offer's type in
    ``marts.offer_performance``; without that table the offer-type filter cannot apply)."""
    where = ["t.month >= coalesce(?, t.month)", "t.month <= coalesce(?, t.month)"]
    params: list[Any] = [start, end]
    join = ""
    if offer_types and OFFERS_TABLE in tables(source):
        join = f"left join {OFFERS_TABLE} as o on o.offer_id = t.offer_id"
        where.append(in_list("coalesce(o.offer_type, 'unknown')", offer_types))
        params.extend(offer_types)
    sql = f"select t.* from {TRIALS_TABLE} as t {join} where {' and '.join(where)}"
    return sql, params


@st.cache_data(show_spinner=False)
def trial_conversion_trend(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    offer_types: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """Per trial end month: trials ended, converted and the conversion rate recomputed from
    the sums over the selected offers. ``None`` without the mart."""
    if TRIALS_TABLE not in tables(source):
        return None
    selection, params = _trials_selection(source, start, end, offer_types)
    sql = f"""
        select month::date as month,
               coalesce(sum(trials_ended), 0)::bigint as trials_ended,
               coalesce(sum(converted), 0)::bigint as converted,
               (sum(converted) / nullif(sum(trials_ended), 0))::double as conversion_rate
        from ({selection})
        group by 1
        order by 1
    """
    return months_frame(query(source, sql, params))


@st.cache_data(show_spinner=False)
def trial_conversion_by_offer(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    offer_types: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """Per offer, trials ended and converted over the period's months, the conversion rate
    recomputed from the sums; most trials first."""
    if TRIALS_TABLE not in tables(source):
        return None
    selection, params = _trials_selection(source, start, end, offer_types)
    sql = f"""
        select coalesce(offer_id, 'unknown') as offer_id,
               coalesce(sum(trials_ended), 0)::bigint as trials_ended,
               coalesce(sum(converted), 0)::bigint as converted,
               (sum(converted) / nullif(sum(trials_ended), 0))::double as conversion_rate
        from ({selection})
        group by 1
        order by trials_ended desc, offer_id
    """
    return query(source, sql, params)
