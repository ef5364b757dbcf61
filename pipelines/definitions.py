"""Dagster definitions: landing and the core outbox → raw → marts → serving snapshot → the
erasure maintenance (after new erasures only), with checks, sensors and schedules; and the
core's billing cycle as a job on its own schedule.

Built by `build_definitions()`; the dbt manifest must exist already (prepared at build time by
`make setup` / `churniq` through `pipelines.dbt_project.prepare_manifest`), never parsed here.
"""

import os
import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from foundation.settings import Settings, get_settings
from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from ingestion.loader.archives import rewrite_archives
from ingestion.loader.load import expand_paths
from ingestion.loader.replay import REPLAY_FORMAT, execute_requests
from ingestion.sources.core_outbox import outbox_frontier, pull_outbox

from .dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR, MANIFEST, dbt_vars
from .publish import CheckRecord, check_detail, publish, record_checks

RAW_EVENTS = dg.AssetKey(["raw", "events"])
SERVING = dg.AssetKey(["serving_snapshot"])
QUARANTINE_RATIO_LIMIT = 0.01


class ChurniqConfig(dg.ConfigurableResource):
    """Where the data lives; defaults from CHURNIQ_* settings."""

    home: str = ""
    full_refresh: bool = False

    def settings(self) -> Settings:
        given = {"home": self.home} if self.home else {}
        settings = get_settings(**given)
        if self.full_refresh:
            settings = settings.model_copy(update={"full_refresh": True})
        return settings


def _warehouse(settings: Settings):
    return connect(
        settings.paths.warehouse,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )


def _in_warehouse(settings: Settings, work):
    """`work(connection)` on the warehouse, checkpointed, the connection always closed."""
    con = _warehouse(settings)
    try:
        result = work(con)
        con.execute("checkpoint")
        return result
    finally:
        con.close()


def _record_checks(settings: Settings, run_id: str | None, checks: list[CheckRecord]) -> None:
    """Keep check results in the warehouse (`ops.check_results`) for the Data health page;
    recording never fails the check itself."""
    try:
        _in_warehouse(settings, lambda con: record_checks(con, run_id, checks))
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse locked by a parallel step
        dg.get_dagster_logger().warning(f"check results not recorded: {exc}")


def _recorded(
    context: dg.AssetCheckExecutionContext, churniq: "ChurniqConfig", result: dg.AssetCheckResult
) -> dg.AssetCheckResult:
    """`result`, after recording it under the check's name and asset."""
    spec = context.check_specs[0]
    metadata = {k: getattr(v, "value", v) for k, v in (result.metadata or {}).items()}
    record = CheckRecord(
        "asset_check",
        spec.name,
        spec.asset_key.to_user_string(),
        result.passed,
        result.severity.value if result.severity else None,
        check_detail(metadata),
    )
    _record_checks(churniq.settings(), context.op_execution_context.run_id, [record])
    return result


def landing_files(settings: Settings) -> list:
    settings.paths.landing.mkdir(parents=True, exist_ok=True)
    return expand_paths([settings.paths.landing])


@dg.asset(
    key=RAW_EVENTS,
    group_name="ingestion",
    description="Validated contract events: the landing files and the core's outbox.",
)
def raw_events(context: dg.AssetExecutionContext, churniq: ChurniqConfig) -> dg.MaterializeResult:
    settings = churniq.settings()
    files = landing_files(settings)
    skew = timedelta(minutes=settings.clock_skew_minutes)
    con = _warehouse(settings)
    try:
        # replay requests filed from the Data health page run first, with the warehouse held
        for request, status, replayed in execute_requests(con, settings.home, clock_skew=skew):
            context.log.info(
                f"replay request {request.request_id} by {request.requested_by or '?'}: "
                f"{status}, {replayed.summary()}"
            )
        # a bad file is quarantined (whole, or line by line) and never stops the others or the
        # outbox; one that cannot be read from disk stays in landing for the next run
        report = ingest(con, files, clock_skew=skew, limits=settings.ingest_limits())
        outbox = pull_outbox(con, settings.core_url, clock_skew=skew)
        total = con.execute("select count(*) from raw.events").fetchall()[0][0]
    finally:
        con.close()
    # Each file's batch is checkpointed; only now is it safe to move it out of landing.
    for result, path in zip(report.files, files, strict=True):
        if result.error:
            continue
        target = settings.paths.archive / (result.batch_id or "unknown") / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
    for result in report.rejected + report.errors:
        context.log.warning(f"{Path(result.path).name}: {result.state()}")
    # archived files holding lines of erased customers: rewritten without them
    moved = [r.batch_id for r in report.files if r.batch_id]
    archives = _in_warehouse(
        settings,
        lambda c: rewrite_archives(c, settings.paths.archive, settings.paths.landing, moved),
    )
    if archives.rewritten or archives.dropped:
        context.log.info(
            f"after erasures: {archives.rewritten} archived file(s) rewritten, "
            f"{archives.dropped} deleted"
        )
    context.log.info(report.summary())
    context.log.info(outbox.summary())
    return dg.MaterializeResult(
        metadata={
            "files": len(report.files),
            "loaded": report.loaded + outbox.loaded,
            "duplicates": report.duplicates + outbox.duplicates,
            "quarantined": report.quarantined + outbox.quarantined,
            "files_quarantined": [Path(f.path).name for f in report.rejected],
            "files_not_read": [Path(f.path).name for f in report.errors],
            "outbox_loaded": outbox.loaded,
            "outbox_cursor": f"{outbox.txid}:{outbox.seq}",
            "total_events": total,
        }
    )


