"""The serving snapshot the dashboards read (ingestion.publish)."""

import dagster as dg

from ingestion.publish import publish

from ..resources import ChurniqConfig
from .keys import ML_CURVES, ML_SCORES, SERVING
from .marts import mart_keys


@dg.asset(
    key=SERVING,
    deps=[*mart_keys(), ML_CURVES, ML_SCORES],
    group_name="serving",
    description="Read-only snapshot of the marts and ml tables that the dashboards read.",
)
def serving_snapshot(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    settings = churniq.settings()
    snap = publish(
        settings.paths.warehouse,
        settings.paths.serving,
        settings.reporting_currency,
        run_id=context.run_id,
    )
    context.log.info(f"published snapshot {snap.version} with {len(snap.tables)} tables")
    return dg.MaterializeResult(
        metadata={"version": snap.version, "tables": snap.tables, "watermark": str(snap.watermark)}
    )
