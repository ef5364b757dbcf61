"""Archived landing files after an erasure: rewritten without the erased customers' lines.

The pipeline moves each loaded landing file to `<landing>/archive/<batch_id>/<name>`. When a
batch holds lines of an erased customer (recorded by `erasure.record_archives` in the load's
transaction, whichever came first, the lines or the erasure), its archived copy is rewritten in
its own format without those lines, atomically (a temporary file renamed over it). A file that
cannot be rewritten, or still names an erased customer afterwards, is deleted: the erasure
wins over the archive. Other customers' lines stay as they were.
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from .csv_reader import read_csv
from .erasure import customer_of_text
from .readers import file_format, read_lines

log = logging.getLogger(__name__)


@dataclass
class ArchiveReport:
    rewritten: int = 0  # files rewritten without the erased customers' lines
    dropped: int = 0  # files deleted (unreadable, or not rewritable)


def erased_customers(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select distinct customer_id from raw.events where event_type = 'customer.erased'"
    ).fetchall()
    return {r[0] for r in rows}


def rewrite_archives(
    con: duckdb.DuckDBPyConnection,
    archive: Path,
    landing: Path,
    archived_again: list[str] | None = None,
) -> ArchiveReport:
    """Rewrite the archived files recorded in `raw.erasure_archives` and not rewritten yet. A
    file still waiting in the landing folder (loaded, not yet archived) waits; a batch with no
    archived file (the core's outbox, a replay, a file loaded from elsewhere) is done.
    `archived_again`: batches whose file was just archived once more (the same bytes dropped in
    landing again are skipped as loaded, then moved over the rewritten copy)."""
    report = ArchiveReport()
    if archived_again:
        con.execute(
            "update raw.erasure_archives set rewritten_at = null where list_contains(?, batch_id)",
            [archived_again],
        )
    pending = con.execute(
        """select distinct batch_id, source_file from raw.erasure_archives
           where rewritten_at is null order by 1, 2"""
    ).fetchall()
    if not pending:
        return report
    erased = erased_customers(con)
    for batch_id, source_file in pending:
        source = Path(source_file)
        target = archive / batch_id / source.name
        if target.is_file():
            if rewrite_without(target, erased):
                report.rewritten += 1
            else:
                report.dropped += 1
        elif source.is_file() and source.parent.resolve() == landing.resolve():
            continue  # loaded, not archived yet: the next run archives, then rewrites it
        con.execute(
            """update raw.erasure_archives set rewritten_at = now()::timestamp
               where batch_id = ? and source_file = ? and rewritten_at is null""",
            [batch_id, source_file],
        )
    return report


def lines_of(path: Path, customers: set[str]) -> list[int]:
    """The line numbers (as the reader numbers them) of `path` that name one of `customers`."""
    lines = read_lines(path, path.read_bytes())
    con = duckdb.connect()
    try:
        con.register("lines", lines)
        con.register("customers", pa.table({"customer_id": sorted(customers)}))
        rows = con.execute(
            f"""select line_no from lines
                where {customer_of_text("text")} in (select customer_id from customers)
                order by line_no"""
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def rewrite_without(path: Path, customers: set[str]) -> bool:
    """Rewrite `path` without the lines of `customers`; True when the file is kept (rewritten or
    untouched), False when it had to be deleted."""
    try:
        drop = set(lines_of(path, customers))
        if not drop:
            return True
        tmp = path.with_name(f".{path.name}.rewrite")
        _WRITERS[file_format(path)](path, tmp, drop)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
        if not lines_of(path, customers):
            return True
    except Exception as exc:  # noqa: BLE001 - any failure: the erasure wins, the file goes
        log.warning("%s: not rewritable after an erasure (%s); deleted", path, exc)
        path.with_name(f".{path.name}.rewrite").unlink(missing_ok=True)
    path.unlink(missing_ok=True)
    return False


def _decompressed(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.lower().endswith(".gz") else data


def _write(path: Path, target: Path, data: bytes) -> None:
    target.write_bytes(gzip.compress(data) if path.name.lower().endswith(".gz") else data)


def _rewrite_ndjson(path: Path, target: Path, drop: set[int]) -> None:
    # numbered as the reader numbers them: the n-th segment between newlines is line n
    segments = _decompressed(path).split(b"\n")
    kept = [s for n, s in enumerate(segments, start=1) if n not in drop]
    _write(path, target, b"\n".join(kept))


def _rewrite_csv(path: Path, target: Path, drop: set[int]) -> None:
    # numbered as the reader numbers them: a row by its first physical line; the physical
    # lines of the dropped rows go, every other byte stays as it was
    data = _decompressed(path)
    parsed = read_csv(data)
    gone: set[int] = set()  # 1-based physical lines
    for first, last in zip(parsed.line_no, parsed.line_end, strict=True):
        if first in drop:
            gone.update(range(first, last + 1))
    for first, text, _ in parsed.refused:
        if first in drop:
            gone.update(range(first, first + (text or "").count("\n") + 1))
    lines = data.split(b"\n")
    _write(path, target, b"\n".join(b for n, b in enumerate(lines, start=1) if n not in gone))


def _rewrite_parquet(path: Path, target: Path, drop: set[int]) -> None:
    # numbered as the reader numbers them: row n (1-based) of the file
    table = pq.read_table(path)
    keep = pa.array([n not in drop for n in range(1, table.num_rows + 1)], pa.bool_())
    pq.write_table(table.filter(keep), target)


_WRITERS = {
    "ndjson": _rewrite_ndjson,
    "jsonl": _rewrite_ndjson,
    "json": _rewrite_ndjson,
    "csv": _rewrite_csv,
    "parquet": _rewrite_parquet,
}
