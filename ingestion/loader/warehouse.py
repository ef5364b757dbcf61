"""The raw schema of the warehouse: events, quarantine, the load ledger and source cursors."""

from __future__ import annotations

from pathlib import Path

import duckdb

RAW_DDL = """
create schema if not exists raw;
create table if not exists raw.events (
    event_id       varchar   not null,
    event_type     varchar   not null,
    schema_version integer   not null,
    occurred_at    timestamp not null,
    source         varchar   not null,
    customer_id    varchar,
    data           json      not null,
    batch_id       varchar   not null,
    source_file    varchar,
    source_line    bigint,
    loaded_at      timestamp not null
);
create table if not exists raw.quarantine (
    batch_id       varchar   not null,
    source_file    varchar   not null,
    source_line    bigint    not null,
    event_id       varchar,
    reason_code    varchar   not null,
    reason_detail  varchar,
    raw_text       varchar,
    quarantined_at timestamp not null,
    replayed_at    timestamp
);
create table if not exists raw.load_ledger (
    batch_id      varchar   not null,
    source_file   varchar   not null,
    file_sha256   varchar   not null,
    file_bytes    bigint    not null,
    file_format   varchar   not null,
    lines         bigint    not null,
    loaded        bigint    not null,
    duplicates    bigint    not null,
    quarantined   bigint    not null,
    started_at    timestamp not null,
    finished_at   timestamp not null
);
-- how far each pulled source (the core outbox) has been loaded; written in the same
-- transaction as the batch it covers. `origin` names the database the position belongs to.
create table if not exists raw.source_cursors (
    source     varchar   primary key,
    origin     varchar   not null,
    txid       bigint    not null,
    seq        bigint    not null,
    updated_at timestamp not null
);
"""


def connect(path: Path, memory_limit: str | None = None, threads: int | None = None):
    """Open the warehouse (the single writer) and make sure the raw schema exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("set enable_progress_bar = false")
    if memory_limit:
        con.execute(f"set memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"set threads = {int(threads)}")
    con.execute(RAW_DDL)
    return con
