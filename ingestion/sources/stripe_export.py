"""Import an export of Stripe event objects (one JSON object a line) into the landing folder.

The file is streamed: every `CHUNK_LINES` lines are translated by
`connectors.stripe.translate_event` and landed as one part, then the state file's cursor records
the byte offset and line number reached and the parts written. A resumed import continues at
the recorded offset; a part landed after the last saved cursor is written again under the same
name with the same lines (translation is pure), so nothing is landed twice. An import re-run
after it finished lands nothing; if the file has grown since (an export appended to), only the
new lines are read. A file whose first bytes changed is another export: it is read from its
start.

A line that is not JSON becomes an untranslatable line with reason `malformed_json`, its line
number and its text; the lines after it are read as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from connectors.stripe import SOURCE, translate_event
from connectors.translation import Translation, Untranslatable, utc_timestamp
from foundation.home import Home
from ingestion.sources.connector_files import (
    ConnectorState,
    ImportSummary,
    fresh_stamp,
    land,
    landing_name,
    parse_time,
)

#: Input lines per landing part (and per saved cursor).
CHUNK_LINES = 20_000
#: The bytes that identify an export file across runs.
HEAD_BYTES = 4096
#: The longest text of a malformed line kept in its quarantine payload.
MAX_TEXT = 10_000


class ExportFileError(Exception):
    """The events file cannot be read (one line)."""


def _head_digest(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read(HEAD_BYTES)).hexdigest()


def _lines(path: Path, offset: int, line: int) -> Iterator[tuple[int, int, bytes]]:
    """(line number, offset after the line, the line's bytes) from `offset` on."""
    with open(path, "rb") as f:
        f.seek(offset)
        for raw in f:
            offset += len(raw)
            line += 1
            yield line, offset, raw


def translate_line(raw: bytes, line: int, file_name: str) -> Translation:
    """One export line's translation (empty for a blank line)."""
    text = raw.strip()
    if not text:
        return Translation()
    try:
        event = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return _malformed(text, line, file_name, f"not JSON: {exc}")
    if not isinstance(event, dict):
        return _malformed(text, line, file_name, f"a JSON {type(event).__name__}, not an object")
    return translate_event(event)


def _malformed(text: bytes, line: int, file_name: str, why: str) -> Translation:
    return Translation(
        untranslatable=[
            Untranslatable(
                reason="malformed_json",
                detail=f"line {line} of {file_name}: {why.splitlines()[0]}",
                provider_id=f"{file_name}:{line}",
                payload={
                    "file": file_name,
                    "line": line,
                    "text": text[:MAX_TEXT].decode("utf-8", "replace"),
                },
            )
        ]
    )


def import_events_file(home: Home, path: Path, *, now: datetime | None = None) -> ImportSummary:
    """Land the events of `path` not landed yet (module docstring)."""
    if not path.is_file():
        raise ExportFileError(f"{path}: no such file")
    state = ConnectorState.load(home, SOURCE, "events_file")
    files = state.cursor.setdefault("events_files", {})
    key = str(path.resolve())
    head = _head_digest(path)
    size = path.stat().st_size
    entry = files.get(key)
    if entry is None or entry["head"] != head or entry["offset"] > size:
        stamp = fresh_stamp(state, now or datetime.now(UTC))
        entry = {"stamp": utc_timestamp(stamp), "head": head, "offset": 0, "line": 0, "parts": 0}
        files[key] = entry
    summary = ImportSummary(resumed=entry["offset"] > 0 and entry["offset"] < size)
    if entry["offset"] >= size:
        summary.nothing_new = True
        return summary
    stamp = parse_time(entry["stamp"])
    assert stamp is not None
    state.complete = False
    state.save(home)

    translation, read, offset, line = Translation(), 0, entry["offset"], entry["line"]

    def flush() -> None:
        nonlocal translation, read
        landed = []
        lines = translation.lines(SOURCE)
        if lines:
            name = landing_name(SOURCE, stamp, entry["parts"] + 1)
            land(home, name, lines)
            landed.append(name)
            entry["parts"] += 1
        entry["offset"], entry["line"] = offset, line
        summary.add(translation, read, landed)
        state.count(translation, read, landed)
        state.save(home)
        translation, read = Translation(), 0

    for number, end, raw in _lines(path, entry["offset"], entry["line"]):
        line, offset = number, end
        translation.extend(translate_line(raw, line, path.name))
        read += bool(raw.strip())
        if line - entry["line"] >= CHUNK_LINES:
            flush()
    flush()
    state.complete = bool(state.cursor.get("api", {}).get("finished", True))
    state.save(home)
    return summary
