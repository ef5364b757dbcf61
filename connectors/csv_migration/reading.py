"""CSV files of a migration read into memory with the line number of each record (the header is
line 1; a record with a quoted line break keeps the line it starts on)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path


class UnreadableFile(ValueError):
    """A CSV file that cannot be read at all; the message names the file."""


@dataclass(frozen=True)
class CsvTable:
    name: str  # the file's name, as reports and rejects show it
    header: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]  # (line, column -> text)


def parse_csv(name: str, text: str) -> CsvTable:
    """A table from CSV text (RFC 4180: commas, double quotes, a header line). Blank lines are not
    records; a record with more fields than the header is an `UnreadableFile`."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise UnreadableFile(f"{name}: empty file (no header line)") from None
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not CSV: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise UnreadableFile(f"{name}: empty header line")
    rows = []
    previous_end = reader.line_num
    try:
        for record in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header):
                raise UnreadableFile(
                    f"{name}: line {line} has {len(record)} fields, the header {len(header)}"
                )
            cells = dict(zip(header, record, strict=False))
            rows.append((line, cells))
    except csv.Error as exc:
        raise UnreadableFile(f"{name}: not CSV near line {reader.line_num}: {exc}") from None
    return CsvTable(name=name, header=tuple(header), rows=tuple(rows))


def read_csv(path: Path) -> CsvTable:
    """The table in a CSV file (UTF-8, a byte order mark allowed)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFile(f"{path}: not UTF-8 text") from None
    return parse_csv(path.name, text)
