"""Ingestion throughput: `churniq ingest` against raw DuckDB loading the same files, same run.

    .venv/bin/python -m benchmarks.bench_ingest [--customers 100000] [--months 24]

Ours validates every event against the contract (reason codes, quarantine), deduplicates by
event_id against the warehouse, writes the ledger and checkpoints. Baselines: (1) raw DuckDB
copying the same files into a table with no validation at all (the floor), (2) the obvious
Python loop validating each event with pydantic (`foundation.contract.validate_line`), timed on
a sample and extrapolated. Target: at least 300k events/s on 2 cores.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import machine, python, run_measured, write_result

RAW_DUCKDB = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("set enable_progress_bar = false")
fmt = sys.argv[3]
reader = "read_parquet" if fmt == "parquet" else "read_json_auto"
con.execute(f"create table events as select * from {reader}('{sys.argv[1]}/*.{fmt}')")
con.execute("checkpoint")
print(con.execute("select count(*) from events").fetchall()[0][0])
"""


def pydantic_rate(events_dir: Path, sample: int = 50_000) -> float:
    from foundation.contract import validate_line

    path = sorted(events_dir.glob("*.ndjson"))[0]
    lines = []
    with path.open("rb") as f:
        for line in f:
            lines.append(line)
            if len(lines) >= sample:
                break
    started = time.perf_counter()
    ok = sum(validate_line(x).ok for x in lines)
    elapsed = time.perf_counter() - started
    assert ok == len(lines)
    return len(lines) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="churniq-bench-ingest-"))
    rows, data = [], {}
    try:
        for fmt in ("parquet", "ndjson"):
            out = work / fmt
            run_measured("simulate", python("-m", "cli", "simulate", "--customers",
                         str(args.customers), "--months", str(args.months), "--format", fmt,
                         "--out", str(out)))  # fmt: skip
            events = out / "events"
            ours = run_measured(
                f"churniq ingest ({fmt})",
                python(
                    "-m",
                    "cli",
                    "--home",
                    str(work / f"home-{fmt}"),
                    "ingest",
                    str(events),
                ),
            )
            summary = ours.output.strip().splitlines()[-1]
            n = int(summary.split(":")[1].split()[0].replace(",", ""))
            # the CLI's own timing of the load, without interpreter start-up and imports
            load_seconds = float(summary.rsplit(" in ", 1)[1].split("s")[0])
            ours.load_seconds = load_seconds
            base = run_measured(
                f"raw DuckDB ({fmt})",
                python("-c", RAW_DUCKDB, str(events), str(work / f"raw-{fmt}.duckdb"), fmt),
            )
            assert int(base.output.strip().splitlines()[-1]) == n, (base.output, n)
            rows.append((fmt, n, ours, base))
            if fmt == "ndjson":
                data["pydantic_events_per_s"] = pydantic_rate(events)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [
        f"### Ingestion ({args.customers:,} customers × {args.months} months; {machine()})",
        "",
        "| format | events | churniq ingest (load only) | events/s | peak memory | raw DuckDB copy, no checks (whole process) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for fmt, n, ours, base in rows:
        lines.append(
            f"| {fmt} | {n:,} | {ours.seconds:.1f} s ({ours.load_seconds:.1f} s) | "
            f"{n / ours.load_seconds:,.0f} | {ours.peak_mb:,.0f} MB | "
            f"{base.seconds:.1f} s ({base.peak_mb:,.0f} MB) | {ours.seconds / base.seconds:.1f}× |"
        )
        data[fmt] = {
            "events": n,
            "seconds": ours.seconds,
            "load_seconds": ours.load_seconds,
            "peak_mb": ours.peak_mb,
            "baseline_seconds": base.seconds,
            "baseline_peak_mb": base.peak_mb,
        }
    rate = data["pydantic_events_per_s"]
    best = max(n / ours.load_seconds for _, n, ours, _ in rows)
    lines += [
        "",
        f"Obvious Python loop (pydantic, one event at a time, no load): {rate:,.0f} events/s, "
        f"on one core, without writing anything; churniq validates and loads "
        f"{best / rate:.1f}× as many per second.",
        "",
    ]
    print(write_result("ingest", "\n".join(lines), data).read_text())


if __name__ == "__main__":
    main()
