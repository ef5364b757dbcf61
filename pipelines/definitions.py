"""Dagster definitions: the configured connectors' imports, landing and the core outbox → raw → marts → ml → serving snapshot →
the erasure maintenance, with checks, sensors and schedules; and the core's billing cycle as a
job on its own schedule. One module per kind: `assets/` (one per layer), `checks`, `sensors`,
`schedules`, `jobs`, `resources`.

Built by `build_definitions(settings)`; the dbt manifest must exist already (prepared at build
time by `make setup` / `churniq` through `pipelines.dbt_project.prepare_manifest`), never parsed
here.
"""

import dagster as dg

from foundation.settings import Settings, get_settings

from .assets.connectors import connector_assets, connector_resources
from .assets.ingestion import raw_events, reference_tables
from .assets.maintenance import erasure_maintenance
from .assets.marts import churniq_dbt_assets
from .assets.ml import ml_churn_model, ml_churn_scores, ml_curves
from .assets.serving import serving_snapshot
from .checks import mrr_bridge_balances, quarantine_ratio, reconciliation_matches, score_drift
from .jobs import churniq_job, core_billing, training_job
from .resources import ChurniqConfig, dbt_resource
from .schedules import daily_schedule, hourly_billing
from .sensors import build_connector_sensor, core_outbox_sensor, landing_sensor


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The definitions of one home: `settings` (default: from the environment) reach every
    asset as the `churniq` resource's configuration."""
    settings = settings or get_settings()
    sources = settings.configured_sources()
    connector_sensor = build_connector_sensor(sources)
    return dg.Definitions(
        assets=[
            *connector_assets(sources),
            raw_events,
            reference_tables,
            churniq_dbt_assets,
            ml_curves,
            ml_churn_model,
            ml_churn_scores,
            serving_snapshot,
            erasure_maintenance,
        ],
        asset_checks=[quarantine_ratio, mrr_bridge_balances, score_drift, reconciliation_matches],
        # one step at a time in one process: DuckDB has one writer (DESIGN.md)
        executor=dg.in_process_executor,
        jobs=[churniq_job, training_job, core_billing],
        sensors=[landing_sensor, core_outbox_sensor]
        + ([connector_sensor] if connector_sensor else []),
        schedules=[daily_schedule, hourly_billing],
        resources={
            "dbt": dbt_resource(settings),
            "churniq": ChurniqConfig(
                home=str(settings.home.resolve()), full_refresh=settings.full_refresh
            ),
            **connector_resources(sources),
        },
    )
