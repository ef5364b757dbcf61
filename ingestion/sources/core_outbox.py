"""Pull the core's outbox into `raw.events`, exactly once, behind a durable cursor.

The core writes each state change's contract events into its `outbox` table in the same
transaction as the change (`foundation.contract.outbox`). This reader moves them into the
warehouse in batches. Each batch goes through the loader's one path (validation, dedupe by
event_id, quarantine, ledger; `source_file` = `core-outbox`, `source_line` = `seq`) and the
cursor row in `raw.source_cursors` is written in the same DuckDB transaction: a reader killed
anywhere either committed the batch and its cursor, or neither. Redelivery would be harmless
(event ids dedupe), but with the cursor it does not happen.

Ordering. The cursor is `(txid, seq)`:
- PostgreSQL hands out `seq` at insert time, not at commit time, so a transaction still in
  flight can commit a smaller `seq` after a larger one was read. The reader therefore takes only
  rows whose writing transaction is older than every transaction still running
  (`txid < pg_snapshot_xmin(pg_current_snapshot())`): those are all committed or gone, and any
  transaction that commits later has a larger txid than every row read so far. Rows are read in
  `(txid, seq)` order, past the cursor. A transaction left open in the core (idle in
  transaction) holds back every row written after it began.
- SQLite serializes writers, so `seq` order is commit order; `txid` is 0 there.

The reader never writes to the core: each batch is one short read-only statement, finished
before the DuckDB transaction begins (SQLite connections are `query_only`, PostgreSQL ones read
only), so no lock on the core is held while loading.

The cursor remembers which database it belongs to (`origin`: the URL without credentials). A
cursor of another database, or one past the outbox's newest row (a recreated core database),
restarts from the beginning; event-id dedupe makes that safe.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlalchemy as sa

from foundation.contract import DEFAULT_CLOCK_SKEW
from foundation.contract.outbox import OUTBOX, outbox_table
from ingestion.loader.load import FileResult, IngestReport, load_batch

SOURCE = "core-outbox"
FORMAT = "outbox"
START = (-1, -1)  # before every (txid, seq)

_OUTBOX = outbox_table(sa.MetaData())
_PG_XMIN = sa.literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")


@dataclass
class OutboxReport(IngestReport):
    """One `FileResult` per batch (in `files`), and the cursor after the pull."""

    txid: int = -1
    seq: int = -1
    restarted: bool = False  # the stored cursor was of another or a recreated database
    missing: bool = False  # no outbox table (or no SQLite file) yet: nothing pulled

    def summary(self) -> str:
        if self.missing:
            return "core outbox: no outbox table yet"
        return (
            f"core outbox: {len(self.files)} batch(es), {self.loaded:,} loaded, "
            f"{self.duplicates:,} duplicate, {self.quarantined:,} quarantined; "
            f"cursor {self.txid}:{self.seq}" + (" (restarted)" if self.restarted else "")
        )


def origin(core_db_url: str) -> str:
    """Which database a cursor belongs to: the URL without driver and credentials."""
    url = sa.make_url(core_db_url)
    if url.get_backend_name() == "sqlite":
        return f"sqlite:{Path(url.database or '').resolve()}"
    return f"{url.get_backend_name()}://{url.host or ''}:{url.port or ''}/{url.database or ''}"


def _sqlite_path(url: sa.URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


@contextmanager
def read_only_engine(core_db_url: str) -> Iterator[sa.Engine | None]:
    """An engine that cannot write to the core; None when the SQLite file does not exist (it
    would otherwise be created empty by connecting)."""
    url = sa.make_url(core_db_url)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        yield None
        return
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    if url.get_backend_name() == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _query_only(dbapi_connection, _record) -> None:
            dbapi_connection.execute("pragma query_only = on")

        reader = engine
    else:
        reader = engine.execution_options(postgresql_readonly=True)
    try:
        yield reader
    finally:
        engine.dispose()


def _has_outbox(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(OUTBOX)


def _big(name: str, value: int) -> sa.BindParameter:
    return sa.bindparam(name, value, type_=sa.BigInteger())


def _batch_query(dialect: str, after: tuple[int, int], limit: int) -> sa.Select:
    t = _OUTBOX.c
    query = sa.select(t.txid, t.seq, t.envelope)
    if dialect == "postgresql":
        return (
            query.where(
                sa.tuple_(t.txid, t.seq) > sa.tuple_(_big("txid", after[0]), _big("seq", after[1]))
            )
            .where(t.txid < _PG_XMIN)
            .order_by(t.txid, t.seq)
            .limit(limit)
        )
    return query.where(t.seq > _big("seq", after[1])).order_by(t.seq).limit(limit)


def read_batch(engine: sa.Engine, after: tuple[int, int], limit: int) -> list[tuple[int, int, str]]:
    """The next `limit` readable rows `(txid, seq, envelope)` past `after`, in cursor order."""
    with engine.connect() as conn:
        rows = conn.execute(_batch_query(engine.dialect.name, after, limit)).all()
    return [(int(txid), int(seq), envelope) for txid, seq, envelope in rows]


def outbox_frontier(core_db_url: str) -> tuple[int, int] | None:
    """The `(txid, seq)` of the newest row a pull could read now; None when there is none (no
    database, no outbox table, empty). Reads only the core: for sensors."""
    with read_only_engine(core_db_url) as engine:
        if engine is None:
            return None
        with engine.connect() as conn:
            if not _has_outbox(conn):
                return None
            t = _OUTBOX.c
            query = sa.select(t.txid, t.seq).order_by(t.txid.desc(), t.seq.desc()).limit(1)
            if engine.dialect.name == "postgresql":
                query = query.where(t.txid < _PG_XMIN)
            row = conn.execute(query).first()
    return None if row is None else (int(row[0]), int(row[1]))


def read_cursor(
    con: duckdb.DuckDBPyConnection, source: str = SOURCE
) -> tuple[str, int, int] | None:
    """The stored `(origin, txid, seq)` of `source`, or None."""
    rows = con.execute(
        "select origin, txid, seq from raw.source_cursors where source = ?", [source]
    ).fetchall()
    return (rows[0][0], int(rows[0][1]), int(rows[0][2])) if rows else None


def _start(
    con: duckdb.DuckDBPyConnection, engine: sa.Engine, here: str, source: str
) -> tuple[tuple[int, int], bool]:
    """Where to resume, and whether the stored cursor was dropped (another database, or a
    position past the outbox's newest row: the database was recreated)."""
    stored = read_cursor(con, source)
    if stored is None:
        return START, False
    where, txid, seq = stored
    if where != here:
        return START, True
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(_OUTBOX.c.seq))).scalar()
    if newest is not None and int(newest) < seq:
        return START, True
    return (txid, seq), False


