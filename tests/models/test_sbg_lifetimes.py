"""The sBG fit on individual, right-censored lifetimes (pooled groups such as an offer's customers)."""

from __future__ import annotations

import numpy as np
import pytest

from models.cohort import ShiftedBetaGeometric


def lifetimes_from_series(alive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The customers behind a retention series observed for len(alive) - 1 periods."""
    lost = -np.diff(alive).astype(int)
    periods = np.repeat(np.arange(1, alive.size), lost)
    censored = np.full(int(alive[-1]), alive.size - 1)
    return np.concatenate([periods, censored]), np.r_[
        np.ones(lost.sum(), bool), np.zeros(censored.size, bool)
    ]


def test_a_fully_observed_cohort_gives_the_series_fit(sbg_reference):
    alive = np.round(sbg_reference["regular_alive_pct"].to_numpy()[:8] * 10)
    series = ShiftedBetaGeometric().fit(alive)
    periods, churned = lifetimes_from_series(alive)
    lifetimes = ShiftedBetaGeometric().fit_lifetimes(periods, churned)
    assert lifetimes.alpha_ == pytest.approx(series.alpha_, rel=1e-6)
    assert lifetimes.beta_ == pytest.approx(series.beta_, rel=1e-6)
    assert lifetimes.log_likelihood_ == pytest.approx(series.log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(lifetimes.alive_, alive)


def test_recovers_parameters_under_staggered_censoring():
    rng = np.random.default_rng(7)
    alpha, beta, n = 1.2, 3.5, 20_000
    theta = rng.beta(alpha, beta, n)
    churn_period = rng.geometric(theta)
    observed_for = rng.integers(1, 25, n)  # customers who signed up at different times
    churned = churn_period <= observed_for
    periods = np.where(churned, churn_period, observed_for)
    model = ShiftedBetaGeometric().fit_lifetimes(periods, churned)
    assert model.alpha_ == pytest.approx(alpha, rel=0.15)
    assert model.beta_ == pytest.approx(beta, rel=0.15)
    projected = model.projected_retention(24)
    assert (projected["ci_lower"] <= projected["projected_retention"] + 1e-12).all()


def test_refuses_churn_before_the_first_period():
    with pytest.raises(ValueError, match="period 1"):
        ShiftedBetaGeometric().fit_lifetimes([0, 3], [True, False])
