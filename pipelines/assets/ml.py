"""The ml layer: survival curves, the churn models and the scores (models library)."""

import dagster as dg

from ..resources import ChurniqConfig, in_warehouse
from .keys import ML_CURVES, ML_MODEL, ML_SCORES
from .marts import mart_keys


@dg.asset(
    key=ML_CURVES,
    deps=mart_keys(),
    group_name="ml",
    description="Kaplan–Meier survival curves by segment and sBG cohort projections (ml.*).",
)
def ml_curves(context: dg.AssetExecutionContext, churniq: ChurniqConfig) -> dg.MaterializeResult:
    from models.curves import refresh_curve_tables

    rows = in_warehouse(churniq.settings(), refresh_curve_tables)
    context.log.info(f"ml tables: {rows}")
    return dg.MaterializeResult(metadata=rows)


@dg.asset(
    key=ML_MODEL,
    deps=mart_keys(),
    group_name="ml",
    description="Retrain now: churn classifiers (30/60/90 days) and the survival model, "
    "backtested, promoted by the champion/challenger rule, versioned under <home>/models "
    "(ml.model_runs). Not in the daily job: scoring retrains when the champion is missing or "
    "a week old (models.training.score_and_publish); materialize this to retrain at once.",
)
def ml_churn_model(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    from models.training import train

    settings = churniq.settings()
    try:
        result = in_warehouse(settings, lambda con: train(con, settings.paths.models))
    except LookupError as why:  # not enough labelled history yet
        context.log.warning(f"churn model not trained: {why}")
        return dg.MaterializeResult(metadata={"trained": False, "why": str(why)})
    metrics = result.runs.set_index("model_type")[["roc_auc", "pr_auc", "brier_skill"]]
    context.log.info(f"trained {result.model_version}; promoted: {result.promoted}\n{metrics}")
    return dg.MaterializeResult(
        metadata={"model_version": result.model_version, "promoted": result.promoted}
    )


@dg.asset(
    key=ML_SCORES,
    deps=[*mart_keys(), ML_MODEL],
    group_name="ml",
    description="Every live subscriber scored by the champion: churn probabilities, risk band, "
    "expected remaining months and LTV with intervals, top three reasons; the champion's "
    "survival model as ml.survival_parameters. Retrains first when "
    "the champion is missing or a week old (the one owner of retraining).",
)
def ml_churn_scores(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    from models.training import score_and_publish

    settings = churniq.settings()
    meta = in_warehouse(settings, lambda con: score_and_publish(con, settings.paths.models))
    context.log.info(f"scored {meta['scored']:,} subscribers with {meta['model_version']}")
    return dg.MaterializeResult(metadata={k: v for k, v in meta.items() if v is not None})
