"""Cached queries of the "At-risk subscribers" page: the latest scoring under the page's
filters (KPIs, reasons, the list, exports) and the retention campaigns launched from it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from app.data.snapshot import (
    Source,
    columns,
    in_list,
    query,
    tables,
    to_datetime,
    to_str,
)

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
            where.append(in_list(column, values))
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
        df = query(source, sql)
        options[key] = [] if df is None else [str(v) for v in df["v"]]
    return options


@st.cache_data(show_spinner=False)
def score_summary(source: Source, chosen: ScoreFilters) -> dict[str, Any] | None:
    """KPIs of a selection: subscribers, MRR at risk, total MRR, expected churners, and the
    scoring (date, horizon, model). None without scores."""
    if not has_scores(source):
        return None
    selection, params = _scores_selection(source, chosen)
    df = query(
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
        "scored_at": to_datetime(row["scored_at"]),
        "horizon_days": None if pd.isna(row["horizon_days"]) else int(row["horizon_days"]),
        "model_version": to_str(row["model_version"]),
    }


@st.cache_data(show_spinner=False)
def reason_breakdown(source: Source, chosen: ScoreFilters) -> pd.DataFrame | None:
    """Per reason key of the selection: subscribers and MRR at risk, most MRR at risk first."""
    if not has_scores(source):
        return None
    selection, params = _scores_selection(source, chosen)
    return query(
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
    return query(
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


def selection_customer_ids(source: Source, chosen: ScoreFilters, limit: int) -> list[str]:
    """The customer ids of the selection, riskiest first, at most `limit` (a campaign's
    members). Not cached: it runs when a user launches a campaign."""
    selection, params = _scores_selection(source, chosen)
    with duckdb.connect(source.path, read_only=True) as con:
        rows = con.execute(
            f"select customer_id from ({selection}) {_ORDER} limit ?", [*params, int(limit)]
        ).fetchall()
    return [r[0] for r in rows]


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
    df = query(
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
