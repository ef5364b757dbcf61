"""The app's only access to data: the published, read-only serving snapshot.

Rules (DESIGN.md, "Storage and concurrency"):

* Only ``$CHURNIQ_HOME/serving.duckdb`` is read, never the warehouse: the pipeline holds the
  warehouse's write lock, which would also block readers in this process.
* Each query opens the file read-only and closes it, so the publish step can swap a new
  snapshot in at any time and the next query sees it.
* Every query is cached with ``st.cache_data`` and takes a :class:`Source` (path + version) as
  its first argument, so a new snapshot means new cache keys and no stale numbers.
* Aggregation happens in DuckDB; what comes back is at most a few rows per month.

Functions return ``None`` (or empty lists) when the snapshot or a table does not exist yet;
pages then show :func:`app.components.empty_state`.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pandas as pd
import streamlit as st

from foundation.home import Home
from foundation.settings import get_settings

#: Columns of ``marts.metrics_monthly_by_segment`` that may be summed across segments.
ADDITIVE_COLUMNS: tuple[str, ...] = (
    "mrr",
    "paying_customers",
    "paying_customers_at_start",
    "new_mrr",
    "expansion_mrr",
    "contraction_mrr",
    "churned_mrr",
    "reactivation_mrr",
    "pause_mrr",
    "resume_mrr",
    "fx_adjustment",
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

#: MRR movement columns in bridge order (gains first, then losses).
MOVEMENT_COLUMNS: tuple[str, ...] = (
    "new_mrr",
    "expansion_mrr",
    "reactivation_mrr",
    "resume_mrr",
    "contraction_mrr",
    "churned_mrr",
    "pause_mrr",
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


class Source(NamedTuple):
    """Where the snapshot is and which version of it: the cache key of every query."""

    path: str
    version: str


@dataclass(frozen=True)
class SnapshotMeta:
    """``meta.snapshot`` of the serving file (fields None when the publisher wrote none)."""

    version: str
    published_at: datetime | None
    watermark: datetime | None
    reporting_currency: str | None


def home() -> Path:
    """The home folder of the settings (``$CHURNIQ_HOME``, default ``./.churniq``)."""
    return get_settings().home


def paths() -> Home:
    """The layout of the home folder."""
    return Home(home())


def serving_path() -> Path:
    return paths().serving


def current_source() -> Source | None:
    """The snapshot file and a version string, or None when nothing was published yet.

    The version is the file's identity (inode, mtime, size) rather than ``meta.snapshot.version``
    because a ``stat`` costs nothing on every rerun, whereas reading the table means opening the
    database; the publish step's atomic swap always changes the identity.
    """
    path = serving_path()
    try:
        st_ = path.stat()
    except FileNotFoundError:
        return None
    return Source(str(path.resolve()), f"{st_.st_ino}-{st_.st_mtime_ns}-{st_.st_size}")


def _query(source: Source, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame | None:
    """Run one query on a fresh read-only connection; None when a table is missing."""
    try:
        with duckdb.connect(source.path, read_only=True) as con:
            return con.execute(sql, params or []).df()
    except duckdb.CatalogException:
        return None


@st.cache_data(show_spinner=False)
def tables(source: Source) -> frozenset[str]:
    """Qualified names (``schema.table``) of the tables in the snapshot."""
    df = _query(source, "select schema_name || '.' || table_name as t from duckdb_tables()")
    return frozenset() if df is None else frozenset(df["t"])


@st.cache_data(show_spinner=False)
def columns(source: Source, table: str) -> tuple[str, ...]:
    """Column names of ``schema.table``, empty when the table does not exist."""
    schema, name = table.split(".", 1)
    df = _query(
        source,
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
        " order by column_index",
        [schema, name],
    )
    return () if df is None else tuple(df["column_name"])


@st.cache_data(show_spinner=False)
def snapshot_meta(source: Source) -> SnapshotMeta:
    """Version, publication time, watermark and reporting currency of the snapshot."""
    df = None
    if "meta.snapshot" in tables(source):
        df = _query(
            source,
            "select version, published_at, watermark, reporting_currency from meta.snapshot"
            " order by published_at desc nulls last limit 1",
        )
    if df is None or df.empty:
        return SnapshotMeta(source.version, None, None, None)
    row = df.iloc[0]
    return SnapshotMeta(
        version=str(row["version"]),
        published_at=_to_datetime(row["published_at"]),
        watermark=_to_datetime(row["watermark"]),
        reporting_currency=_to_str(row["reporting_currency"]),
    )


def has_metrics(source: Source | None) -> bool:
    """Whether the snapshot has the monthly metrics the dashboards start from."""
    return source is not None and "marts.metrics_monthly" in tables(source)


@st.cache_data(show_spinner=False)
def months(source: Source) -> list[date]:
    """Months (first days) present in ``marts.metrics_monthly``, ascending."""
    if not has_metrics(source):
        return []
    df = _query(
        source, "select distinct month::date as month from marts.metrics_monthly order by 1"
    )
    return [] if df is None else [_to_date(m) for m in df["month"]]


#: Where the global filters' choices come from: the distinct values of the tables that exist.
_OPTION_TABLES: dict[str, tuple[str, ...]] = {
    "platform": ("marts.metrics_monthly_by_segment",),
    "country": ("marts.metrics_monthly_by_segment",),
    "offer_type": (
        "marts.revenue_monthly_by_segment",
        "marts.fct_subscriptions",
        "marts.offer_performance",
        "ml.churn_scores",
    ),
}


@st.cache_data(show_spinner=False)
def segment_options(source: Source) -> dict[str, list[str]]:
    """Distinct platforms, countries (of ``marts.metrics_monthly_by_segment``) and offer types
    (of revenue, subscriptions and scores)."""
    options: dict[str, list[str]] = {dim: [] for dim in _OPTION_TABLES}
    present = tables(source)
    for dim, candidates in _OPTION_TABLES.items():
        found = [t for t in candidates if t in present]
        if not found:
            continue
        union = " union ".join(f"select {dim} as v from {t} where {dim} is not null" for t in found)
        df = _query(source, f"select distinct v from ({union}) order by 1")
        options[dim] = [] if df is None else [str(v) for v in df["v"]]
    return options


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
        for dim, values in (("platform", platforms), ("country", countries)):
            if values:
                where.append(f"{dim} in ({', '.join('?' * len(values))})")
                params.extend(values)
        # A column the publisher does not (yet) provide reads as null instead of failing.
        sums = ", ".join(
            f"sum({c}) as {c}" if c in available else f"cast(null as double) as {c}"
            for c in ADDITIVE_COLUMNS
        )
        bridge = " - ".join(
            f"coalesce(sum({c}), 0)" for c in (*MOVEMENT_COLUMNS, "fx_adjustment") if c in available
        )
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
    df = _query(source, sql, params)
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return df.reset_index(drop=True)


def _to_datetime(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _to_str(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _to_date(value: Any) -> date:
    return pd.Timestamp(value).date()


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
    where: list[str] = []
    params: list[Any] = []
    for dim, values in (("platform", platforms), ("country", countries)):
        if values:
            where.append(f"{dim} in ({', '.join('?' * len(values))})")
            params.extend(values)
    summed_columns = ("mrr", "paying_customers", *MOVEMENT_COLUMNS, "fx_adjustment")
    # A column the publisher does not (yet) provide reads as 0 in the bridge instead of failing.
    sums = ", ".join(
        f"coalesce(sum({c}), 0) as {c}" if c in available else f"0 as {c}" for c in summed_columns
    )
    moved = " + ".join((*MOVEMENT_COLUMNS, "fx_adjustment"))
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
            {", ".join((*MOVEMENT_COLUMNS, "fx_adjustment"))},
            {" + ".join(MOVEMENT_COLUMNS)} as net_new_mrr,
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
    return None if built is None else _monthly_frame(source, *built)


@st.cache_data(show_spinner=False)
def mrr_bridge_by_segment(
    source: Source,
    month: date,
    platforms: tuple[str, ...] = (),
    countries: tuple[str, ...] = (),
) -> pd.DataFrame | None:
    """The MRR bridge of one month per country × platform segment of the selection."""
    built = _bridge_sql(source, ("country", "platform"), month, month, platforms, countries)
    return None if built is None else _monthly_frame(source, *built)


def _monthly_frame(source: Source, sql: str, params: list[Any]) -> pd.DataFrame | None:
    df = _query(source, sql, params)
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return df.reset_index(drop=True)


# --- Churn scores (the at-risk workspace) --------------------------------------------------

SCORES_TABLE = "ml.churn_scores"
#: Most rows one export may hold (ordered by MRR at risk, so a capped file keeps the riskiest).
EXPORT_ROW_CAP = 1_000_000
#: Reason key of subscribers the model named no stand-out reason for.
NO_REASON = "none"


@dataclass(frozen=True)
class ScoreFilters:
    """A selection of the latest scoring: global segments and the at-risk page's filters."""

    platforms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    risk_bands: tuple[str, ...] = ()
    min_probability: float = 0.0
    min_mrr: float = 0.0
    min_ltv: float = 0.0
    reasons: tuple[str, ...] = ()
    offer_types: tuple[str, ...] = ()


