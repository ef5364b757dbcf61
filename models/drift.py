"""Score drift between the last two scorings (`ml.score_history`), for the pipeline's check."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from models.checks import population_stability


@dataclass(frozen=True)
class Drift:
    psi: float
    compared: tuple[str, str]  # the two scorings' times


def latest_score_drift(con: duckdb.DuckDBPyConnection) -> Drift | str:
    """The population stability index of the last two scorings' risk bins, or why there is
    nothing to compare (no scoring yet, or only one)."""
    try:
        history = con.execute(
            "select scored_at, bin, customers from ml.score_history order by scored_at, bin"
        ).df()
    except duckdb.CatalogException:
        return "nothing scored yet"
    dates = sorted(history["scored_at"].unique())
    if len(dates) < 2:
        return "first scoring: nothing to compare"
    previous, current = (
        history[history.scored_at == d]["customers"].to_numpy() for d in dates[-2:]
    )
    return Drift(population_stability(previous, current), (str(dates[-2]), str(dates[-1])))
