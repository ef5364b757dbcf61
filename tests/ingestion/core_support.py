"""A core database with an outbox for the ingestion tests: SQLite (a temporary file) or
PostgreSQL (a database created for the test session, dropped at its end)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from foundation.contract.outbox import outbox_table


def envelope(event: dict) -> str:
    return json.dumps(event, separators=(",", ":"))


@dataclass
class Core:
    """The outbox side of a core database, as the core writes it."""

    url: str
    engine: sa.Engine
    outbox: sa.Table

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def write(self, conn: sa.Connection, events: list[dict | str]) -> None:
        """Insert events (dicts, or raw envelope text) in the caller's transaction."""
        now = datetime.now(UTC).replace(tzinfo=None)
        for e in events:
            text = e if isinstance(e, str) else envelope(e)
            parsed = e if isinstance(e, dict) else {}
            conn.execute(
                self.outbox.insert().values(
                    event_id=parsed.get("event_id") or f"bad-{uuid.uuid4().hex}",
                    event_type=str(parsed.get("event_type", "unknown")),
                    customer_id=parsed.get("customer_id"),
                    occurred_at=datetime(2026, 1, 15, 10),
                    envelope=text,
                    created_at=now,
                )
            )

    def commit(self, events: list[dict | str]) -> None:
        """One transaction writing `events`."""
        with self.engine.begin() as conn:
            self.write(conn, events)

    def rows(self) -> list[tuple[int, int, str]]:
        """Every outbox row `(txid, seq, envelope)` in cursor order."""
        t = self.outbox.c
        with self.engine.connect() as conn:
            return [
                (int(a), int(b), c)
                for a, b, c in conn.execute(
                    sa.select(t.txid, t.seq, t.envelope).order_by(t.txid, t.seq)
                )
            ]


def make_core(url: str) -> Core:
    """A core at `url` with a new, empty outbox (an old one is dropped)."""
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    metadata = sa.MetaData()
    outbox = outbox_table(metadata)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("set local lock_timeout = '10s'"))
        outbox.drop(conn, checkfirst=True)
        metadata.create_all(conn)
    return Core(url, engine, outbox)
