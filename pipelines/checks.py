"""Asset checks: data health that the Data health page shows (recorded in `ops.check_results`).
Each check's query lives in the library that owns the table it reads."""

import dagster as dg
import duckdb

from ingestion.loader.health import recent_quarantine
from ingestion.loader.warehouse import open_warehouse
from ingestion.publish import unbalanced_bridge_months
from ingestion.reconciliation import reconciliation
from models.drift import latest_score_drift

from .assets.keys import ML_SCORES, RAW_EVENTS, RECONCILIATION, SERVING
from .recording import recorded
from .resources import ChurniqConfig

QUARANTINE_RATIO_LIMIT = 0.01
SCORE_DRIFT_LIMIT = 0.2  # population stability index between two scorings


@dg.asset_check(
    asset=RAW_EVENTS,
    description="Share of quarantined lines in the last loads; no file quarantined whole.",
)
def quarantine_ratio(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    con = open_warehouse(churniq.settings())
    try:
        recent = recent_quarantine(con)
    finally:
        con.close()
    result = dg.AssetCheckResult(
        passed=recent.ratio <= QUARANTINE_RATIO_LIMIT and not recent.files_quarantined_whole,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "lines": recent.lines,
            "quarantined": recent.quarantined,
            "ratio": float(recent.ratio),
            "files_quarantined_whole": recent.files_quarantined_whole,
        },
    )
    return recorded(context, churniq, result)


@dg.asset_check(asset=ML_SCORES, description="Score drift against the previous scoring (PSI).")
def score_drift(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    return recorded(context, churniq, _score_drift(churniq))


def _score_drift(churniq: ChurniqConfig) -> dg.AssetCheckResult:
    con = duckdb.connect(str(churniq.settings().paths.warehouse), read_only=True)
    try:
        drift = latest_score_drift(con)
    finally:
        con.close()
    if isinstance(drift, str):
        return dg.AssetCheckResult(passed=True, metadata={"note": drift})
    return dg.AssetCheckResult(
        passed=drift.psi < SCORE_DRIFT_LIMIT,
        metadata={"psi": drift.psi, "compared": list(drift.compared)},
    )


@dg.asset_check(asset=SERVING, description="MRR bridge balances every month in the snapshot.")
def mrr_bridge_balances(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    # runs after the publish step: its result reaches the snapshot of the next run
    return recorded(context, churniq, _mrr_bridge_balances(churniq))


def _mrr_bridge_balances(churniq: ChurniqConfig) -> dg.AssetCheckResult:
    months, broken = unbalanced_bridge_months(churniq.settings().paths.serving)
    return dg.AssetCheckResult(
        passed=not broken, metadata={"months": months, "unbalanced": broken[:12]}
    )


NO_PROVIDER_VIEW = (
    "no provider view loaded: nothing to reconcile (an API import such as `churniq import "
    "stripe --api-key-env VAR` leaves one for the next run)"
)


@dg.asset_check(
    asset=RECONCILIATION,
    description="The marts agree with each provider's own view of its active subscriptions and "
    "their MRR (per customer and currency, on the view's day).",
)
def reconciliation_matches(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig
) -> dg.AssetCheckResult:
    return recorded(context, churniq, _reconciliation_matches(churniq))


def _reconciliation_matches(churniq: ChurniqConfig) -> dg.AssetCheckResult:
    con = duckdb.connect(str(churniq.settings().paths.warehouse), read_only=True)
    try:
        found = reconciliation(con)
    finally:
        con.close()
    if found is None:
        return dg.AssetCheckResult(passed=True, metadata={"note": NO_PROVIDER_VIEW})
    return dg.AssetCheckResult(
        passed=found.matches,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "sources": found.sources,
            "customers": found.customers,
            "customers_differing": found.differing,
            "mrr_difference": {c: str(d) for c, d in found.difference_by_currency.items()},
            "subscriptions_difference": found.subscriptions_difference,
            "first_differing": found.first_differing,
            # churniq knows no change after its as-of date: one scheduled in between differs
            "as_of_behind_view": found.behind,
        },
    )
