"""The raw layer: landing files and the core's outbox into `raw.events` (with the connectors'
state, webhook counts and provider views), and the reference tables (FX rates, currencies)."""

import shutil
from datetime import timedelta
from pathlib import Path

import dagster as dg

from foundation.settings import Settings
from ingestion.fx import refresh_reference_tables
from ingestion.loader import ingest
from ingestion.loader.archives import rewrite_archives
from ingestion.loader.load import expand_paths
from ingestion.loader.replay import execute_requests
from ingestion.loader.warehouse import open_warehouse
from ingestion.sources.connector_state import read_connectors, record_connectors, record_state
from ingestion.sources.core_outbox import pull_outbox

from ..resources import ChurniqConfig, in_warehouse
from .keys import PROVIDER_VIEWS, RAW_EVENTS


def landing_files(settings: Settings) -> list[Path]:
    settings.paths.landing.mkdir(parents=True, exist_ok=True)
    return expand_paths([settings.paths.landing])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_EVENTS,
            group_name="ingestion",
            description="Validated contract events: the landing files and the core's outbox; "
            "the connectors' state and the webhook counts beside them.",
        ),
        dg.AssetSpec(
            PROVIDER_VIEWS,
            group_name="ingestion",
            description="The providers' own views of their active subscriptions (for "
            "reconciliation), loaded by the same step from <home>/connectors/.",
        ),
    ]
)
def raw_events(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
    settings = churniq.settings()
    paths = settings.paths
    # the connectors' states and provider views first: the importers land their files before
    # they write them, so every file they speak of is in the listing below. Each source's state
    # commits with its landing files, then every source's with the webhook counts and views.
    connector_files = read_connectors(paths)
    files = landing_files(settings)
    skew = timedelta(minutes=settings.clock_skew_minutes)
    con = open_warehouse(settings)
    try:
        # replay requests filed from the Data health page run first, with the warehouse held
        for request, status, replayed in execute_requests(con, settings.home, clock_skew=skew):
            context.log.info(
                f"replay request {request.request_id} by {request.requested_by or '?'}: "
                f"{status}, {replayed.summary()}"
            )
        # a bad file is quarantined (whole, or line by line) and never stops the others or the
        # outbox; one that cannot be read from disk stays in landing for the next run
        report = ingest(
            con,
            files,
            clock_skew=skew,
            limits=settings.ingest_limits(),
            in_transaction=record_state(connector_files.states),
        )
        outbox = pull_outbox(con, settings.core_url, clock_skew=skew)
        connectors = record_connectors(con, paths, settings.core_url, connector_files)
        total = con.execute("select count(*) from raw.events").fetchall()[0][0]
    finally:
        con.close()
    # Each file's batch is checkpointed; only now is it safe to move it out of landing.
    for result, path in zip(report.files, files, strict=True):
        if result.error:
            continue
        target = paths.archive / (result.batch_id or "unknown") / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
    for result in report.rejected + report.errors:
        context.log.warning(f"{Path(result.path).name}: {result.state()}")
    # archived files holding lines of erased customers: rewritten without them
    moved = [r.batch_id for r in report.files if r.batch_id]
    archives = in_warehouse(
        settings, lambda c: rewrite_archives(c, paths.archive, paths.landing, moved)
    )
    if archives.rewritten or archives.dropped:
        context.log.info(
            f"after erasures: {archives.rewritten} archived file(s) rewritten, "
            f"{archives.dropped} deleted"
        )
    context.log.info(report.summary())
    context.log.info(outbox.summary())
    context.log.info(connectors.summary())
    for problem in connectors.problems:
        context.log.warning(f"connector state skipped: {problem}")
    yield dg.MaterializeResult(
        asset_key=RAW_EVENTS,
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
            "connectors": [s.source for s in connectors.states],
            "webhooks": sum(w.webhooks for w in connectors.webhooks),
        },
    )
    yield dg.MaterializeResult(
        asset_key=PROVIDER_VIEWS, metadata={"subscriptions": connectors.views}
    )


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
    unknown = in_warehouse(
        settings, lambda con: refresh_reference_tables(con, settings.reporting_currency)
    )
    if unknown:
        context.log.warning(f"no ECB rate for {', '.join(unknown)}: amounts not converted")
    yield dg.MaterializeResult(asset_key=["raw", "fx_rates"], metadata={"unknown": unknown})
    yield dg.MaterializeResult(asset_key=["raw", "currencies"])
