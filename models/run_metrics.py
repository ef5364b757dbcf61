"""The backtest metrics of a model run, named once: the evaluation computes them, the training
writes them to `ml.model_runs`, the Models page reads them (a display helper: no scikit-learn)."""

#: Pooled over the backtest origins (models.evaluation), under these names in ml.model_runs too.
POOLED_METRICS: tuple[str, ...] = (
    "roc_auc",
    "pr_auc",
    "brier",
    "brier_skill",
    "base_rate",
    "top_decile_lift",
    "top_decile_capture",
)

#: The metric columns of `ml.model_runs`: the pooled ones, the survival model's concordance and
#: the expected calibration error (`ece` in the evaluation's tables).
RUN_METRICS: tuple[str, ...] = (*POOLED_METRICS, "concordance", "calibration_error")
