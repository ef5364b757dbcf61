"""Publish the serving snapshot: a consistent, read-only copy of the marts for the app.

The snapshot is written to a temporary file next to the live one and swapped in with an
atomic rename, so the app sees either the old or the new state, never a half-built one, and
never opens the warehouse (DuckDB's lock would block the pipeline).

Besides the marts and ml tables, the snapshot holds a small `ops` schema for the Data health page
(see `publish_ops`): loads and freshness per source, quarantine counts by reason with a few
redacted samples, row counts of the published tables, the latest asset check and dbt test
results (recorded in the warehouse's `ops.check_results` by the run, `record_checks`), the
outcomes of replay requests (`ops.replay_requests`, written by `ingestion.loader.replay`) and the
connected sources (`ops.connectors`, `ops.connector_ignored`, `ops.reconciliation`).
No Dagster here: the job passes plain values. It lives with ingestion, which owns the warehouse
file and so the snapshot copied from it.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from foundation.vocabulary import BRIDGE_COLUMNS

PUBLISHED_SCHEMAS = ("marts", "ml")
# Tables the app reads one customer (or the latest scoring) at a time, stored in that order so
# that DuckDB's zone maps skip the other row groups (incremental runs append rebuilt customers
# at the end). Sorting costs about a tenth of the copy (1M customers: 11 s against 10 s for
# customer_months).
PUBLISHED_ORDER = {
    "marts.customer_timeline": "customer_id, occurred_at",
    "marts.customer_months": "customer_id, month",
    "ml.churn_scores": "scored_at, customer_id",
}
SAMPLES_PER_REASON = 3
RECENT_LOADS = 200
RECENT_REQUESTS = 50
EXCERPT_CHARS = 300
RECONCILIATION_ROWS = 1000  # differing customers published (the largest differences first)


@dataclass(frozen=True)
class Snapshot:
    version: str
    path: Path
    tables: dict[str, int]
    watermark: datetime | None


def publish(
    warehouse: Path,
    serving: Path,
    reporting_currency: str,
    schemas=PUBLISHED_SCHEMAS,
    run_id: str | None = None,
) -> Snapshot:
    serving.parent.mkdir(parents=True, exist_ok=True)
    # what a run killed while publishing left behind (one run at a time: the run lock)
    for stale in serving.parent.glob(f".{serving.stem}-*.duckdb*"):
        stale.unlink(missing_ok=True)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    tmp = serving.with_name(f".{serving.stem}-{version}.duckdb")
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    try:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute("use wh")
        con.execute(f"attach '{tmp}' as snap")
        names = con.execute(
            f"""select table_schema, table_name from information_schema.tables
                where table_catalog = 'wh' and table_type = 'BASE TABLE'
                  and table_schema in ({", ".join("?" for _ in schemas)})
                order by 1, 2""",
            list(schemas),
        ).fetchall()
        tables: dict[str, int] = {}
        for schema in sorted({s for s, _ in names}):
            con.execute(f'create schema if not exists snap."{schema}"')
        for schema, name in names:
            order = PUBLISHED_ORDER.get(f"{schema}.{name}")
            con.execute(
                f'create table snap."{schema}"."{name}" as select * from "{schema}"."{name}"'
                + (f" order by {order}" if order else "")
            )
            tables[f"{schema}.{name}"] = con.execute(
                f'select count(*) from snap."{schema}"."{name}"'
            ).fetchall()[0][0]
        # the marts' own watermark (the newest event, or a later complete provider backfill)
        watermark = con.execute(
            "select watermark_at from intermediate.int_as_of"
            if _has_table(con, "intermediate", "int_as_of")
            else "select max(occurred_at) from raw.events"
        ).fetchall()[0][0]
        published_at = datetime.now(UTC).replace(tzinfo=None)
        con.execute("create schema snap.meta")
        con.execute(
            """create table snap.meta.snapshot as
               select ?::varchar as version, ?::timestamp as published_at,
                      ?::timestamp as watermark, ?::varchar as reporting_currency""",
            [version, published_at, watermark, reporting_currency],
        )
        publish_ops(con, tables, run_id=run_id, version=version, published_at=published_at)
        con.execute("detach snap")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, serving)
    return Snapshot(version, serving, tables, watermark)


# ---- check results, recorded in the warehouse by the run that evaluates them ---------------

CHECKS_DDL = """
create schema if not exists ops;
create table if not exists ops.check_results (
    run_id       varchar,
    kind         varchar   not null,  -- asset_check | dbt_test
    check_name   varchar   not null,
    asset        varchar   not null,
    passed       boolean   not null,
    severity     varchar,
    detail       varchar,
    evaluated_at timestamp not null
);
"""


@dataclass(frozen=True)
class CheckRecord:
    """One evaluated check: an asset check of the job or a dbt test."""

    kind: str
    check_name: str
    asset: str
    passed: bool
    severity: str | None = None
    detail: str | None = None


def check_detail(metadata: dict[str, Any], limit: int = 300) -> str:
    """A check's metadata as one short line (`key=value; …`)."""
    text = "; ".join(f"{k}={v}" for k, v in metadata.items() if v not in (None, "", [], {}))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_checks(
    con: duckdb.DuckDBPyConnection, run_id: str | None, checks: Iterable[CheckRecord]
) -> int:
    """Append check results to the warehouse's `ops.check_results` (one insert)."""
    rows = list(checks)
    con.execute(CHECKS_DDL)
    if not rows:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = pa.table(
        {
            "run_id": pa.array([run_id] * len(rows), pa.string()),
            "kind": [r.kind for r in rows],
            "check_name": [r.check_name for r in rows],
            "asset": [r.asset for r in rows],
            "passed": pa.array([bool(r.passed) for r in rows], pa.bool_()),
            "severity": pa.array([r.severity for r in rows], pa.string()),
            "detail": pa.array([r.detail for r in rows], pa.string()),
            "evaluated_at": pa.array([now] * len(rows), pa.timestamp("us")),
        }
    )
    con.register("new_check_results", frame)
    try:
        con.execute("insert into ops.check_results by name select * from new_check_results")
    finally:
        con.unregister("new_check_results")
    return len(rows)


