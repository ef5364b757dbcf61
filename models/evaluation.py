"""Evaluating churn classifiers: metrics, calibration tables, rolling-origin backtests, promotion.

A backtest replays what would have happened had the model been trained at each origin date:
it may learn only from rows whose label was already known then (month_end + horizon <= origin),
and is scored on the customers live at the origin. This is the leakage rule; a random split of
customer-months would let the model learn from the future of the very months it is tested on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.checks import check_probabilities, expected_calibration_error
from models.features import as_pandas, labels, observable
from models.run_metrics import POOLED_METRICS

LEAK_AUC = 0.95
METRIC_NAMES = (*POOLED_METRICS, "ece")


class ChurnModel(Protocol):
    """What a backtest needs from a model: fit on customer_months rows, score rows."""

    def fit(self, frame: Any) -> Any: ...

    def predict_proba(self, frame: Any) -> np.ndarray: ...


def _outcomes(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    yy = np.asarray(y).astype(float).ravel()
    pp = np.asarray(p, dtype=float).ravel()
    if yy.size != pp.size or yy.size == 0:
        raise ValueError(f"need as many outcomes as predictions, got {yy.size} and {pp.size}")
    check_probabilities(pp, "predicted")
    if np.any((yy != 0) & (yy != 1)):
        raise ValueError("outcomes must be 0/1 or bool")
    return yy, pp


def top_decile(y: Any, p: Any) -> tuple[float, float]:
    """(lift, capture) of the 10 % highest scores: their churn rate / the base rate, and their
    share of all churners. The top decile is ceil(n / 10) rows; ties at its edge are broken by
    row order (a stable sort), so heavily tied scores make it depend on the order."""
    yy, pp = _outcomes(y, p)
    k = math.ceil(yy.size / 10)
    top = np.argsort(-pp, kind="stable")[:k]
    positives = yy.sum()
    if positives == 0:
        return math.nan, math.nan
    return float(yy[top].mean() / yy.mean()), float(yy[top].sum() / positives)


def classification_metrics(y: Any, p: Any) -> dict[str, float]:
    """Ranking, probability and targeting quality of churn probabilities `p` for outcomes `y`.

    roc_auc and pr_auc (average precision) are NaN when only one class is present; brier_skill
    compares with always predicting the base rate (1 - brier / (base_rate * (1 - base_rate))),
    so 0 means no better than the average and 1 perfect; ece uses 10 equal-count bins.
    """
    yy, pp = _outcomes(y, p)
    base = float(yy.mean())
    both = 0 < base < 1
    brier = float(np.mean((pp - yy) ** 2))
    reference = base * (1 - base)
    lift, capture = top_decile(yy, pp)
    return {
        "n": int(yy.size),
        "positives": int(yy.sum()),
        "roc_auc": float(roc_auc_score(yy, pp)) if both else math.nan,
        "pr_auc": float(average_precision_score(yy, pp)) if both else math.nan,
        "brier": brier,
        "brier_skill": 1 - brier / reference if reference > 0 else math.nan,
        "base_rate": base,
        "top_decile_lift": lift,
        "top_decile_capture": capture,
        "ece": expected_calibration_error(pp, yy, 10),
    }


def calibration_curve(y: Any, p: Any, bins: int = 10) -> pd.DataFrame:
    """Reliability table over equal-count bins of the prediction (the bins of the ECE).

    One row per bin: `bin`, `n`, `p_min`, `p_max`, `mean_predicted`, `observed_rate`, `gap`
    (observed - predicted).
    """
    yy, pp = _outcomes(y, p)
    order = np.argsort(pp, kind="stable")
    rows = []
    for i, part in enumerate(np.array_split(order, min(bins, pp.size))):
        predicted, observed = float(pp[part].mean()), float(yy[part].mean())
        rows.append(
            {
                "bin": i,
                "n": int(part.size),
                "p_min": float(pp[part].min()),
                "p_max": float(pp[part].max()),
                "mean_predicted": predicted,
                "observed_rate": observed,
                "gap": observed - predicted,
            }
        )
    return pd.DataFrame(rows)


def backtest_split(frame: Any, horizon_days: int, origin: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) at one origin, by the leakage rule.

    train: observable rows with month_end + horizon_days <= origin (their label was known at the
    origin; so no row after the origin, nor one whose churn window reaches past it, is used).
    test: observable rows with month_end == origin.
    """
    df = as_pandas(frame)
    month_end = pd.to_datetime(df["month_end"])
    origin = pd.Timestamp(origin)
    known = observable(df, horizon_days)
    train = known & (month_end + pd.Timedelta(days=horizon_days) <= origin).to_numpy()
    test = known & (month_end == origin).to_numpy()
    return df.loc[train].reset_index(drop=True), df.loc[test].reset_index(drop=True)


