"""Queries of the "Models" page: model runs and backtests, calibration bins, score history, and
(on simulated data) the simulator's ground truth under ``$CHURNIQ_HOME/ground_truth/``.

Same rules as :mod:`app.data`: cached on the snapshot's :class:`Source`, read through ``_query``
(fresh read-only connection), aggregated in DuckDB, ``None`` when a table is missing. The ground
truth parquet files are read with ``read_parquet`` on that same read-only connection (so the
latest scores can be joined to them) and the cache also keys on the files' mtimes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.data.snapshot import Source, columns, home, query, tables
from foundation.home import Home
from models.checks import population_stability
from models.run_metrics import RUN_METRICS

RUNS_TABLE = "ml.model_runs"
BACKTESTS_TABLE = "ml.backtests"
CALIBRATION_TABLE = "ml.calibration_curves"
HISTORY_TABLE = "ml.score_history"
SCORES_TABLE = "ml.churn_scores"
#: Most scorings the drift section reads (the latest ones).
MAX_SCORINGS = 12


@st.cache_data(show_spinner=False)
def model_runs(source: Source) -> pd.DataFrame | None:
    """Every trained model version, newest first, with its backtest metrics and flags (columns
    the publisher does not provide read as null)."""
    if RUNS_TABLE not in tables(source):
        return None
    available = set(columns(source, RUNS_TABLE))
    wanted = {
        "model_version": "varchar",
        "model_type": "varchar",
        "trained_at": "timestamp",
        "horizon_days": "bigint",
        "training_rows": "bigint",
        "backtest_origins": "varchar",
        "backtest_rows": "bigint",
        **{m: "double" for m in RUN_METRICS},
        "suspected_leak": "boolean",
        "is_champion": "boolean",
        "is_challenger": "boolean",
    }
    select = ", ".join(
        f"{c}::{t} as {c}" if c in available else f"cast(null as {t}) as {c}"
        for c, t in wanted.items()
    )
    return query(
        source,
        f"select {select} from {RUNS_TABLE} order by trained_at desc nulls last, model_version",
    )


@st.cache_data(show_spinner=False)
def backtests(source: Source) -> pd.DataFrame | None:
    """Backtest metrics per model version and origin (scope ``origin``), oldest origin first."""
    if BACKTESTS_TABLE not in tables(source):
        return None
    available = set(columns(source, BACKTESTS_TABLE))
    metrics = [
        c
        for c in ("n", "positives", "roc_auc", "pr_auc", "brier", "brier_skill", "base_rate")
        + ("top_decile_lift", "top_decile_capture", "ece")
        if c in available
    ]
    scope = "where scope = 'origin'" if "scope" in available else ""
    return query(
        source,
        f"""
        select model_version, model_type, origin::date as origin, {", ".join(metrics)}
        from {BACKTESTS_TABLE}
        {scope}
        order by model_version, origin
        """,
    )


@st.cache_data(show_spinner=False)
def calibration(source: Source, model_version: str) -> pd.DataFrame | None:
    """The reliability bins of one model version (equal-count bins of the backtest
    predictions, ``models.evaluation.calibration_curve``)."""
    if CALIBRATION_TABLE not in tables(source):
        return None
    return query(
        source,
        f"""
        select bin::bigint as bin, n::bigint as n, p_min::double as p_min,
               p_max::double as p_max, mean_predicted::double as mean_predicted,
               observed_rate::double as observed_rate
        from {CALIBRATION_TABLE}
        where model_version = ?
        order by bin
        """,
        [model_version],
    )


@st.cache_data(show_spinner=False)
def calibration_versions(source: Source) -> list[str]:
    if CALIBRATION_TABLE not in tables(source):
        return []
    df = query(source, f"select distinct model_version from {CALIBRATION_TABLE} order by 1")
    return [] if df is None else [str(v) for v in df["model_version"]]


@st.cache_data(show_spinner=False)
def score_history(source: Source, max_scorings: int = MAX_SCORINGS) -> pd.DataFrame | None:
    """Customers per fixed probability bin of the latest `max_scorings` scorings, with each
    scoring's mean probability and share of customers per bin."""
    if HISTORY_TABLE not in tables(source):
        return None
    df = query(
        source,
        f"""
        with latest as (
            select distinct scored_at from {HISTORY_TABLE} order by scored_at desc limit ?
        )
        select h.scored_at, any_value(h.model_version) over (partition by h.scored_at)
                   as model_version,
               h.bin::bigint as bin, h.lower::double as lower,
               h.customers::bigint as customers,
               (h.customers / nullif(sum(h.customers) over (partition by h.scored_at), 0))::double
                   as share,
               h.mean_probability::double as mean_probability
        from {HISTORY_TABLE} as h
        inner join latest using (scored_at)
        order by h.scored_at, h.bin
        """,
        [int(max_scorings)],
    )
    if df is None:
        return None
    df["scored_at"] = pd.to_datetime(df["scored_at"])
    return df.reset_index(drop=True)