def has_scores(source: Source | None) -> bool:
    """Whether the snapshot has churn scores."""
    return source is not None and SCORES_TABLE in tables(source)


def _reason_sql(source: Source) -> str:
    """The reason key of a row: the group of its top reason (``tenure``, ``engagement``, ...),
    a handful of values, or the top reason's text when the publisher gives no groups."""
    first = (
        "top_reason_groups[1]"
        if "top_reason_groups" in columns(source, SCORES_TABLE)
        else "top_reason"
    )
    return f"coalesce({first}, '{NO_REASON}')"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} in ({', '.join('?' * len(values))})"


def _scores_selection(source: Source, chosen: ScoreFilters) -> tuple[str, list[Any]]:
    """The ONE filter of the at-risk page: a subquery over the latest scoring with every filter
    applied, plus ``reason`` and ``mrr_at_risk``. KPIs, breakdown, list and exports all read it.
    User input only ever reaches DuckDB as parameters."""
    reason = _reason_sql(source)
    where = [
        f"scored_at = (select max(scored_at) from {SCORES_TABLE})",
        "churn_probability >= ?",
        "coalesce(mrr, 0) >= ?",
        "coalesce(predicted_ltv, 0) >= ?",
    ]
    params: list[Any] = [
        float(chosen.min_probability),
        float(chosen.min_mrr),
        float(chosen.min_ltv),
    ]
    for column, values in (
        ("platform", chosen.platforms),
        ("country", chosen.countries),
        ("risk_band", chosen.risk_bands),
        (reason, chosen.reasons),
        ("offer_type", chosen.offer_types),
    ):
        if values:
            where.append(_in(column, values))
            params.extend(values)
    sql = f"""
        select *, {reason} as reason, coalesce(mrr, 0) * churn_probability as mrr_at_risk
        from {SCORES_TABLE}
        where {" and ".join(where)}
    """
    return sql, params


