"""Subscriber simulator: a synthetic streaming business emitting contract events, with ground truth.

    from ingestion.simulator import simulate
    summary = simulate(customers=5_000, months=24, seed=7, events_dir=Path("landing"),
                       truth_dir=Path("truth"))

Events (contract v1, `source` = "simulator") go to `events_dir` as `sim-s{seed}-{part:03}.parquet`
(or `.ndjson`); the latent truth (monthly churn propensity, hazard and main driver per customer,
and a per-customer outcome table) goes to `truth_dir`, which the pipeline never reads.
Same arguments => byte-identical files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from .clock import add_months_date
from .engine import Engine
from .writer import write_events, write_truth

__all__ = ["SimulationSummary", "simulate"]


@dataclass
class SimulationSummary:
    customers: int
    months: int
    seed: int
    events: int
    files: list[Path]
    truth_files: list[Path]
    event_counts: dict[str, int] = field(default_factory=dict)
    window_start: date | None = None
    window_end: date | None = None
    elapsed_seconds: float = 0.0

    def __str__(self) -> str:  # short, for the CLI
        return (
            f"{self.customers} customers x {self.months} months (seed {self.seed}): "
            f"{self.events:,} events in {len(self.files)} files, {self.elapsed_seconds:.1f}s"
        )


def _resolve(p: Path) -> Path:
    return Path(p).expanduser().resolve()


def simulate(
    customers: int,
    months: int,
    seed: int,
    events_dir: Path,
    truth_dir: Path,
    fmt: str = "parquet",
    start: date = date(2024, 11, 1),
    *,
    rows_per_file: int = 1_000_000,
) -> SimulationSummary:
    """Simulate `customers` subscribers over `months` calendar months from `start`.

    Raises ValueError when the window would end after today (UTC): the simulator never emits
    events dated in the future.
    """
    t0 = time.perf_counter()
    if fmt not in ("parquet", "ndjson"):
        raise ValueError(f"unknown format {fmt!r} (parquet or ndjson)")
    ev, tr = _resolve(events_dir), _resolve(truth_dir)
    if ev == tr or ev in tr.parents:
        raise ValueError("truth_dir must be a separate folder, not events_dir or inside it")
    end = add_months_date(start, months)
    today = datetime.now(UTC).date()
    if end > today:
        raise ValueError(
            f"window {start}..{end} ends after today ({today}); "
            "pick an earlier start or fewer months"
        )
    result = Engine(customers, months, seed, start).run()
    files, counts = write_events(result, seed, ev, fmt=fmt, rows_per_file=rows_per_file)
    truth = write_truth(result, seed, tr)
    return SimulationSummary(
        customers=customers,
        months=months,
        seed=seed,
        events=sum(counts.values()),
        files=files,
        truth_files=truth,
        event_counts=counts,
        window_start=start,
        window_end=end,
        elapsed_seconds=time.perf_counter() - t0,
    )
