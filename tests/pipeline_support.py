"""A simulated business run through the whole pipeline on a temporary home."""

from __future__ import annotations

from pathlib import Path

from foundation.settings import get_settings
from ingestion.simulator import simulate
from pipelines.run import run_pipeline


def simulated_lines(root: Path, customers: int, months: int, seed: int) -> list[str]:
    """The NDJSON lines of a simulated business (written under `root`), in the order the
    simulator wrote them."""
    summary = simulate(
        customers=customers,
        months=months,
        seed=seed,
        events_dir=root / "events",
        truth_dir=root / "truth",
        fmt="ndjson",
    )
    lines = [
        line
        for path in sorted(summary.files)
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert len(lines) == summary.events
    return lines


def simulated_home(home: Path, customers: int, months: int, seed: int) -> Path:
    """Simulate into the home's landing folder (truth beside it), run the Dagster job, and
    require every asset check to pass."""
    settings = get_settings(home=home)
    simulate(
        customers=customers,
        months=months,
        seed=seed,
        events_dir=settings.paths.landing,
        truth_dir=settings.paths.ground_truth,
    )
    meta = run_pipeline(settings)
    assert all(meta["checks"].values()), meta["checks"]
    return home
