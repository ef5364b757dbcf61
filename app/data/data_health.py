"""Queries of the Data health page: the snapshot's small ``ops`` schema (published by
``ingestion.publish.publish_ops``), never the warehouse; and the replay requests the page files
for the pipeline (``$CHURNIQ_HOME/requests/``, executed at the start of the next run).

Every query function is cached on the snapshot (``Source``) like those of ``app.data``; the
request folder is read on every rerun (a directory listing), so a request shows as pending at
once and disappears when the pipeline has executed it.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from app.data.snapshot import Source, home, query, tables
from foundation.replay_requests import (
    REASON_CODES,
    ReplayRequest,
    pending_requests,
    write_request,
)

OPS_TABLES = (
    "ops.sources",
    "ops.event_sources",
    "ops.loads",
    "ops.quarantine_reasons",
    "ops.quarantine_samples",
    "ops.table_rows",
    "ops.check_results",
    "ops.connectors",
    "ops.connector_ignored",
    "ops.reconciliation",
)
LOADS_PAGE_SIZE = 50


def has_ops(source: Source | None) -> bool:
    """Whether the snapshot was published with the data-health tables."""
    return source is not None and "ops.sources" in tables(source)


def _frame(source: Source, table: str, sql: str, params: list[Any] | None = None):
    if table not in tables(source):
        return None
    return query(source, sql, params)


@st.cache_data(show_spinner=False)
def run_info(source: Source) -> dict[str, Any] | None:
    """The run that published the snapshot: run_id, version, published_at."""
    df = _frame(source, "ops.run", "select run_id, version, published_at from ops.run limit 1")
    if df is None or df.empty:
        return None
    return df.iloc[0].to_dict()


@st.cache_data(show_spinner=False)
def sources(source: Source) -> pd.DataFrame | None:
    """Loads and freshness per source (landing files, the core outbox, replays)."""
    return _frame(
        source,
        "ops.sources",
        """select source, batches, lines, loaded, duplicates, quarantined, events_stored,
                  first_load_at, last_load_at, last_load_with_events_at, last_event_at,
                  event_lag_hours, hours_since_last_load
           from ops.sources order by last_load_at desc nulls last, source""",
    )


@st.cache_data(show_spinner=False)
def event_sources(source: Source) -> pd.DataFrame | None:
    """Events per producing system (the events' `source` field) and their newest time."""
    return _frame(
        source,
        "ops.event_sources",
        """select source, events, first_event_at, last_event_at, last_loaded_at,
                  event_lag_hours
           from ops.event_sources order by source""",
    )


@st.cache_data(show_spinner=False)
def quarantine_reasons(source: Source) -> pd.DataFrame | None:
    return _frame(
        source,
        "ops.quarantine_reasons",
        """select reason_code, open_lines, replayed_lines, total_lines, first_quarantined_at,
                  last_quarantined_at, last_replayed_at
           from ops.quarantine_reasons
           order by open_lines desc, total_lines desc, reason_code""",
    )


@st.cache_data(show_spinner=False)
def quarantine_samples(source: Source, reason: str) -> pd.DataFrame | None:
    """The published (redacted, truncated) sample lines of one reason code."""
    return _frame(
        source,
        "ops.quarantine_samples",
        """select event_type, field, reason_detail, excerpt, event_id, source_file,
                  source_line, batch_id, quarantined_at, replayed_at
           from ops.quarantine_samples where reason_code = ?
           order by replayed_at is not null, quarantined_at desc, source_line""",
        [reason],
    )


@st.cache_data(show_spinner=False)
def check_results(source: Source, only_failing: bool = False) -> pd.DataFrame | None:
    """The latest result of every asset check and dbt test, failures first."""
    where = "where not passed" if only_failing else ""
    return _frame(
        source,
        "ops.check_results",
        f"""select kind, check_name, asset, passed, severity, detail, evaluated_at, this_run
            from ops.check_results {where}
            order by passed, kind, asset, check_name""",
    )


@st.cache_data(show_spinner=False)
def check_counts(source: Source) -> dict[str, int] | None:
    """Checks by outcome: total, failed (errors), warned (failed with severity WARN)."""
    df = _frame(
        source,
        "ops.check_results",
        """select count(*) as total,
                  count(*) filter (where not passed and coalesce(severity, '') <> 'WARN')
                      as failed,
                  count(*) filter (where not passed and severity = 'WARN') as warned,
                  count(*) filter (where not this_run) as earlier
           from ops.check_results""",
    )
    if df is None or df.empty:
        return None
    return {k: int(v) for k, v in df.iloc[0].items()}


@st.cache_data(show_spinner=False)
def table_rows(source: Source) -> pd.DataFrame | None:
    return _frame(
        source, "ops.table_rows", "select table_name, rows from ops.table_rows order by table_name"
    )


@st.cache_data(show_spinner=False)
def loads_count(source: Source) -> int:
    df = _frame(source, "ops.loads", "select count(*) as n from ops.loads")
    return 0 if df is None else int(df.iloc[0]["n"])


@st.cache_data(show_spinner=False)
def recent_loads(source: Source, page: int = 1, size: int = LOADS_PAGE_SIZE) -> pd.DataFrame | None:
    """One page (1-based) of the latest loads, newest first; paginated in DuckDB."""
    return _frame(
        source,
        "ops.loads",
        """select source, source_file, file_format, lines, loaded, duplicates, quarantined,
                  started_at, finished_at, seconds, batch_id
           from ops.loads order by finished_at desc, batch_id limit ? offset ?""",
        [size, (max(page, 1) - 1) * size],
    )


@st.cache_data(show_spinner=False)
def replay_outcomes(source: Source) -> pd.DataFrame | None:
    """The last executed replay requests (audit: who asked, what happened)."""
    return _frame(
        source,
        "ops.replay_requests",
        """select request_id, requested_by, reason_codes, requested_at, executed_at, status,
                  attempted, loaded, duplicates, still_quarantined, detail
           from ops.replay_requests order by executed_at desc""",
    )


@st.cache_data(show_spinner=False)
def open_reason_codes(source: Source) -> list[str]:
    """Reason codes with open lines, most first (the replay form's choices)."""
    df = quarantine_reasons(source)
    if df is None:
        return []
    return [str(r) for r in df.loc[df["open_lines"] > 0, "reason_code"]]


@st.cache_data(show_spinner=False)
def connectors(source: Source) -> pd.DataFrame | None:
    """Per connected source (a state file or webhooks): kind, freshness (hours since the last
    backfill, webhook and event), counts, quarantine and the reconciliation's summary."""
    return _frame(
        source,
        "ops.connectors",
        """select source, kind, hours_since_backfill, hours_since_webhook, hours_since_event,
                  objects_read, events_written, events_stored, webhooks, untranslatable,
                  quarantined_open, quarantined_total, customers_compared,
                  customers_differing, reconciled_as_of, churniq_as_of_date, last_backfill_at, last_webhook_at,
                  last_event_at, complete
           from ops.connectors order by source""",
    )


@st.cache_data(show_spinner=False)
def connector_ignored(source: Source) -> pd.DataFrame | None:
    """Provider types counted as ignored (no contract meaning), per source, most first."""
    return _frame(
        source,
        "ops.connector_ignored",
        """select source, provider_type, ignored, in_imports, in_webhooks
           from ops.connector_ignored order by source, ignored desc, provider_type""",
    )


@st.cache_data(show_spinner=False)
def reconciliation(source: Source) -> pd.DataFrame | None:
    """The customers whose subscriptions or MRR differ from the provider's view, largest
    difference first."""
    return _frame(
        source,
        "ops.reconciliation",
        """select source, customer_id, currency, provider_subscriptions, churniq_subscriptions,
                  provider_mrr, churniq_mrr, mrr_difference, as_of
           from ops.reconciliation
           order by abs(mrr_difference) desc, source, customer_id, currency""",
    )


def pending(executed: set[str] | None = None) -> pd.DataFrame:
    """Request files not executed yet (those already in the snapshot's outcomes are left out:
    the pipeline archives a file right after its outcome commits)."""
    rows = [
        {
            "request_id": r.request_id,
            "requested_by": r.requested_by or None,
            "reason_codes": ", ".join(r.reason_codes) or "every reason",
            "requested_at": r.requested_at or None,
            "problem": r.error,
        }
        for r in pending_requests(home())
        if not executed or r.request_id not in executed
    ]
    return pd.DataFrame(
        rows, columns=["request_id", "requested_by", "reason_codes", "requested_at", "problem"]
    )


def file_replay_request(user: str, reasons: list[str]) -> ReplayRequest:
    """Write a replay request for the next pipeline run (atomically, naming the user)."""
    return write_request(home(), user, reasons)


__all__ = [
    "LOADS_PAGE_SIZE",
    "OPS_TABLES",
    "REASON_CODES",
    "check_counts",
    "check_results",
    "connector_ignored",
    "connectors",
    "event_sources",
    "file_replay_request",
    "has_ops",
    "loads_count",
    "open_reason_codes",
    "pending",
    "quarantine_reasons",
    "quarantine_samples",
    "recent_loads",
    "reconciliation",
    "replay_outcomes",
    "run_info",
    "sources",
    "table_rows",
]
