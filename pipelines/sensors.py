"""The sensors: a run when files land, or when the core's outbox has new events."""

import dagster as dg

from ingestion.sources.core_outbox import outbox_frontier

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
