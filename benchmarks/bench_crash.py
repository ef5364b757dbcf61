"""Crash soak: many kill -9s of `churniq ingest` and `churniq run`, then one recovery run.

    .venv/bin/python -m benchmarks.bench_crash [--customers 1000] [--months 12] [--files 24]
        [--ingest-kills 20] [--run-kills 6] [--seed 14]

The landing set of `tests/crash_support.py` (a simulated business in `--files` files with
faults, and its last sixth in the core's outbox) lands in two homes. Baseline, same run: one
`churniq run` on the second home, never killed. Soak, on the first: `churniq ingest` killed
`--ingest-kills` times at random points while it loads, then `churniq run` killed `--run-kills`
times at a random point of a run (uniform over the baseline's duration, so every step gets hit:
loading, the outbox, FX, dbt, the models, the publish step), and twice more at named points:
inside the dbt build and while the snapshot is being written. After every kill the warehouse
must open and hold whole batches, and nothing the killed process started may still run. Then
one `churniq run` recovers, and the ledger must reconcile line by line, the warehouse and the
published marts must equal a `dbt run --full-refresh` of the same data, and the published marts
must equal the baseline's.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, run_measured, write_result
from tests.crash_support import (
    CHURNIQ,
    assert_reconciled,
    assert_whole_batches,
    build_landing,
    differences,
    full_refresh_differences,
    has_open,
    in_dbt_build,
    kill_at,
    start,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--files", type=int, default=24)
    parser.add_argument("--ingest-kills", type=int, default=20)
    parser.add_argument("--run-kills", type=int, default=6)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    root = Path(tempfile.mkdtemp(prefix="churniq-bench-crash-"))
    try:
        home, base = root / "soak", root / "baseline"
        expected = build_landing(home, args.customers, args.months, args.seed, files=args.files)
        shutil.copytree(home, base)
        lines = sum(c.lines for c in expected.files.values()) + expected.outbox.lines

        def env(h: Path) -> dict:
            return {"CHURNIQ_CORE_DB_URL": f"sqlite:///{h / 'core.db'}"}

        baseline = run_measured("baseline", [str(CHURNIQ), "--home", str(base), "run"], env(base))

        warehouse = home / "warehouse.duckdb"
        ingest_hits = run_hits = 0
        started = time.perf_counter()
        for _ in range(args.ingest_kills):
            proc = start(home, "ingest")
            ready = lambda p=proc: has_open(p.pid, warehouse)  # noqa: E731
            ingest_hits += kill_at(proc, ready, rng.uniform(0.0, 3.0), 3600)
            assert_whole_batches(warehouse, expected)
        for _ in range(args.run_kills):
            proc = start(home, "run")
            run_hits += kill_at(proc, lambda: True, rng.uniform(0.0, baseline.seconds), 3600)
            assert_whole_batches(warehouse, expected)
        # and two named points: inside the dbt build, and while the snapshot is being written
        in_dbt = lambda p: in_dbt_build(p, warehouse)  # noqa: E731
        for ready in (in_dbt, lambda p: any(home.glob(".serving-*.duckdb"))):
            proc = start(home, "run")
            run_hits += kill_at(proc, lambda p=proc, r=ready: r(p), rng.uniform(0.0, 0.5), 3600)
            assert_whole_batches(warehouse, expected)
        soak_seconds = time.perf_counter() - started

        recovery = run_measured("recovery", [str(CHURNIQ), "--home", str(home), "run"], env(home))
        assert_reconciled(home, expected)
        vs_full = full_refresh_differences(home, root)
        vs_baseline = differences(
            {"rec": home / "serving.duckdb"}, base / "serving.duckdb", {"rec": ("marts",)}
        )
        assert vs_full == {}, vs_full
        assert vs_baseline == {}, vs_baseline
    finally:
        shutil.rmtree(root, ignore_errors=True)

    ratio = recovery.seconds / baseline.seconds
    markdown = "\n".join(
        [
            f"### Crash soak ({args.customers:,} customers × {args.months} months, "
            f"{args.files} files + the core outbox, {lines:,} lines; {machine()})",
            "",
            "| kill -9 of ingest (while running) | kill -9 of run (while running) | soak time "
            "| recovery `churniq run` | peak memory | baseline `churniq run`, no kills "
            "| peak memory | recovery / baseline | ledger, raw.events, marts |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            f"| {args.ingest_kills} ({ingest_hits}) | {args.run_kills + 2} ({run_hits}) "
            f"| {soak_seconds:.0f} s | {recovery.seconds:.1f} s | {recovery.peak_mb:,.0f} MB "
            f"| {baseline.seconds:.1f} s | {baseline.peak_mb:,.0f} MB | {ratio:.2f} "
            "| reconciled; equal to a full refresh and to the baseline |",
            "",
        ]
    )
    data = {
        "customers": args.customers,
        "months": args.months,
        "files": args.files,
        "lines": lines,
        "ingest_kills": args.ingest_kills,
        "ingest_kills_while_running": ingest_hits,
        "run_kills": args.run_kills + 2,
        "run_kills_while_running": run_hits,
        "soak_s": soak_seconds,
        "recovery_s": recovery.seconds,
        "recovery_peak_mb": recovery.peak_mb,
        "baseline_s": baseline.seconds,
        "baseline_peak_mb": baseline.peak_mb,
        "recovery_over_baseline": ratio,
    }
    print(write_result("crash", markdown, data).read_text())


if __name__ == "__main__":
    main()
