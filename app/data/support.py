"""Cached queries of the Support page: ``marts.support_monthly`` and ``marts.support_churn``.

Both marts have no platform, country or offer-type column: only the period filter applies.
Averages over several rows of ``support_monthly`` are recomputed weighted by their counts
(mean resolution minutes by tickets resolved, CSAT by CSAT responses); the median cannot be
combined across rows, so it only appears per row (month × category × channel).

The confidence intervals of the churn comparison are computed from the counts (a 2 × 2 table per
month, or the months of the period pooled) by :mod:`models.experiments`, as for the retention
campaigns: the difference of the churn rates (with − without ticket) with Newcombe's hybrid score
interval, their ratio (relative churn risk) with the Katz log interval, undefined when either
group has no churner.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app.data.snapshot import Source, query, tables
from models.experiments import churn_difference, churn_ratio

SUPPORT_MONTHLY_TABLE = "marts.support_monthly"
SUPPORT_CHURN_TABLE = "marts.support_churn"

#: Two-sided confidence level of every interval on the page.
CONFIDENCE = 0.95

# The weighted averages of a group of support_monthly rows. A row without resolved tickets has
# no mean (null) and weighs nothing.
_WEIGHTED_SUMS = """
    coalesce(sum(tickets_opened), 0)::bigint as tickets_opened,
    coalesce(sum(tickets_resolved), 0)::bigint as tickets_resolved,
    (sum(mean_resolution_minutes * tickets_resolved)
        / nullif(sum(case when mean_resolution_minutes is not null
                          then tickets_resolved end), 0))::double as mean_resolution_minutes,
    (sum(csat_average * csat_responses)
        / nullif(sum(case when csat_average is not null then csat_responses end), 0))::double
        as csat_average,
    coalesce(sum(csat_responses), 0)::bigint as csat_responses
