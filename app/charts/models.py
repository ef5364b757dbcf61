"""Charts and help texts of the "Models" page.

METRICS.md lists the published backtest metrics (``ml.model_runs``) without defining them; the
wording here follows ``models.evaluation`` and ``models.training``, where they are computed.
"""

from __future__ import annotations

from typing import Final

import altair as alt
import pandas as pd

_BACKTEST: Final = (
    "Measured on rolling backtests: at each origin (a month end) the model is trained only on "
    "rows whose label was known by then and tested on the customers live at that month end; the "
    "pooled figure is over all origins' test rows. The label is whether the customer churns "
    "(their last active subscription ends) within the horizon (30 days)."
)

METRIC_HELP: Final[dict[str, str]] = {
    "roc_auc": (
        "**ROC AUC**: the probability that a customer who churned is scored above one who did "
        "not (0.5 = random ordering, 1 = perfect). Above 0.95 is treated as a suspected leak. "
        + _BACKTEST
    ),
    "pr_auc": (
        "**PR AUC** (average precision): precision averaged over the recall levels, i.e. how "
        "pure the top of the list is. Compare it with the base rate (what random scores get). "
        "The champion is chosen on it. " + _BACKTEST
    ),
    "brier": (
        "**Brier score** = mean of (churn probability − outcome)², lower is better: the accuracy "
        "of the probabilities themselves. " + _BACKTEST
    ),
    "brier_skill": (
        "**Brier skill** = 1 − Brier ÷ (base rate × (1 − base rate)): 0 means no better than "
        "predicting the average churn rate for everyone, 1 perfect. " + _BACKTEST
    ),
    "base_rate": "**Base rate**: the share of test rows that churned within the horizon.",
    "top_decile_lift": (
        "**Top-decile lift** = churn rate among the 10% highest-scored customers ÷ overall churn "
        "rate: how much better than random targeting a campaign on the top tenth does. " + _BACKTEST
    ),
    "top_decile_capture": (
        "**Top-decile capture**: the share of all churners who are among the 10% highest scores."
    ),
    "concordance": (
        "**Concordance** (C-index) of the survival model that gives the expected remaining "
        "months (Weibull AFT on plan, platform and country), on a 20% hold-out of customers: the "
        "probability that of two customers the one who churned first was predicted the shorter "
        "lifetime (0.5 = random)."
    ),
    "calibration_error": (
        "**Calibration error** (ECE): over 10 equal-count bins of the predicted probability, the "
        "count-weighted mean of |observed churn rate − mean predicted probability|. 0 = "
        "perfectly calibrated."
    ),
}

RUNS_HELP: Final = (
    "Every trained model version with its pooled backtest metrics. Each training backtests both "
    "model kinds (logistic regression, gradient boosting); the better one is the **challenger**. "
    "It replaces the **champion** (the model that scores) only when its PR AUC is higher and "
    "its Brier score at most 2% worse, and never with a **suspected leak** (pooled ROC AUC "
    "above 0.95: on real churn data, a label or a post-origin event among the features until "
    "proven otherwise). " + METRIC_HELP["calibration_error"]
)
BACKTESTS_HELP: Final = (
    "The backtest metrics per origin (month end) and model version: stable figures across "
    "origins mean the pooled metrics are not the luck of one month. " + _BACKTEST
)
CALIBRATION_HELP: Final = (
    "**Calibration**: the backtest predictions cut into 10 equal-count bins of the predicted "
    "probability; per bin the mean predicted churn probability against the observed churn rate. "
    "On the diagonal, a predicted 20% means 20% churned. Points above it: the model "
    "under-predicts churn there; below: it over-predicts. " + _BACKTEST
)
LIFT_HELP: Final = (
    "**Lift per bin** = observed churn rate of the bin ÷ overall base rate (Σ churners ÷ Σ rows "
    "over the bins). The calibration bins hold equal counts of backtest predictions "
    "(`models.evaluation.calibration_curve`), so they are the deciles of the score and the last "
    "one is the top decile: its lift is the top-decile lift. 1 = no better than random."
)
DRIFT_HELP: Final = (
    "**Score drift**: the distribution of the 30-day churn probability over the customers of "
    "each scoring, in 20 fixed bins of 5 points. **PSI** (population stability index) between "
    "consecutive scorings = Σ over bins (q − p) × ln(q ÷ p), p and q the shares of customers in "
    "the bin before and after (floored at 0.01%). Below 0.1: stable; 0.1–0.2: moderate shift; "
    "above 0.2: usually read as a shift worth a look (the population or the model changed)."
)
TRUTH_HELP: Final = (
    "On simulated data the simulator wrote its **ground truth**: per customer and month start the "
    "true probability that the customer decides to churn within 30 days (a cancellation "
    "request, or a failed renewal never recovered), and per customer whether and when they "
    "churned. The true outcome of an as-of date is a churn (last subscription ended) within 30 "
    "days of it, the model's label. The true probability is a benchmark, not a ceiling: it "
    "describes the decision, while the label is the end of access, which a pending "
    "cancellation already announces."
)
TRUTH_CALIBRATION_HELP: Final = (
    "The latest scoring against the simulator's true 30-day churn probability of the same "
    "customers on the day after the scoring date: the scored customers cut into 10 equal-count "
    "bins of the predicted probability; per bin the mean predicted probability against the mean "
    "true probability. On the diagonal, the model's probabilities match the truth. " + TRUTH_HELP
)

