"""Load contract files into `raw.events`: validated, deduplicated by event_id, ledgered.

One file is one batch and one transaction: its good events, its quarantined lines and its
ledger row commit together, then the warehouse is checkpointed. A file whose bytes were
already loaded is skipped; an event_id already present is a duplicate (same body) or a
`conflicting_duplicate` (different body, quarantined; the first one stays). A batch that
brings an erasure, or lines of an erased customer, also strips that customer's personal
attributes from raw (`erasure`), in the same transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa

from ingestion.contract import DEFAULT_CLOCK_SKEW, Reason

from .erasure import ERASED, comparable_data, find_erased, scrub_erased
from .readers import InputError, file_format, read_lines
from .sql_checks import validation_sql


@dataclass
class FileResult:
    path: str
    batch_id: str | None
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: bool = False
    scrubbed: int = 0  # earlier or new events of erased customers stripped of personal data


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(f.loaded for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> int:
        return sum(f.quarantined for f in self.files)

    @property
    def lines(self) -> int:
        return sum(f.lines for f in self.files)

    def summary(self) -> str:
        skipped = sum(f.skipped for f in self.files)
        text = (
            f"{len(self.files)} file(s): {self.loaded:,} loaded, {self.duplicates:,} duplicate, "
            f"{self.quarantined:,} quarantined"
        )
        return text + (f" ({skipped} already-loaded file(s) skipped)" if skipped else "")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files named, and the supported files inside folders named (not recursive), sorted."""
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_file() and not child.name.startswith("."):
                    try:
                        file_format(child)
                    except InputError:
                        continue
                    files.append(child)
        elif p.is_file():
            file_format(p)
            files.append(p)
        else:
            raise InputError(f"{p}: no such file or folder")
    return files


_BODY = f"md5(concat_ws('|', event_type, schema_version, strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%f'), source, coalesce(customer_id, ''), cast({comparable_data()} as varchar)))"


def load_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> FileResult:
    """Load one file as one batch; a file whose bytes were loaded before is skipped."""
    started = datetime.now(UTC).replace(tzinfo=None)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    digest = hashlib.sha256(data).hexdigest()
    seen = con.execute(
        "select batch_id from raw.load_ledger where file_sha256 = ? limit 1", [digest]
    ).fetchall()
    if seen:
        return FileResult(str(path), seen[0][0], skipped=True)
    size = len(data)
    lines = read_lines(path, data)
    del data
    return load_batch(
        con,
        lines,
        str(path),
        digest=digest,
        size=size,
        fmt=file_format(path),
        now=now,
        clock_skew=clock_skew,
        started=started,
    )


def batch_digest(texts: list[str | None]) -> tuple[str, int]:
    """(SHA-256, byte count) of a batch's lines as NDJSON, for the ledger."""
    h, size = hashlib.sha256(), 0
    for text in texts:
        b = (text or "").encode() + b"\n"
        h.update(b)
        size += len(b)
    return h.hexdigest(), size


def load_batch(
    con: duckdb.DuckDBPyConnection,
    lines: pa.Table,
    source: str,
    *,
    digest: str | None = None,
    size: int | None = None,
    fmt: str = "lines",
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    started: datetime | None = None,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, FileResult], None] | None = None,
) -> FileResult:
    """Validate, dedupe, quarantine and ledger one batch `(line_no, text)` in one transaction.

    `source` goes into `source_file` and `line_no` into `source_line`. `in_transaction(con,
    result)` runs last inside the transaction, so whatever it writes (a source's cursor) commits
    or rolls back with the batch. `digest`/`size` describe the batch in the ledger (default: the
    lines as NDJSON). No "already loaded" check here: that rule belongs to files
    (`load_file`); a source with a cursor must never have a batch skipped.
    """
    started = started or datetime.now(UTC).replace(tzinfo=None)
    if digest is None or size is None:
        digest, size = batch_digest(lines.column("text").to_pylist())
    batch_id = f"b-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    limit = (now or datetime.now(UTC)) + clock_skew
    con.register("incoming_lines", lines)
    try:
        con.execute("begin transaction")
        con.execute(
            f"create or replace temp table judged as {validation_sql('incoming_lines')}", [limit]
        )
        find_erased(con)
        # Only event_ids repeated in the batch or already loaded need a decision (rare);
        # the body hash is computed for those rows alone, the existing ones included.
        con.execute(
            """
            create or replace temp table contested as
            select event_id from judged where failure is null
            group by event_id having count(*) > 1
            union
            select event_id from raw.events
            where event_id in (select event_id from judged where failure is null)
            """
        )
        con.execute(
            f"""
            create or replace temp table decided as
            with staged as (
              select line_no, event_id, {_BODY} as body_hash from judged
              where failure is null and event_id in (select event_id from contested)
            ), existing as (
              select event_id, any_value({_BODY}) as body_hash from raw.events
              where event_id in (select event_id from contested) group by event_id
            )
            select s.*, e.body_hash as existing_hash,
                   row_number() over w as nth,
                   first_value(s.body_hash) over w as first_hash
            from staged s left join existing e using (event_id)
            window w as (partition by s.event_id order by s.line_no)
            """
        )
        con.execute(
            """
            insert into raw.events
            select event_id, event_type, schema_version, occurred_at, source, customer_id, data,
                   ?, ?, line_no, ?
            from judged j
            where failure is null
              and (j.event_id not in (select event_id from contested)
                   or j.line_no in (select line_no from decided
                                    where nth = 1 and existing_hash is null))
            """,
            [batch_id, source, started],
        )
        conflict = (
            f"'{Reason.CONFLICTING_DUPLICATE.value}|event_id already loaded with a different body'"
        )
        con.execute(
            f"""
            insert into raw.quarantine
            select ?, ?, line_no, event_id,
                   split_part(failure, '|', 1), substr(failure, strpos(failure, '|') + 1),
                   text, ?, null
            from (
              select line_no, event_id, failure, text from judged
              where failure is not null
              union all
              select d.line_no, d.event_id, {conflict}, l.text from decided d
              join incoming_lines l using (line_no)
              where coalesce(d.existing_hash, d.first_hash) <> d.body_hash
            )
            """,
            [batch_id, source, started],
        )
        scrubbed = scrub_erased(con)
        n_lines, n_bad = con.execute("select count(*), count(failure) from judged").fetchall()[0]
        n_fresh, n_dup, n_conflict = con.execute(
            """
            select count(*) filter (where nth = 1 and existing_hash is null),
                   count(*) filter (where coalesce(existing_hash, first_hash) = body_hash
                                    and not (nth = 1 and existing_hash is null)),
                   count(*) filter (where coalesce(existing_hash, first_hash) <> body_hash)
            from decided
            """
        ).fetchall()[0]
        n_decided = n_fresh + n_dup + n_conflict
        n_loaded = (n_lines - n_bad - n_decided) + n_fresh
        result = FileResult(
            source, batch_id, n_lines, n_loaded, n_dup, n_bad + n_conflict, scrubbed=scrubbed
        )
        con.execute(
            "insert into raw.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch_id,
                source,
                digest,
                size,
                fmt,
                result.lines,
                result.loaded,
                result.duplicates,
                result.quarantined,
                started,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )
        if in_transaction is not None:
            in_transaction(con, result)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("incoming_lines")
        for t in ("judged", "contested", "decided", ERASED):
            con.execute(f"drop table if exists {t}")
    con.execute("checkpoint")
    return result


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
) -> IngestReport:
    files = expand_paths(paths)
    report = IngestReport()
    for path in files:
        report.files.append(load_file(con, path, now=now, clock_skew=clock_skew))
    return report
