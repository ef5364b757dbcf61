"""Throttling of failed sign-ins, per user name and per client address.

After :data:`MAX_FAILURES` failed sign-ins of one name (from anywhere) or from one address (for
any name), the next attempt waits :data:`FIRST_WAIT_SECONDS`, and every further failure doubles
the wait up to :data:`MAX_WAIT_SECONDS`; a quiet :data:`FORGET_AFTER_SECONDS` forgets them, and a
successful sign-in forgets its name's failures (not its address's: one valid account must not
reset a guessing client). Names count as typed (unknown names too), so the wait says nothing
about which names exist.

The counts live in ``<home>/signin_failures.db`` (SQLite, owner-only), not in the Streamlit
session: a new browser session, a rerun or a restarted server does not reset them, and several
server processes on one home share them. No Streamlit here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

MAX_FAILURES = 5
FIRST_WAIT_SECONDS = 30.0
MAX_WAIT_SECONDS = 15 * 60.0
FORGET_AFTER_SECONDS = 24 * 3600.0
FILE = "signin_failures.db"
_KEY_CHARS = 128  # a typed name is stored at most this long

_SCHEMA = """
create table if not exists failures (
    key text primary key,
    failures integer not null,
    last_failure_at real not null
)
"""


def _now() -> float:
    return time.time()


def _keys(user: str, client: str | None) -> tuple[str, str]:
    name = user.strip().lower()[:_KEY_CHARS]
    return f"user:{name}", f"client:{client or 'local'}"


def _wait(failures: int, last_failure_at: float, now: float) -> float:
    if failures < MAX_FAILURES or now - last_failure_at >= FORGET_AFTER_SECONDS:
        return 0.0
    wait = min(FIRST_WAIT_SECONDS * 2 ** (failures - MAX_FAILURES), MAX_WAIT_SECONDS)
    return max(0.0, last_failure_at + wait - now)


class Throttle:
    """The failed sign-ins of the dashboards at `home`."""

    def __init__(self, home: Path) -> None:
        self.path = home / FILE

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():  # owner-only from the start, whatever the umask
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        try:
            con.execute(_SCHEMA)
            con.execute("begin immediate")  # read-modify-write, one writer at a time
            yield con
            con.execute("commit")
        except BaseException:
            if con.in_transaction:
                con.execute("rollback")
            raise
        finally:
            con.close()

    def wait_seconds(self, user: str, client: str | None) -> float:
        """How long `user` from `client` must wait before the next attempt (0: may try now)."""
        now = _now()
        with self._db() as con:
            rows = con.execute(
                "select failures, last_failure_at from failures where key in (?, ?)",
                _keys(user, client),
            ).fetchall()
        return max((_wait(n, at, now) for n, at in rows), default=0.0)

    def failed(self, user: str, client: str | None) -> float:
        """Count a failed attempt; returns the wait it starts (0 before the limit)."""
        now = _now()
        with self._db() as con:
            con.execute(
                "delete from failures where last_failure_at < ?", [now - FORGET_AFTER_SECONDS]
            )
            for key in _keys(user, client):
                con.execute(
                    "insert into failures values (?, 1, ?) on conflict (key) do update set "
                    "failures = failures + 1, last_failure_at = excluded.last_failure_at",
                    [key, now],
                )
        return self.wait_seconds(user, client)

    def succeeded(self, user: str, client: str | None) -> None:
        """Forget the failures of `user` (the client's stay until they are forgotten)."""
        with self._db() as con:
            con.execute("delete from failures where key = ?", [_keys(user, client)[0]])


def wait_text(seconds: float) -> str:
    """``45 s``, ``2 min 5 s``: how long to wait, rounded up to the second."""
    whole = int(-(-seconds // 1))
    minutes, rest = divmod(whole, 60)
    if not minutes:
        return f"{rest} s"
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"
