"""Cached queries of the "Revenue & payments" page: cash revenue by segment and over time,
one-time revenue, failed payments and their recovery.

Same rules as :mod:`app.data`: every function takes the :class:`~app.data.snapshot.Source` first (the
cache key), opens the snapshot read-only through :func:`app.data.snapshot.query`, aggregates in DuckDB
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

from app.data.snapshot import (
    Source,
    in_list,
    months_frame,
    query,
    tables,
)

REVENUE_TABLE = "marts.revenue_monthly_by_segment"
RECOVERY_TABLE = "marts.payment_recovery_monthly"
RECOVERY_BY_CODE_TABLE = "marts.payment_recovery_by_code"

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
            where.append(in_list(column, values))
            params.extend(values)
    return " and ".join(where), params


@st.cache_data(show_spinner=False)
def revenue_months(source: Source) -> tuple[date, date] | None:
    """First and last month of the revenue mart; None when it is missing or empty."""
    if REVENUE_TABLE not in tables(source):
        return None
    df = query(source, f"select min(month)::date as a, max(month)::date as b from {REVENUE_TABLE}")
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
    return months_frame(query(source, sql, [start, end, *params]))


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
    return query(source, sql, params)


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
    df = months_frame(query(source, sql, [*params, int(top)]))
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
    return months_frame(query(source, sql, params))


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
    return months_frame(query(source, sql, [start, end]))


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
    return query(source, sql, [start, end])
