"""Check results kept in the warehouse (`ops.check_results`) for the Data health page."""

import dagster as dg

from foundation.settings import Settings
from ingestion.publish import CheckRecord, check_detail, record_checks

from .resources import ChurniqConfig, in_warehouse


def record(settings: Settings, run_id: str | None, checks: list[CheckRecord]) -> None:
    """Append `checks`; recording never fails the check itself."""
    try:
        in_warehouse(settings, lambda con: record_checks(con, run_id, checks))
    except Exception as exc:  # noqa: BLE001 - e.g. the warehouse locked by a parallel step
        dg.get_dagster_logger().warning(f"check results not recorded: {exc}")


def plain(metadata) -> dict:
    """Dagster metadata values as plain values."""
    return {k: getattr(v, "value", v) for k, v in (metadata or {}).items()}


def recorded(
    context: dg.AssetCheckExecutionContext, churniq: ChurniqConfig, result: dg.AssetCheckResult
) -> dg.AssetCheckResult:
    """`result`, after recording it under the check's name and asset."""
    spec = context.check_specs[0]
    entry = CheckRecord(
        "asset_check",
        spec.name,
        spec.asset_key.to_user_string(),
        result.passed,
        result.severity.value if result.severity else None,
        check_detail(plain(result.metadata)),
    )
    record(churniq.settings(), context.op_execution_context.run_id, [entry])
    return result


def dbt_test_record(event: dg.AssetCheckResult | dg.AssetObservation) -> CheckRecord | None:
    """A dbt test's outcome as a record: an asset check of the dbt assets, or a test that
    dagster-dbt logs as an observation (e.g. a test on a source); None for other events."""
    if isinstance(event, dg.AssetCheckResult) and event.asset_key is not None:
        return CheckRecord(
            "dbt_test",
            event.check_name or "?",
            event.asset_key.to_user_string(),
            event.passed,
            event.severity.value if event.severity else None,
            check_detail(plain(event.metadata)),
        )
    if isinstance(event, dg.AssetObservation) and event.metadata.get("status"):
        metadata = plain(event.metadata)
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
    return None
