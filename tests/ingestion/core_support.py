"""A core database with an outbox for the ingestion tests: SQLite (a temporary file) or
PostgreSQL (a database created for the test session, dropped at its end)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from ingestion.sources.outbox_table import outbox_table

PG_SERVER = os.environ.get(
    "CHURNIQ_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pg_unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    engine = sa.create_engine(PG_SERVER, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        return f"PostgreSQL not reachable at {PG_SERVER}: {str(exc.orig).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@contextmanager
def fresh_pg_database() -> Iterator[str]:
    """The URL of a new, empty database `churniq_test_<random>`; dropped afterwards."""
    name = f"churniq_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'create database "{name}"'))
        yield sa.make_url(PG_SERVER).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


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
