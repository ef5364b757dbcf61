"""A simulated business run through the whole pipeline on a temporary home."""

from __future__ import annotations

from pathlib import Path

from ingestion.simulator import simulate
from pipelines.cli import run_pipeline
from pipelines.settings import get_settings


def simulated_home(home: Path, customers: int, months: int, seed: int) -> Path:
    """Simulate into the home's landing folder (truth beside it), run the Dagster job, and
    require every asset check to pass."""
    settings = get_settings(home=home)
    simulate(
        customers=customers,
        months=months,
        seed=seed,
        events_dir=settings.landing,
        truth_dir=settings.ground_truth,
    )
    meta = run_pipeline(settings)
    assert all(meta["checks"].values()), meta["checks"]
    return home
