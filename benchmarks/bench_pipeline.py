"""The demo path at scale: simulate, then `churniq run` (landing → raw → marts → snapshot).

    .venv/bin/python -m benchmarks.bench_pipeline [--customers 30000 100000] [--months 24]

Measured in the same run on the same warehouse: the obvious pandas computation of month-end
MRR from the raw events (`benchmarks.pandas_mrr`). It computes one column of one mart where
the pipeline validates, loads and builds every mart with its tests, so it is a floor and a
cross-check (its MRR must equal `marts.metrics_monthly.mrr`), not a like-for-like race.
Target: the default demo (30k customers × 24 months) through the pipeline in under 2 minutes.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import duckdb

from benchmarks.common import machine, python, run_measured, write_result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[30_000, 100_000])
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    lines = [
        f"### Pipeline ({args.months} months of simulated history; {machine()})",
        "",
        "| customers | events | simulate | churniq run | peak memory | pandas month-end MRR only | MRR agrees |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    data = {}
    for customers in args.customers:
        home = Path(tempfile.mkdtemp(prefix="churniq-bench-pipeline-"))
        try:
            sim = run_measured(
                "simulate",
                python(
                    "-m",
                    "cli",
                    "--home",
                    str(home),
                    "simulate",
                    "--customers",
                    str(customers),
                    "--months",
                    str(args.months),
                    "--out",
                    str(home / "sim"),
                ),
            )
            (home / "landing").mkdir(parents=True, exist_ok=True)
            for f in (home / "sim" / "events").iterdir():
                f.rename(home / "landing" / f.name)
            run = run_measured("churniq run", python("-m", "cli", "--home", str(home), "run"))
            base = run_measured(
                "pandas", python("-m", "benchmarks.pandas_mrr", str(home / "warehouse.duckdb"))
            )
            con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
            marts = {
                str(m): float(v)
                for m, v in con.execute("select month, mrr from marts.metrics_monthly").fetchall()
            }
            events = con.execute("select count(*) from marts.fct_mrr_movements").fetchall()[0][0]
            con.close()
            con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
            events = con.execute("select count(*) from raw.events").fetchall()[0][0]
            con.close()
            pandas = dict(line.split(",") for line in base.output.strip().splitlines())
            worst = max(abs(marts[m] - float(v)) for m, v in pandas.items())
        finally:
            shutil.rmtree(home, ignore_errors=True)
        lines.append(
            f"| {customers:,} | {events:,} | {sim.seconds:.1f} s | {run.seconds:.1f} s | "
            f"{run.peak_mb:,.0f} MB | {base.seconds:.1f} s ({base.peak_mb:,.0f} MB) | "
            f"max gap {worst:.1e} |"
        )
        data[customers] = {
            "events": events,
            "simulate_s": sim.seconds,
            "run_s": run.seconds,
            "run_peak_mb": run.peak_mb,
            "pandas_s": base.seconds,
            "pandas_peak_mb": base.peak_mb,
            "max_mrr_gap": worst,
        }
    lines.append("")
    print(write_result("pipeline", "\n".join(lines), data).read_text())


if __name__ == "__main__":
    main()
