"""What the connectors' importers left in the home, recorded in the warehouse by the ingestion step.

Each importer (the Stripe API backfill, the Stripe events file, the CSV migration) keeps its
per-source state in `<home>/connectors/<source>.json` (`foundation.home.Home.connector_state`:
kind, last backfill, counts, ignored provider types, the landing files written, a private
cursor) and, after an API backfill, the provider's own view of its active subscriptions in
`<source>_provider_view.parquet`. The pipeline reads them once per run, before it lists the
landing folder (`read_connectors`), and writes:

- `raw.connector_state`, one row per source, with the load ledger: upserted in the DuckDB
  transaction of every landing file of that source (`record_state`, the loader's
  `in_transaction` hook, the source told by the file name `<source>-<UTC stamp>-<part>.ndjson`),
  and for every source once more with the rest (`record_connectors`), so that the state the
  warehouse shows never runs ahead of the files it has loaded;
- `raw.provider_views`, replaced per source from its parquet file (reconciliation, dbt's
  `marts.reconciliation_provider`);
- `raw.webhook_counts`, replaced every run from the core's webhook inbox
  (`ingestion.sources.provider_webhooks`).

A state file that cannot be read or does not follow the format is reported and skipped: it
never stops the loading of events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from foundation.home import Home

from ..loader.load import FileResult
from ..loader.warehouse import transaction
from .provider_webhooks import WebhookCount, webhook_counts

STATE_SUFFIX = ".json"
VIEW_SUFFIX = "_provider_view.parquet"
KINDS = ("api", "events_file", "csv")
PROVIDER_VIEW_COLUMNS = (
    "source",
    "as_of",
    "customer_id",
    "subscription_id",
    "status",
    "currency",
    "mrr",
)
# `<source>-<YYYYmmddTHHMMSSZ>-<part:05d>.ndjson` (compressed too): the importers' landing files
_LANDING_NAME = re.compile(r"^(?P<source>.+?)-\d{8}T\d{6}Z-\d{5}\.")


class StateError(ValueError):
    """A connector state file that does not follow the format."""


@dataclass(frozen=True)
class StateRecord:
    """One `<home>/connectors/<source>.json` (the importer's private cursor left out)."""

    source: str
    kind: str
    updated_at: datetime | None
    last_backfill_at: datetime | None
    since: datetime | None
    complete: bool
    objects_read: int
    events_written: int
    untranslatable: int
    ignored: dict[str, int]
    files: tuple[str, ...]


@dataclass
class ConnectorsReport:
    """What one run recorded about the connectors."""

    states: list[StateRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # state files skipped, and why
    views: dict[str, int] = field(default_factory=dict)  # source -> provider view rows
    webhooks: list[WebhookCount] = field(default_factory=list)
    inbox_missing: bool = True

    def summary(self) -> str:
        if not self.states and not self.webhooks and not self.views:
            return "connectors: none (no state file, no webhook)"
        parts = [
            f"{s.source} ({s.kind}): {s.objects_read:,} objects, {s.events_written:,} events"
            for s in self.states
        ]
        parts += [
            f"{source} provider view: {n:,} subscriptions" for source, n in self.views.items()
        ]
        received = sum(w.webhooks for w in self.webhooks)
        parts.append(
            "no webhook inbox yet"
            if self.inbox_missing
            else f"{received:,} webhook(s) in the inbox"
        )
        return "connectors: " + "; ".join(parts)


def _timestamp(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StateError(f"{name} is not an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise StateError(f"{name} {value!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise StateError(f"{name} {value!r} has no UTC offset")
    return parsed.astimezone(UTC).replace(tzinfo=None)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StateError(f"{name} is not a count")
    return value


def parse_state(obj: object, source: str) -> StateRecord:
    """A state file's JSON as a `StateRecord`; `StateError` when it is not the format."""
    if not isinstance(obj, dict):
        raise StateError("not a JSON object")
    if obj.get("source") != source:
        raise StateError(f"source {obj.get('source')!r} is not the file's name {source!r}")
    if obj.get("kind") not in KINDS:
        raise StateError(f"kind {obj.get('kind')!r} is not one of {', '.join(KINDS)}")
    ignored = obj.get("ignored") or {}
    if not isinstance(ignored, dict) or not all(isinstance(k, str) for k in ignored):
        raise StateError("ignored is not an object of counts by provider type")
    files = obj.get("files") or []
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise StateError("files is not a list of file names")
    return StateRecord(
        source=source,
        kind=obj["kind"],
        updated_at=_timestamp(obj.get("updated_at"), "updated_at"),
        last_backfill_at=_timestamp(obj.get("last_backfill_at"), "last_backfill_at"),
        since=_timestamp(obj.get("since"), "since"),
        complete=bool(obj.get("complete", False)),
        objects_read=_count(obj.get("objects_read", 0), "objects_read"),
        events_written=_count(obj.get("events_written", 0), "events_written"),
        untranslatable=_count(obj.get("untranslatable", 0), "untranslatable"),
        ignored={k: _count(v, f"ignored[{k}]") for k, v in sorted(ignored.items())},
        files=tuple(files),
    )


def state_sources(home: Home) -> list[str]:
    """The sources with a state file, sorted."""
    folder = home.connectors
    if not folder.is_dir():
        return []
    return sorted(
        p.name.removesuffix(STATE_SUFFIX)
        for p in folder.iterdir()
        if p.is_file() and p.name.endswith(STATE_SUFFIX) and not p.name.startswith(".")
    )


def read_state(home: Home, source: str) -> StateRecord:
    """One source's state file; `StateError` (or `OSError`) when it cannot be used."""
    try:
        obj = orjson.loads(home.connector_state(source).read_bytes())
    except orjson.JSONDecodeError as exc:
        raise StateError(f"not valid JSON ({exc})") from None
    return parse_state(obj, source)


def read_states(home: Home) -> tuple[list[StateRecord], list[str]]:
    """Every readable state file of the home, and one line per file skipped."""
    states, problems = [], []
    for source in state_sources(home):
        try:
            states.append(read_state(home, source))
        except (StateError, OSError) as exc:
            problems.append(f"{home.connector_state(source).name}: {exc}")
    return states, problems


def landing_source(path: str | Path) -> str | None:
    """The source of an importer's landing file, from its name; None for other files."""
    m = _LANDING_NAME.match(Path(path).name)
    return m.group("source") if m else None


def _upsert(con: duckdb.DuckDBPyConnection, states: Iterable[StateRecord]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for s in states:
        con.execute(
            """insert or replace into raw.connector_state values
               (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                s.source,
                s.kind,
                s.updated_at,
                s.last_backfill_at,
                s.since,
                s.complete,
                s.objects_read,
                s.events_written,
                s.untranslatable,
                orjson.dumps(s.ignored).decode(),
                orjson.dumps(list(s.files)).decode(),
                now,
            ],
        )


def record_state(states: Iterable[StateRecord]):
    """The loader's `in_transaction` hook: a landing file of a source with a state commits with
    that source's state row."""
    by_source = {s.source: s for s in states}

    def hook(con: duckdb.DuckDBPyConnection, result: FileResult) -> None:
        state = by_source.get(landing_source(result.path) or "")
        if state is not None:
            _upsert(con, [state])

    return hook


def read_provider_view(source: str, path: Path) -> pa.Table:
    """A provider view file in the columns of `raw.provider_views` (read and typed before any
    transaction, so a bad file only skips itself); `StateError` when it is not the format."""
    try:
        view = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise StateError(f"{path.name}: not readable as Parquet ({exc})") from None
    missing = [c for c in PROVIDER_VIEW_COLUMNS if c not in view.column_names]
    if missing:
        raise StateError(f"{path.name}: no column {', '.join(missing)}")
    now = datetime.now(UTC).replace(tzinfo=None)
    try:
        as_of = view.column("as_of")
        if pa.types.is_timestamp(as_of.type) and as_of.type.tz is not None:
            as_of = pc.local_timestamp(as_of.cast(pa.timestamp("us", "UTC")))
        return pa.table(
            {
                "source": pa.array([source] * view.num_rows, pa.string()),
                "as_of": as_of.cast(pa.timestamp("us")),
                "customer_id": view.column("customer_id").cast(pa.string()),
                "subscription_id": view.column("subscription_id").cast(pa.string()),
                "status": view.column("status").cast(pa.string()),
                "currency": pc.utf8_upper(view.column("currency").cast(pa.string())),
                "mrr": view.column("mrr").cast(pa.decimal128(18, 6)),
                "recorded_at": pa.array([now] * view.num_rows, pa.timestamp("us")),
            }
        )
    except (pa.ArrowException, ValueError) as exc:
        raise StateError(f"{path.name}: {exc}".splitlines()[0]) from None


def _replace_view(con: duckdb.DuckDBPyConnection, source: str, view: pa.Table) -> None:
    con.register("incoming_provider_view", view)
    try:
        con.execute("delete from raw.provider_views where source = ?", [source])
        con.execute("insert into raw.provider_views by name select * from incoming_provider_view")
    finally:
        con.unregister("incoming_provider_view")


def _replace_webhook_counts(con: duckdb.DuckDBPyConnection, counts: list[WebhookCount]) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("delete from raw.webhook_counts")
    if not counts:
        return
    frame = pa.table(
        {
            "provider": [c.provider for c in counts],
            "event_type": [c.event_type for c in counts],
            "status": [c.status for c in counts],
            "webhooks": pa.array([c.webhooks for c in counts], pa.int64()),
            "events_written": pa.array([c.events_written for c in counts], pa.int64()),
            "last_received_at": pa.array([c.last_received_at for c in counts], pa.timestamp("us")),
            "recorded_at": pa.array([now] * len(counts), pa.timestamp("us")),
        }
    )
    con.register("incoming_webhook_counts", frame)
    try:
        con.execute("insert into raw.webhook_counts by name select * from incoming_webhook_counts")
    finally:
        con.unregister("incoming_webhook_counts")


@dataclass
class ConnectorFiles:
    """The states and provider views of the home, read together at the start of a run: before
    the landing folder is listed, so that every file they speak of is in the listing (the
    importers land their files before they write their state and view)."""

    states: list[StateRecord]
    views: dict[str, pa.Table]  # source -> its provider view as raw.provider_views rows
    problems: list[str]  # files skipped, and why


def read_connectors(home: Home) -> ConnectorFiles:
    """Every readable state file and provider view of the home."""
    states, problems = read_states(home)
    views: dict[str, pa.Table] = {}
    for source in sorted({s.source for s in states} | _view_sources(home)):
        path = home.provider_view(source)
        if path.is_file():
            try:
                views[source] = read_provider_view(source, path)
            except StateError as exc:
                problems.append(str(exc))
    return ConnectorFiles(states, views, problems)


def record_connectors(
    con: duckdb.DuckDBPyConnection,
    home: Home,
    core_db_url: str,
    found: ConnectorFiles | None = None,
) -> ConnectorsReport:
    """Record every source's state, the provider views and the webhook counts in one
    transaction (`found`: what was read at the start of the run, default read now)."""
    found = found or read_connectors(home)
    report = ConnectorsReport(states=list(found.states), problems=list(found.problems))
    counts = webhook_counts(core_db_url)
    report.inbox_missing = counts is None
    report.webhooks = counts or []
    with transaction(con):
        _upsert(con, report.states)
        _replace_webhook_counts(con, report.webhooks)
        for source, view in found.views.items():
            _replace_view(con, source, view)
            report.views[source] = view.num_rows
    return report


def _view_sources(home: Home) -> set[str]:
    folder = home.connectors
    if not folder.is_dir():
        return set()
    return {
        p.name.removesuffix(VIEW_SUFFIX)
        for p in folder.iterdir()
        if p.name.endswith(VIEW_SUFFIX) and not p.name.startswith(".")
    }
