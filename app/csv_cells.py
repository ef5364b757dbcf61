"""CSV that spreadsheets read as data, never as formulas: the one place every CSV the app hands
out (per-figure downloads, the at-risk export) is written.

A text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula
to Excel, LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a campaign name runs when the
file is opened). Such cells get a leading ``'``, which spreadsheets show as text (OWASP's "CSV
injection" advice). Numbers are not text and stay as they are (``-20.5`` is still a number);
Parquet is typed data, not escaped.
"""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_MARK = "'"
# the same characters as a regular expression for Arrow (RE2): ^[\x3d\x2b...]
_FORMULA_PATTERN = "^[" + "".join(f"\\x{ord(c):02x}" for c in FORMULA_STARTS) + "]"


def escape_cell(text: str) -> str:
    """`text` as a spreadsheet shows it, never evaluated."""
    return TEXT_MARK + text if text.startswith(FORMULA_STARTS) else text


def _escaped_column(column: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return column
    return column.map(lambda v: escape_cell(v) if isinstance(v, str) else v)


def frame_csv(frame: pd.DataFrame) -> bytes:
    """A pandas frame as CSV bytes (UTF-8, no index, RFC 4180's CRLF line ends), text cells
    escaped. With CRLF line ends a cell holding a lone carriage return is quoted (with ``\n``
    it was not: a spreadsheet split it into a new row that could begin with a formula)."""
    escaped = frame.apply(_escaped_column)
    return escaped.to_csv(index=False, lineterminator="\r\n").encode("utf-8")


def table_csv(table: pa.Table) -> bytes:
    """An Arrow table as CSV bytes, text cells escaped (for large exports built in DuckDB)."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            risky = pc.match_substring_regex(column, _FORMULA_PATTERN)
            column = pc.if_else(risky, pc.binary_join_element_wise(TEXT_MARK, column, ""), column)
        columns.append(column)
    buffer = io.BytesIO()
    pa_csv.write_csv(pa.table(columns, names=table.column_names), buffer)
    return buffer.getvalue()
