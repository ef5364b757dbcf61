"""The raw schema of the warehouse: events, quarantine, the load ledger, source cursors and the
connectors' state, webhook counts and provider views."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from foundation.settings import Settings

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
-- loaded files holding lines of an erased customer, until their archived copy is rewritten
-- without them (ingestion.loader.erasure records them, ingestion.loader.archives rewrites)
create table if not exists raw.erasure_archives (
    batch_id     varchar   not null,
    source_file  varchar   not null,
    customer_id  varchar   not null,
    recorded_at  timestamp not null,
    rewritten_at timestamp
);
-- erased customers whose erasure went through the core's outbox and the compaction of the
-- core database and the warehouse (pipelines.assets.maintenance)
create table if not exists raw.erasures_maintained (
    customer_id   varchar   primary key,
    maintained_at timestamp not null
);
-- one row per connector source, from <home>/connectors/<source>.json (ingestion.sources.
-- connector_state): written in the transaction of each of the source's landing files
create table if not exists raw.connector_state (
    source           varchar   primary key,
    kind             varchar   not null,
    updated_at       timestamp,
    last_backfill_at timestamp,
    since            timestamp,
    complete         boolean   not null,
    objects_read     bigint    not null,
    events_written   bigint    not null,
    untranslatable   bigint    not null,
    ignored          json      not null,
    files            json      not null,
    recorded_at      timestamp not null
);
-- the core's webhook inbox, counted per provider, type and status (replaced every run)
create table if not exists raw.webhook_counts (
    provider         varchar   not null,
    event_type       varchar   not null,
    status           varchar   not null,
    webhooks         bigint    not null,
    events_written   bigint    not null,
    last_received_at timestamp,
    recorded_at      timestamp not null
);
-- the provider's own view of its active subscriptions after its last API backfill
create table if not exists raw.provider_views (
    source          varchar       not null,
    as_of           timestamp     not null,
    customer_id     varchar       not null,
    subscription_id varchar       not null,
    status          varchar,
    currency        varchar       not null,
    mrr             decimal(18,6) not null,
    recorded_at     timestamp     not null
);
"""


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction, committed when the block ends and rolled back when it raises; the
    warehouse is checkpointed after a commit (DESIGN.md: CHECKPOINT after each load)."""
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("checkpoint")


def open_warehouse(settings: Settings):
    """The warehouse of `settings`' home, with its DuckDB memory and thread limits."""
    return connect(settings.paths.warehouse, settings.duckdb_memory_limit, settings.duckdb_threads)


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


def compact(
    path: Path,
    in_copy: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
) -> int:
    """Rewrite the warehouse into a fresh file and swap it in (an atomic rename); returns the
    bytes saved. DuckDB's CHECKPOINT marks the blocks of deleted or updated rows free but leaves
    their bytes in the file until they are reused: after an erasure, only a rewrite removes
    them. `in_copy(con)` runs on the new copy (its catalog in use) before the swap, so what it
    records is there exactly when the rewrite is. The caller must hold no connection to it."""
    con = duckdb.connect(str(path))  # replays and removes any WAL of the old file
    con.execute("checkpoint")
    con.close()
    tmp = path.with_name(f".{path.stem}-compact-{uuid.uuid4().hex[:8]}.duckdb")
    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        if threads:
            con.execute(f"set threads = {int(threads)}")
        con.execute(f"attach '{path}' as old (read_only)")
        con.execute(f"attach '{tmp}' as compacted")
        con.execute("copy from database old to compacted")
        con.execute("detach old")
        if in_copy is not None:
            con.execute("use compacted")
            in_copy(con)
        con.execute("use memory")
        con.execute("detach compacted")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    con.close()
    before = path.stat().st_size
    os.chmod(tmp, path.stat().st_mode & 0o7777)
    os.replace(tmp, path)
    return before - path.stat().st_size
