"""The PostgreSQL server of the tests (127.0.0.1:5432 unless `CHURNIQ_TEST_PG_URL` says
otherwise): a fresh database per test or session, dropped afterwards.

Where the server is unreachable the PostgreSQL variants skip, except when
`CHURNIQ_TEST_REQUIRE_PG` is set (CI sets it after starting the server): then they fail, so a
green CI run has always covered both databases."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

import pytest

from core.db import scratch_database, unreachable

PG_SERVER = os.environ.get(
    "CHURNIQ_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def pg_unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can."""
    return unreachable(PG_SERVER)


def require_pg() -> None:
    """Skip the calling test when the server is unreachable (fail when CI requires it)."""
    why = pg_unreachable()
    if why is None:
        return
    if os.environ.get("CHURNIQ_TEST_REQUIRE_PG"):
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


def fresh_pg_database(template: str | None = None) -> AbstractContextManager[str]:
    """The URL of a new database `churniq_test_<random>`, empty or a copy of the database
    `template`; dropped afterwards."""
    return scratch_database(PG_SERVER, "churniq_test", template)
