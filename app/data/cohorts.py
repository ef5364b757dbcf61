"""Queries of the "Cohorts & survival" page: cohort retention (by segment when the snapshot has
``marts.cohort_retention_by_segment``), Kaplan–Meier curves (``ml.survival_curves``) and sBG
cohort projections (``ml.cohort_projections``).

Same rules as :mod:`app.data`: every function is cached on the snapshot's :class:`Source`, reads
through ``_query`` (fresh read-only connection), aggregates in DuckDB and returns ``None`` when
its table is missing. Ratios are always recomputed from sums over the selection, never averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from app.data.snapshot import Source, columns, query, tables

RETENTION_TABLE = "marts.cohort_retention"
SEGMENT_TABLE = "marts.cohort_retention_by_segment"
SURVIVAL_TABLE = "ml.survival_curves"
PROJECTION_TABLE = "ml.cohort_projections"

#: Most curves / cohorts one chart shows, and most points per Kaplan–Meier curve.
MAX_SERIES = 8
MAX_POINTS = 150


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join('?' * len(values))})"


@dataclass(frozen=True)
class Retention:
    """Cohort × month-k retention of a selection, and whether the segment filters applied."""

    frame: pd.DataFrame
    segmented: bool  # read from the by-segment mart (filters applied)


@st.cache_data(show_spinner=False)
def channel_options(source: Source) -> list[str]:
    """Distinct acquisition channels of the by-segment mart (empty without it)."""
    if SEGMENT_TABLE not in tables(source):
        return []
    df = query(source, f"select distinct acquisition_channel as v from {SEGMENT_TABLE} order by 1")
    return [] if df is None else [str(v) for v in df["v"] if v is not None]


@st.cache_data(show_spinner=False)
def cohort_retention(
    source: Source,
    start: date | None = None,
    end: date | None = None,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
    channels: tuple[str, ...] = (),
) -> Retention | None:
    """One row per cohort month in [start, end] × months since: cohort customers, active
    customers, MRR, month-0 MRR, logo retention = Σ active ÷ Σ cohort customers and revenue
    retention = Σ MRR ÷ Σ month-0 MRR over the selected segments.

    Reads ``marts.cohort_retention_by_segment`` (all segments without a selection) when the
    snapshot has it, else ``marts.cohort_retention`` as published, whose rows are for all
    segments (``segmented`` False). ``None`` when neither table exists.
    """
    present = tables(source)
    where = [
        "cohort_month >= coalesce(?, cohort_month)",
        "cohort_month <= coalesce(?, cohort_month)",
    ]
    params: list[Any] = [start, end]
    if SEGMENT_TABLE in present:
        for column, values in (
            ("platform", platforms),
            ("country", countries),
            ("acquisition_channel", channels),
        ):
            if values:
                where.append(_in(column, values))
                params.extend(values)
        sql = f"""
            select
                cohort_month::date as cohort_month, months_since::integer as months_since,
                min(month)::date as month,
                coalesce(sum(cohort_customers), 0)::bigint as cohort_customers,
                coalesce(sum(active_customers), 0)::bigint as active_customers,
                coalesce(sum(mrr), 0)::double as mrr,
                coalesce(sum(mrr_month0), 0)::double as mrr_month0
            from {SEGMENT_TABLE}
            where {" and ".join(where)}
            group by 1, 2
        """
        segmented = True
    elif RETENTION_TABLE in present:
        sql = f"""
            select
                cohort_month::date as cohort_month, months_since::integer as months_since,
                month::date as month, cohort_customers::bigint as cohort_customers,
                active_customers::bigint as active_customers, mrr::double as mrr,
                (first_value(mrr) over (partition by cohort_month order by months_since))::double
                    as mrr_month0
            from {RETENTION_TABLE}
            where {" and ".join(where)}
        """
        segmented = False
    else:
        return None
    df = query(
        source,
        f"""
        select
            *,
            (active_customers / nullif(cohort_customers, 0))::double as logo_retention,
            (mrr / nullif(mrr_month0, 0))::double as revenue_retention
        from ({sql})
        order by cohort_month, months_since
        """,
        params,
    )
    if df is None:
        return None
    df["cohort_month"] = pd.to_datetime(df["cohort_month"])
    df["month"] = pd.to_datetime(df["month"])
    return Retention(df.reset_index(drop=True), segmented)


# --- Kaplan–Meier curves ---------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def survival_segments(source: Source) -> pd.DataFrame | None:
    """Per segment type and segment: customers at t = 0 (at risk) and the last step; largest
    first within a type. ``None`` without ``ml.survival_curves``."""
    if SURVIVAL_TABLE not in tables(source):
        return None
    return query(
        source,
        f"""
        select segment_type, segment, max(at_risk)::bigint as customers,
               max(t_days)::bigint as last_day
        from {SURVIVAL_TABLE}
        group by 1, 2
        order by segment_type, customers desc, segment
        """,
    )


@st.cache_data(show_spinner=False)
def survival_curves(
    source: Source,
    segment_type: str,
    segments: tuple[str, ...],
    max_points: int = MAX_POINTS,
) -> pd.DataFrame | None:
    """The Kaplan–Meier curves of `segments` (of `segment_type`), thinned in DuckDB to about
    `max_points` steps per curve: t is cut into equal buckets and each bucket keeps its last
    step (plus t = 0), so the step shape and the final value survive."""
    if SURVIVAL_TABLE not in tables(source):
        return None
    if not segments:
        return pd.DataFrame(
            columns=["segment", "t_days", "survival", "ci_lower", "ci_upper", "at_risk"]
        )
    params: list[Any] = [segment_type, *segments]
    sql = f"""
        with curves as (
            select segment, t_days, survival, ci_lower, ci_upper, at_risk
            from {SURVIVAL_TABLE}
            where segment_type = ? and {_in("segment", segments)}
        ),
        sized as (
            select *, greatest(ceil((max(t_days) over () + 1) / ?), 1) as width from curves
        ),
        bucketed as (
            select *,
                row_number() over (
                    partition by segment, case when t_days = 0 then -1 else floor(t_days / width) end
                    order by t_days desc
                ) as last_in_bucket
            from sized
        )
        select segment, t_days::bigint as t_days, survival::double as survival,
               ci_lower::double as ci_lower, ci_upper::double as ci_upper,
               at_risk::bigint as at_risk
        from bucketed
        where last_in_bucket = 1
        order by segment, t_days
    """
    return query(source, sql, [*params, int(max_points)])


# --- sBG cohort projections ------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def projection_cohorts(source: Source) -> pd.DataFrame | None:
    """Per cohort type and cohort: customers and observed months, largest first. ``None``
    without ``ml.cohort_projections``."""
    if PROJECTION_TABLE not in tables(source):
        return None
    type_column = (
        "cohort_type" if "cohort_type" in columns(source, PROJECTION_TABLE) else "'cohort'"
    )
    return query(
        source,
        f"""
        select {type_column} as cohort_type, cohort,
               max(customers)::bigint as customers,
               max(observed_months)::bigint as observed_months
        from {PROJECTION_TABLE}
        group by 1, 2
        order by cohort_type, customers desc nulls last, cohort
        """,
    )


@st.cache_data(show_spinner=False)
def cohort_projections(
    source: Source, cohort_type: str, cohorts: tuple[str, ...]
) -> pd.DataFrame | None:
    """Actual and projected retention per period of the chosen cohorts, with the projection's
    interval and the sBG parameters."""
    if PROJECTION_TABLE not in tables(source):
        return None
    available = set(columns(source, PROJECTION_TABLE))
    # no cohort chosen: the same query, empty (its columns, no rows)
    where = [_in("cohort", cohorts) if cohorts else "false"]
    params: list[Any] = list(cohorts)
    if "cohort_type" in available:
        where.insert(0, "cohort_type = ?")
        params.insert(0, cohort_type)
    extra = ", ".join(
        f"{c}::double as {c}" if c in available else f"cast(null as double) as {c}"
        for c in ("alpha", "beta", "customers", "observed_months")
    )
    return query(
        source,
        f"""
        select cohort, period::bigint as period, actual_retention::double as actual_retention,
               projected_retention::double as projected_retention,
               ci_lower::double as ci_lower, ci_upper::double as ci_upper, {extra}
        from {PROJECTION_TABLE}
        where {" and ".join(where)}
        order by cohort, period
        """,
        params,
    )
