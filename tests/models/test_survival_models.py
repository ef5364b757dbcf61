"""Survival models on small simulated data: agreement with lifelines' own predictions, input
rules, and the Kaplan–Meier table's invariants on arbitrary data (property-based)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter

from models.checks import check_interval, check_survival_curve
from models.survival import CURVE_COLUMNS, CoxPH, ParametricAFT, kaplan_meier


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """600 subscribers, Weibull lifetimes in whole months, administrative censoring at 36."""
    rng = np.random.default_rng(7)
    n = 600
    X = pd.DataFrame({"price": rng.normal(10, 2, n), "annual": rng.integers(0, 2, n).astype(float)})
    scale = np.exp(3.0 - 0.08 * (X["price"] - 10) + 0.7 * X["annual"])
    lifetime = np.ceil(scale * rng.weibull(1.3, n)).astype(int)
    durations = np.minimum(lifetime, 36)
    return X, durations, lifetime <= 36


def test_cox_matches_lifelines(simulated):
    X, durations, events = simulated
    model = CoxPH().fit(X, durations, events)
    baseline = model.model_.baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(baseline.index, model.times_)
    np.testing.assert_allclose(model.baseline_cumulative_hazard(), baseline, rtol=1e-10)
    times = model.times_  # lifelines interpolates between step points; compare on them
    expected = model.model_.predict_survival_function(X.iloc[:20], times=times).T.to_numpy()
    np.testing.assert_allclose(model.predict_survival(X.iloc[:20], times), expected, atol=1e-12)
    assert model.params_["annual"] < 0 < model.params_["price"]


@pytest.mark.parametrize("distribution", ["weibull", "lognormal"])
def test_aft_matches_lifelines(simulated, distribution):
    X, durations, events = simulated
    model = ParametricAFT(distribution).fit(X, durations, events)
    times = np.array([0.0, 1, 5, 12, 24, 60])
    expected = model.model_.predict_survival_function(X.iloc[:20], times=times).T.to_numpy()
    np.testing.assert_allclose(model.predict_survival(X.iloc[:20], times), expected, atol=1e-12)


def test_expected_remaining_is_reproducible_and_accepts_polars(simulated):
    X, durations, events = simulated
    model = ParametricAFT().fit(pl.from_pandas(X), durations, events)
    first = model.expected_remaining(pl.from_pandas(X.head(5)), 12, horizon=24)
    again = model.expected_remaining(X.head(5), np.full(5, 12), horizon=24)
    np.testing.assert_array_equal(first.to_numpy(), again.to_numpy())
    check_interval(first["expected_remaining"], first["ci_lower"], first["ci_upper"])


def test_cox_remaining_lifetime_is_the_step_sum(simulated):
    """With jumps only at whole months, the restricted mean is exactly a sum over months."""
    X, durations, events = simulated
    model = CoxPH().fit(X, durations, events)
    tenure, horizon = 5, 30
    s = model.predict_survival(X.head(3), np.arange(tenure, tenure + horizon))
    expected = (s / s[:, :1]).sum(axis=1)
    got = model.expected_remaining(X.head(3), tenure, horizon=horizon)["expected_remaining"]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_fractional_or_negative_durations_are_refused(simulated):
    X, durations, events = simulated
    with pytest.raises(ValueError, match="whole days or months"):
        CoxPH().fit(X, durations + 0.5, events)
    with pytest.raises(ValueError, match="negative"):
        CoxPH().fit(X, durations - 40, events)
    with pytest.raises(ValueError, match="0/1"):
        CoxPH().fit(X, durations, np.where(events, 2, 0))


def test_aft_needs_positive_event_durations(simulated):
    X, durations, events = simulated
    censored_at_zero = np.where(np.arange(len(X)) < 5, 0, durations)
    ParametricAFT().fit(X, censored_at_zero, events & (censored_at_zero > 0))
    with pytest.raises(ValueError, match="duration 0"):
        ParametricAFT().fit(X, censored_at_zero, events | (censored_at_zero == 0))


def test_missing_covariate_is_refused(simulated):
    X, durations, events = simulated
    model = CoxPH().fit(X, durations, events)
    with pytest.raises(ValueError, match="covariates missing"):
        model.predict_survival(X[["price"]], [1, 2])


def test_kaplan_meier_table_shape():
    frame = pd.DataFrame(
        {
            "days": [3, 3, 5, 8, 8, 9] * 10,
            "churned": [1, 0, 1, 1, 0, 0] * 10,
            "plan": (["a", "b", None] * 20),
        }
    )
    curves = kaplan_meier(frame, "days", "churned", ["plan"], min_customers=20)
    assert list(curves.columns) == CURVE_COLUMNS
    assert set(curves["segment"]) == {"all", "a", "b", "null"}
    whole = curves[curves["segment_type"] == "all"]
    assert whole["t"].tolist() == [0, 3, 5, 8, 9]  # t=0 added although nobody left at 0
    assert whole["at_risk"].tolist() == [60, 60, 40, 30, 10]
    assert kaplan_meier(frame, "days", "churned", min_customers=61).empty


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.booleans(), st.sampled_from("xyz")),
        min_size=1,
        max_size=80,
    )
)
def test_kaplan_meier_invariants_on_any_data(rows):
    frame = pd.DataFrame(rows, columns=["t", "event", "segment"])
    curves = kaplan_meier(frame, "t", "event", ["segment"], min_customers=1)
    check_survival_curve(curves)
    for (_, segment), curve in curves.groupby(["segment_type", "segment"]):
        part = frame if segment == "all" else frame[frame["segment"] == segment]
        assert curve["t"].iloc[0] == 0
        brute = [(part["t"] >= t).sum() for t in curve["t"]]
        assert curve["at_risk"].tolist() == brute
        kmf = KaplanMeierFitter().fit(part["t"], part["event"])
        np.testing.assert_allclose(
            curve["survival"], kmf.survival_function_at_times(curve["t"]).to_numpy()
        )