# ---- the ops schema of the snapshot --------------------------------------------------------

_ADDRESS_CHAR = r"[^@\s\"'{}:,]"
# Linear on any text: a match starts only where a run of address characters starts and takes
# the whole run at once (possessive), so 20,000 characters without an "@" cost one pass.
_EMAIL = re.compile(rf"(?<!{_ADDRESS_CHAR}){_ADDRESS_CHAR}++@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+")
_FIELD = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)")
_ENVELOPE = ("event_id", "event_type", "schema_version", "occurred_at", "source", "customer_id")
REDACTED = "[redacted]"


def _personal_keys() -> frozenset[str]:
    from ingestion.loader.erasure import PERSONAL_ATTRIBUTES

    return frozenset(PERSONAL_ATTRIBUTES) | {
        "email",
        "name",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "address",
        "ip",
        "ip_address",
    }


def _safe(key: str, value: Any) -> Any:
    """A value as samples may show it: personal attributes and e-mail-like strings hidden,
    objects and arrays elided."""
    if key in _personal_keys():
        return REDACTED
    if isinstance(value, str):
        return _EMAIL.sub(REDACTED, value)
    if isinstance(value, dict | list):
        return "…"
    return value


def _json_object(text: str) -> dict[str, Any] | None:
    """The line as a JSON object, or None for any other text. orjson does not recurse in
    Python and refuses nesting deeper than 1024 levels, so no quarantined text (2,000 nested
    brackets, an unterminated million) can raise anything but its decode error."""
    try:
        obj = orjson.loads(text)
    except (orjson.JSONDecodeError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def sample_view(text: str | None, detail: str | None) -> tuple[str | None, str | None, str]:
    """(event_type, offending field, excerpt) of a quarantined line, safe to publish.

    Only the envelope (ids, type, time, source) and the field the reason names are shown; the
    other keys of `data` appear with their values elided; personal attributes and anything that
    looks like an e-mail address are redacted. A line that is not a JSON object is shown as its
    first 80 characters, e-mail addresses redacted."""
    if text is None:
        return None, None, "(text removed: erased customer or not valid UTF-8)"
    m = _FIELD.match(detail or "")
    field = m.group(1) if m else None
    obj = _json_object(text)
    if obj is None:
        short = _EMAIL.sub(REDACTED, text.strip())
        return None, None, short if len(short) <= 80 else short[:79] + "…"
    shown: dict[str, Any] = {k: _safe(k, obj[k]) for k in _ENVELOPE if k in obj}
    data = obj.get("data")
    if isinstance(data, dict):
        wanted = field.split(".", 1)[1].split(".")[0] if field and field.startswith("data.") else ""
        shown["data"] = {k: (_safe(k, v) if k == wanted else "…") for k, v in data.items()}
    elif "data" in obj:
        shown["data"] = _safe("data", data)
    if field and "." not in field and field not in shown and field in obj:
        shown[field] = _safe(field, obj[field])
    excerpt = json.dumps(shown, ensure_ascii=False, default=str)
    if len(excerpt) > EXCERPT_CHARS and isinstance(shown.get("data"), dict):
        # too long: the elided fields of data give way first, so the excerpt stays JSON
        kept = {k: v for k, v in shown["data"].items() if v != "…"}
        others = len(shown["data"]) - len(kept)
        shown["data"] = kept | ({"…": f"{others} other field(s)"} if others else {})
        excerpt = json.dumps(shown, ensure_ascii=False, default=str)
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 1] + "…"
    event_type = obj.get("event_type") if isinstance(obj.get("event_type"), str) else None
    known = field if field and (field in obj or field.startswith("data.")) else None
    return event_type, known, excerpt


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            """select 1 from information_schema.tables
               where table_catalog = 'wh' and table_schema = ? and table_name = ?""",
            [schema, name],
        ).fetchall()
    )


