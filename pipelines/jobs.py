"""The jobs: the daily pipeline, the manual retraining and the core's billing cycle."""

import dagster as dg

from .assets.connectors import GROUP as CONNECTORS_GROUP
from .assets.keys import ML_MODEL
from .resources import ChurniqConfig

# Everything but the manual retraining and the connectors' imports: scoring retrains by itself
# when the champion is missing or a week old (models.training.score_and_publish), the one owner
# of that decision; a provider's API is called when the connector sensor asks, never by
# `churniq run` (its files land, and the landing sensor runs this job).
churniq_job = dg.define_asset_job(
    "churniq",
    selection=dg.AssetSelection.all()
    - dg.AssetSelection.assets(ML_MODEL)
    - dg.AssetSelection.groups(CONNECTORS_GROUP),
)

training_job = dg.define_asset_job("churn_model_training", selection=[ML_MODEL])


@dg.op(description="Renewals, trial conversions, dunning retries, scheduled ends and resumes.")
def billing_cycle(context: dg.OpExecutionContext, churniq: ChurniqConfig) -> dict:
    from core.cycle import run_billing_cycle
    from core.readiness import require_current
    from core.unit import Core

    url = churniq.settings().core_url
    require_current(url)
    core = Core(url)
    try:
        outcomes = dict(run_billing_cycle(core))
    finally:
        core.close()
    context.log.info(f"billing cycle: {outcomes or 'nothing due'}")
    context.add_output_metadata(outcomes)
    return outcomes


@dg.job(
    description="The core's billing cycle (`churniq core renew`); its events reach the "
    "warehouse through the outbox sensor."
)
def core_billing():
    billing_cycle()
