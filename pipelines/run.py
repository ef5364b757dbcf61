"""One run of the Dagster job in-process on a home (`churniq run`, the demo, the tests), under
the home's run lock: the command line runs the same job as the schedules and sensors."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from foundation.settings import Settings

ANOTHER_RUN = "another run is writing the warehouse"
DUCKDB_LOCK = "Could not set lock on file"


class RunError(Exception):
    """A run that could not start or did not finish, said in one line."""


@contextlib.contextmanager
def warehouse_lock(settings: Settings) -> Iterator[None]:
    """Be the only churniq process writing the warehouse, or fail at once with one line (DuckDB
    admits one writer process; a second would die on its lock halfway through a run)."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(settings.paths.run_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunError(
                f"{ANOTHER_RUN} {settings.paths.warehouse} (pid {holder}): wait until it finishes"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def warehouse_held(settings: Settings, reason: str) -> RunError:
    """One line for DuckDB's own lock error: a process outside the CLI (the Dagster UI, a
    notebook) has the warehouse open."""
    holder = reason.split("(PID ")[-1].split(")")[0] if "(PID " in reason else "unknown"
    return RunError(
        f"another process holds the warehouse {settings.paths.warehouse} (pid {holder}): "
        "close it or wait until it finishes"
    )


def dagster_instance_home(settings: Settings) -> Path:
    """`<home>/dagster`, with a dagster.yaml that turns Dagster's telemetry off (this machine,
    like many deployments, has no route out, and the notice cluttered every run)."""
    dagster_home = settings.paths.dagster.resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists() or not config.read_text().strip():
        config.write_text("telemetry:\n  enabled: false\n")
    return dagster_home


def run_pipeline(settings: Settings, models: bool = True) -> dict:
    """Run the whole Dagster job in-process on `settings.home`; returns the step metadata.
    `models=False` leaves out the `ml/*` assets (training, scoring, curves): for runs that only
    need the marts, such as tests comparing them."""
    with warehouse_lock(settings):
        return _run_job(settings, models)


def _run_job(settings: Settings, models: bool) -> dict:
    import dagster as dg

    from .dbt_project import prepare_manifest

    prepare_manifest()
    from .definitions import build_definitions

    defs = build_definitions(settings)
    selection = None
    if not models:
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        selection = [k for k in keys if k.path[0] != "ml"]
    with dg.DagsterInstance.from_config(str(dagster_instance_home(settings))) as instance:
        result = defs.resolve_job_def("churniq").execute_in_process(
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        why = failed[0].event_specific_data.error.message.strip() if failed else "unknown error"
        locked = next((e for e in failed if DUCKDB_LOCK in _error_text(e)), None)
        if locked is not None:
            raise warehouse_held(settings, _error_text(locked))
        raise RunError(f"pipeline failed: {why.splitlines()[0]}")
    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        meta[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    meta["checks"] = checks
    return meta


def _error_text(step_failure) -> str:
    """A failed step's error with its causes (DuckDB's lock error is a cause of Dagster's)."""
    error, parts = step_failure.event_specific_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)