_CHANNEL = """case when file_format = 'replay' then 'replay'
                  when source_file in (select source from raw.source_cursors)
                       or file_format = 'outbox' then source_file
                  else 'landing files' end"""


def publish_ops(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, int],
    *,
    run_id: str | None,
    version: str,
    published_at: datetime,
) -> None:
    """Write `snap.ops.*` from the attached warehouse `wh` (the current catalog): small tables
    only, never more than a few raw lines per quarantine reason."""
    con.execute("create schema snap.ops")
    con.execute(
        "create table snap.ops.run as select ?::varchar as run_id, ?::varchar as version,"
        " ?::timestamp as published_at",
        [run_id, version, published_at],
    )
    con.execute(
        f"""
        create table snap.ops.sources as
        with ledger as (select *, {_CHANNEL} as channel from raw.load_ledger),
        stored as (
            select l.channel, count(*) as events_stored, max(e.occurred_at) as last_event_at
            from raw.events e join ledger l using (batch_id) group by l.channel
        )
        select l.channel as source, count(*) as batches, sum(l.lines)::bigint as lines,
               sum(l.loaded)::bigint as loaded, sum(l.duplicates)::bigint as duplicates,
               sum(l.quarantined)::bigint as quarantined, min(l.started_at) as first_load_at,
               max(l.finished_at) as last_load_at,
               max(l.finished_at) filter (where l.loaded > 0) as last_load_with_events_at,
               coalesce(any_value(s.events_stored), 0) as events_stored,
               any_value(s.last_event_at) as last_event_at,
               date_diff('second', any_value(s.last_event_at), $1::timestamp) / 3600.0
                   as event_lag_hours,
               date_diff('second', max(l.finished_at), $1::timestamp) / 3600.0
                   as hours_since_last_load
        from ledger l left join stored s using (channel)
        group by l.channel order by last_load_at desc
        """,
        [published_at],
    )
    con.execute(
        """
        create table snap.ops.event_sources as
        select source, count(*) as events, min(occurred_at) as first_event_at,
               max(occurred_at) as last_event_at, max(loaded_at) as last_loaded_at,
               date_diff('second', max(occurred_at), $1::timestamp) / 3600.0 as event_lag_hours
        from raw.events group by source order by source
        """,
        [published_at],
    )
    con.execute(
        f"""
        create table snap.ops.loads as
        select {_CHANNEL} as source, batch_id,
               regexp_extract(source_file, '[^/\\\\]+$') as source_file, file_format, lines,
               loaded, duplicates, quarantined, started_at, finished_at,
               date_diff('millisecond', started_at, finished_at) / 1000.0 as seconds
        from raw.load_ledger order by finished_at desc limit {RECENT_LOADS}
        """
    )
    con.execute(
        """
        create table snap.ops.quarantine_reasons as
        select reason_code,
               count(*) filter (where replayed_at is null) as open_lines,
               count(*) filter (where replayed_at is not null) as replayed_lines,
               count(*) as total_lines, min(quarantined_at) as first_quarantined_at,
               max(quarantined_at) as last_quarantined_at, max(replayed_at) as last_replayed_at
        from raw.quarantine group by reason_code
        order by open_lines desc, total_lines desc, reason_code
        """
    )
    _publish_samples(con)
    rows = sorted(tables.items())
    con.register(
        "published_rows",
        pa.table(
            {
                "table_name": [t for t, _ in rows],
                "rows": pa.array([n for _, n in rows], pa.int64()),
            }
        ),
    )
    try:
        con.execute("create table snap.ops.table_rows as select * from published_rows")
    finally:
        con.unregister("published_rows")
    if _has_table(con, "ops", "check_results"):
        con.execute(
            """
            create table snap.ops.check_results as
            select run_id, kind, check_name, asset, passed, severity, detail, evaluated_at,
                   run_id is not distinct from $1 as this_run
            from ops.check_results
            qualify row_number() over (partition by kind, check_name, asset
                                       order by evaluated_at desc) = 1
            order by passed, kind, asset, check_name
            """,
            [run_id],
        )
    else:
        con.execute(f"create table snap.ops.check_results as select * from ({_EMPTY_CHECKS})")
    if _has_table(con, "ops", "replay_requests"):
        con.execute(
            f"""create table snap.ops.replay_requests as select * from ops.replay_requests
                order by executed_at desc limit {RECENT_REQUESTS}"""
        )
    _publish_connectors(con, published_at)