def drift_table(history: pd.DataFrame) -> pd.DataFrame:
    """PSI of each scoring against the previous one (``models.checks.population_stability``,
    as the pipeline's drift check, on the customer counts per fixed bin: its inputs are exactly
    these counts)."""
    rows = []
    scorings = sorted(history["scored_at"].unique())
    for previous, current in zip(scorings, scorings[1:], strict=False):
        before = history[history["scored_at"] == previous].sort_values("bin")
        after = history[history["scored_at"] == current].sort_values("bin")
        merged = before[["bin", "customers"]].merge(
            after[["bin", "customers"]], on="bin", how="outer", suffixes=("_before", "_after")
        )
        merged = merged.fillna(0)
        rows.append(
            {
                "previous_scoring": pd.Timestamp(previous),
                "scoring": pd.Timestamp(current),
                "customers_before": int(before["customers"].sum()),
                "customers": int(after["customers"].sum()),
                "mean_probability_before": float(before["mean_probability"].iloc[0]),
                "mean_probability": float(after["mean_probability"].iloc[0]),
                "psi": population_stability(
                    merged["customers_before"].to_numpy(dtype=float),
                    merged["customers_after"].to_numpy(dtype=float),
                ),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "previous_scoring",
            "scoring",
            "customers_before",
            "customers",
            "mean_probability_before",
            "mean_probability",
            "psi",
        ],
    )


def lift_frame(bins: pd.DataFrame) -> pd.DataFrame:
    """Lift per calibration bin = observed rate ÷ overall base rate (Σ n × observed ÷ Σ n).
    Meaningful because the bins hold equal counts of backtest predictions (deciles of the
    predicted probability), so bin 9 is the top decile."""
    total = float(bins["n"].sum())
    base = float((bins["n"] * bins["observed_rate"]).sum() / total) if total else float("nan")
    out = bins[["bin", "n", "p_min", "p_max", "mean_predicted", "observed_rate"]].copy()
    out["base_rate"] = base
    out["lift"] = out["observed_rate"] / base if base else np.nan
    return out


# --- Ground truth of the simulator -----------------------------------------------------------


@dataclass(frozen=True)
class TruthFiles:
    """The simulator's ground truth files of this home and their identity for the cache."""

    months: str  # *-customer_month_truth.parquet: customer × month start, true propensity
    customers: str  # *-customers.parquet: one row per customer, churned / churn_date
    window_end: date | None  # the simulated window's end (manifest), None when unknown
    version: str  # mtimes of the files: a new simulation means new cache keys


def truth_files(root: Path | None = None) -> TruthFiles | None:
    """The newest simulation's ground truth under ``$CHURNIQ_HOME/ground_truth/``; None on real
    data (no such files)."""
    folder = Home(root or home()).ground_truth
    try:
        monthly = sorted(
            folder.glob("*-customer_month_truth.parquet"), key=lambda p: p.stat().st_mtime_ns
        )
    except OSError:
        return None
    if not monthly:
        return None
    months = monthly[-1]
    prefix = months.name.removesuffix("-customer_month_truth.parquet")
    customers = folder / f"{prefix}-customers.parquet"
    if not customers.is_file():
        return None
    window_end = None
    manifest = folder / f"{prefix}-manifest.json"
    try:
        window_end = date.fromisoformat(json.loads(manifest.read_text())["window_end"][:10])
    except (OSError, ValueError, KeyError, TypeError):
        window_end = None
    version = "-".join(str(p.stat().st_mtime_ns) for p in (months, customers))
    return TruthFiles(str(months), str(customers), window_end, version)


def _outcomes_sql(horizon_param: str = "?") -> str:
    """Truth rows with the true outcome: the customer churned (their last subscription ended)
    in [as_of, as_of + horizon days), as the model's label (month_end, month_end + horizon]."""
    return f"""
        labelled as (
            select t.customer_id, t.as_of, t.churn_propensity_30d::double as p,
                   coalesce(c.churned and c.churn_date >= t.as_of
                       and c.churn_date < t.as_of + {horizon_param}::integer, false)::integer as y
            from truth as t
            left join read_parquet(?) as c using (customer_id)
        )
    """


