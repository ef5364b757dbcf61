"""Is the core's database there and current? Asked before anything uses it: the command line,
the billing job and the erasure maintenance never create or half-migrate a database by
connecting to it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError

from core.migrate import current_revision, head_revision


class CoreNotReady(Exception):
    """The core database is missing, unreachable or not migrated (reported as a user error)."""


def redacted(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def unreachable(url: str, exc: OperationalError) -> CoreNotReady:
    reason = str(exc.orig).strip().splitlines()[0]
    return CoreNotReady(f"core database {redacted(url)} unreachable: {reason}")


def sqlite_missing(url: str) -> bool:
    """A SQLite URL whose file does not exist (connecting would create it empty)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return False
    return not Path(parsed.database).exists()


def require_current(url: str) -> None:
    """Raise `CoreNotReady` unless the database at `url` exists and is at the newest
    migration; never creates a database."""
    if sqlite_missing(url):
        raise CoreNotReady(f"no core database at {redacted(url)}: run `churniq core migrate`")
    try:
        current = current_revision(url)
    except OperationalError as exc:
        raise unreachable(url, exc) from None
    if current != head_revision():
        raise CoreNotReady(
            f"core database {redacted(url)} is at migration {current or 'none'}, not "
            f"{head_revision()}: run `churniq core migrate`"
        )
