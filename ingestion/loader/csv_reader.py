"""A tolerant CSV reader: a bad row is refused with its line number and text, the rest loads.

RFC 4180: comma, double quotes, a header row first. A row keeps the number of its first
physical line and its original text. A row that does not parse (a stray quote, a quote left
open to the end of the file or over `MAX_ROW_LINES` lines) is refused as its first line alone
and reading resumes on the next line, so one unterminated quote costs one row, not the rest of
the file. A row with another number of fields than the header is refused whole; a row with
bytes that are not UTF-8 is refused as `invalid_encoding`, without text. Blank lines are
dropped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field

from foundation.contract import Reason

from .errors import FileRejected

MAX_ROW_LINES = 100  # a quoted value may hold line breaks, not this many
_NOT_UTF8 = f"{Reason.INVALID_ENCODING.value}|line is not valid UTF-8"


@dataclass
class CsvRows:
    header: list[str] = field(default_factory=list)
    line_no: list[int] = field(default_factory=list)
    line_end: list[int] = field(default_factory=list)  # last physical line of each good row
    rows: list[list[str]] = field(default_factory=list)
    refused: list[tuple[int, str | None, str]] = field(default_factory=list)  # line, text, why


def _decode(data: bytes) -> tuple[list[str], set[int]]:
    """The physical lines (without their `\\n`) and the indexes of those not UTF-8."""
    try:
        lines, bad = data.decode("utf-8").split("\n"), set()
    except UnicodeDecodeError:
        lines, bad = [], set()
        for k, raw in enumerate(data.split(b"\n")):
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(raw.decode("utf-8", "replace"))  # parsed, then refused
                bad.add(k)
    if lines and lines[-1] == "":
        lines.pop()
    return lines, bad


def _feed(lines: list[str], row_start: list[int]) -> Iterator[str]:
    """The lines from `row_start[0]` on, ending early when the row that begins at
    `row_start[0]` (kept current by the caller) would span more than MAX_ROW_LINES."""
    j = row_start[0]
    while j < len(lines) and j - row_start[0] < MAX_ROW_LINES:
        yield lines[j] + "\n"
        j += 1


def read_csv(data: bytes) -> CsvRows:
    lines, bad = _decode(data)
    out = CsvRows()
    start = 0  # index of the first line of the row being read
    while start < len(lines):
        row_start = [start]
        reader = csv.reader(_feed(lines, row_start), strict=True)
        base = start
        try:
            for fields in reader:
                end = base + reader.line_num
                _take(out, lines, bad, start, end, fields)
                start = row_start[0] = end
        except csv.Error as exc:
            if not out.header:
                raise FileRejected(
                    Reason.UNREADABLE_FILE, f"the header row is not CSV ({exc})"
                ) from None
            text = None if start in bad else lines[start].removesuffix("\r")
            why = _NOT_UTF8 if text is None else f"{Reason.MALFORMED_ROW.value}|{exc}"
            out.refused.append((start + 1, text, why))
            start += 1
    return out


def _take(out: CsvRows, lines: list[str], bad: set[int], start: int, end: int, fields) -> None:
    """File the row of lines [start, end) as the header, a good row or a refused one."""
    if not fields or (len(fields) == 1 and not fields[0].strip()):
        return  # a blank line
    if any(k in bad for k in range(start, end)):
        if not out.header:
            raise FileRejected(Reason.INVALID_ENCODING, "the header row is not valid UTF-8")
        out.refused.append((start + 1, None, _NOT_UTF8))
    elif not out.header:
        out.header = [f.strip() for f in fields]
    elif len(fields) != len(out.header):
        text = "\n".join(lines[start:end]).removesuffix("\r")
        why = f"{len(fields)} fields; the header has {len(out.header)}"
        out.refused.append((start + 1, text, f"{Reason.MALFORMED_ROW.value}|{why}"))
    else:
        out.line_no.append(start + 1)
        out.line_end.append(end)
        out.rows.append(fields)
