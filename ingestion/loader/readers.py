"""Read contract files (NDJSON, Parquet, CSV, each optionally gzipped) into lines, one per event.

Every format becomes the same Arrow table `(line_no, text, failure)` so that one validator
serves them all and quarantine keeps the original text of each bad event. `failure`
('reason|detail') marks the lines the reader refuses itself (a malformed CSV row, a CSV row that
is not UTF-8, a line over the length limit); the validator judges the others. NDJSON lines that
are not UTF-8 get null text (the validator quarantines them as `invalid_encoding`).

Blank lines (only spaces, tabs and line ends) are not events: they are dropped, and their
numbers are not reused. A UTF-8 byte order mark is removed at the start of the file and at the
start of any line (files concatenated). A file that cannot be read line by line (a truncated
gzip, a corrupt Parquet file, missing envelope columns, UTF-16) or that is over a limit of
`Limits` raises `FileRejected`: the loader quarantines it whole, with one reason. Gzip is
inflated as a stream and stopped at the byte limit, so a bomb never fills the memory.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from foundation.contract import Reason
from foundation.contract.limits import Limits

from .csv_reader import read_csv
from .errors import FileRejected, InputError

__all__ = ["FileRejected", "InputError", "Limits", "file_format", "read_lines"]

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
BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = {b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}
_CHUNK = 1 << 20


def file_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for suffix in SUPPORTED:
        if name.endswith(suffix):
            return suffix.lstrip(".")
    raise InputError(f"{path}: unsupported file type (expected {', '.join(SUPPORTED)})")


def too_large(size: int, limits: Limits) -> FileRejected:
    return FileRejected(
        Reason.FILE_TOO_LARGE, f"{size:,} bytes or more; the limit is {limits.max_bytes:,}"
    )


def read_lines(path: Path, data: bytes, limits: Limits | None = None) -> pa.Table:
    """The events of one file as `(line_no, text, failure)`; `FileRejected` if it cannot be
    read line by line or is over a limit."""
    limits = limits or Limits()
    fmt = file_format(path)
    if path.name.lower().endswith(".gz"):
        data = gunzip(data, limits)
    elif len(data) > limits.max_bytes:
        raise too_large(len(data), limits)
    if fmt == "parquet":
        table = _parquet_lines(path, data, limits)
    elif fmt == "csv":
        table = _csv_lines(_without_bom(data), limits)
    else:
        table = _ndjson_lines(_without_bom(data), limits)
    return _refuse_long_lines(table, limits.max_line_bytes)


def gunzip(data: bytes, limits: Limits) -> bytes:
    """Inflate a gzip file (every member) as a stream, never past `limits.max_bytes`."""
    chunks, size = [], 0
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            while chunk := f.read(_CHUNK):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise too_large(size, limits)
                chunks.append(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileRejected(Reason.UNREADABLE_FILE, f"not a readable gzip file ({exc})") from None
    return b"".join(chunks)


def _without_bom(data: bytes) -> bytes:
    """Text data without its byte order mark; UTF-16 and UTF-32 are refused."""
    for mark, encoding in _WIDE_BOMS.items():
        if data.startswith(mark):
            raise FileRejected(
                Reason.INVALID_ENCODING, f"the file is {encoding}; the contract requires UTF-8"
            )
    return data[len(BOM) :] if data.startswith(BOM) else data


def _check_line_count(lines: int, limits: Limits) -> None:
    if lines > limits.max_lines:
        raise FileRejected(
            Reason.FILE_TOO_LARGE, f"{lines:,} lines; the limit is {limits.max_lines:,}"
        )


def _lines_table(line_no: pa.Array, text: pa.Array, failure: pa.Array | None = None) -> pa.Table:
    if failure is None:
        failure = pa.nulls(len(line_no), pa.string())
    return pa.table({"line_no": line_no, "text": text, "failure": failure})


def _ndjson_lines(data: bytes, limits: Limits) -> pa.Table:
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    _check_line_count(len(ends) + int(bool(len(data)) and data[-1] != 10), limits)
    # a BOM at the start of a line (files concatenated) is rare: remove them, split again
    after = ends[ends + 3 < len(buf)] + 1
    after = after[buf[after] == BOM[0]]
    if ((buf[after + 1] == BOM[1]) & (buf[after + 2] == BOM[2])).any():
        data = data.replace(b"\n" + BOM, b"\n")
        buf = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(buf == 10)
    # Zero-copy split: an Arrow binary array whose offsets are the line starts.
    starts = ends + 1
    if not len(starts) or starts[-1] != len(data):
        starts = np.append(starts, len(data))
    offsets = np.concatenate((np.zeros(1, np.int64), starts))
    big = len(data) >= 2**31 - 1
    raw = pa.Array.from_buffers(
        pa.large_binary() if big else pa.binary(),
        len(offsets) - 1,
        [None, pa.py_buffer(offsets.astype(np.int64 if big else np.int32)), pa.py_buffer(data)],
    )
    # Line ends (\n, \r\n) stay (JSON whitespace); the validator trims them off quarantined text.
    line_no = pa.array(np.arange(1, len(raw) + 1, dtype=np.int64))
    blank = _blank_lines(raw, buf, offsets)
    if blank.any():
        keep = pa.array(~blank)
        raw, line_no = raw.filter(keep), line_no.filter(keep)
    return _lines_table(line_no, _decode_utf8(raw))


def _blank_lines(raw: pa.Array, buf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A mask of the lines made of spaces, tabs and line ends only (or nothing)."""
    lengths = np.diff(offsets)
    first = np.full(len(lengths), 10, dtype=np.uint8)
    filled = lengths > 0
    first[filled] = buf[offsets[:-1][filled]]
    # only a line starting with whitespace can be blank; one or two bytes long ("\n", "\r\n",
    # " \n") it is; the longer ones are looked at alone
    candidates = np.isin(first, (9, 10, 13, 32))
    blank = candidates & (lengths <= 2)
    blank[lengths == 2] &= np.isin(buf[offsets[:-1][lengths == 2] + 1], (9, 10, 13, 32))
    longer = np.flatnonzero(candidates & (lengths > 2))
    if len(longer):
        only_space = pc.match_substring_regex(raw.take(longer), r"^[ \t\r\n]*$")
        blank[longer[only_space.to_numpy(zero_copy_only=False)]] = True
    return blank


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


