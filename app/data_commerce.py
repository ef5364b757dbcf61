"""Cached queries of the "Revenue & payments" and "Offers & coupons" pages.

Same rules as :mod:`app.data`: every function takes the :class:`~app.data.Source` first (the
cache key), opens the snapshot read-only through :func:`app.data._query`, aggregates in DuckDB
and returns a few rows per month or per value; ``None`` when a table is missing. User input only
reaches DuckDB as parameters; the one identifier a user picks (the "break down by" dimension) is
checked against :data:`DIMENSIONS` first.

Rates over several rows (months, offers, segments) are always recomputed from the summed
numerators and denominators, never averaged.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app.data import Source, _query, tables

REVENUE_TABLE = "marts.revenue_monthly_by_segment"
RECOVERY_TABLE = "marts.payment_recovery_monthly"
RECOVERY_BY_CODE_TABLE = "marts.payment_recovery_by_code"
OFFERS_TABLE = "marts.offer_performance"
COUPONS_TABLE = "marts.coupon_performance"
TRIALS_TABLE = "marts.trial_conversion_monthly"

#: Segment columns of the revenue mart a page may break revenue down by → label.
DIMENSIONS: dict[str, str] = {
    "offer_type": "Offer type",
    "platform": "Platform",
    "provider": "Provider",
    "country": "Country",
}
#: Label of the values beyond the top ones in a breakdown over time.
OTHER = "other"

#: Summed money and count columns of the revenue mart.
REVENUE_SUMS: tuple[str, ...] = (
    "payments",
    "refunds",
    "chargebacks",
    "net_cash_revenue",
    "one_time_revenue",
    "payments_count",
    "refunds_count",
    "chargebacks_count",
    "purchases_count",
)
_COUNT_COLUMNS = {c for c in REVENUE_SUMS if c.endswith("_count")}

#: Shares of the payments, recomputed from the sums (amounts, then counts).
_SHARES_SQL = """
    refunds / nullif(payments, 0) as refund_share,
    chargebacks / nullif(payments, 0) as chargeback_share,
    (refunds + chargebacks) / nullif(payments, 0) as reversed_share,
    (refunds_count + chargebacks_count) / nullif(payments_count, 0) as reversed_count_share
