"""Load contract files into `raw.events`: validated, deduplicated by event_id, ledgered.

One file is one batch and one transaction: its good events, its quarantined lines and its
ledger row commit together, then the warehouse is checkpointed. A file whose bytes were
already loaded is skipped; an event_id already present is a duplicate (same body) or a
`conflicting_duplicate` (different body, quarantined; the first one stays). A file that cannot
be read line by line, or that is over a per-file limit (`Limits`: bytes, lines, quarantined
lines), is quarantined whole: one `raw.quarantine` row with `source_line` 0 and one reason, a
ledger row counting it as one quarantined line, nothing of it loaded; its bytes count as
seen, so it is never quarantined twice. A batch that
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

from foundation.contract import DEFAULT_CLOCK_SKEW, Reason

from .erasure import ERASED, comparable_data, find_erased, scrub_erased
from .errors import FileRejected, InputError
from .readers import Limits, file_format, read_lines, too_large
from .sql_checks import validation_sql
from .warehouse import transaction


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
    rejected: str | None = None  # the reason when the file was quarantined whole
    detail: str | None = None  # why it was quarantined whole, or why it could not be read
    error: bool = False  # could not be read from disk (left where it is; nothing written)

    def state(self) -> str:
        """One line about what happened to this file."""
        if self.error:
            return f"not read: {self.detail}"
        if self.skipped:
            return "already loaded, skipped"
        if self.rejected:
            return f"quarantined whole: {self.rejected} ({self.detail})"
        return (
            f"{self.loaded:,} loaded, {self.duplicates:,} duplicate, "
            f"{self.quarantined:,} quarantined"
        )


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

    @property
    def rejected(self) -> list[FileResult]:
        """The files quarantined whole."""
        return [f for f in self.files if f.rejected]

    @property
    def errors(self) -> list[FileResult]:
        """The files that could not be read from disk."""
        return [f for f in self.files if f.error]

    def summary(self) -> str:
        skipped = sum(f.skipped for f in self.files)
        text = (
            f"{len(self.files)} file(s): {self.loaded:,} loaded, {self.duplicates:,} duplicate, "
            f"{self.quarantined:,} quarantined"
        )
        notes = [
            f"{len(self.rejected)} file(s) quarantined whole" if self.rejected else "",
            f"{len(self.errors)} file(s) not read" if self.errors else "",
            f"{skipped} already-loaded file(s) skipped" if skipped else "",
        ]
        notes = [n for n in notes if n]
        return text + (f" ({'; '.join(notes)})" if notes else "")


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
    limits: Limits | None = None,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, FileResult], None] | None = None,
) -> FileResult:
    """Load one file as one batch; a file whose bytes were loaded (or quarantined whole)
    before is skipped. `InputError` only when the file cannot be read from disk.
    `in_transaction(con, result)` runs inside the batch's transaction (see `load_batch`)."""
    limits = limits or Limits()
    started = datetime.now(UTC).replace(tzinfo=None)
    fmt = file_format(path)
    try:
        size = path.stat().st_size
        if size > limits.max_bytes:  # never read it into memory
            with path.open("rb") as f:
                digest, data = hashlib.file_digest(f, "sha256").hexdigest(), None
        else:
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    seen = con.execute(
        "select batch_id from raw.load_ledger where file_sha256 = ? limit 1", [digest]
    ).fetchall()
    if seen:
        return FileResult(str(path), seen[0][0], skipped=True)
    batch = {"digest": digest, "size": size, "fmt": fmt, "started": started}
    try:
        if data is None:
            raise too_large(size, limits)
        lines = read_lines(path, data, limits)
    except FileRejected as why:
        return quarantine_file(con, str(path), why, in_transaction=in_transaction, **batch)
    del data
    return load_batch(
        con,
        lines,
        str(path),
        now=now,
        clock_skew=clock_skew,
        limits=limits,
        in_transaction=in_transaction,
        **batch,
    )


def quarantine_file(
    con: duckdb.DuckDBPyConnection,
    source: str,
    why: FileRejected,
    *,
    digest: str,
    size: int,
    fmt: str,
    started: datetime,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, FileResult], None] | None = None,
) -> FileResult:
    """Quarantine a whole file in one transaction: one `raw.quarantine` row (line 0, no text)
    and its ledger row."""
    with transaction(con):
        result = _quarantine_whole(con, _batch_id(started), source, why, started)
        _ledger(con, result, digest, size, fmt, started)
        if in_transaction is not None:
            in_transaction(con, result)
    return result


def _batch_id(started: datetime) -> str:
    return f"b-{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


def _quarantine_whole(
    con: duckdb.DuckDBPyConnection, batch_id: str, source: str, why: FileRejected, at: datetime
) -> FileResult:
    con.execute(
        "insert into raw.quarantine values (?, ?, 0, null, ?, ?, null, ?, null)",
        [batch_id, source, why.reason.value, why.detail, at],
    )
    return FileResult(
        source, batch_id, lines=1, quarantined=1, rejected=why.reason.value, detail=why.detail
    )


