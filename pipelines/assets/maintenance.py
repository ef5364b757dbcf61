"""The maintenance layer: the erasure maintenance step: after a run loads a `customer.erased`, carry the erasure into
every file that still holds the customer's values.

The loader already scrubs `raw.events` and `raw.quarantine` in the batch's transaction, dbt
rebuilds the marts and the publish step writes a new serving file. What is left, in order:

1. archived landing files holding the customer's lines are rewritten without them
   (`ingestion.loader.archives`; the raw_events step does this too, right after archiving);
2. the customer's raw events are scrubbed once more with today's rule (for erasures loaded by
   an older loader);
3. the core's outbox envelopes of the customer are scrubbed and the core database compacted
   (`core.erasure`: SQLite VACUUM and WAL truncation, PostgreSQL VACUUM);
4. the warehouse is rewritten into a fresh file (`ingestion.loader.warehouse.compact`), which
   records the customers as maintained (`raw.erasures_maintained`) in the same copy.

Each step is idempotent; a customer is marked maintained only by the new file, so a crash
anywhere leaves the work pending for the next run. Runs without a new erasure do nothing here
but step 1. `churniq core maintain` runs the same step and always compacts the core database.
"""

from dataclasses import dataclass, field

import dagster as dg

from core.erasure import Compaction, compact, scrub_outbox
from core.readiness import sqlite_missing
from foundation.settings import Settings
from ingestion.loader.archives import ArchiveReport, rewrite_archives
from ingestion.loader.erasure import scrub_all_erased
from ingestion.loader.warehouse import compact as compact_warehouse
from ingestion.loader.warehouse import open_warehouse

from ..resources import ChurniqConfig
from .keys import MAINTENANCE, SERVING


@dataclass
class MaintenanceReport:
    customers: list[str] = field(default_factory=list)  # erasures carried through this time
    archives: ArchiveReport = field(default_factory=ArchiveReport)
    outbox_scrubbed: int = 0
    core: Compaction | None = None
    warehouse_bytes_saved: int | None = None

    def summary(self) -> str:
        text = (
            f"{len(self.customers)} erasure(s) carried through; archives: "
            f"{self.archives.rewritten} rewritten, {self.archives.dropped} deleted"
        )
        if self.customers:
            text += f"; {self.outbox_scrubbed} outbox envelope(s) scrubbed"
        if self.core is not None:
            text += f"; core database compacted ({', '.join(self.core.statements)})"
            if self.core.wal_truncated is False:
                text += " but its WAL was busy (a reader): run `churniq core maintain` again"
        if self.warehouse_bytes_saved is not None:
            text += f"; warehouse rewritten ({self.warehouse_bytes_saved:+,} bytes saved)"
        return text


def _pending_erasures(settings: Settings, report: MaintenanceReport) -> list[str]:
    """Rewrite the archives waiting for it; the erased customers not maintained yet (their raw
    events scrubbed once more, and their archives rewritten, on the way)."""
    con = open_warehouse(settings)
    try:
        report.archives = rewrite_archives(con, settings.paths.archive, settings.paths.landing)
        pending = [
            r[0]
            for r in con.execute(
                """select distinct customer_id from raw.events
                   where event_type = 'customer.erased'
                     and customer_id not in (select customer_id from raw.erasures_maintained)
                   order by 1"""
            ).fetchall()
        ]
        if pending:
            scrub_all_erased(con, pending_only=True)
            again = rewrite_archives(con, settings.paths.archive, settings.paths.landing)
            report.archives.rewritten += again.rewritten
            report.archives.dropped += again.dropped
        con.execute("checkpoint")
    finally:
        con.close()
    return pending


def _core_engine(settings: Settings):
    """The core database's engine, or None when there is no core (landing files only)."""
    from sqlalchemy import inspect

    from core.db import make_engine
    from core.schema import OUTBOX

    if sqlite_missing(settings.core_url):
        return None
    engine = make_engine(settings.core_url)
    if not inspect(engine).has_table(OUTBOX.name):
        engine.dispose()
        return None
    return engine


def maintain_core(settings: Settings, customers: list[str]) -> tuple[int, Compaction | None]:
    """Scrub the core's outbox envelopes of erased `customers`, then
    compact the core database; (envelopes scrubbed, compaction) or (0, None) with no core."""
    from sqlalchemy.orm import Session

    engine = _core_engine(settings)
    if engine is None:
        return 0, None
    try:
        with Session(engine) as session, session.begin():
            scrubbed = scrub_outbox(session, customers)
        return scrubbed, compact(engine)
    finally:
        engine.dispose()


def maintain_after_erasures(settings: Settings, *, always_core: bool = False) -> MaintenanceReport:
    """The maintenance step (see the module's docstring). `always_core` compacts the core
    database even without a new erasure (`churniq core maintain`)."""
    report = MaintenanceReport()
    if settings.paths.warehouse.exists():
        report.customers = _pending_erasures(settings, report)
    if report.customers or always_core:
        report.outbox_scrubbed, report.core = maintain_core(settings, report.customers)
    if not report.customers:
        return report

    def mark_maintained(con) -> None:
        con.executemany(
            "insert or ignore into raw.erasures_maintained values (?, now()::timestamp)",
            [[c] for c in report.customers],
        )

    report.warehouse_bytes_saved = compact_warehouse(
        settings.paths.warehouse,
        in_copy=mark_maintained,
        memory_limit=settings.duckdb_memory_limit,
        threads=settings.duckdb_threads,
    )
    return report


@dg.asset(
    key=MAINTENANCE,
    deps=[SERVING],
    group_name="maintenance",
    description="After a run loads an erasure: archived files rewritten, the core's outbox "
    "scrubbed and its database compacted, the warehouse rewritten into a fresh file "
    "(pipelines.assets.maintenance).",
)
def erasure_maintenance(context: dg.AssetExecutionContext, churniq: ChurniqConfig):
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
