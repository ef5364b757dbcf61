"""Replay quarantined lines once the contract or the loader has been fixed, and the queue of
replay requests that the dashboards file for the pipeline to execute.

`replay` re-validates the `raw_text` of unreplayed rows of `raw.quarantine` with today's code,
through `load.load_batch` itself, so the rules are exactly those of a load: the same validation,
dedupe by event_id (an event already loaded with the same body is a duplicate, with another body a
`conflicting_duplicate`), erasure, one transaction and a checkpoint. The replay is one batch
(`file_format = 'replay'` in the ledger); its events keep the `source_file`/`source_line` of the
quarantined line they come from.

Inside that transaction, per quarantined row:

* now loaded, or a duplicate of an event already loaded: `replayed_at` is set (resolved);
* still failing: the row stays open (`replayed_at` null) and its `reason_code`/`reason_detail`
  are refreshed to today's verdict (the reason shown is why it fails *now*, e.g. after one rule
  was fixed another one may fail); `quarantined_at` keeps the first quarantine time. The
  temporary quarantine rows that `load_batch` wrote for the replay batch are removed, so a line is
  never quarantined twice.

So a replay is idempotent: re-running it only looks at open rows, and a crash rolls the whole
batch back (nothing half-loaded, nothing lost). Rows whose text was removed (erasure, or invalid
UTF-8) cannot be replayed and are left as they are; so are the rows a file reader refused
(`READER_REASONS`: a malformed CSV row, a line too long, a file quarantined whole), which the
validator never judges: the file is fixed and landed again instead.

Requests (`<home>/requests/*.json`) come from the app, which must never open the warehouse:
`write_request` writes one atomically; the pipeline calls `execute_requests` at the start of its
raw load (it holds the warehouse), records the outcome in `ops.replay_requests` in the same
transaction as the replay, and moves the file to `requests/done/`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from foundation.contract import DEFAULT_CLOCK_SKEW
from foundation.contract.reasons import READER_REASONS
from foundation.replay_requests import (
    ReplayRequest,
    archive_request,
    check_reasons,
    pending_requests,
)

from .load import FileResult, load_batch

REPLAY_FORMAT = "replay"  # raw.load_ledger.file_format of replay batches
REPLAY_SOURCE = "replay"  # raw.load_ledger.source_file of replay batches

OPS_REPLAY_DDL = """
create schema if not exists ops;
create table if not exists ops.replay_requests (
    request_id        varchar   not null,
    requested_by      varchar,
    reason_codes      varchar   not null,  -- comma-separated; '' = every reason
    requested_at      timestamp,
    executed_at       timestamp not null,
    status            varchar   not null,  -- done | nothing to replay | rejected
    attempted         bigint    not null,
    loaded            bigint    not null,
    duplicates        bigint    not null,
    still_quarantined bigint    not null,
    batch_id          varchar,
    detail            varchar
);
"""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ReplayResult:
    """What one replay did: lines attempted, newly loaded, duplicates of loaded events (both
    resolved), still failing (kept open), and open rows without text or refused by a file reader
    (not replayable)."""

    batch_id: str | None = None
    attempted: int = 0
    loaded: int = 0
    duplicates: int = 0
    still_quarantined: int = 0
    without_text: int = 0

    def summary(self) -> str:
        if not self.attempted:
            return "nothing to replay" + (
                f" ({self.without_text:,} open line(s) not replayable)" if self.without_text else ""
            )
        return (
            f"{self.attempted:,} quarantined line(s) replayed: {self.loaded:,} loaded, "
            f"{self.duplicates:,} duplicate, {self.still_quarantined:,} still quarantined"
        )


def _where(reasons: Sequence[str], batches: Sequence[str]) -> tuple[str, list[Any]]:
    sql, params = "replayed_at is null", []
    if reasons:
        sql += f" and reason_code in ({', '.join('?' for _ in reasons)})"
        params += list(reasons)
    if batches:
        sql += f" and batch_id in ({', '.join('?' for _ in batches)})"
        params += list(batches)
    return sql, params


def open_quarantine(
    con: duckdb.DuckDBPyConnection, reasons: Sequence[str] = (), batches: Sequence[str] = ()
) -> list[tuple[str, int, int]]:
    """Open (unreplayed) quarantined lines by reason: (reason_code, lines, lines with text)."""
    where, params = _where(check_reasons(reasons), batches)
    return con.execute(
        f"""select reason_code, count(*), count(raw_text) from raw.quarantine where {where}
            group by reason_code order by count(*) desc, reason_code""",
        params,
    ).fetchall()


def replay(
    con: duckdb.DuckDBPyConnection,
    reasons: Sequence[str] = (),
    batches: Sequence[str] = (),
    *,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, ReplayResult], None] | None = None,
) -> ReplayResult:
    """Replay the open quarantined lines (optionally of some reason codes / batches) in one
    batch and one transaction; `in_transaction(con, result)` runs last inside it (not at all when
    there is nothing to replay)."""
    where, params = _where(check_reasons(reasons), batches)
    rows = con.execute(
        f"""select batch_id, source_file, source_line, raw_text, reason_code from raw.quarantine
            where {where} order by quarantined_at, batch_id, source_line""",
        params,
    ).fetchall()
    rows = [r[:4] if r[4] not in READER_REASONS else (*r[:3], None) for r in rows]
    result = ReplayResult(without_text=sum(r[3] is None for r in rows))
    rows = [r for r in rows if r[3] is not None]
    if not rows:
        return result
    n = len(rows)
    lines = pa.table(
        {
            "line_no": pa.array(range(1, n + 1), pa.int64()),
            "text": pa.array([r[3] for r in rows], pa.string()),
        }
    )
    mapping = pa.table(
        {
            "line_no": pa.array(range(1, n + 1), pa.int64()),
            "q_batch_id": pa.array([r[0] for r in rows], pa.string()),
            "q_source_file": pa.array([r[1] for r in rows], pa.string()),
            "q_source_line": pa.array([r[2] for r in rows], pa.int64()),
        }
    )
    del rows
    replayed_at = now.replace(tzinfo=None) if now else _now()

    def settle(c: duckdb.DuckDBPyConnection, batch: FileResult) -> None:
        c.register("replay_map", mapping)
        try:
            # the lines that still fail: their fresh verdict goes onto the original row
            c.execute(
                """create or replace temp table replay_failed as
                   select m.*, n.reason_code, n.reason_detail from raw.quarantine n
                   join replay_map m on n.source_line = m.line_no where n.batch_id = ?""",
                [batch.batch_id],
            )
            c.execute("delete from raw.quarantine where batch_id = ?", [batch.batch_id])
            c.execute(
                """update raw.quarantine q
                   set reason_code = f.reason_code, reason_detail = f.reason_detail
                   from replay_failed f
                   where q.batch_id = f.q_batch_id and q.source_line = f.q_source_line
                     and q.replayed_at is null"""
            )
            c.execute(
                """update raw.quarantine q set replayed_at = ?
                   from replay_map m
                   where q.batch_id = m.q_batch_id and q.source_line = m.q_source_line
                     and q.replayed_at is null
                     and m.line_no not in (select line_no from replay_failed)""",
                [replayed_at],
            )
            # the loaded events point back at the line they were quarantined from
            c.execute(
                """update raw.events e
                   set source_file = m.q_source_file, source_line = m.q_source_line
                   from replay_map m where e.batch_id = ? and e.source_line = m.line_no""",
                [batch.batch_id],
            )
            failed = c.execute("select count(*) from replay_failed").fetchall()[0][0]
        finally:
            c.unregister("replay_map")
            c.execute("drop table if exists replay_failed")
        result.batch_id = batch.batch_id
        result.attempted = batch.lines
        result.loaded = batch.loaded
        result.duplicates = batch.duplicates
        result.still_quarantined = failed
        if in_transaction is not None:
            in_transaction(c, result)

    load_batch(
        con,
        lines,
        REPLAY_SOURCE,
        fmt=REPLAY_FORMAT,
        now=now,
        clock_skew=clock_skew,
        in_transaction=settle,
    )
    return result


def _outcome_row(
    request: ReplayRequest, status: str, result: ReplayResult, detail: str | None
) -> list[Any]:
    try:
        requested_at = (
            datetime.fromisoformat(request.requested_at) if request.requested_at else None
        )
    except ValueError:
        requested_at = None
    return [
        request.request_id,
        request.requested_by or None,
        ",".join(request.reason_codes),
        requested_at,
        _now(),
        status,
        result.attempted,
        result.loaded,
        result.duplicates,
        result.still_quarantined,
        result.batch_id,
        detail,
    ]


def _record(con: duckdb.DuckDBPyConnection, row: list[Any]) -> None:
    con.execute(f"insert into ops.replay_requests values ({', '.join('?' for _ in row)})", row)


def replay_and_record(
    con: duckdb.DuckDBPyConnection,
    request: ReplayRequest,
    batches: Sequence[str] = (),
    *,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> tuple[str, ReplayResult]:
    """Run one request's replay and record its outcome in `ops.replay_requests` (in the replay's
    transaction); (status, result)."""
    con.execute(OPS_REPLAY_DDL)
    scope = f" (batches {', '.join(batches)})" if batches else ""
    seen: list[str] = []

    def record(c: duckdb.DuckDBPyConnection, r: ReplayResult) -> None:
        _record(c, _outcome_row(request, "done", r, r.summary() + scope))
        seen.append("done")

    result = replay(
        con,
        request.reason_codes,
        batches,
        now=now,
        clock_skew=clock_skew,
        in_transaction=record,
    )
    if seen:
        return "done", result
    # nothing to replay: no batch, hence no transaction of its own
    status = "nothing to replay"
    _record(con, _outcome_row(request, status, result, result.summary() + scope))
    return status, result


def execute_requests(
    con: duckdb.DuckDBPyConnection,
    home: Path,
    *,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> list[tuple[ReplayRequest, str, ReplayResult]]:
    """Execute the pending requests in order: (request, status, result) for each.

    The outcome row commits with the replay; the file moves to `done/` only afterwards. A crash
    in between leaves the file, and the next run sees its id in `ops.replay_requests` and only
    archives it, so no request runs twice (and a replay is idempotent anyway)."""
    con.execute(OPS_REPLAY_DDL)
    outcomes = []
    for request in pending_requests(home):
        done = con.execute(
            "select status from ops.replay_requests where request_id = ? limit 1",
            [request.request_id],
        ).fetchall()
        if done:
            archive_request(request.path)
            continue
        if request.error or not request.requested_by:
            status, result = "rejected", ReplayResult()
            _record(con, _outcome_row(request, status, result, request.error or "no user named"))
        else:
            status, result = replay_and_record(con, request, now=now, clock_skew=clock_skew)
        con.execute("checkpoint")
        archive_request(request.path)
        outcomes.append((request, status, result))
    return outcomes