def _store_cursor(
    con: duckdb.DuckDBPyConnection, source: str, here: str, cursor: tuple[int, int]
) -> None:
    con.execute(
        """insert into raw.source_cursors values (?, ?, ?, ?, ?)
           on conflict (source) do update set origin = excluded.origin, txid = excluded.txid,
             seq = excluded.seq, updated_at = excluded.updated_at""",
        [source, here, cursor[0], cursor[1], datetime.now(UTC).replace(tzinfo=None)],
    )


def pull_outbox(
    con: duckdb.DuckDBPyConnection,
    core_db_url: str,
    batch_size: int = 50_000,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    source: str = SOURCE,
) -> OutboxReport:
    """Load every readable outbox row past the cursor into `raw.events`, batch by batch, until
    a batch comes back short. Each batch commits with its cursor, then is checkpointed."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    here = origin(core_db_url)
    report = OutboxReport()
    with read_only_engine(core_db_url) as engine:
        if engine is None:
            report.missing = True
            return report
        with engine.connect() as conn:
            if not _has_outbox(conn):
                report.missing = True
                return report
        cursor, report.restarted = _start(con, engine, here, source)
        if report.restarted:
            _store_cursor(con, source, here, cursor)
        report.txid, report.seq = cursor
        while True:
            rows = read_batch(engine, cursor, batch_size)
            if not rows:
                break
            last = rows[-1][:2]
            lines = pa.table(
                {
                    "line_no": pa.array([r[1] for r in rows], pa.int64()),
                    "text": pa.array([r[2] for r in rows], pa.string()),
                }
            )
            del rows

            def advance(c: duckdb.DuckDBPyConnection, _result: FileResult, last=last) -> None:
                _store_cursor(c, source, here, last)

            n = lines.num_rows
            report.files.append(
                load_batch(
                    con,
                    lines,
                    source,
                    fmt=FORMAT,
                    now=now,
                    clock_skew=clock_skew,
                    in_transaction=advance,
                )
            )
            cursor = last
            report.txid, report.seq = cursor
            if n < batch_size:
                break
    return report