def rolling_backtest(
    frame: Any,
    make_model: Callable[[], ChurnModel],
    horizon_days: int,
    origins: Iterable[Any],
    calibration_bins: int = 0,
) -> pd.DataFrame:
    """Train a fresh model at each origin and test it on the customers live at the origin.

    Returns one row per origin (`scope` = "origin") with `n_train`, `n_test` and the metrics of
    `classification_metrics`, then one `scope` = "pooled" row: the metrics over all origins'
    test rows together (origin NaT). With `calibration_bins`, the pooled reliability table
    (`calibration_curve`) is in the result's `attrs["calibration"]`.
    """
    df = as_pandas(frame)
    rows, pooled_y, pooled_p = [], [], []
    for origin in sorted(pd.Timestamp(o) for o in origins):
        train, test = backtest_split(df, horizon_days, origin)
        if len(train) == 0 or len(test) == 0:
            raise ValueError(
                f"origin {origin.date()}: {len(train)} training and {len(test)} test rows; "
                "pick origins with labelled history before them and observable rows on them"
            )
        model = make_model()
        model.fit(train)
        p = np.asarray(model.predict_proba(test), dtype=float)
        y = labels(test, horizon_days)
        pooled_y.append(y)
        pooled_p.append(p)
        rows.append(
            {
                "scope": "origin",
                "origin": origin,
                "n_train": len(train),
                "n_test": len(test),
                **classification_metrics(y, p),
            }
        )
    if not rows:
        raise ValueError("no origins given")
    y_all, p_all = np.concatenate(pooled_y), np.concatenate(pooled_p)
    rows.append(
        {
            "scope": "pooled",
            "origin": pd.NaT,
            "n_train": math.nan,
            "n_test": sum(r["n_test"] for r in rows),
            **classification_metrics(y_all, p_all),
        }
    )
    table = pd.DataFrame(rows)
    if calibration_bins:
        table.attrs["calibration"] = calibration_curve(y_all, p_all, calibration_bins)
    return table


def pooled_metrics(metrics: Mapping[str, Any] | pd.DataFrame) -> dict[str, Any]:
    """The metrics to compare: a backtest's pooled row, or a metrics mapping as given."""
    if isinstance(metrics, pd.DataFrame):
        pooled = metrics.loc[metrics["scope"] == "pooled"] if "scope" in metrics else metrics
        if len(pooled) != 1:
            raise ValueError("expected a backtest table with exactly one pooled row")
        return pooled.iloc[0].to_dict()
    return dict(metrics)


def suspected_leak(metrics: Mapping[str, Any] | pd.DataFrame) -> bool:
    """True when the (pooled) ROC AUC is above 0.95: on real churn data that is a leak (a label
    or a post-origin event among the features) until proven otherwise."""
    auc = pooled_metrics(metrics).get("roc_auc", math.nan)
    return bool(auc is not None and not math.isnan(auc) and auc > LEAK_AUC)


def should_promote(
    challenger: Mapping[str, Any] | pd.DataFrame,
    champion: Mapping[str, Any] | pd.DataFrame | None,
    brier_tolerance: float = 0.02,
) -> bool:
    """Whether the challenger replaces the champion, on pooled backtest metrics.

    Rule: a challenger with a suspected leak, or without a finite PR AUC and Brier score, is never
    promoted. Otherwise it wins when there is no champion (or the champion itself looks leaky),
    or when its PR AUC is strictly higher AND its Brier score is at most (1 + brier_tolerance)
    times the champion's: better at finding churners without giving up more than 2 % of
    probability accuracy. PR AUC rather than ROC AUC because retention campaigns work the top of
    the list, where precision on a rare class matters.
    """
    new = pooled_metrics(challenger)
    if suspected_leak(new) or not _finite(new, "pr_auc", "brier"):
        return False
    if champion is None:
        return True
    old = pooled_metrics(champion)
    if suspected_leak(old) or not _finite(old, "pr_auc", "brier"):
        return True
    return bool(
        new["pr_auc"] > old["pr_auc"] and new["brier"] <= old["brier"] * (1 + brier_tolerance)
    )


def _finite(metrics: Mapping[str, Any], *names: str) -> bool:
    return all(metrics.get(n) is not None and math.isfinite(float(metrics[n])) for n in names)
