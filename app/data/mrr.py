"""Cached queries of the "MRR & movements" page: the MRR bridge per month and per segment."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app.data.snapshot import (
    Source,
    columns,
    monthly_frame,
    segment_filter,
)
from foundation.vocabulary import BRIDGE_COLUMNS, MOVEMENT_MRR_COLUMNS

#: MRR bridge KPIs computed from the sums of a segment selection (METRICS.md).
_BRIDGE_RATES_SQL = """
        12 * mrr as arr,
        mrr / nullif(paying_customers, 0) as arpu,
        (new_mrr + expansion_mrr + reactivation_mrr)
            / nullif(abs(churned_mrr + contraction_mrr), 0) as quick_ratio,
        -(churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr)
            / nullif(mrr_at_start, 0) as net_mrr_churn_rate,
        1 + (churned_mrr + contraction_mrr + expansion_mrr + reactivation_mrr)
            / nullif(mrr_at_start, 0) as net_revenue_retention
"""


def _bridge_sql(
    source: Source,
    keys: tuple[str, ...],
    start: date | None,
    end: date | None,
    platforms: tuple[str, ...],
    countries: tuple[str, ...],
) -> tuple[str, list[Any]] | None:
    """SQL of the MRR bridge per month (and ``keys``) over a segment selection.

    MRR at start is the selection's MRR at the end of the previous month, read from the segment
    table itself (so the bridge is a real check, not a tautology); only when that month is not in
    the snapshot does it fall back to the start the movements imply (end − movements − FX).
    ``bridge_gap`` = end − (start + movements + FX), 0 when the bridge balances.
    """
    available = set(columns(source, "marts.metrics_monthly_by_segment"))
    if not available:
        return None
    where, params = segment_filter(platforms, countries)
    summed_columns = ("mrr", "paying_customers", *BRIDGE_COLUMNS)
    # A column the publisher does not (yet) provide reads as 0 in the bridge instead of failing.
    sums = ", ".join(
        f"coalesce(sum({c}), 0) as {c}" if c in available else f"0 as {c}" for c in summed_columns
    )
    moved = " + ".join(BRIDGE_COLUMNS)
    key_select = "".join(f", {k}" for k in keys)
    key_join = "".join(f" and p.{k} = s.{k}" for k in keys)
    sql = f"""
        with summed as (
            select month::date as month{key_select}, {sums}
            from marts.metrics_monthly_by_segment
            {"where " + " and ".join(where) if where else ""}
            group by all
        ),
        started as (
            select
                s.*,
                coalesce(p.mrr, s.mrr - ({" + ".join(f"s.{c}" for c in moved.split(" + "))}))
                    as mrr_at_start
            from summed as s
            left join summed as p
                on p.month = (s.month - interval 1 month)::date{key_join}
        )
        select
            month{key_select},
            mrr_at_start,
            {", ".join(BRIDGE_COLUMNS)},
            {" + ".join(MOVEMENT_MRR_COLUMNS)} as net_new_mrr,
            mrr,
            paying_customers,
            mrr - (mrr_at_start + {moved}) as bridge_gap,
            {_BRIDGE_RATES_SQL}
        from started
        where month >= coalesce(?, month) and month <= coalesce(?, month)
        order by month{key_select}
    """
    return sql, [*params, start, end]


@st.cache_data(show_spinner=False)
def mrr_bridge(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """One row per month in [start, end]: MRR at start, movements, FX, MRR at end and the KPIs
    ARR, ARPU, quick ratio, net MRR churn and net revenue retention.

    Always summed from ``marts.metrics_monthly_by_segment`` over the selected segments (all of
    them without a selection), so the filters apply to every figure. ``None`` when the table is
    missing; an empty frame when no month matches.
    """
    built = _bridge_sql(source, (), start, end, platforms, countries)
    return None if built is None else monthly_frame(source, *built)


@st.cache_data(show_spinner=False)
def mrr_bridge_by_segment(
    source: Source,
    month: date,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """The MRR bridge of one month per country × platform segment of the selection."""
    built = _bridge_sql(source, ("country", "platform"), month, month, platforms, countries)
    return None if built is None else monthly_frame(source, *built)
