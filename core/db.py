"""Engines for the core database: SQLite (default) or PostgreSQL, tuned for concurrent writers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, Insert, Table, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError


def make_engine(url: str, pool_size: int = 10) -> Engine:
    """An engine for `url`. On SQLite: WAL, foreign keys, a busy timeout, and write
    transactions that take the write lock at BEGIN (no deadlock on lock upgrade)."""
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_con, _record) -> None:
            dbapi_con.isolation_level = None  # let SQLAlchemy's begin below control it
            cur = dbapi_con.cursor()
            cur.execute("pragma journal_mode=wal")
            cur.execute("pragma foreign_keys=on")
            cur.execute("pragma busy_timeout=30000")
            cur.execute("pragma synchronous=normal")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            conn.exec_driver_sql("begin immediate")

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


@lru_cache(maxsize=64)
def insert_new(dialect: str, table: Table, keys: tuple[str, ...]) -> Insert:
    """An INSERT into `table` (execute it with a list of rows) that skips each row whose unique
    `keys` are there already (ON CONFLICT DO NOTHING, on SQLite and PostgreSQL; on PostgreSQL
    it waits for a concurrent transaction holding the same keys to end), returning the `keys`
    of the rows it wrote. One statement object per table: SQLAlchemy compiles it once."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table).on_conflict_do_nothing(index_elements=list(keys))
    return statement.returning(*(table.c[k] for k in keys))


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def unreachable(url: str) -> str | None:
    """Why the database server at `url` cannot be used (one line), or None when it can."""
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    except OperationalError as exc:
        return f"PostgreSQL not reachable at {url}: {str(exc.orig).splitlines()[0]}"
    finally:
        engine.dispose()
    return None


@contextmanager
def scratch_database(server_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """The URL of a new PostgreSQL database `<prefix>_<random>` on the server of `server_url`,
    empty or a copy of the database `template` (which nobody may be connected to), dropped
    afterwards (tests and benchmarks)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            copy = f' template "{template}"' if template else ""
            conn.execute(text(f'create database "{name}"{copy}'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()