@dg.asset_check(
    asset=RAW_EVENTS,
    description="Share of quarantined lines in the last loads; no file quarantined whole.",
)
def quarantine_ratio(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    settings = churniq.settings()
    con = _warehouse(settings)
    try:
        lines, bad, whole = con.execute(
            """select coalesce(sum(lines), 0), coalesce(sum(quarantined), 0),
                      count(*) filter (where batch_id in (
                          select batch_id from raw.quarantine where source_line = 0))
               from raw.load_ledger
               where finished_at >= (select max(finished_at) from raw.load_ledger)
                                    - interval 1 hour
                 and file_format <> ?""",
            [REPLAY_FORMAT],
        ).fetchall()[0]
    finally:
        con.close()
    ratio = bad / lines if lines else 0.0
    result = dg.AssetCheckResult(
        passed=ratio <= QUARANTINE_RATIO_LIMIT and not whole,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "lines": int(lines),
            "quarantined": int(bad),
            "ratio": float(ratio),
            "files_quarantined_whole": int(whole),
        },
    )
    return _recorded(context, churniq, result)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["raw", "fx_rates"],
            deps=[RAW_EVENTS],
            group_name="ingestion",
            description="Daily ECB rates into the reporting currency.",
        ),
        dg.AssetSpec(
            ["raw", "currencies"],
            deps=[RAW_EVENTS],
            group_name="ingestion",
            description="ISO 4217 minor units of the currencies seen.",
        ),
    ]
)
def reference_tables(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    settings = churniq.settings()
    con = _warehouse(settings)
    try:
        unknown = refresh_reference_tables(con, settings.reporting_currency)
        con.execute("checkpoint")
    finally:
        con.close()
    if unknown:
        context.log.warning(f"no ECB rate for {', '.join(unknown)}: amounts not converted")
    yield dg.MaterializeResult(asset_key=["raw", "fx_rates"], metadata={"unknown": unknown})
    yield dg.MaterializeResult(asset_key=["raw", "currencies"])


@dbt_assets(manifest=MANIFEST, exclude="resource_type:unit_test")
def churniq_dbt_assets(
    context: dg.AssetExecutionContext, dbt: DbtCliResource, churniq: ChurniqConfig
):
    settings = churniq.settings()
    os.environ["CHURNIQ_WAREHOUSE"] = str(settings.paths.warehouse.resolve())
    os.environ["CHURNIQ_DUCKDB_MEMORY_LIMIT"] = settings.duckdb_memory_limit
    os.environ["CHURNIQ_DUCKDB_THREADS"] = str(settings.duckdb_threads)
    as_of = settings.as_of.isoformat() if settings.as_of else None
    args = ["build", "--vars", dbt_vars(settings.reporting_currency, as_of)]
    if settings.full_refresh:
        args.append("--full-refresh")
    tests: list[CheckRecord] = []
    try:
        for event in dbt.cli(args, context=context).stream():
            if isinstance(event, dg.AssetCheckResult) and event.asset_key is not None:
                metadata = {k: getattr(v, "value", v) for k, v in (event.metadata or {}).items()}
                tests.append(
                    CheckRecord(
                        "dbt_test",
                        event.check_name or "?",
                        event.asset_key.to_user_string(),
                        event.passed,
                        event.severity.value if event.severity else None,
                        check_detail(metadata),
                    )
                )
            elif isinstance(event, dg.AssetObservation) and event.metadata.get("status"):
                tests.append(_observed_test(event))  # a test outside the check selection
            yield event
    finally:  # failing tests too (dbt then fails the step)
        _record_checks(settings, context.run_id, tests)


def _observed_test(event: dg.AssetObservation) -> CheckRecord:
    """A dbt test that dagster-dbt logs as an observation (e.g. a test on a source)."""
    metadata = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    status = str(metadata.pop("status"))
    unique_id = str(metadata.get("unique_id", "test.?.?"))
    parts = unique_id.split(".")
    return CheckRecord(
        "dbt_test",
        parts[2] if len(parts) > 2 else unique_id,
        event.asset_key.to_user_string(),
        status in ("pass", "warn", "success"),
        "WARN" if status == "warn" else None,
        check_detail({"status": status, **metadata}),
    )


def _mart_keys() -> list[dg.AssetKey]:
    return [k for k in churniq_dbt_assets.keys if k.path[0] == "marts"]


ML_CURVES = dg.AssetKey(["ml", "survival_curves"])


@dg.asset(
    key=ML_CURVES,
    deps=_mart_keys(),
    group_name="ml",
    description="Kaplan–Meier survival curves by segment and sBG cohort projections (ml.*).",
)
def ml_curves(context: dg.AssetExecutionContext, churniq: ChurniqConfig) -> dg.MaterializeResult:
    from models.curves import refresh_curve_tables

    rows = _in_warehouse(churniq.settings(), refresh_curve_tables)
    context.log.info(f"ml tables: {rows}")
    return dg.MaterializeResult(metadata=rows)


ML_MODEL = dg.AssetKey(["ml", "churn_model"])
ML_SCORES = dg.AssetKey(["ml", "churn_scores"])
SCORE_DRIFT_LIMIT = 0.2  # population stability index between two scorings


@dg.asset(
    key=ML_MODEL,
    deps=_mart_keys(),
    group_name="ml",
    description="Churn classifiers (30/60/90 days) and the survival model: backtested, promoted "
    "by the champion/challenger rule, versioned under <home>/models (ml.model_runs).",
)
def ml_churn_model(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    from models.training import train

    settings = churniq.settings()
    try:
        result = _in_warehouse(settings, lambda con: train(con, settings.paths.models))
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
    deps=[*_mart_keys(), ML_MODEL],
    group_name="ml",
    description="Every live subscriber scored by the champion: churn probabilities, risk band, "
    "expected remaining months and LTV with intervals, top three reasons.",
)
def ml_churn_scores(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    from models.training import score_and_publish

    settings = churniq.settings()
    meta = _in_warehouse(settings, lambda con: score_and_publish(con, settings.paths.models))
    context.log.info(f"scored {meta['scored']:,} subscribers with {meta['model_version']}")
    return dg.MaterializeResult(metadata={k: v for k, v in meta.items() if v is not None})


@dg.asset_check(asset=ML_SCORES, description="Score drift against the previous scoring (PSI).")
def score_drift(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    return _recorded(context, churniq, _score_drift(churniq))


def _score_drift(churniq: ChurniqConfig) -> dg.AssetCheckResult:
    import duckdb

    from models.checks import population_stability

    con = duckdb.connect(str(churniq.settings().paths.warehouse), read_only=True)
    try:
        history = con.execute(
            "select scored_at, bin, customers from ml.score_history order by scored_at, bin"
        ).df()
    except duckdb.CatalogException:
        return dg.AssetCheckResult(passed=True, metadata={"note": "nothing scored yet"})
    finally:
        con.close()
    dates = sorted(history["scored_at"].unique())
    if len(dates) < 2:
        return dg.AssetCheckResult(
            passed=True, metadata={"note": "first scoring: nothing to compare"}
        )
    previous, current = (
        history[history.scored_at == d]["customers"].to_numpy() for d in dates[-2:]
    )
    psi = population_stability(previous, current)
    return dg.AssetCheckResult(
        passed=psi < SCORE_DRIFT_LIMIT,
        metadata={"psi": psi, "compared": [str(d) for d in dates[-2:]]},
    )


@dg.asset(
    key=SERVING,
    deps=[*_mart_keys(), ML_CURVES, ML_SCORES],
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


@dg.asset_check(asset=SERVING, description="MRR bridge balances every month in the snapshot.")
def mrr_bridge_balances(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    # runs after the publish step: its result reaches the snapshot of the next run
    return _recorded(context, churniq, _mrr_bridge_balances(churniq))


def _mrr_bridge_balances(churniq: ChurniqConfig) -> dg.AssetCheckResult:
    import duckdb

    settings = churniq.settings()
    con = duckdb.connect(str(settings.paths.serving), read_only=True)
    try:
        rows = con.execute(
            """select month, mrr - coalesce(lag(mrr) over (order by month), 0)
                      - (new_mrr + expansion_mrr + contraction_mrr + churned_mrr
                         + reactivation_mrr + pause_mrr + resume_mrr + fx_adjustment) as gap
               from marts.metrics_monthly order by month"""
        ).fetchall()
    finally:
        con.close()
    broken = [(str(m), str(g)) for m, g in rows if g != 0]
    return dg.AssetCheckResult(
        passed=not broken, metadata={"months": len(rows), "unbalanced": broken[:12]}
    )


MAINTENANCE = dg.AssetKey(["maintenance", "erasures"])


@dg.asset(
    key=MAINTENANCE,
    deps=[SERVING],
    group_name="maintenance",
    description="After a run loads an erasure: archived files rewritten, the core's outbox "
    "scrubbed and its database compacted, the warehouse rewritten into a fresh file "
    "(pipelines.maintenance).",
)
def erasure_maintenance(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    from .maintenance import maintain_after_erasures

    report = maintain_after_erasures(churniq.settings())
    context.log.info(report.summary())
    return dg.MaterializeResult(
        metadata={
            "erasures": len(report.customers),
            "archives_rewritten": report.archives.rewritten,
            "archives_deleted": report.archives.dropped,
            "outbox_scrubbed": report.outbox_scrubbed,
            "core_compacted": report.core is not None,
            "warehouse_rewritten": report.warehouse_bytes_saved is not None,
        }
    )


# the daily job scores with the champion; training is weekly (its own job and schedule), and the
# scoring step trains first when there is no champion yet or it is older than a week
churniq_job = dg.define_asset_job(
    "churniq", selection=dg.AssetSelection.all() - dg.AssetSelection.assets(ML_MODEL)
)


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


@dg.op(description="Renewals, trial conversions, dunning retries, scheduled ends and resumes.")
def billing_cycle(context: dg.OpExecutionContext, churniq: ChurniqConfig) -> dict:
    from core.cycle import run_billing_cycle
    from core.unit import Core

    from .core_commands import require_current

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


hourly_billing = dg.ScheduleDefinition(
    job=core_billing, cron_schedule="5 * * * *", execution_timezone="UTC"
)

training_job = dg.define_asset_job("churn_model_training", selection=[ML_MODEL])
weekly_training = dg.ScheduleDefinition(
    job=training_job, cron_schedule="0 4 * * 1", execution_timezone="UTC"
)

daily_schedule = dg.ScheduleDefinition(
    job=churniq_job, cron_schedule="0 3 * * *", execution_timezone="UTC"
)


def build_definitions(home: str | None = None, full_refresh: bool = False) -> dg.Definitions:
    settings = get_settings(home=home) if home else get_settings()
    return dg.Definitions(
        assets=[
            raw_events,
            reference_tables,
            churniq_dbt_assets,
            ml_curves,
            ml_churn_model,
            ml_churn_scores,
            serving_snapshot,
            erasure_maintenance,
        ],
        asset_checks=[quarantine_ratio, mrr_bridge_balances, score_drift],
        # one step at a time in one process: DuckDB has one writer (DESIGN.md)
        executor=dg.in_process_executor,
        jobs=[churniq_job, training_job, core_billing],
        sensors=[landing_sensor, core_outbox_sensor],
        schedules=[daily_schedule, weekly_training, hourly_billing],
        resources={
            "dbt": DbtCliResource(
                project_dir=str(DBT_PROJECT_DIR),
                profiles_dir=str(DBT_PROJECT_DIR),
                dbt_executable=str(DBT_EXECUTABLE),
            ),
            "churniq": ChurniqConfig(home=str(settings.home.resolve()), full_refresh=full_refresh),
        },
    )
