"""Run every benchmark and collect their tables in benchmarks/results/ (shown in the README)."""

from __future__ import annotations

import subprocess
import sys

from benchmarks.common import REPO, RESULTS

BENCHMARKS = [
    "benchmarks.bench_simulator",
    "benchmarks.bench_ingest",
    "benchmarks.bench_pipeline",
    "benchmarks.bench_marts",
    "benchmarks.bench_models",
    "benchmarks.bench_core_load",
    "benchmarks.bench_core_races",
    "benchmarks.bench_stripe_webhooks",
    "benchmarks.bench_app",
    "benchmarks.bench_crash",
    "benchmarks.bench_stripe_translation",
]


def main() -> None:
    for module in BENCHMARKS:
        print(f"== {module}", flush=True)
        subprocess.run([sys.executable, "-m", module], cwd=REPO, check=True)
    tables = [
        RESULTS / f"{n}.md"
        for n in (module.removeprefix("benchmarks.bench_") for module in BENCHMARKS)
        if (RESULTS / f"{n}.md").exists()
    ]
    print("\n".join(t.read_text() for t in tables))


if __name__ == "__main__":
    main()
