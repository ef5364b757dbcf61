"""Core fixtures: every core test runs on SQLite (a temporary file) and on PostgreSQL (a
database created for the test, dropped after it), both migrated with Alembic."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from core.clock import FixedClock
from core.migrate import upgrade
from core.unit import Core
from tests.pg_support import fresh_pg_database, require_pg

START = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def migrated_pg_template() -> Iterator[str]:
    """The name of a PostgreSQL database migrated once per test session: each test's database
    is a copy of it (CREATE DATABASE … TEMPLATE), faster than migrating every time."""
    require_pg()
    with fresh_pg_database() as url:
        upgrade(url)
        yield make_url(url).database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty core database URL of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'core.db'}"
        upgrade(url)
        yield url
        return
    require_pg()
    with fresh_pg_database(template=request.getfixturevalue("migrated_pg_template")) as url:
        yield url


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def core(db_url: str, clock: FixedClock) -> Iterator[Core]:
    c = Core(db_url, clock=clock)
    yield c
    c.close()