@st.cache_data(show_spinner=False)
def score_options(source: Source) -> dict[str, list[str]]:
    """Distinct risk bands (least to most risky) and reason keys of the latest scoring; empty
    lists without scores."""
    options: dict[str, list[str]] = {"risk_band": [], "reason": []}
    if not has_scores(source):
        return options
    latest = f"from {SCORES_TABLE} where scored_at = (select max(scored_at) from {SCORES_TABLE})"
    queries = {
        "risk_band": f"select risk_band as v {latest} and risk_band is not null"
        " group by 1 order by min(churn_probability), 1",
        "reason": f"select distinct {_reason_sql(source)} as v {latest} order by 1",
    }
    for key, sql in queries.items():
        df = _query(source, sql)
        options[key] = [] if df is None else [str(v) for v in df["v"]]
    return options


@st.cache_data(show_spinner=False)
def score_summary(source: Source, chosen: ScoreFilters) -> dict[str, Any] | None:
    """KPIs of a selection: subscribers, MRR at risk, total MRR, expected churners, and the
    scoring (date, horizon, model). None without scores."""
    if not has_scores(source):
        return None
    selection, params = _scores_selection(source, chosen)
    df = _query(
        source,
        f"""
        select
            count(*) as subscribers,
            coalesce(sum(mrr_at_risk), 0) as mrr_at_risk,
            coalesce(sum(coalesce(mrr, 0)), 0) as mrr,
            coalesce(sum(churn_probability), 0) as expected_churners,
            (select max(scored_at) from {SCORES_TABLE}) as scored_at,
            (select max(horizon_days) from {SCORES_TABLE}
                where scored_at = (select max(scored_at) from {SCORES_TABLE})) as horizon_days,
            (select string_agg(distinct model_version, ', ') from {SCORES_TABLE}
                where scored_at = (select max(scored_at) from {SCORES_TABLE})) as model_version
        from ({selection})
        """,
        params,
    )
    if df is None:
        return None
    row = df.iloc[0]
    return {
        "subscribers": int(row["subscribers"]),
        "mrr_at_risk": float(row["mrr_at_risk"]),
        "mrr": float(row["mrr"]),
        "expected_churners": float(row["expected_churners"]),
        "scored_at": _to_datetime(row["scored_at"]),
        "horizon_days": None if pd.isna(row["horizon_days"]) else int(row["horizon_days"]),
        "model_version": _to_str(row["model_version"]),
    }


@st.cache_data(show_spinner=False)
def reason_breakdown(source: Source, chosen: ScoreFilters) -> pd.DataFrame | None:
    """Per reason key of the selection: subscribers and MRR at risk, most MRR at risk first."""
    if not has_scores(source):
        return None
    selection, params = _scores_selection(source, chosen)
    return _query(
        source,
        f"""
        select reason, count(*) as subscribers, sum(mrr_at_risk) as mrr_at_risk
        from ({selection})
        group by reason
        order by mrr_at_risk desc, subscribers desc, reason
        """,
        params,
    )