"""

_PERIOD = "month >= coalesce(?, month) and month <= coalesce(?, month)"


def has_support(source: Source) -> bool:
    return SUPPORT_MONTHLY_TABLE in tables(source)


def has_support_churn(source: Source) -> bool:
    return SUPPORT_CHURN_TABLE in tables(source)


@st.cache_data(show_spinner=False)
def tickets_by_category_channel(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """Per category × channel over the months in [start, end]: tickets opened and resolved,
    mean resolution minutes (weighted by tickets resolved), CSAT average (weighted by CSAT
    responses) and CSAT responses; most tickets opened first. ``None`` without the table."""
    if not has_support(source):
        return None
    return query(
        source,
        f"""
        select category, channel, {_WEIGHTED_SUMS}
        from {SUPPORT_MONTHLY_TABLE}
        where {_PERIOD}
        group by category, channel
        order by tickets_opened desc, tickets_resolved desc, category, channel
        """,
        [start, end],
    )


@st.cache_data(show_spinner=False)
def support_trend(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """One row per month in [start, end] with the month's figures over every category and
    channel (weighted averages as in :func:`tickets_by_category_channel`). ``None`` without the
    table."""
    if not has_support(source):
        return None
    df = query(
        source,
        f"""
        select month::date as month, {_WEIGHTED_SUMS}
        from {SUPPORT_MONTHLY_TABLE}
        where {_PERIOD}
        group by 1
        order by 1
        """,
        [start, end],
    )
    if df is not None:
        df["month"] = pd.to_datetime(df["month"])
    return df


@st.cache_data(show_spinner=False)
def support_rows(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """The mart's rows (month × category × channel) in [start, end], newest month first: the
    only place the median resolution time can be shown. At most months × 7 categories × 6
    channels rows. ``None`` without the table."""
    if not has_support(source):
        return None
    return query(
        source,
        f"""
        select month::date as month, category, channel,
               tickets_opened::bigint as tickets_opened,
               tickets_resolved::bigint as tickets_resolved,
               median_resolution_minutes::double as median_resolution_minutes,
               mean_resolution_minutes::double as mean_resolution_minutes,
               csat_average::double as csat_average,
               csat_responses::bigint as csat_responses
        from {SUPPORT_MONTHLY_TABLE}
        where {_PERIOD}
        order by month desc, tickets_opened desc, category, channel
        """,
        [start, end],
    )


# --- Churn with vs without a recent ticket --------------------------------------------------


def with_intervals(df: pd.DataFrame) -> pd.DataFrame:
    """Add, per row of counts, the churn rates, their difference and ratio with their
    intervals (columns ``*_lower`` / ``*_upper``)."""
    out = df.copy()
    rows: list[dict[str, Any]] = []
    for r in out.itertuples(index=False):
        a, n1 = float(r.churned_with_ticket), float(r.customers_with_ticket)
        c, n2 = float(r.churned_without_ticket), float(r.customers_without_ticket)
        diff = churn_difference(int(a), int(n1), int(c), int(n2), CONFIDENCE)
        ratio = churn_ratio(int(a), int(n1), int(c), int(n2), CONFIDENCE)
        d, dl, du = (math.nan,) * 3 if diff is None else (diff.difference, diff.lower, diff.upper)
        rr, rl, ru = (
            ((a / n1) / (c / n2) if n1 > 0 and n2 > 0 and c > 0 else math.nan, math.nan, math.nan)
            if ratio is None
            else (ratio.ratio, ratio.lower, ratio.upper)
        )
        rows.append(
            {
                "churn_rate_with_ticket": a / n1 if n1 > 0 else math.nan,
                "churn_rate_without_ticket": c / n2 if n2 > 0 else math.nan,
                "rate_difference": d,
                "rate_difference_lower": dl,
                "rate_difference_upper": du,
                "relative_churn_risk": rr,
                "relative_churn_risk_lower": rl,
                "relative_churn_risk_upper": ru,
            }
        )
    computed = pd.DataFrame(rows, index=out.index, columns=list(_INTERVAL_COLUMNS))
    for column in computed.columns:
        out[column] = computed[column].astype("float64")
    return out


_INTERVAL_COLUMNS = (
    "churn_rate_with_ticket",
    "churn_rate_without_ticket",
    "rate_difference",
    "rate_difference_lower",
    "rate_difference_upper",
    "relative_churn_risk",
    "relative_churn_risk_lower",
    "relative_churn_risk_upper",
)
_COUNT_COLUMNS = (
    "customers_with_ticket",
    "churned_with_ticket",
    "customers_without_ticket",
    "churned_without_ticket",
)


@st.cache_data(show_spinner=False)
def support_churn(
    source: Source, start: date | None = None, end: date | None = None
) -> pd.DataFrame | None:
    """One row per month in [start, end] with paying customers at its start (the month's
    first day), split by a support ticket in the 30 days before: counts, churn rates,
    difference and relative churn risk with their 95% intervals (recomputed from the counts).
    Months nobody was at risk in are left out. ``None`` without the table."""
    if not has_support_churn(source):
        return None
    df = query(
        source,
        f"""
        select month::date as month,
               {", ".join(f"coalesce({c}, 0)::bigint as {c}" for c in _COUNT_COLUMNS)}
        from {SUPPORT_CHURN_TABLE}
        where {_PERIOD}
          and coalesce(customers_with_ticket, 0) + coalesce(customers_without_ticket, 0) > 0
        order by 1
        """,
        [start, end],
    )
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return with_intervals(df)


def pooled_churn(monthly: pd.DataFrame) -> pd.Series | None:
    """The period's months pooled: summed counts (customer-months: a customer at risk in
    several months counts in each), rates, difference and ratio with their intervals. None
    when the frame is empty."""
    if monthly.empty:
        return None
    sums = monthly[list(_COUNT_COLUMNS)].sum().to_frame().T.astype("int64")
    return with_intervals(sums).iloc[0]
