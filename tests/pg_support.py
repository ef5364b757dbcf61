"""The PostgreSQL server of the tests (127.0.0.1:5432 unless `CHURNIQ_TEST_PG_URL` says
otherwise): a fresh database per test or session, dropped afterwards.

Where the server is unreachable the PostgreSQL variants skip, except when
`CHURNIQ_TEST_REQUIRE_PG` is set (CI sets it after starting the server): then they fail, so a
green CI run has always covered both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

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


def require_pg() -> None:
    """Skip the calling test when the server is unreachable (fail when CI requires it)."""
    why = pg_unreachable()
    if why is None:
        return
    if os.environ.get("CHURNIQ_TEST_REQUIRE_PG"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


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
