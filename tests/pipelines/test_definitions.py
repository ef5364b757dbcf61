"""The Dagster definitions: one job over every asset, checks, the landing sensor, the schedule."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from foundation.contract.examples import example
from foundation.settings import get_settings
from pipelines.dbt_project import prepare_manifest
from pipelines.definitions import build_definitions
from pipelines.sensors import landing_sensor


def _defs(home: Path) -> dg.Definitions:
    prepare_manifest()
    return build_definitions(get_settings(home=home))


def test_one_job_covers_ingestion_dbt_and_publish(tmp_path: Path):
    defs = _defs(tmp_path)
    job = defs.resolve_job_def("churniq")
    keys = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert {"raw/events", "raw/fx_rates", "raw/currencies", "serving_snapshot"} <= keys
    assert {"marts/metrics_monthly", "marts/fct_mrr_movements", "marts/fct_subscriptions"} <= keys
    assert any(k.startswith("staging/stg_events__") for k in keys)
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    assert {"quarantine_ratio", "mrr_bridge_balances"} <= checks
    assert any("bridge" in name and name != "mrr_bridge_balances" for name in checks), checks
    assert {"ml/survival_curves", "ml/churn_scores"} <= keys
    # scoring retrains when the champion is old; training on its own is a manual job
    assert "ml/churn_model" not in keys
    training = defs.resolve_job_def("churn_model_training")
    assert {k.to_user_string() for k in training.asset_layer.executable_asset_keys} == {
        "ml/churn_model"
    }
    assert "score_drift" in checks
    assert sorted(s.cron_schedule for s in defs.schedules) == [
        "0 3 * * *",
        "5 * * * *",
    ]


def test_dbt_sources_are_the_ingestion_assets(tmp_path: Path):
    defs = _defs(tmp_path)
    graph = defs.resolve_asset_graph()
    staging = dg.AssetKey(["staging", "stg_events__subscriptions"])
    assert dg.AssetKey(["raw", "events"]) in graph.get(staging).parent_keys


def test_sensor_requests_a_run_only_when_files_land(tmp_path: Path):
    defs = _defs(tmp_path)
    resources = {"churniq": defs.resources["churniq"]}
    with dg.build_sensor_context(resources=resources) as context:
        assert isinstance(landing_sensor(context), dg.SkipReason)
    landing = tmp_path / "landing"
    (landing / "a.ndjson").write_text(json.dumps(example("customer.created")) + "\n")
    with dg.build_sensor_context(resources=resources) as context:
        request = landing_sensor(context)
    assert isinstance(request, dg.RunRequest) and "a.ndjson" in request.run_key


def _migrated_core(home: Path, clock=None):
    from core.migrate import upgrade
    from core.unit import Core
    from foundation.settings import get_settings

    url = get_settings(home=str(home)).core_url
    upgrade(url)
    return Core(url, clock=clock)


def test_outbox_sensor_requests_a_run_only_for_new_core_events(tmp_path: Path):
    from core import customers
    from pipelines.sensors import core_outbox_sensor

    defs = _defs(tmp_path)
    resources = {"churniq": defs.resources["churniq"]}
    with dg.build_sensor_context(resources=resources) as context:
        assert isinstance(core_outbox_sensor(context), dg.SkipReason)  # no core database yet
    core = _migrated_core(tmp_path)
    with dg.build_sensor_context(resources=resources) as context:
        assert isinstance(core_outbox_sensor(context), dg.SkipReason)  # an empty outbox
    with core.unit() as u:
        customers.create_customer(u, country="DE", signup_platform="web")
    with dg.build_sensor_context(resources=resources) as context:
        request = core_outbox_sensor(context)
        assert isinstance(request, dg.RunRequest)
        seen = context.cursor
    with dg.build_sensor_context(resources=resources, cursor=seen) as context:
        assert isinstance(core_outbox_sensor(context), dg.SkipReason)  # nothing new since
    with core.unit() as u:
        customers.create_customer(u, country="FR", signup_platform="ios")
    with dg.build_sensor_context(resources=resources, cursor=seen) as context:
        again = core_outbox_sensor(context)
    assert isinstance(again, dg.RunRequest) and again.run_key != request.run_key
    core.close()


def test_billing_job_renews_what_is_due_on_its_schedule(tmp_path: Path):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import select

    from core import subscriptions
    from core.clock import FixedClock
    from core.schema import Subscription
    from tests.core.builders import catalogue, customer

    defs = _defs(tmp_path)
    assert any(
        s.job_name == "core_billing" and s.cron_schedule == "5 * * * *" for s in defs.schedules
    )
    # a subscription signed up 40 days ago: its first month ended, nobody renewed it yet
    core = _migrated_core(tmp_path, FixedClock(datetime.now(UTC) - timedelta(days=40)))
    catalogue(core)
    with core.unit() as u:
        sub = subscriptions.start_subscription(
            u, customer_id=customer(u), offer_id="premium", platform="web", currency="EUR"
        )
    result = defs.resolve_job_def("core_billing").execute_in_process()
    assert result.success
    assert result.output_for_node("billing_cycle") == {"renewed": 1}
    with core.unit() as u:
        renewed = u.session.scalar(select(Subscription).where(Subscription.id == sub.id))
    assert renewed.status == "active"
    assert renewed.current_period_end.replace(tzinfo=UTC) > datetime.now(UTC)
    core.close()
