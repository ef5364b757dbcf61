"""The shifted-beta-geometric model against Fader & Hardie (2007) and against simulated cohorts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import beta as beta_function

from models.checks import check_interval, check_probabilities, check_survival_values
from models.cohort import ShiftedBetaGeometric, sbg_log_likelihood, simulate_sbg_cohort

# column, alpha, beta, log-likelihood published for the fit on years 1-7
PUBLISHED = [
    ("regular_alive_pct", 0.704, 1.182, -1680.27),
    ("high_end_alive_pct", 0.668, 3.806, -1611.16),
]


@pytest.fixture(scope="module", params=PUBLISHED, ids=["regular", "high_end"])
def fitted(request, sbg_reference):
    column, alpha, beta, log_likelihood = request.param
    years_0_to_7 = sbg_reference[column].to_numpy()[:8]
    model = ShiftedBetaGeometric().fit(years_0_to_7, cohort_size=1000)
    return model, sbg_reference[column].to_numpy() / 100, (alpha, beta, log_likelihood)


def test_reproduces_published_fit(fitted):
    model, _, (alpha, beta, log_likelihood) = fitted
    assert round(model.alpha_, 3) == alpha
    assert round(model.beta_, 3) == beta
    assert round(model.log_likelihood_, 2) == log_likelihood
    assert model.log_likelihood_ == pytest.approx(
        sbg_log_likelihood(model.alpha_, model.beta_, model.alive_)
    )


def test_counts_and_shares_give_the_same_fit(sbg_reference):
    percent = sbg_reference["regular_alive_pct"].to_numpy()[:8]
    from_counts = ShiftedBetaGeometric().fit(percent * 10)
    from_shares = ShiftedBetaGeometric().fit(percent / 100, cohort_size=1000)
    assert from_counts.alpha_ == pytest.approx(from_shares.alpha_, rel=1e-6)
    with pytest.raises(ValueError, match="cohort_size"):
        ShiftedBetaGeometric().fit(percent / 100)


def test_projected_survival_formula(fitted):
    model, _, _ = fitted
    t = np.arange(0, 25)
    a, b = model.alpha_, model.beta_
    np.testing.assert_allclose(model.survival(t), beta_function(a, b + t) / beta_function(a, b))
    # the same curve as a product of period retention rates r_t = (b + t - 1) / (a + b + t - 1)
    rates = 1 - model.churn_rate(t[1:])
    np.testing.assert_allclose(model.survival(t[1:]), np.cumprod(rates))
    np.testing.assert_allclose(model.churn_probability(t[1:]), -np.diff(model.survival(t)))
    check_probabilities(model.churn_rate(t[1:]))
    check_survival_values(t, model.survival(t))


def test_projection_intervals_and_holdout_years(fitted):
    model, actual, _ = fitted
    projection = model.projected_retention(12)
    assert projection["period"].tolist() == list(range(13))
    check_survival_values(projection["period"], projection["projected_retention"])
    check_interval(
        projection["projected_retention"], projection["ci_lower"], projection["ci_upper"]
    )
    np.testing.assert_allclose(projection["actual_retention"][:8], actual[:8])
    assert projection["actual_retention"][8:].isna().all()
    # years 8-12 were not fitted: the projection stays within 2 points and inside its interval
    holdout = projection.iloc[8:]
    assert np.abs(holdout["projected_retention"] - actual[8:]).max() < 0.02
    assert ((holdout["ci_lower"] <= actual[8:]) & (actual[8:] <= holdout["ci_upper"])).all()


def test_lifetime_and_derl(fitted):
    model, _, _ = fitted
    # alpha < 1 in both segments: a heavy tail, infinite undiscounted lifetime
    assert model.expected_lifetime() == float("inf")
    assert model.expected_lifetime(horizon=10) == pytest.approx(model.survival(np.arange(10)).sum())
    d, renewals = 0.10, 4
    x = 1 / (1 + d)
    k = np.arange(1, 2000)
    ratio = model.survival(renewals + k) / model.survival(renewals)
    summed = float((ratio * x ** (k - 1)).sum())
    derl = model.derl(d, renewals)
    assert derl.estimate == pytest.approx(summed, rel=1e-9)
    check_interval(derl.estimate, derl.ci_lower, derl.ci_upper)
    # customers who have renewed more are the loyal ones: more residual value
    assert model.derl(d, renewals + 1).estimate > derl.estimate > model.derl(d, 0).estimate


def test_finite_expected_lifetime_when_alpha_above_one():
    model = ShiftedBetaGeometric().fit(
        simulate_sbg_cohort(2.0, 3.0, 5000, 8, np.random.default_rng(3))
    )
    assert model.alpha_ > 1
    summed = model.survival(np.arange(200_000)).sum()
    assert model.expected_lifetime() == pytest.approx(summed, rel=1e-3)


def test_recovers_simulated_parameters():
    alpha, beta = 1.2, 2.5
    alive = simulate_sbg_cohort(alpha, beta, 10_000, 10, np.random.default_rng(2024))
    model = ShiftedBetaGeometric().fit(alive)
    assert model.alpha_ == pytest.approx(alpha, rel=0.10)
    assert model.beta_ == pytest.approx(beta, rel=0.10)
    # the truth lies within three standard errors on the log scale
    z = (model.log_params_ - np.log([alpha, beta])) / np.sqrt(np.diag(model.cov_))
    assert np.all(np.abs(z) < 3), z


def test_rejects_increasing_series():
    with pytest.raises(ValueError, match="never increase"):
        ShiftedBetaGeometric().fit([1000, 600, 650])
