"""kill -9 of `churniq ingest` and `churniq run` at seeded random points, then a replay.

A small simulated business lands as six files (with a torn line, an unknown event type, a
repeated line, a conflicting duplicate and a byte-identical copy of a file) and the rest of it
sits in the core's outbox. `churniq ingest` is killed several times while it loads, then
`churniq run` in the middle of its dbt build. After every kill the warehouse opens (no lock
left, nothing corrupt) and holds whole batches only, and nothing the killed process started is
still running. A plain `churniq run` then recovers: every landing line is accounted for exactly
once (per file: lines = loaded + duplicate + quarantined, as computed independently with the
contract's validator) and the incrementally built marts equal a full refresh of the same data.
The soak with many more kills is `benchmarks/bench_crash.py`.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.crash_support import (
    REPO,
    assert_reconciled,
    assert_whole_batches,
    build_landing,
    full_refresh_differences,
    has_open,
    kill_9,
    reap,
    session_processes,
    start,
    survivors,
    wait_until,
)

SEED = 14
INGEST_KILLS = 5

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds the kill points in /proc"
)


def in_dbt_build(proc) -> bool:
    return any(" build " in cmd and "dbt" in cmd for _, cmd in session_processes(proc.pid))


def killed_at(proc, ready, delay: float) -> None:
    """Wait for `ready()`, then `delay` seconds, then kill -9 the process (not its children);
    nothing it started may outlive it."""
    try:
        if wait_until(proc, ready):
            time.sleep(delay)
        kill_9(proc)
        left = survivors(proc)
        assert not left, f"still running after kill -9 of {proc.args[3:]}: {left}"
    finally:
        reap(proc)


def test_ingest_and_run_killed_at_random_points_recover_exactly(tmp_path: Path):
    home = tmp_path / "home"
    expected = build_landing(home, customers=60, months=3, seed=SEED)
    warehouse = home / "warehouse.duckdb"
    rng = random.Random(SEED)

    loaded = 0
    for _ in range(INGEST_KILLS):
        proc = start(home, "ingest")
        killed_at(proc, lambda p=proc: has_open(p.pid, warehouse), rng.uniform(0.0, 1.5))
        now = assert_whole_batches(warehouse, expected)
        assert now >= loaded
        loaded = now

    log = tmp_path / "runs.log"
    proc = start(home, "run", log=log)
    killed_at(proc, lambda p=proc: in_dbt_build(p), rng.uniform(0.5, 3.0))
    assert_whole_batches(warehouse, expected)

    replay = start(home, "run", log=log)
    code = replay.wait(timeout=600)
    assert code == 0, log.read_text()[-3000:]
    assert_reconciled(home, expected)
    assert full_refresh_differences(home, tmp_path) == {}


def test_the_dbt_child_dies_with_the_process_that_started_it(tmp_path: Path):
    """`churniq-dbt` (what the pipeline runs dbt as) watches its parent: kill -9 of the
    parent ends it, as it ends the parent, instead of leaving it writing the warehouse."""
    child = (
        "import time; from pipelines.dbt_child import watch_parent; watch_parent(); time.sleep(60)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], cwd=REPO, start_new_session=True)
    try:
        assert wait_until(proc, lambda: len(session_processes(proc.pid)) == 2, timeout=30)
        kill_9(proc)
        assert survivors(proc, grace=2.0) == []
    finally:
        reap(proc)