def _refuse_long_lines(table: pa.Table, max_line_bytes: int) -> pa.Table:
    """Lines over the length limit get `line_too_long`, without their text."""
    text = table.column("text")
    over = pc.fill_null(pc.greater(pc.binary_length(text), max_line_bytes), False)
    if not pc.any(over).as_py():
        return table
    detail = f"{Reason.LINE_TOO_LONG.value}|line is longer than {max_line_bytes:,} bytes"
    failure = pc.if_else(over, pa.scalar(detail), table.column("failure"))
    text = pc.if_else(over, pa.scalar(None, text.type), text)
    return _lines_table(table.column("line_no"), text, failure)


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


def _json_lines(con: duckdb.DuckDBPyConnection, source: str, line_no: str) -> pa.Table:
    """`(line_no, text)` of a tabular relation: its envelope columns as one JSON object."""
    types = dict(
        con.execute(f"select column_name, column_type from (describe from {source})").fetchall()
    )
    missing = [c for c in ENVELOPE_COLUMNS if c not in types]
    if missing:
        raise FileRejected(Reason.UNREADABLE_FILE, f"missing column(s) {', '.join(missing)}")
    # String concatenation is the cheapest way to a JSON object; a null becomes JSON null.
    members = " || ',' || ".join(
        f"'\"{c}\":' || coalesce({_json_expr(c, types[c])}, 'null')" for c in ENVELOPE_COLUMNS
    )
    return con.sql(
        f"""select cast({line_no} as bigint) as line_no, '{{' || {members} || '}}' as text
            from {source}"""
    ).to_arrow_table()


def _parquet_lines(path: Path, data: bytes, limits: Limits) -> pa.Table:
    if path.name.lower().endswith(".gz"):  # DuckDB reads Parquet from a file: the inflated one
        with tempfile.NamedTemporaryFile(suffix=".parquet") as f:
            f.write(data)
            f.flush()
            return _parquet_file_lines(Path(f.name), limits)
    return _parquet_file_lines(path, limits)


def _parquet_file_lines(path: Path, limits: Limits) -> pa.Table:
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException) as exc:
        raise FileRejected(Reason.UNREADABLE_FILE, f"not a readable Parquet file ({exc})") from None
    if meta.num_rows > limits.max_lines:
        raise FileRejected(
            Reason.FILE_TOO_LARGE, f"{meta.num_rows:,} rows; the limit is {limits.max_lines:,}"
        )
    inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if inflated > limits.max_bytes:
        raise too_large(inflated, limits)
    con = duckdb.connect()
    con.execute("set enable_progress_bar = false")
    quoted = "'" + str(path).replace("'", "''") + "'"
    try:
        table = _json_lines(
            con, f"read_parquet({quoted}, file_row_number = true)", "file_row_number + 1"
        )
    except duckdb.Error as exc:
        raise FileRejected(
            Reason.UNREADABLE_FILE, f"not a readable Parquet file ({str(exc).splitlines()[0]})"
        ) from None
    finally:
        con.close()
    return _lines_table(table.column("line_no"), table.column("text"))


def _csv_lines(data: bytes, limits: Limits) -> pa.Table:
    _check_line_count(data.count(b"\n") + int(bool(data) and not data.endswith(b"\n")), limits)
    rows = read_csv(data.replace(b"\n" + BOM, b"\n"))
    missing = [c for c in ENVELOPE_COLUMNS if c not in rows.header]
    if missing:
        raise FileRejected(Reason.UNREADABLE_FILE, f"missing column(s) {', '.join(missing)}")
    columns = {"line_no": pa.array(rows.line_no, pa.int64())}
    for c in ENVELOPE_COLUMNS:
        k = rows.header.index(c)
        columns[c] = pa.array([r[k] for r in rows.rows], pa.string())
    con = duckdb.connect()
    try:
        con.register("csv_rows", pa.table(columns))
        good = _json_lines(con, "csv_rows", "line_no")
    finally:
        con.close()
    refused = rows.refused
    return pa.concat_tables(
        [
            _lines_table(good.column("line_no"), good.column("text")),
            _lines_table(
                pa.array([r[0] for r in refused], pa.int64()),
                pa.array([r[1] for r in refused], pa.string()),
                pa.array([r[2] for r in refused], pa.string()),
            ),
        ]
    )