#: AUC by Mann–Whitney with average ranks for ties, Brier score, per `group`.
_AUC_SQL = """
    , ranked as (
        select *, rank() over (partition by grp order by score)
                  + (count(*) over (partition by grp, score) - 1) / 2.0 as avg_rank
        from scored
    )
    select grp, count(*)::bigint as n, sum(y)::bigint as positives,
           avg(y)::double as base_rate, avg(score)::double as mean_score,
           avg((score - y) * (score - y))::double as brier,
           ((sum(case when y = 1 then avg_rank end) - sum(y) * (sum(y) + 1) / 2.0)
               / nullif(sum(y) * (count(*) - sum(y)), 0))::double as roc_auc
    from ranked
    group by grp
    order by grp
"""


def observable(truth: TruthFiles, as_of: date, horizon_days: int) -> bool:
    """Whether the true outcome of `as_of` is known: its horizon ends inside the window."""
    return truth.window_end is not None and as_of + timedelta(days=horizon_days) <= truth.window_end


@st.cache_data(show_spinner=False)
def truth_benchmark(
    source: Source, truth: TruthFiles, as_of_dates: tuple[date, ...], horizon_days: int
) -> pd.DataFrame | None:
    """Per as-of date: customers, true outcomes (churned within `horizon_days`), the base rate,
    and how the simulator's true 30-day probability scores them (mean, Brier, ROC AUC)."""
    if not as_of_dates:
        return pd.DataFrame(
            columns=["as_of", "n", "positives", "base_rate", "mean_score", "brier", "roc_auc"]
        )
    sql = f"""
        with truth as (
            select * from read_parquet(?)
            where as_of in ({", ".join("?" * len(as_of_dates))})
        ),
        {_outcomes_sql()},
        scored as (select as_of as grp, p as score, y from labelled)
        {_AUC_SQL}
    """
    df = query(source, sql, [truth.months, *as_of_dates, int(horizon_days), truth.customers])
    if df is None:
        return None
    return df.rename(columns={"grp": "as_of"}).assign(as_of=lambda d: pd.to_datetime(d["as_of"]))


@st.cache_data(show_spinner=False)
def scores_against_truth(
    source: Source, truth: TruthFiles, horizon_days: int, bins: int = 10
) -> dict[str, Any] | None:
    """The latest scoring against the truth of the day after its scoring date (a scoring at a
    month end is the simulator's snapshot of the next month start): per equal-count bin of the
    predicted probability, the mean predicted and the mean true probability; and the ROC AUC
    and Brier of the scores and of the truth on the true outcomes when those are known.
    ``None`` without scores; ``{"as_of": ..., "matched": 0}`` when the truth has no row for it."""
    if SCORES_TABLE not in tables(source):
        return None
    latest = query(source, f"select max(scored_at)::date as d from {SCORES_TABLE}")
    if latest is None or latest.empty or pd.isna(latest["d"].iloc[0]):
        return None
    as_of = pd.Timestamp(latest["d"].iloc[0]).date() + timedelta(days=1)
    joined = f"""
        with truth as (select * from read_parquet(?) where as_of = ?),
        {_outcomes_sql()},
        scores as (
            select customer_id, churn_probability::double as predicted
            from {SCORES_TABLE}
            where scored_at = (select max(scored_at) from {SCORES_TABLE})
        ),
        matched as (
            select s.predicted, l.p, l.y from scores as s inner join labelled as l using (customer_id)
        )
    """
    params = [truth.months, as_of, int(horizon_days), truth.customers]
    bins_df = query(
        source,
        f"""
        {joined}
        select bin::bigint as bin, count(*)::bigint as n, avg(predicted)::double as mean_predicted,
               avg(p)::double as mean_true_probability, min(predicted)::double as p_min,
               max(predicted)::double as p_max
        from (select *, ntile(?) over (order by predicted) - 1 as bin from matched)
        group by bin
        order by bin
        """,
        [*params, int(bins)],
    )
    if bins_df is None:
        return None
    result: dict[str, Any] = {
        "as_of": as_of,
        "matched": int(bins_df["n"].sum()) if not bins_df.empty else 0,
        "bins": bins_df,
        "outcomes": None,
    }
    if result["matched"] and observable(truth, as_of, horizon_days):
        result["outcomes"] = query(
            source,
            f"""
            {joined},
            scored as (
                select 'model' as grp, predicted as score, y from matched
                union all
                select 'truth' as grp, p as score, y from matched
            )
            {_AUC_SQL}
            """,
            params,
        )
    return result