_EMPTY_CHECKS = """select null::varchar as run_id, null::varchar as kind, null::varchar as check_name,
       null::varchar as asset, null::boolean as passed, null::varchar as severity,
       null::varchar as detail, null::timestamp as evaluated_at, null::boolean as this_run
limit 0"""


# the provider (contract `source`) of a quarantined line: an importer's landing file is named
# `<source>-<stamp>-<part>`; an outbox line carries it in its envelope (webhooks)
_QUARANTINE_SOURCE = """case
    when file_format = 'outbox' and json_valid(raw_text)
        then json_extract_string(raw_text, '$.source')
    else regexp_extract(regexp_extract(source_file, '[^/\\\\]+$'),
                        '^(.+?)-[0-9]{8}T[0-9]{6}Z-[0-9]{5}\\.', 1)
end"""


def _publish_connectors(con: duckdb.DuckDBPyConnection, published_at: datetime) -> None:
    """`ops.connectors` (per source: kind, freshness, counts, ignored types, quarantine, the
    reconciliation's summary), `ops.connector_ignored` (source x provider type) and
    `ops.reconciliation` (the customers whose figures differ from the provider's). None of them
    for a warehouse older than the connectors (the page says the table is missing)."""
    if not _has_table(con, "raw", "connector_state"):
        return
    has_mart = _has_table(con, "marts", "reconciliation_provider")
    reconciled = (
        """select provider_source as source, any_value(as_of) as reconciled_as_of,
                  any_value(churniq_as_of_date) as churniq_as_of_date,
                  count(*) as customers_compared,
                  count(*) filter (where not matches) as customers_differing
           from marts.reconciliation_provider group by provider_source"""
        if has_mart
        else """select null::varchar as source, null::timestamp as reconciled_as_of,
                       null::date as churniq_as_of_date, 0::bigint as customers_compared, 0::bigint as customers_differing
                limit 0"""
    )
    con.execute(
        f"""
        create table snap.ops.connectors as
        with state as (select * from raw.connector_state),
        hooks as (
            select provider as source, sum(webhooks)::bigint as webhooks,
                   (sum(webhooks) filter (where status = 'ignored'))::bigint as webhooks_ignored,
                   (sum(webhooks) filter (where status = 'untranslatable'))::bigint
                       as webhooks_untranslatable,
                   max(last_received_at) as last_webhook_at
            from raw.webhook_counts group by provider
        ),
        sources as (select source from state union select source from hooks),
        events as (
            select source, count(*) as events_stored, max(occurred_at) as last_event_at
            from raw.events where source in (select source from sources) group by source
        ),
        quarantined as (
            select source, count(*) filter (where replayed_at is null) as quarantined_open,
                   count(*) as quarantined_total
            from (
                select {_QUARANTINE_SOURCE} as source, q.replayed_at
                from raw.quarantine q left join raw.load_ledger l using (batch_id, source_file)
            ) where source in (select source from sources) group by source
        ),
        reconciled as ({reconciled})
        select sources.source, coalesce(state.kind, 'webhooks') as kind, state.complete,
               state.last_backfill_at, hooks.last_webhook_at, events.last_event_at,
               date_diff('second', state.last_backfill_at, $1::timestamp) / 3600.0
                   as hours_since_backfill,
               date_diff('second', hooks.last_webhook_at, $1::timestamp) / 3600.0
                   as hours_since_webhook,
               date_diff('second', events.last_event_at, $1::timestamp) / 3600.0
                   as hours_since_event,
               coalesce(state.objects_read, 0) as objects_read,
               coalesce(state.events_written, 0) as events_written,
               coalesce(events.events_stored, 0) as events_stored,
               coalesce(hooks.webhooks, 0) as webhooks,
               coalesce(state.untranslatable, 0) + coalesce(hooks.webhooks_untranslatable, 0)
                   as untranslatable,
               coalesce(quarantined.quarantined_open, 0) as quarantined_open,
               coalesce(quarantined.quarantined_total, 0) as quarantined_total,
               reconciled.reconciled_as_of, reconciled.churniq_as_of_date,
               reconciled.customers_compared, reconciled.customers_differing,
               state.updated_at as state_updated_at
        from sources
        left join state using (source)
        left join hooks using (source)
        left join events using (source)
        left join quarantined using (source)
        left join reconciled using (source)
        order by sources.source
        """,
        [published_at],
    )
    ignored: dict[tuple[str, str], list[int]] = {}
    for source, kinds in con.execute(
        "select source, ignored::varchar from raw.connector_state"
    ).fetchall():
        for provider_type, n in orjson.loads(kinds).items():
            ignored.setdefault((source, provider_type), [0, 0])[0] += int(n)
    for source, provider_type, n in con.execute(
        """select provider, event_type, sum(webhooks) from raw.webhook_counts
           where status = 'ignored' group by provider, event_type"""
    ).fetchall():
        ignored.setdefault((source, provider_type), [0, 0])[1] += int(n)
    rows = sorted(ignored.items(), key=lambda kv: (kv[0][0], -sum(kv[1]), kv[0][1]))
    con.register(
        "connector_ignored",
        pa.table(
            {
                "source": pa.array([k[0] for k, _ in rows], pa.string()),
                "provider_type": pa.array([k[1] for k, _ in rows], pa.string()),
                "ignored": pa.array([sum(v) for _, v in rows], pa.int64()),
                "in_imports": pa.array([v[0] for _, v in rows], pa.int64()),
                "in_webhooks": pa.array([v[1] for _, v in rows], pa.int64()),
            }
        ),
    )
    try:
        con.execute("create table snap.ops.connector_ignored as select * from connector_ignored")
    finally:
        con.unregister("connector_ignored")
    differences = (
        f"""select provider_source as source, as_of, customer_id, currency,
                   provider_subscriptions, churniq_subscriptions, provider_mrr, churniq_mrr,
                   mrr_difference
            from marts.reconciliation_provider where not matches
            order by abs(mrr_difference) desc, provider_source, customer_id, currency
            limit {RECONCILIATION_ROWS}"""
        if has_mart
        else """select null::varchar as source, null::timestamp as as_of,
                       null::varchar as customer_id, null::varchar as currency,
                       null::bigint as provider_subscriptions,
                       null::bigint as churniq_subscriptions,
                       null::decimal(38, 6) as provider_mrr, null::decimal(38, 6) as churniq_mrr,
                       null::decimal(38, 6) as mrr_difference limit 0"""
    )
    con.execute(f"create table snap.ops.reconciliation as {differences}")