#: The subscriber list and the exports, in this order. Only pseudonymous ids and scores.
_LIST_COLUMNS = """
    customer_id, risk_band, churn_probability, mrr, mrr_at_risk,
    predicted_ltv, predicted_ltv_lower, predicted_ltv_upper,
    expected_remaining_months, expected_remaining_months_lower, expected_remaining_months_upper,
    array_to_string(top_reasons, '; ') as top_reasons, reason as top_reason_group,
    offer_type, platform, country
"""
_EXPORT_EXTRA = (
    "scored_at, horizon_days, churn_probability_60d, churn_probability_90d, model_version"
)
_ORDER = "order by mrr_at_risk desc, churn_probability desc, customer_id"


@st.cache_data(show_spinner=False)
def subscriber_page(
    source: Source, chosen: ScoreFilters, page: int, page_size: int
) -> pd.DataFrame | None:
    """One page (1-based) of the selection, ordered by MRR at risk (highest first)."""
    if not has_scores(source):
        return None
    selection, params = _scores_selection(source, chosen)
    return _query(
        source,
        f"select {_LIST_COLUMNS} from ({selection}) {_ORDER} limit ? offset ?",
        [*params, int(page_size), (max(int(page), 1) - 1) * int(page_size)],
    )


def export_selection(source: Source, chosen: ScoreFilters, file_format: str) -> bytes:
    """The whole selection (at most :data:`EXPORT_ROW_CAP` rows, riskiest first) as CSV or
    Parquet bytes, built in DuckDB from the same filter as the list. Not cached: it runs when a
    user clicks a download button."""
    import pyarrow.parquet as pq

    from app.csv_cells import table_csv

    if file_format not in ("csv", "parquet"):
        raise ValueError(f"export format {file_format!r}: csv or parquet")
    selection, params = _scores_selection(source, chosen)
    with duckdb.connect(source.path, read_only=True) as con:
        table = con.sql(
            f"select {_LIST_COLUMNS}, {_EXPORT_EXTRA} from ({selection}) {_ORDER} limit ?",
            params=[*params, EXPORT_ROW_CAP],
        ).to_arrow_table()
    if file_format == "csv":  # text cells escaped against spreadsheet formulas
        return table_csv(table)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


# --- Churn (customer and revenue churn, reasons, scheduled churn) ----------------------------

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
    where: list[str] = []
    params: list[Any] = []
    for dim, values in (("platform", platforms), ("country", countries)):
        if values:
            where.append(_in(dim, values))
            params.extend(values)
    # A column the publisher does not (yet) provide reads as 0 instead of failing.
    sums = ", ".join(
        f"coalesce(sum({c}), 0) as {c}" if c in available else f"0 as {c}" for c in CHURN_COLUMNS
    )
    moved = " + ".join(
        f"coalesce(sum({c}), 0)" for c in (*MOVEMENT_COLUMNS, "fx_adjustment") if c in available
    )
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
    return _monthly_frame(source, sql, [*params, start, end])


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
    return _query(
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
    return _query(
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


def selection_customer_ids(source: Source, chosen: ScoreFilters, limit: int) -> list[str]:
    """The customer ids of the selection, riskiest first, at most `limit` (a campaign's
    members). Not cached: it runs when a user launches a campaign."""
    selection, params = _scores_selection(source, chosen)
    with duckdb.connect(source.path, read_only=True) as con:
        rows = con.execute(
            f"select customer_id from ({selection}) {_ORDER} limit ?", [*params, int(limit)]
        ).fetchall()
    return [r[0] for r in rows]


# --- Retention campaigns (treatment against control) -----------------------------------------

CAMPAIGN_RESULTS_TABLE = "marts.campaign_results"


@st.cache_data(show_spinner=False)
def campaign_results(source: Source) -> pd.DataFrame | None:
    """Per campaign, its treatment and control groups side by side (one row per campaign, newest
    first): members, paying at launch, churned since launch and within 30 / 90 days, MRR at
    launch and now. ``None`` when the table is missing."""
    if CAMPAIGN_RESULTS_TABLE not in tables(source):
        return None
    groups = ("treatment", "control")
    measures = (
        "members", "paying_at_launch", "churned", "churned_within_30d", "churned_within_90d",
        "mrr_at_launch", "mrr_now",
    )  # fmt: skip
    pivot = ", ".join(
        f"coalesce(sum({m}) filter (where experiment_group = '{g}'), 0)::"
        f"{'double' if m.startswith('mrr') else 'bigint'} as {g}_{m}"
        for g in groups
        for m in measures
    )
    df = _query(
        source,
        f"""
        select
            campaign_id,
            any_value(coupon_id) as coupon_id,
            min(launched_at) as launched_at,
            max(observed_days)::integer as observed_days,
            bool_or(observable_30d) as observable_30d,
            bool_or(observable_90d) as observable_90d,
            {pivot}
        from {CAMPAIGN_RESULTS_TABLE}
        group by campaign_id
        order by launched_at desc, campaign_id
        """,
    )
    return df
