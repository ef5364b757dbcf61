"""The sensors: a run when files land, or when the core's outbox has new events; a
connector's import when its state is old or its provider's webhooks arrived."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg

from foundation.settings import Settings
from ingestion.sources.connector_state import StateError, read_state
from ingestion.sources.core_outbox import outbox_frontier
from ingestion.sources.provider_webhooks import webhook_frontier

from .assets.connectors import connector_key
from .assets.ingestion import landing_files
from .jobs import churniq_job
from .resources import ChurniqConfig


@dg.sensor(job=churniq_job, minimum_interval_seconds=30)
def landing_sensor(context: dg.SensorEvaluationContext, churniq: ChurniqConfig):
    """A run when new files sit in the landing folder (keyed by their names and sizes)."""
    files = landing_files(churniq.settings())
    if not files:
        return dg.SkipReason("landing folder is empty")
    key = "|".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files)
    return dg.RunRequest(run_key=key)


@dg.sensor(job=churniq_job, minimum_interval_seconds=30)
def core_outbox_sensor(context: dg.SensorEvaluationContext, churniq: ChurniqConfig):
    """A run when the core's outbox has events past those of the last requested run. Reads
    only the core (never the warehouse, which a run may be writing); the run's pull resumes
    from the warehouse's own durable cursor, so a request that finds nothing new is harmless."""
    frontier = outbox_frontier(churniq.settings().core_url)
    if frontier is None:
        return dg.SkipReason("the core's outbox is empty or does not exist")
    key = f"{frontier[0]}:{frontier[1]}"
    if key == context.cursor:
        return dg.SkipReason(f"no outbox events past {key}")
    context.update_cursor(key)
    return dg.RunRequest(run_key=f"core-outbox-{key}")


def connector_due(settings: Settings, source: str, now: datetime) -> tuple[str, str] | None:
    """(run key, why) when `source`'s import is due: no usable state yet, or a state older than
    `connector_sync_minutes` (the key changes once per interval, so a failed import is retried
    in the next one); None when it is fresh."""
    interval = timedelta(minutes=settings.connector_sync_minutes)
    bucket = int(now.timestamp() // interval.total_seconds())
    try:
        updated = read_state(settings.paths, source).updated_at
    except (StateError, OSError):
        return f"{source}-first-{bucket}", "no state yet"
    if updated is None or now.replace(tzinfo=None) - updated >= interval:
        return f"{source}-stale-{bucket}", f"state of {updated or 'unknown time'}"
    return None


def build_connector_sensor(sources: list[str]) -> dg.SensorDefinition | None:
    """The sensor of the configured sources' imports (None without any): a source's asset is
    requested when its state is older than the interval, or when the core's webhook inbox has
    rows of that provider past those of its last request (the cursor: per source, the newest
    `received_at` and the count)."""
    if not sources:
        return None

    @dg.sensor(
        name="connector_sensor",
        asset_selection=[connector_key(s) for s in sources],
        minimum_interval_seconds=60,
    )
    def connector_sensor(context: dg.SensorEvaluationContext, churniq: ChurniqConfig):
        settings = churniq.settings()
        now = datetime.now(UTC)
        seen = json.loads(context.cursor) if context.cursor else {}
        frontier = webhook_frontier(settings.core_url)
        requests, reasons = [], []
        for source in sources:
            due = connector_due(settings, source, now)
            newest = frontier.get(source)
            mark = f"{newest[0].isoformat()}|{newest[1]}" if newest else None
            if due is None and mark is not None and mark != seen.get(source):
                due = f"{source}-webhooks-{mark}", f"new webhooks up to {newest[0]}"
            if mark is not None:
                seen[source] = mark
            if due is not None:
                run_key, why = due
                reasons.append(f"{source}: {why}")
                requests.append(
                    dg.RunRequest(run_key=run_key, asset_selection=[connector_key(source)])
                )
        context.update_cursor(json.dumps(seen, sort_keys=True))
        if not requests:
            return dg.SkipReason("every connector's state is fresh and no new webhook arrived")
        context.log.info("; ".join(reasons))
        return requests

    return connector_sensor