def _publish_samples(con: duckdb.DuckDBPyConnection) -> None:
    """`ops.quarantine_samples`: up to SAMPLES_PER_REASON lines per reason, open ones and the
    newest first, redacted by `sample_view`."""
    found = con.execute(
        f"""
        select reason_code, reason_detail, batch_id,
               regexp_extract(source_file, '[^/\\\\]+$') as source_file, source_line, event_id,
               substr(raw_text, 1, 20000) as raw_text, quarantined_at, replayed_at
        from raw.quarantine
        qualify row_number() over (
            partition by reason_code
            order by replayed_at is not null, quarantined_at desc, batch_id, source_line
        ) <= {SAMPLES_PER_REASON}
        order by reason_code, replayed_at is not null, quarantined_at desc, source_line
        """
    ).fetchall()
    views = [sample_view(r[6], r[1]) for r in found]
    sample = pa.table(
        {
            "reason_code": pa.array([r[0] for r in found], pa.string()),
            "reason_detail": pa.array([r[1] for r in found], pa.string()),
            "event_type": pa.array([v[0] for v in views], pa.string()),
            "field": pa.array([v[1] for v in views], pa.string()),
            "event_id": pa.array(
                [_EMAIL.sub(REDACTED, r[5]) if r[5] else None for r in found], pa.string()
            ),
            "source_file": pa.array([r[3] for r in found], pa.string()),
            "source_line": pa.array([r[4] for r in found], pa.int64()),
            "batch_id": pa.array([r[2] for r in found], pa.string()),
            "excerpt": pa.array([v[2] for v in views], pa.string()),
            "quarantined_at": pa.array([r[7] for r in found], pa.timestamp("us")),
            "replayed_at": pa.array([r[8] for r in found], pa.timestamp("us")),
        }
    )
    con.register("quarantine_sample", sample)
    try:
        con.execute("create table snap.ops.quarantine_samples as select * from quarantine_sample")
    finally:
        con.unregister("quarantine_sample")


# ---- the snapshot's own checks -------------------------------------------------------------


def unbalanced_bridge_months(serving: Path) -> tuple[int, list[tuple[str, str]]]:
    """(months, [(month, gap)]) of `marts.metrics_monthly` in the snapshot where the MRR change
    is not the sum of its movements."""
    movements = " + ".join(BRIDGE_COLUMNS)
    con = duckdb.connect(str(serving), read_only=True)
    try:
        rows = con.execute(
            f"""select month, mrr - coalesce(lag(mrr) over (order by month), 0)
                      - ({movements}) as gap
               from marts.metrics_monthly order by month"""
        ).fetchall()
    finally:
        con.close()
    return len(rows), [(str(m), str(g)) for m, g in rows if g != 0]
