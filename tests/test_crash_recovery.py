"""kill -9 of `churniq ingest` and `churniq run` at seeded random points, then a replay.

A small simulated business lands as six files (with a torn line, an unknown event type, a
repeated line, a conflicting duplicate and a byte-identical copy of a file) and the rest of it
sits in the core's outbox. `churniq ingest` is killed several times while it loads, then
`churniq run` in the middle of its dbt build. After every kill the warehouse opens (no lock
left, nothing corrupt) and holds whole batches only, and nothing the killed process started is
still running. The next run (in-process, marts only, to keep the test cheap) recovers: every landing line is accounted for exactly
once (per file: lines = loaded + duplicate + quarantined, as computed independently with the
contract's validator) and the incrementally built marts equal a full refresh of the same data.
The soak with many more kills is `benchmarks/bench_crash.py`.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from foundation.settings import get_settings
from ingestion.loader import connect
from ingestion.publish import publish
from pipelines.run import run_pipeline
from tests.crash_support import (
    REPO,
    assert_reconciled,
    assert_whole_batches,
    build_landing,
    full_refresh_differences,
    has_open,
    in_dbt_build,
    kill_9,
    kill_at,
    reap,
    session_processes,
    start,
    survivors,
    wait_until,
)

SEED = 14
INGEST_KILLS = 4

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="finds the kill points in /proc"
)


def test_ingest_and_run_killed_at_random_points_recover_exactly(tmp_path: Path):
    home = tmp_path / "home"
    expected = build_landing(home, customers=60, months=3, seed=SEED)
    warehouse = home / "warehouse.duckdb"
    rng = random.Random(SEED)

    loaded = 0
    for _ in range(INGEST_KILLS):
        proc = start(home, "ingest")
        kill_at(proc, lambda p=proc: has_open(p.pid, warehouse), rng.uniform(0.0, 1.5))
        now = assert_whole_batches(warehouse, expected)
        assert now >= loaded
        loaded = now

    proc = start(home, "run")
    kill_at(proc, lambda p=proc: in_dbt_build(p, warehouse), rng.uniform(0.5, 3.0))
    assert_whole_batches(warehouse, expected)

    # the replay: the same job, in this process, without the model steps (marts only)
    settings = get_settings(home=home, core_db_url=f"sqlite:///{home / 'core.db'}")
    checks = run_pipeline(settings, models=False)["checks"]
    assert all(checks.values()), checks
    assert_reconciled(home, expected)
    assert full_refresh_differences(home, tmp_path) == {}


def test_the_dbt_child_dies_with_the_process_that_started_it(tmp_path: Path):
    """`churniq-dbt` (what the pipeline runs dbt as) watches its parent: kill -9 of the
    parent ends it, as it ends the parent, instead of leaving it writing the warehouse."""
    child = "import time; from cli.dbt_child import watch_parent; watch_parent(); time.sleep(60)"
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


def test_a_snapshot_left_half_written_by_a_killed_run_is_removed_by_the_next(tmp_path: Path):
    """kill -9 during the publish step leaves the temporary snapshot (and its WAL) beside the
    live one; the next publish removes it, so kills do not pile up copies of the marts."""
    warehouse, serving = tmp_path / "warehouse.duckdb", tmp_path / "serving.duckdb"
    connect(warehouse).close()
    stale = [tmp_path / ".serving-20260101T000000-0badc0de.duckdb"]
    stale.append(stale[0].with_name(stale[0].name + ".wal"))
    for path in stale:
        path.write_bytes(b"half a snapshot")
    publish(warehouse, serving, "EUR")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "warehouse.duckdb"]
