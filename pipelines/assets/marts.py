"""The marts: the dbt project's models (staging, intermediate, marts) as assets; its tests as
asset checks, recorded for the Data health page."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from ..dbt_project import MANIFEST, dbt_vars
from ..recording import dbt_test_record, record
from ..resources import ChurniqConfig


@dbt_assets(manifest=MANIFEST, exclude="resource_type:unit_test")
def churniq_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, churniq: ChurniqConfig
):
    settings = churniq.settings()
    as_of = settings.as_of.isoformat() if settings.as_of else None
    args = ["build", "--vars", dbt_vars(settings.reporting_currency, as_of)]
    if settings.full_refresh:
        args.append("--full-refresh")
    tests = []
    try:
        for event in dbt.cli(args, context=context).stream():
            test = dbt_test_record(event)
            if test is not None:
                tests.append(test)
            yield event
    finally:  # failing tests too (dbt then fails the step)
        record(settings, context.run_id, tests)


def mart_keys() -> list[dg.AssetKey]:
    return [k for k in churniq_dbt_assets.keys if k.path[0] == "marts"]