def _ledger(
    con: duckdb.DuckDBPyConnection,
    result: FileResult,
    digest: str,
    size: int,
    fmt: str,
    started: datetime,
) -> None:
    con.execute(
        "insert into raw.load_ledger values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            result.batch_id,
            result.path,
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
    limits: Limits | None = None,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, FileResult], None] | None = None,
) -> FileResult:
    """Validate, dedupe, quarantine and ledger one batch `(line_no, text)` in one transaction.

    `source` goes into `source_file` and `line_no` into `source_line`. A `failure` column
    ('reason|detail'), if any, marks lines a reader refused: quarantined as they are. With
    `limits`, a batch with more quarantined lines than they allow is quarantined whole instead
    (files only: a source with a cursor has no file to fix and land again).
    `in_transaction(con, result)` runs last inside the transaction, so whatever it writes (a
    source's cursor) commits or rolls back with the batch. `digest`/`size` describe the batch
    in the ledger (default: the lines as NDJSON). No "already loaded" check here: that rule
    belongs to files (`load_file`); a source with a cursor must never have a batch skipped.
    """
    started = started or datetime.now(UTC).replace(tzinfo=None)
    if digest is None or size is None:
        digest, size = batch_digest(lines.column("text").to_pylist())
    batch_id = _batch_id(started)
    limit = (now or datetime.now(UTC)) + clock_skew
    refused = "failure" in lines.column_names and lines.column("failure").null_count < len(lines)
    con.register("incoming_lines", lines)
    try:
        con.execute("begin transaction")
        relation = "incoming_lines"
        if refused:
            relation = "incoming_events"
            con.execute(
                "create or replace temp view incoming_events as "
                "select line_no, text from incoming_lines where failure is null"
            )
        con.execute(f"create or replace temp table judged as {validation_sql(relation)}", [limit])
        if refused:
            con.execute(
                "insert into judged (line_no, failure, text) "
                "select line_no, failure, text from incoming_lines where failure is not null"
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
        too_many = limits.bad_lines_over(n_lines, n_bad + n_conflict) if limits else None
        if too_many:
            why = FileRejected(Reason.TOO_MANY_BAD_LINES, too_many + _commonest_failure(con))
            result = _quarantine_whole(con, batch_id, source, why, started)
        else:
            scrubbed = _insert_judged(con, batch_id, source, started)
            n_decided = n_fresh + n_dup + n_conflict
            n_loaded = (n_lines - n_bad - n_decided) + n_fresh
            result = FileResult(
                source, batch_id, n_lines, n_loaded, n_dup, n_bad + n_conflict, scrubbed=scrubbed
            )
        _ledger(con, result, digest, size, fmt, started)
        if in_transaction is not None:
            in_transaction(con, result)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.unregister("incoming_lines")
        con.execute("drop view if exists incoming_events")
        for t in ("judged", "contested", "decided", ERASED):
            con.execute(f"drop table if exists {t}")
    con.execute("checkpoint")
    return result


def _insert_judged(
    con: duckdb.DuckDBPyConnection, batch_id: str, source: str, started: datetime
) -> int:
    """Insert the judged batch: new events into raw.events, bad lines and conflicting
    duplicates into raw.quarantine; then scrub erased customers (how many rows scrubbed)."""
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
    return scrub_erased(con)


def _commonest_failure(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute(
        """select split_part(failure, '|', 1) as reason, count(*), min(line_no) from judged
           where failure is not null group by reason order by 2 desc, 3 limit 1"""
    ).fetchall()
    if not rows:
        return "; the quarantined lines are conflicting duplicates"
    reason, n, first = rows[0]
    return f"; commonest: {reason} ({n:,} lines, the first at line {first:,})"


# What a value inside a file can make DuckDB raise while it is judged. A validator that fails
# on some line must not stop the other files: the file is reported and stays where it is.
_DATA_ERRORS = (
    duckdb.ConversionException,
    duckdb.OutOfRangeException,
    duckdb.InvalidInputException,
)


def ingest(
    con: duckdb.DuckDBPyConnection,
    paths: list[Path],
    now: datetime | None = None,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    limits: Limits | None = None,
    in_transaction: Callable[[duckdb.DuckDBPyConnection, FileResult], None] | None = None,
) -> IngestReport:
    """Load every file named (and the files of every folder named), each on its own: a file
    quarantined whole, or one that cannot be read from disk (reported, `error`), never stops
    the others. `InputError` only for a path that does not exist or is not a contract file.
    `in_transaction(con, result)` runs inside each file's transaction (a connector's state
    commits with its files)."""
    files = expand_paths(paths)
    report = IngestReport()
    for path in files:
        try:
            result = load_file(
                con,
                path,
                now=now,
                clock_skew=clock_skew,
                limits=limits,
                in_transaction=in_transaction,
            )
        except InputError as exc:
            result = FileResult(str(path), None, error=True, detail=str(exc))
        except _DATA_ERRORS as exc:  # the batch rolled back: nothing of the file is loaded
            first = str(exc).splitlines()[0]
            detail = f"{path}: not validated, left for the next run ({type(exc).__name__}: {first})"
            result = FileResult(str(path), None, error=True, detail=detail)
        report.files.append(result)
    return report
