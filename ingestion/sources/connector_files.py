"""What a connector's importer writes into the home: contract landing files and its state file.

Landing files are `<source>-<YYYYmmddTHHMMSSZ>-<part:05d>.ndjson`, each written under a name
starting with `.` (which the loader skips) and renamed into place, so `churniq run` never reads
half a file. The state file (`Home.connector_state(source)`, format of issue 16) is replaced the
same way after every step an importer may resume from; its `cursor` is the importer's own.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson

from connectors.translation import Translation, ndjson, utc_timestamp
from foundation.home import Home

Kind = Literal["api", "events_file", "csv"]


def write_atomic(path: Path, data: bytes) -> None:
    """`data` at `path`, all or nothing: a hidden temporary file in the same folder, flushed to
    disk, then renamed over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def landing_name(source: str, stamp: datetime, part: int) -> str:
    return f"{source}-{stamp.astimezone(UTC):%Y%m%dT%H%M%SZ}-{part:05d}.ndjson"


def land(home: Home, name: str, lines: Iterable[Mapping[str, Any]]) -> Path:
    """One landing file of contract lines, renamed into place once complete."""
    path = home.landing / name
    write_atomic(path, ndjson(lines))
    return path


def fresh_stamp(state: ConnectorState, moment: datetime) -> datetime:
    """The landing-name time of a new import: `moment` to the second, or the first second after
    it that no landing file of the source carries yet (two imports within a second would
    otherwise share file names)."""
    stamp = moment.astimezone(UTC).replace(microsecond=0)
    taken = {name.rsplit("-", 1)[0] for name in state.files}
    while landing_name(state.source, stamp, 1).rsplit("-", 1)[0] in taken:
        stamp += timedelta(seconds=1)
    return stamp


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class StateFileError(Exception):
    """The state file cannot be read (one line)."""


@dataclass
class ConnectorState:
    """The state file of one source; counts are cumulative over every import of the source."""

    source: str
    kind: Kind
    updated_at: str | None = None
    last_backfill_at: str | None = None
    since: str | None = None
    complete: bool = False
    objects_read: int = 0
    events_written: int = 0
    untranslatable: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    cursor: dict[str, Any] = field(default_factory=dict)
    #: keys of the file this version does not know, written back as they were
    other: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Home, source: str, kind: Kind) -> ConnectorState:
        """The stored state, or a fresh one; `kind` becomes the kind of the import under way."""
        path = home.connector_state(source)
        if not path.exists():
            return cls(source=source, kind=kind)
        try:
            stored = orjson.loads(path.read_bytes())
            if not isinstance(stored, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise StateFileError(
                f"{path} is unreadable ({exc}): move it away to import from the start"
            ) from None
        names = cls.__dataclass_fields__.keys() - {"other"}
        state = cls(**{k: v for k, v in stored.items() if k in names})
        state.other = {k: v for k, v in stored.items() if k not in names}
        state.kind = kind
        return state

    def save(self, home: Home, now: datetime | None = None) -> None:
        self.updated_at = utc_timestamp(now or datetime.now(UTC))
        body = self.other | {
            name: getattr(self, name) for name in self.__dataclass_fields__ if name != "other"
        }
        write_atomic(
            home.connector_state(self.source),
            orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS),
        )

    def count(self, translation: Translation, objects_read: int, landed: list[str]) -> None:
        """Add one landed step's figures."""
        self.objects_read += objects_read
        self.events_written += len(translation.events)
        self.untranslatable += len(translation.untranslatable)
        self.ignored = dict(Counter(self.ignored) + translation.ignored)
        self.files.extend(name for name in landed if name not in self.files)


@dataclass
class ImportSummary:
    """What one import command did, for its one-line report."""

    objects_read: int = 0
    events_written: int = 0
    untranslatable: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    files: list[str] = field(default_factory=list)
    resumed: bool = False
    nothing_new: bool = False

    def add(self, translation: Translation, objects_read: int, landed: list[str]) -> None:
        self.objects_read += objects_read
        self.events_written += len(translation.events)
        self.untranslatable += len(translation.untranslatable)
        self.ignored.update(translation.ignored)
        self.files.extend(landed)

    def line(self, what: str) -> str:
        ignored = ", ".join(f"{t} {n:,}" for t, n in sorted(self.ignored.items())) or "none"
        return (
            f"{what}: {self.objects_read:,} objects read, {self.events_written:,} events written, "
            f"ignored by type: {ignored}, {self.untranslatable:,} untranslatable, "
            f"{len(self.files)} landing file(s)" + (" (resumed)" if self.resumed else "")
        )
