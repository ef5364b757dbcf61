"""Engines for the core database: SQLite (default) or PostgreSQL, tuned for concurrent writers."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


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


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
