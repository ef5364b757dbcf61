"""The churn model lifecycle on the warehouse: train and backtest challengers, promote a champion,
score every live subscriber, and keep the history in `ml.model_runs` and `ml.score_history`.

- Training rows: `marts.customer_months` rows whose 30-day label is observable, a deterministic
  sample of at most `max_rows` (by a hash of customer and month, so reruns pick the same rows).
- Backtest: each model kind is trained at each of the last `origins` month ends that have labelled
  history before them and is tested on the customers live at that month end (models.evaluation);
  the pooled metrics decide (`ml.model_runs`; per origin in `ml.backtests`, the pooled
  reliability table in `ml.calibration_curves`). The better kind is the challenger; it replaces the champion only by
  `should_promote` (a suspected leak, ROC AUC above 0.95, is never promoted).
- The promoted bundle holds one calibrated classifier per horizon (30, 60, 90 days) and a Weibull
  AFT survival model on the customer's plan, platform and country for the expected remaining
  months, with intervals. Artifacts are versioned under `<home>/models/`; the survival model's
  parameters are published with each scoring (`ml.survival_parameters`, see
  models.survival_parameters), the dashboards draw a customer's curve from them.
- Scoring: the as-of month rows of `customer_months` (every live subscriber at the as-of date).
  Predicted LTV = current MRR x expected remaining months within 36 months (undiscounted), with
  the interval of the remaining months. Expected remaining months = the 30-day churn
  probability p times half a month + (1 - p) times (1 + the survival model's remaining months
  for a customer still there next month): the classifier knows the near-term signals (a pending
  cancellation, a failed renewal), the survival model the long-run shape of the plan. The
  interval carries the survival model's parameter uncertainty, not that of p.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from lifelines.utils import concordance_index

from models import store
from models.classifier import ChurnClassifier
from models.curves import monthly_lifetimes
from models.evaluation import rolling_backtest, should_promote, suspected_leak
from models.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from models.run_metrics import POOLED_METRICS
from models.survival import ParametricAFT
from models.survival_parameters import SURVIVAL_COVARIATES, parameter_table
from models.survival_parameters import TABLE as SURVIVAL_PARAMETERS

log = logging.getLogger(__name__)

HORIZONS = (30, 60, 90)
KINDS = ("logistic", "gbm")
LIFETIME_HORIZON_MONTHS = 36
# risk bands on the 30-day probability; about 4 % of live subscribers churn in a month
RISK_BANDS = ((0.15, "high"), (0.05, "medium"), (0.0, "low"))
BUNDLE_FORMAT = 1
MIN_CHURNED = 50  # churned customer months needed before a model is trained


@dataclass(frozen=True)
class TrainingResult:
    model_version: str
    model_type: str
    promoted: bool
    runs: pd.DataFrame


def training_frame(con, max_rows: int = 400_000) -> pd.DataFrame:
    """Rows of customer_months with an observable 30-day label: at most about `max_rows`."""
    total = con.execute(
        "select count(*) from marts.customer_months where label_observable_30d"
    ).fetchone()[0]
    if total == 0:
        raise LookupError("no customer month has an observable label yet: need more history")
    churned = con.execute(
        "select count(*) from marts.customer_months "
        "where label_observable_30d and churned_within_30d"
    ).fetchone()[0]
    if churned < MIN_CHURNED:
        raise LookupError(
            f"only {churned} churned customer months with a known label (need {MIN_CHURNED})"
        )
    keep = min(1.0, max_rows / total)
    return con.execute(
        """select * from marts.customer_months
           where label_observable_30d
             and (hash(customer_id, month) % 1000000) < ?""",
        [int(keep * 1_000_000)],
    ).df()


def backtest_origins(frame: pd.DataFrame, horizon_days: int, count: int) -> list[pd.Timestamp]:
    """The last `count` month ends with observable labels and at least two labelled months
    before them (the model needs history to learn from)."""
    month_ends = sorted(pd.to_datetime(frame["month_end"]).unique())
    usable = [
        m
        for m in month_ends
        if sum(e + pd.Timedelta(days=horizon_days) <= m for e in month_ends) >= 2
    ]
    if not usable:
        raise LookupError("not enough labelled months for a backtest")
    return usable[-count:]


def survival_covariates(frame: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """One-hot plan, platform and country (the first level of each left out, as a baseline);
    with `columns` the same layout as at training (unseen categories are all zeros)."""
    data = frame[list(SURVIVAL_COVARIATES)].fillna("unknown").astype(str)
    encoded = pd.get_dummies(data, drop_first=columns is None, dtype=float)
    if columns is not None:
        encoded = encoded.reindex(columns=columns, fill_value=0.0)
    return encoded


def fit_survival(customers: pd.DataFrame, max_rows: int = 200_000, seed: int = 0) -> dict:
    """Weibull AFT on monthly lifetimes; concordance measured on a 20 % hold-out of customers."""
    sample = customers.sample(n=min(max_rows, len(customers)), random_state=seed)
    periods, churned = monthly_lifetimes(sample)
    X = survival_covariates(sample)
    # categories too rare to estimate are dropped (a column with a handful of ones is unstable)
    X = X.loc[:, X.sum() >= 30]
    holdout = np.random.default_rng(seed).random(len(sample)) < 0.2
    fit_rows = ~holdout
    model = ParametricAFT("weibull").fit(X[fit_rows], periods[fit_rows], churned[fit_rows])
    test_X = X[holdout].reset_index(drop=True)
    expected = model.expected_remaining(test_X, 0, horizon=LIFETIME_HORIZON_MONTHS)
    concordance = concordance_index(
        periods[holdout], expected["expected_remaining"].to_numpy(), churned[holdout]
    )
    model = ParametricAFT("weibull").fit(X, periods, churned)
    return {"model": model, "columns": list(X.columns), "concordance": float(concordance)}


def train(
    con, artifacts: Path, max_rows: int = 400_000, origins: int = 3, now: datetime | None = None
) -> TrainingResult:
    """Backtest both kinds, fit the better one, promote it if it beats the champion."""
    now = now or datetime.now(UTC)
    frame = training_frame(con, max_rows)
    origin_dates = backtest_origins(frame, 30, origins)
    backtests = {
        kind: rolling_backtest(
            frame,
            lambda kind=kind: ChurnClassifier(kind, 30),
            30,
            origin_dates,
            calibration_bins=10,
        )
        for kind in KINDS
    }
    challenger = KINDS[0]
    for kind in KINDS[1:]:
        if should_promote(backtests[kind], backtests[challenger]):
            challenger = kind
    champion = current_champion(con)
    if champion is not None and usable_bundle(champion) is None:
        champion = None  # its features are gone: it cannot score any more, whatever its metrics
    promote = should_promote(backtests[challenger], champion["metrics"] if champion else None)
    version = f"{now:%Y%m%dT%H%M%S}-{challenger}"
    survival = fit_survival(store.survival_input(con))
    bundle = {
        "format": BUNDLE_FORMAT,
        "features": feature_signature(),
        "model_version": version,
        "classifiers": {h: ChurnClassifier(challenger, h).fit(frame) for h in HORIZONS},
        "survival": survival,
        "trained_at": now,
    }
    artifacts.mkdir(parents=True, exist_ok=True)
    path = artifacts / f"churn-{version}.joblib"
    joblib.dump(bundle, path)
    runs = []
    for kind, table in backtests.items():
        pooled = table[table["scope"] == "pooled"].iloc[0]
        runs.append(
            {
                "model_version": f"{now:%Y%m%dT%H%M%S}-{kind}",
                "model_type": kind,
                "trained_at": now.replace(tzinfo=None),
                "horizon_days": 30,
                "training_rows": len(frame),
                "backtest_origins": ", ".join(str(o.date()) for o in origin_dates),
                "backtest_rows": int(pooled["n_test"]),
                **{m: float(pooled[m]) for m in POOLED_METRICS},
                "calibration_error": float(pooled["ece"]),
                "concordance": survival["concordance"],
                "suspected_leak": suspected_leak(table),
                "is_challenger": kind == challenger,
                "is_champion": False,
                "artifact": str(path) if kind == challenger else None,
            }
        )
    runs_frame = pd.DataFrame(runs)
    versions = {run["model_type"]: run["model_version"] for run in runs}
    per_origin = pd.concat(
        [_tagged(table, versions[kind], kind) for kind, table in backtests.items()]
    )
    reliability = pd.concat(
        [
            _tagged(table.attrs["calibration"], versions[kind], kind)
            for kind, table in backtests.items()
        ]
    )
    with store.transaction(con):  # a training is recorded whole or not at all
        store.append_rows(con, "model_runs", runs_frame)
        store.append_rows(con, "backtests", per_origin)
        store.append_rows(con, "calibration_curves", reliability)
        if promote:  # should_promote: a suspected leak never, even with no champion
            con.execute("update ml.model_runs set is_champion = (model_version = ?)", [version])
    log.info("trained %s (promoted: %s)", version, promote)
    return TrainingResult(version, challenger, bool(promote), runs_frame)


def _tagged(table: pd.DataFrame, version: str, kind: str) -> pd.DataFrame:
    out = table.copy()
    out.attrs = {}  # the calibration table rides on the backtest's attrs; stored on its own
    out.insert(0, "model_type", kind)
    out.insert(0, "model_version", version)
    return out


def current_champion(con) -> dict | None:
    runs = store.read_table(con, "model_runs")
    if runs is None or not runs["is_champion"].any():
        return None
    row = runs[runs["is_champion"]].iloc[-1]
    return {
        "model_version": row["model_version"],
        "artifact": row["artifact"],
        "metrics": row.to_dict(),
    }


def risk_band(probability: np.ndarray) -> np.ndarray:
    bands = np.full(probability.shape, RISK_BANDS[-1][1], dtype=object)
    for threshold, name in reversed(RISK_BANDS[:-1]):
        bands[probability >= threshold] = name
    return bands


def scoring_frame(con) -> pd.DataFrame:
    """Every live subscriber at the as-of date (the as-of month's rows), with their country."""
    return con.execute(
        """select months.*, coalesce(customers.country, 'unknown') as country
           from marts.customer_months as months
           left join marts.dim_customers as customers using (customer_id)
           where months.month_end = (select max(month_end) from marts.customer_months)"""
    ).df()


def score(con, bundle: dict[str, Any]) -> pd.DataFrame:
    """`ml.churn_scores` rows for every live subscriber, from a trained bundle."""
    frame = scoring_frame(con)
    classifiers = bundle["classifiers"]
    p30, reasons = classifiers[30].predict_explain(frame, top=3)
    out = pd.DataFrame(
        {
            "customer_id": frame["customer_id"],
            "scored_at": pd.to_datetime(frame["month_end"]),
            "horizon_days": 30,
            "churn_probability": p30,
            **{
                f"churn_probability_{h}d": classifiers[h].predict_proba(frame)
                for h in HORIZONS
                if h != 30
            },
            "risk_band": risk_band(p30),
        }
    )
    # the next month from the classifier (a churner leaves, on average, mid-month), the months
    # after it from the survival model given that the customer is still there next month
    beyond = expected_remaining_months(bundle["survival"], frame, months_ahead=1)
    mrr = frame["mrr"].astype(float).to_numpy()
    for column, source in (
        ("expected_remaining_months", "expected_remaining"),
        ("expected_remaining_months_lower", "ci_lower"),
        ("expected_remaining_months_upper", "ci_upper"),
    ):
        out[column] = p30 * 0.5 + (1 - p30) * (1 + beyond[source].to_numpy())
    out["mrr"] = mrr
    out["predicted_ltv"] = mrr * out["expected_remaining_months"]
    out["predicted_ltv_lower"] = mrr * out["expected_remaining_months_lower"]
    out["predicted_ltv_upper"] = mrr * out["expected_remaining_months_upper"]
    out["top_reasons"] = [[text for _, _, text in row] for row in reasons]
    out["top_reason_groups"] = [[group for group, _, _ in row] for row in reasons]
    out["top_reason"] = [row[0][2] if row else None for row in reasons]
    for column in ("offer_type", "platform", "country"):
        out[column] = frame[column].to_numpy()
    out["model_version"] = bundle["model_version"]
    return out


def expected_remaining_months(
    survival: dict, frame: pd.DataFrame, months_ahead: int = 0
) -> pd.DataFrame:
    """Restricted mean remaining months (within 36 from now) of a customer still there
    `months_ahead` months from now, counted from then, with its interval; computed once per
    distinct (covariates, tenure) and mapped back to the rows."""
    tenure = months_ahead + np.floor(
        frame["paid_tenure_days"].fillna(0).to_numpy(dtype=float) / 30.4375
    )
    keys = frame[list(SURVIVAL_COVARIATES)].fillna("unknown").astype(str).assign(tenure=tenure)
    inverse = keys.groupby(list(keys.columns), sort=False).ngroup().to_numpy()
    first = pd.Series(np.arange(len(keys))).groupby(inverse).first().to_numpy()
    distinct = keys.iloc[first].reset_index(drop=True)
    X = survival_covariates(distinct, survival["columns"])
    result = survival["model"].expected_remaining(
        X,
        distinct["tenure"].astype(np.int64).to_numpy(),
        horizon=LIFETIME_HORIZON_MONTHS - months_ahead,
    )
    return result.iloc[inverse].reset_index(drop=True)


def score_summary(scores: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """Counts of the 30-day probability in fixed bins: the drift check compares two of these."""
    edges = np.linspace(0, 1, bins + 1)
    counts, _ = np.histogram(scores["churn_probability"].to_numpy(), bins=edges)
    return pd.DataFrame(
        {
            "scored_at": scores["scored_at"].iloc[0] if len(scores) else pd.NaT,
            "model_version": scores["model_version"].iloc[0] if len(scores) else None,
            "bin": np.arange(bins),
            "lower": edges[:-1],
            "customers": counts,
            "mean_probability": float(scores["churn_probability"].mean())
            if len(scores)
            else np.nan,
        }
    )


def feature_signature() -> list[str]:
    """The feature set of this code: a bundle trained on another one must be retrained."""
    return [f.name for f in NUMERIC_FEATURES] + [f.column for f in CATEGORICAL_FEATURES]


def usable_bundle(champion: dict | None) -> dict[str, Any] | None:
    """The champion's bundle, or None when there is no champion, its artifact is gone, or it was
    trained on another feature set (after an upgrade that changes the features, the model must
    be retrained before it can score)."""
    path = Path((champion or {}).get("artifact") or "")
    if not path.is_file():
        return None
    bundle = load_bundle(path)
    return bundle if bundle.get("features") == feature_signature() else None


def load_bundle(path: str | Path) -> dict[str, Any]:
    bundle = joblib.load(path)
    if bundle.get("format") != BUNDLE_FORMAT:
        raise ValueError(f"{path}: model bundle format {bundle.get('format')} is not supported")
    return bundle


def score_and_publish(
    con, artifacts: Path, max_rows: int = 400_000, max_age_days: int = 7
) -> dict[str, Any]:
    """Score with the champion and publish. Train first when there is no usable champion (none
    yet, its artifact gone, or trained on another feature set) or the last training is older
    than `max_age_days` (the weekly retraining, for homes run by `churniq run` alone)."""
    champion = current_champion(con)
    last_trained = (
        con.execute("select max(trained_at) from ml.model_runs").fetchone()[0] if champion else None
    )
    stale = last_trained is not None and (
        pd.Timestamp(datetime.now(UTC).replace(tzinfo=None)) - pd.Timestamp(last_trained)
        > pd.Timedelta(days=max_age_days)
    )
    bundle = usable_bundle(champion)
    if bundle is None or stale:
        try:
            train(con, artifacts, max_rows=max_rows)
        except LookupError as why:  # too little history yet: keep the champion, if any
            log.warning("churn model not trained: %s", why)
        bundle = usable_bundle(current_champion(con))
    if bundle is None:
        return {"scored": 0, "model_version": None, "high_risk": 0}
    scores = score(con, bundle)
    store.write_table(con, "churn_scores", scores)
    # what the dashboards need to draw a customer's survival curve without the model file
    store.write_table(
        con,
        SURVIVAL_PARAMETERS,
        parameter_table(bundle["survival"]["model"], bundle["model_version"]),
    )
    summary = score_summary(scores)
    with store.transaction(con):  # a rerun of the same day replaces that day's distribution
        if len(scores) and store.table_exists(con, "score_history"):
            scored_at = scores["scored_at"].iloc[0]
            con.execute("delete from ml.score_history where scored_at = ?", [scored_at])
        store.append_rows(con, "score_history", summary)
    return {
        "scored": len(scores),
        "model_version": bundle["model_version"],
        "high_risk": int((scores["risk_band"] == "high").sum()),
    }