METRIC_LABELS: Final[dict[str, str]] = {
    "roc_auc": "ROC AUC",
    "pr_auc": "PR AUC",
    "brier": "Brier",
    "brier_skill": "Brier skill",
    "base_rate": "Base rate",
    "top_decile_lift": "Top-decile lift",
    "top_decile_capture": "Top-decile capture",
    "concordance": "Concordance",
    "calibration_error": "Calibration error",
    "ece": "Calibration error",
}


def diagonal_chart(
    frame: pd.DataFrame, x: str, y: str, x_title: str, y_title: str, tooltip: list
) -> alt.LayerChart:
    """Points and line of `y` against `x` with the y = x diagonal over the data's range."""
    top = float(max(frame[x].max(), frame[y].max(), 0.01)) * 1.05
    scale = alt.Scale(domain=[0, top])
    diagonal = (
        alt.Chart(pd.DataFrame({"v": [0.0, top]}))
        .mark_line(color="#9e9e9e", strokeDash=[4, 4])
        .encode(x=alt.X("v:Q", scale=scale), y=alt.Y("v:Q", scale=scale))
    )
    curve = (
        alt.Chart(frame)
        .mark_line(point=True, color="#1565c0")
        .encode(
            x=alt.X(f"{x}:Q", title=x_title, scale=scale, axis=alt.Axis(format="%")),
            y=alt.Y(f"{y}:Q", title=y_title, scale=scale, axis=alt.Axis(format="%")),
            tooltip=tooltip,
        )
    )
    return alt.layer(diagonal, curve)


def calibration_chart(frame: pd.DataFrame) -> alt.LayerChart:
    return diagonal_chart(
        frame,
        "mean_predicted",
        "observed_rate",
        "Mean predicted churn probability",
        "Observed churn rate",
        [
            alt.Tooltip("bin:O", title="Bin"),
            alt.Tooltip("n:Q", title="Rows", format=","),
            alt.Tooltip("mean_predicted:Q", title="Mean predicted", format=".2%"),
            alt.Tooltip("observed_rate:Q", title="Observed", format=".2%"),
        ],
    )


def truth_calibration_chart(frame: pd.DataFrame) -> alt.LayerChart:
    return diagonal_chart(
        frame,
        "mean_predicted",
        "mean_true_probability",
        "Mean predicted churn probability",
        "Mean true churn probability (simulator)",
        [
            alt.Tooltip("bin:O", title="Bin"),
            alt.Tooltip("n:Q", title="Customers", format=","),
            alt.Tooltip("mean_predicted:Q", title="Mean predicted", format=".2%"),
            alt.Tooltip("mean_true_probability:Q", title="Mean true", format=".2%"),
        ],
    )


def lift_chart(frame: pd.DataFrame) -> alt.LayerChart:
    shown = frame.assign(decile=frame["bin"] + 1)
    bars = (
        alt.Chart(shown)
        .mark_bar(color="#c62828")
        .encode(
            x=alt.X("decile:O", title="Decile of the predicted probability (10 = highest)"),
            y=alt.Y("lift:Q", title="Lift (observed ÷ base rate)"),
            tooltip=[
                alt.Tooltip("decile:O", title="Decile"),
                alt.Tooltip("lift:Q", title="Lift", format=".2f"),
                alt.Tooltip("observed_rate:Q", title="Observed churn", format=".2%"),
                alt.Tooltip("base_rate:Q", title="Base rate", format=".2%"),
                alt.Tooltip("n:Q", title="Rows", format=","),
            ],
        )
    )
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="#424242", strokeDash=[4, 4])
    return alt.layer(bars, one.encode(y="y:Q"))


def backtest_chart(frame: pd.DataFrame, metric: str) -> alt.Chart:
    label = METRIC_LABELS.get(metric, metric)
    return (
        alt.Chart(frame.assign(origin=pd.to_datetime(frame["origin"])))
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(origin):T", title="Backtest origin"),
            y=alt.Y(f"{metric}:Q", title=label, scale=alt.Scale(zero=False)),
            color=alt.Color("model_version:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("model_version:N", title="Model"),
                alt.Tooltip("yearmonth(origin):T", title="Origin"),
                alt.Tooltip(f"{metric}:Q", title=label, format=".4f"),
                alt.Tooltip("n:Q", title="Test rows", format=","),
            ],
        )
    )


def drift_chart(history: pd.DataFrame) -> alt.Chart:
    """Share of customers per probability bin, one line per scoring."""
    shown = history.assign(
        scoring=history["scored_at"].dt.strftime("%Y-%m-%d"),
        bin_label=history["lower"].map(lambda v: f"{v:.0%}–{v + 0.05:.0%}"),
    )
    return (
        alt.Chart(shown)
        .mark_line(point=True)
        .encode(
            x=alt.X("lower:Q", title="Churn probability (bin start)", axis=alt.Axis(format="%")),
            y=alt.Y(
                "share:Q",
                title="Share of customers",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(type="symlog", constant=0.001),
            ),
            color=alt.Color("scoring:N", title="Scoring", legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("scoring:N", title="Scoring"),
                alt.Tooltip("bin_label:N", title="Probability"),
                alt.Tooltip("customers:Q", title="Customers", format=","),
                alt.Tooltip("share:Q", title="Share", format=".2%"),
            ],
        )
    )
