"""Full rebuild of every mart at scale, the obvious pandas version measured on the same data,
and the cost of bringing everything up to date when one new day of events arrives.

    .venv/bin/python -m benchmarks.bench_marts [--customers 100000 1000000] [--months 24]

Warehouses are built once per size under benchmarks/out/ (simulated in chunks of 100k
customers with distinct seeds, loaded with `churniq ingest`) and reused by later runs. The last
week of events, Monday to the last day, is held back, one file per day, and arrives later in the
"one new day" measurements: the Monday (the simulator reports each customer's engagement of the
past week on Mondays: the day that touches most customers) and, after the days in between have
been loaded and built, the last day (an ordinary day).
Targets (2 cores): 1M customers rebuilt in ≤ 45 s and ≤ 4 GB, ≥ 10× faster than pandas; one
new day on top of 1M customers in ≤ 30 s. Models and data tests are timed apart (`dbt run`, then
`dbt test`): the per-customer models are incremental, the data tests always read whole tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import shutil
from pathlib import Path

import duckdb

from benchmarks.common import REPO, machine, python, run_measured, write_result
from pipelines.dbt_project import dbt_vars

OUT = REPO / "benchmarks" / "out"
CHUNK = 100_000
DBT = [str(Path(python()[0]).with_name("dbt"))]
DBT_ARGS = [
    "--project-dir", str(REPO / "dbt_project"), "--profiles-dir", str(REPO / "dbt_project"),
    "--vars", dbt_vars(),
]  # fmt: skip
# The obvious pandas version expands every subscription to days: at 100k customers it needs
# more than this machine's 24 GB. It runs on the first PANDAS_SAMPLE customers of the same
# warehouse and its time is scaled by the customer count (labelled so in the table).
PANDAS_SAMPLE = 10_000


def build_warehouse(customers: int, months: int) -> Path:
    home = OUT / f"marts-{customers}-{months}-week"
    if (home / "ready").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    landing, newday = home / "landing", home / "newday"
    landing.mkdir(parents=True)
    newday.mkdir()
    for i in range(math.ceil(customers / CHUNK)):
        n = min(CHUNK, customers - i * CHUNK)
        sim = home / f"sim-{i}"
        run_measured("simulate", python("-m", "cli", "simulate", "--customers", str(n),
                     "--months", str(months), "--seed", str(1000 + i), "--out", str(sim)))  # fmt: skip
        for f in sorted((sim / "events").glob("*.parquet")):
            f.rename(landing / f"c{i}-{f.name}")
        shutil.rmtree(sim)
    # hold back the last week, from its Monday on, one file per day: it arrives later
    con = duckdb.connect()
    files = f"'{landing}/*.parquet'"
    last = con.execute(f"select max(occurred_at[1:10]) from read_parquet({files})").fetchall()[0][0]
    monday = dt.date.fromisoformat(last) - dt.timedelta(days=dt.date.fromisoformat(last).weekday())
    day = monday
    while day.isoformat() <= last:
        con.execute(f"copy (select * from read_parquet({files}) where occurred_at[1:10] = "
                    f"'{day}') to '{newday}/{day}.parquet'")  # fmt: skip
        day += dt.timedelta(days=1)
    for f in sorted(landing.glob("*.parquet")):
        con.execute(f"copy (select * from read_parquet('{f}') where occurred_at[1:10] < "
                    f"'{monday}') to '{f}.tmp' (format parquet)")  # fmt: skip
        os.replace(f"{f}.tmp", f)
    con.close()
    run_measured("ingest", python("-m", "cli", "--home", str(home), "ingest", str(landing)))
    run_measured("fx", python("-c", FX, str(home / "warehouse.duckdb")))
    (home / "ready").touch()
    return home


FX = """
import sys
from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect
con = connect(__import__('pathlib').Path(sys.argv[1]))
refresh_reference_tables(con, 'EUR'); con.execute('checkpoint'); con.close()
"""


def dbt(command: str, home: Path, label: str, full_refresh: bool = False):
    """`dbt run` (every model) or `dbt test` (every data test) on the home's warehouse."""
    env = {
        "CHURNIQ_WAREHOUSE": str(home / "warehouse.duckdb"),
        "CHURNIQ_DUCKDB_MEMORY_LIMIT": "4GB",
        "CHURNIQ_DUCKDB_THREADS": "2",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    args = [*DBT, command, *DBT_ARGS, "--exclude", "resource_type:unit_test"]
    if full_refresh:  # the incremental tables are rebuilt from every raw event too
        args.append("--full-refresh")
    return run_measured(label, args, env=env)


def run_and_test(home: Path, label: str, full_refresh: bool = False) -> tuple:
    models = dbt("run", home, f"{label}: models", full_refresh)
    tests = dbt("test", home, f"{label}: data tests")
    return models, tests


def new_days(home: Path, days: list[Path], label: str) -> tuple:
    """Load `days` (their files copied to a landing folder of their own), then bring every
    model up to date: (ingest, models, data tests)."""
    landing = home / f"landing-{label.replace(' ', '-')}"
    shutil.rmtree(landing, ignore_errors=True)
    landing.mkdir()
    for day in days:
        shutil.copy(day, landing / day.name)
    ingest = run_measured(
        f"{label}: ingest",
        python("-m", "cli", "--home", str(home), "ingest", str(landing)),
    )
    run_measured("fx", python("-c", FX, str(home / "warehouse.duckdb")))
    models, tests = run_and_test(home, label)
    shutil.rmtree(landing)
    return ingest, models, tests


def day_cell(ingest, models, tests) -> str:
    return (f"{ingest.seconds + models.seconds:.1f} s ({ingest.seconds:.1f} + {models.seconds:.1f})"
            f" + {tests.seconds:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    lines = [
        f"### Marts ({args.months} months of simulated history; {machine()}; DuckDB memory_limit 4GB)",
        "",
        "| customers | raw events | full rebuild: every model (`dbt run --full-refresh`) + every data test "
        "| peak memory | pandas movements + monthly metrics | ratio (models) "
        "| one new day, ingest + models (incremental) + data tests: an ordinary day "
        "| the Monday (every customer's weekly engagement) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    data: dict = {}
    for customers in args.customers:
        home = build_warehouse(customers, args.months)
        wh = str(home / "warehouse.duckdb")
        con = duckdb.connect(wh, read_only=True)
        events = con.execute("select count(*) from raw.events").fetchall()[0][0]
        con.close()
        snapshot = home / "before-newday.duckdb"
        shutil.copy(wh, snapshot)  # every run starts from the same state
        full, full_tests = run_and_test(home, "full rebuild", full_refresh=True)
        sample = min(customers, PANDAS_SAMPLE)
        base = run_measured("pandas", python("-m", "benchmarks.pandas_movements", wh, str(sample)))
        base_s = base.seconds * customers / sample
        base_note = (
            f"{base.seconds:.0f} s on {sample:,} customers ({base.peak_mb:,.0f} MB) "
            f"→ ≈ {base_s:,.0f} s for all"
        )
        days = sorted((home / "newday").glob("*.parquet"))
        monday = new_days(home, days[:1], "the Monday")
        if len(days) > 2:  # the days in between, not measured
            new_days(home, days[1:-1], "days in between")
        ordinary = new_days(home, days[-1:], "an ordinary day")
        shutil.copy(snapshot, wh)  # leave the warehouse without the new days for the next run
        snapshot.unlink()
        ratio = f"{base_s / full.seconds:.0f}×" if base_s else "–"
        peak = max(full.peak_mb, full_tests.peak_mb)
        lines.append(
            f"| {customers:,} | {events:,} | {full.seconds:.1f} s + {full_tests.seconds:.1f} s "
            f"| {peak:,.0f} MB | {base_note} | {ratio} | {day_cell(*ordinary)} "
            f"| {day_cell(*monday)} |"
        )
        data[customers] = {"events": events, "full_models_s": full.seconds,
                           "full_tests_s": full_tests.seconds, "full_peak_mb": peak,
                           "pandas_s": base_s,
                           "ordinary_day_s": ordinary[0].seconds + ordinary[1].seconds,
                           "ordinary_day_tests_s": ordinary[2].seconds,
                           "monday_s": monday[0].seconds + monday[1].seconds,
                           "monday_tests_s": monday[2].seconds}  # fmt: skip
    lines.append("")
    print(write_result("marts", "\n".join(lines), data).read_text())


if __name__ == "__main__":
    main()