"""


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join('?' * len(values))})"


def _sums(prefix: str = "") -> str:
    """``sum`` of each revenue column, 0 when nothing matches; money as double, counts as int."""
    return ", ".join(
        f"coalesce(sum({prefix}{c}), 0)::{'bigint' if c in _COUNT_COLUMNS else 'double'} as {c}"
        for c in REVENUE_SUMS
    )


def _revenue_where(
    start: date | None,
    end: date | None,
    platforms: tuple[str, ...],
    countries: tuple[str, ...],
    offer_types: tuple[str, ...],
) -> tuple[str, list[Any]]:
    where = ["month >= coalesce(?, month)", "month <= coalesce(?, month)"]
    params: list[Any] = [start, end]
    for column, values in (
        ("platform", platforms),
        ("country", countries),
        ("offer_type", offer_types),
    ):
        if values:
            where.append(_in(column, values))
            params.extend(values)
    return " and ".join(where), params


def _months_frame(df: pd.DataFrame | None) -> pd.DataFrame | None:
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return df.reset_index(drop=True)


# --- Revenue --------------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def revenue_months(source: Source) -> tuple[date, date] | None:
    """First and last month of the revenue mart; None when it is missing or empty."""
    if REVENUE_TABLE not in tables(source):
        return None
    df = _query(source, f"select min(month)::date as a, max(month)::date as b from {REVENUE_TABLE}")
    if df is None or pd.isna(df.iloc[0]["a"]):
        return None
    return pd.Timestamp(df.iloc[0]["a"]).date(), pd.Timestamp(df.iloc[0]["b"]).date()


@st.cache_data(show_spinner=False)
def revenue_monthly(
    source: Source,
    start: date,
    end: date,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    offer_types: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """One row per month of [start, end] (every month, 0 without revenue): payments, refunds,
    chargebacks, net cash revenue, one-time revenue, their counts, and the shares of payments
    refunded / charged back, summed over the selected segments. ``None`` without the mart."""
    if REVENUE_TABLE not in tables(source):
        return None
    where, params = _revenue_where(start, end, platforms, countries, offer_types)
    sql = f"""
        with months as (
            select unnest(generate_series(?::date, ?::date, interval 1 month))::date as month
        ),
        summed as (
            select months.month, {_sums("r.")}
            from months
            left join (select * from {REVENUE_TABLE} where {where}) as r
                on r.month = months.month
            group by months.month
        )
        select *, {_SHARES_SQL}
        from summed
        order by month
    """
    return _months_frame(_query(source, sql, [start, end, *params]))


def _dimension(dimension: str) -> str:
    if dimension not in DIMENSIONS:
        raise ValueError(f"break down by {dimension!r}: one of {', '.join(DIMENSIONS)}")
    return dimension


@st.cache_data(show_spinner=False)
def revenue_by_dimension(
    source: Source,
    dimension: str,
    start: date | None,
    end: date | None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    offer_types: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """The period's revenue per value of `dimension` (offer_type, platform, provider or
    country), most net cash revenue first, with each value's share of the total net cash
    revenue and of refunded / charged-back payments. ``None`` without the mart."""
    if REVENUE_TABLE not in tables(source):
        return None
    column = _dimension(dimension)
    where, params = _revenue_where(start, end, platforms, countries, offer_types)
    sql = f"""
        with summed as (
            select coalesce({column}, 'unknown') as value, {_sums()}
            from {REVENUE_TABLE}
            where {where}
            group by 1
        )
        select
            value as {column},
            {", ".join(REVENUE_SUMS)},
            net_cash_revenue / nullif(sum(net_cash_revenue) over (), 0) as share_of_net_revenue,
            {_SHARES_SQL}
        from summed
        order by net_cash_revenue desc, payments desc, value
    """
    return _query(source, sql, params)


@st.cache_data(show_spinner=False)
def revenue_trend_by_dimension(
    source: Source,
    dimension: str,
    start: date | None,
    end: date | None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    offer_types: tuple[str, ...] = (),
    top: int = 10,
) -> pd.DataFrame | None:
    """Net cash revenue, payments, refunds and chargebacks per month × value of `dimension`;
    the `top` values with the most net cash revenue over the period keep their name, the rest
    are summed as :data:`OTHER` (a readable legend, and a bounded number of rows)."""
    if REVENUE_TABLE not in tables(source):
        return None
    column = _dimension(dimension)
    where, params = _revenue_where(start, end, platforms, countries, offer_types)
    sql = f"""
        with selected as (
            select month::date as month, coalesce({column}, 'unknown') as value,
                   payments, refunds, chargebacks, net_cash_revenue
            from {REVENUE_TABLE}
            where {where}
        ),
        ranked as (
            select value, row_number() over (order by sum(net_cash_revenue) desc, value) as rank
            from selected
            group by value
        )
        select
            s.month,
            case when r.rank <= ? then s.value else '{OTHER}' end as {column},
            coalesce(sum(s.net_cash_revenue), 0)::double as net_cash_revenue,
            coalesce(sum(s.payments), 0)::double as payments,
            coalesce(sum(s.refunds), 0)::double as refunds,
            coalesce(sum(s.chargebacks), 0)::double as chargebacks,
            min(r.rank) as rank
        from selected as s
        join ranked as r using (value)
        group by all
        order by s.month, rank
    """
    df = _months_frame(_query(source, sql, [*params, int(top)]))
    return None if df is None else df.drop(columns="rank")


@st.cache_data(show_spinner=False)
def one_time_revenue(
    source: Source,
    start: date | None,
    end: date | None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    offer_types: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """One-time purchases (passes, live PPV, TVOD) per month × offer type: purchases and
    one-time revenue, months and offer types with purchases only. ``None`` without the mart."""
    if REVENUE_TABLE not in tables(source):
        return None
    where, params = _revenue_where(start, end, platforms, countries, offer_types)
    sql = f"""
        select
            month::date as month,
            coalesce(offer_type, 'unknown') as offer_type,
            coalesce(sum(purchases_count), 0)::bigint as purchases,
            coalesce(sum(one_time_revenue), 0)::double as one_time_revenue
        from {REVENUE_TABLE}
        where {where}
        group by all
        having sum(purchases_count) > 0 or sum(one_time_revenue) <> 0
        order by month, offer_type
    """
    return _months_frame(_query(source, sql, params))


# --- Payment recovery -----------------------------------------------------------------------

#: Summed columns of the payment recovery marts.
RECOVERY_SUMS: tuple[str, ...] = (
    "failed_renewals",
    "recovered",
    "recovered_mrr",
    "failed_mrr",
    "cancelled_during_dunning",
    "open_windows",
)
_RECOVERY_MONEY = {"recovered_mrr", "failed_mrr"}


def _recovery_sums() -> str:
    return ", ".join(
        f"coalesce(sum({c}), 0)::{'double' if c in _RECOVERY_MONEY else 'bigint'} as {c}"
        for c in RECOVERY_SUMS
    )


@st.cache_data(show_spinner=False)
def recovery_monthly(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """One row per month of the first failure in [start, end]: failed renewals, recovered,
    recovery rate, recovered and failed MRR, cancelled during dunning, open windows. The mart
    has no segment columns. ``None`` when it is missing."""
    if RECOVERY_TABLE not in tables(source):
        return None
    sql = f"""
        select month::date as month, {_recovery_sums()},
               (sum(recovered) / nullif(sum(failed_renewals), 0))::double as recovery_rate
        from {RECOVERY_TABLE}
        where month >= coalesce(?, month) and month <= coalesce(?, month)
        group by 1
        order by 1
    """
    return _months_frame(_query(source, sql, [start, end]))


@st.cache_data(show_spinner=False)
def recovery_by_code(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """Failure code × provider of the first failures of [start, end], summed over the months,
    the recovery rate recomputed from the sums; most failed renewals first."""
    if RECOVERY_BY_CODE_TABLE not in tables(source):
        return None
    sql = f"""
        select coalesce(failure_code, 'unknown') as failure_code,
               coalesce(provider, 'unknown') as provider,
               {_recovery_sums()},
               (sum(recovered) / nullif(sum(failed_renewals), 0))::double as recovery_rate
        from {RECOVERY_BY_CODE_TABLE}
        where month >= coalesce(?, month) and month <= coalesce(?, month)
        group by 1, 2
        order by failed_renewals desc, failure_code, provider
    """
    return _query(source, sql, [start, end])


# --- Offers ---------------------------------------------------------------------------------

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
    return _in("coalesce(offer_type, 'unknown')", offer_types), list(offer_types)


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
    df = _query(
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
    return _query(
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
    return _query(
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
    return _query(
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
    df = _query(
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
    return _query(
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
        where.append(_in("coalesce(o.offer_type, 'unknown')", offer_types))
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
    return _months_frame(_query(source, sql, params))


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
    return _query(source, sql, params)
