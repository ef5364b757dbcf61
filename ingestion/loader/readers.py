"""Read contract files (NDJSON, Parquet, CSV) into lines of text, one per event.

Every format becomes the same Arrow table `(line_no, text)` so that one validator
serves them all and quarantine keeps the original text of each bad event. Lines that are not
UTF-8 get null text (quarantined as `invalid_encoding`).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".json")
TABULAR_SUFFIXES = (".parquet", ".csv")
SUPPORTED = NDJSON_SUFFIXES + TABULAR_SUFFIXES
ENVELOPE_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "source",
    "customer_id",
    "data",
)


class InputError(Exception):
    """A user mistake about an input file: reported in one line, never as a traceback."""


def file_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix in SUPPORTED:
        if name.endswith(suffix):
            return suffix.lstrip(".")
    raise InputError(f"{path}: unsupported file type (expected {', '.join(SUPPORTED)})")


def read_lines(path: Path, data: bytes) -> pa.Table:
    """The events of one file as `(line_no, text)`."""
    fmt = file_format(path)
    if path.name.lower().endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable gzip file ({exc})") from None
    if fmt in ("ndjson", "jsonl", "json"):
        return _ndjson_lines(path, data)
    return _tabular_lines(path, fmt, data)


def _ndjson_lines(path: Path, data: bytes) -> pa.Table:
    # Zero-copy split: an Arrow binary array whose offsets are the line starts.
    buf = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero(buf == 10) + 1
    if not len(starts) or starts[-1] != len(data):
        starts = np.append(starts, len(data))
    offsets = np.concatenate((np.zeros(1, np.int64), starts))
    big = len(data) >= 2**31 - 1
    raw = pa.Array.from_buffers(
        pa.large_binary() if big else pa.binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64 if big else np.int32)), pa.py_buffer(data)],
    )
    # Line ends (\n, \r\n) are trimmed and empty lines dropped by the validator, in DuckDB.
    line_no = pa.array(np.arange(1, len(raw) + 1, dtype=np.int64))
    return pa.table({"line_no": line_no, "text": _decode_utf8(raw)})


def _decode_utf8(raw: pa.Array) -> pa.Array:
    target = pa.large_string() if raw.type == pa.large_binary() else pa.string()
    try:
        return raw.cast(target)
    except pa.ArrowInvalid:
        return pa.array([_decode_one(b) for b in raw.to_pylist()], target)


def _decode_one(b: bytes) -> str | None:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _json_expr(column: str, dtype: str) -> str:
    """A SQL expression giving the JSON text of one column of a tabular file."""
    q = f'"{column}"'
    if column == "occurred_at" and dtype.startswith("TIMESTAMP"):
        utc = f"timezone('UTC', {q})" if "TIME ZONE" in dtype else q
        return f"to_json(strftime({utc}, '%Y-%m-%dT%H:%M:%S.%fZ'))"
    if column == "data" and dtype == "VARCHAR":
        return f"case when json_valid({q}) then {q} else to_json({q}) end"
    if column == "schema_version" and dtype == "VARCHAR":
        return f"case when regexp_full_match({q}, '[0-9]+') then {q} else to_json({q}) end"
    return f"to_json({q})"


def _tabular_lines(path: Path, fmt: str, data: bytes) -> pa.Table:
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        if fmt == "parquet":
            source = f"read_parquet({quoted}, file_row_number = true)"
            line_no = "file_row_number + 1"
        else:
            con.execute(
                f"create temp table f as select row_number() over () as line_no, * "
                f"from read_csv({quoted}, header = true, all_varchar = true)"
            )
            source, line_no = "f", "line_no"
        types = dict(
            con.execute(f"select column_name, column_type from (describe from {source})").fetchall()
        )
    except duckdb.Error as exc:
        con.close()
        raise InputError(f"{path}: unreadable {fmt} file ({str(exc).splitlines()[0]})") from None
    try:
        missing = [c for c in ENVELOPE_COLUMNS if c not in types]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        # String concatenation is the cheapest way to a JSON object; a null becomes JSON null.
        members = " || ',' || ".join(
            f"'\"{c}\":' || coalesce({_json_expr(c, types[c])}, 'null')" for c in ENVELOPE_COLUMNS
        )
        return con.sql(
            f"""select cast({line_no} as bigint) as line_no, '{{' || {members} || '}}' as text
                from {source}"""
        ).to_arrow_table()
    finally:
        con.close()
