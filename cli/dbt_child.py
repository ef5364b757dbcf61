"""`churniq-dbt`: dbt, in a process that ends when the churniq process that started it ends.

The pipeline runs dbt as a child process (dagster-dbt). When `churniq run` is killed (kill -9,
the OOM killer), an ordinary child is orphaned and goes on writing the warehouse for up to a
whole build, holding DuckDB's lock: the next run then fails on that lock. This wrapper watches
its parent and kills itself, as a crash would, the moment the parent is gone (a parent that
died before the watch started leaves the child to init, pid 1: caught too). DuckDB rolls back
the open transaction when the warehouse is next opened.

The pipeline's dbt resource starts it as `churniq-dbt --churniq-home <home> <dbt arguments>`:
at its own start it sets the environment that dbt's profile reads (the home's warehouse and
DuckDB limits, from the settings), so no other process writes its environment for dbt.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

POLL_SECONDS = 0.2


def _die_with(parent: int) -> None:
    while parent != 1 and os.getppid() == parent:
        time.sleep(POLL_SECONDS)
    os.kill(os.getpid(), signal.SIGKILL)


def watch_parent() -> None:
    parent = os.getppid()
    threading.Thread(target=_die_with, args=(parent,), name="parent-watch", daemon=True).start()


def _take_home(argv: list[str]) -> list[str]:
    """`argv` without its leading `--churniq-home <home>`; the profile's environment set from
    that home's settings."""
    from pipelines.dbt_project import HOME_FLAG, profile_environment

    if len(argv) < 3 or argv[1] != HOME_FLAG:
        return argv
    from foundation.settings import get_settings

    os.environ.update(profile_environment(get_settings(home=argv[2])))
    return [argv[0], *argv[3:]]


def main() -> None:
    watch_parent()
    sys.argv = _take_home(sys.argv)
    from dbt.cli.main import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
