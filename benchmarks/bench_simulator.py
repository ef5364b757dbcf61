"""Scale benchmark of the subscriber simulator, with a naive baseline measured in the same run.

    .venv/bin/python benchmarks/bench_simulator.py                       # 100k customers x 24 months
    .venv/bin/python benchmarks/bench_simulator.py --customers 20000 --format ndjson

Measures the vectorised simulator (engine + contract writer + truth) end to end: wall time, peak
memory (max RSS), events/s. The baseline is the same generation done naively, on a small slice,
extrapolated to the full size:
  * engine: the same engine stepped one customer at a time (no vectorisation across customers);
  * writer: the same events written row by row with Python dicts + json.dumps to NDJSON.
Target: 100k x 24 in under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestion.simulator.clock import add_months_date  # noqa: E402
from ingestion.simulator.engine import Engine  # noqa: E402
from ingestion.simulator.events import SCHEMAS  # noqa: E402
from ingestion.simulator.writer import write_events, write_truth  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _naive_write(result, seed: int, path: Path) -> int:
    """Row-by-row writer: one dict and one json.dumps per event (the baseline)."""
    offer_ids = [o.offer_id for o in result.catalogue.offers]
    rows = []
    for etype, cols in result.tables.items():
        fields = SCHEMAS[etype]
        n = cols["ts"].size
        for i in range(n):
            ts = int(cols["ts"][i])
            if ts >= result.end_ts:
                continue
            cust = int(cols["cust"][i])
            data = {}
            for f in fields:
                v = int(cols[f.column][i])
                if f.optional and v < 0:
                    continue
                if f.kind == "int":
                    data[f.name] = v
                elif f.kind == "bool":
                    data[f.name] = v > 0
                elif f.kind == "ts":
                    data[f.name] = datetime.fromtimestamp(v, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                elif f.kind == "id":
                    data[f.name] = f"{f.vocab}{seed}-{v}"
                elif f.kind == "sub":
                    data[f.name] = f"s{seed}-{cust}-{v}"
                elif f.kind == "offer":
                    data[f.name] = offer_ids[v]
                else:
                    data[f.name] = f.vocab[v]
            rows.append((ts, cust, etype, data))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    with path.open("w") as fh:
        for n, (ts, cust, etype, data) in enumerate(rows):
            fh.write(
                json.dumps(
                    {
                        "event_id": f"sim{seed}-{n}",
                        "event_type": etype,
                        "schema_version": 1,
                        "occurred_at": datetime.fromtimestamp(ts, UTC).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                        "source": "simulator",
                        "customer_id": f"c{seed}-{cust}",
                        "data": data,
                    }
                )
                + "\n"
            )
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 1))
    ap.add_argument("--format", choices=("parquet", "ndjson"), default="parquet")
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "out" / "simulator"
    )
    ap.add_argument(
        "--baseline-customers",
        type=int,
        default=40,
        help="customers simulated one at a time for the engine baseline",
    )
    ap.add_argument(
        "--baseline-writer-customers",
        type=int,
        default=2_000,
        help="customers whose events are written row by row for the writer baseline",
    )
    ap.add_argument("--keep", action="store_true", help="keep the output files")
    args = ap.parse_args(argv)
    if add_months_date(args.start, args.months) > datetime.now(UTC).date():
        ap.error("window ends in the future")

    shutil.rmtree(args.out, ignore_errors=True)
    ev, tr = args.out / "events", args.out / "truth"
    rss0 = _rss_mb()

    # ---------------------------------------------------------------- vectorised run
    t0 = time.perf_counter()
    result = Engine(args.customers, args.months, args.seed, args.start).run()
    t1 = time.perf_counter()
    files, counts = write_events(result, args.seed, ev, fmt=args.format)
    t2 = time.perf_counter()
    write_truth(result, args.seed, tr)
    t3 = time.perf_counter()
    peak = _rss_mb()
    events = sum(counts.values())
    total = t3 - t0
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    del result

    # ---------------------------------------------------------------- naive baseline (slices)
    k = args.baseline_customers
    b0 = time.perf_counter()
    for i in range(k):
        Engine(1, args.months, args.seed * 1_000_003 + i, args.start).run()
    engine_per_customer = (time.perf_counter() - b0) / k

    kw = args.baseline_writer_customers
    small = Engine(kw, args.months, args.seed, args.start).run()
    tmp = args.out / "baseline.ndjson"
    w0 = time.perf_counter()
    n_small = _naive_write(small, args.seed, tmp)
    writer_per_event = (time.perf_counter() - w0) / max(n_small, 1)
    tmp.unlink()

    base_engine = engine_per_customer * args.customers
    base_writer = writer_per_event * events
    base_total = base_engine + base_writer

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"simulator benchmark: {args.customers:,} customers x {args.months} months, seed {args.seed}, "
        f"{args.format}, {cpus} CPUs"
    )
    print(f"  events                 {events:,} in {len(files)} files ({size_mb:,.1f} MB)")
    print(
        f"  wall time              {total:8.2f} s  (engine {t1 - t0:.2f} s, events writer "
        f"{t2 - t1:.2f} s, truth {t3 - t2:.2f} s)"
    )
    print(f"  throughput             {events / total:,.0f} events/s")
    print(f"  peak memory (max RSS)  {peak:,.0f} MB (process baseline {rss0:,.0f} MB)")
    print(f"  target < 60 s          {'PASS' if total < 60 else 'FAIL'}")
    print("baseline (naive, measured on slices, extrapolated):")
    print(
        f"  engine one customer at a time   {engine_per_customer * 1e3:8.1f} ms/customer -> "
        f"{base_engine:,.0f} s   (vectorised {t1 - t0:.1f} s: x{base_engine / (t1 - t0):,.0f})"
    )
    print(
        f"  writer dict + json.dumps        {writer_per_event * 1e6:8.2f} us/event    -> "
        f"{base_writer:,.0f} s   (vectorised {t2 - t1:.1f} s: x{base_writer / (t2 - t1):,.1f})"
    )
    print(
        f"  total                           {base_total:,.0f} s   vs {total:.1f} s: "
        f"speed-up x{base_total / total:,.0f}"
    )
    table = "\n".join(
        [
            f"### Simulator ({args.customers:,} customers × {args.months} months, "
            f"{args.format}; {cpus} CPUs)",
            "",
            "| events | wall time | events/s | peak memory | naive baseline (extrapolated) | speed-up |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {events:,} | {total:.1f} s | {events / total:,.0f} | {peak:,.0f} MB | "
            f"{base_total:,.0f} s | {base_total / total:,.0f}× |",
            "",
        ]
    )
    from benchmarks.common import write_result

    write_result(
        "simulator",
        table,
        {"events": events, "seconds": total, "peak_mb": peak, "baseline_seconds": base_total},
    )
    if not args.keep:
        shutil.rmtree(args.out, ignore_errors=True)
    return 0 if total < 60 else 1


if __name__ == "__main__":
    raise SystemExit(main())
