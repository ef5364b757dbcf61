"""The survival and churn models against the published IBM Telco results
(`../shared/reference/README.md`).

Tenure 0 (11 customers, none churned: signed up, not yet billed a full month) stays in the data:
Kaplan–Meier treats them as censored at t=0, so they count at risk at t=0 only and every S(t)
for t >= 1 is the same as without them; the published values come out either way (tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from models.checks import (
    check_calibration,
    check_interval,
    check_survival_curve,
    check_survival_values,
)
from models.survival import CoxPH, ParametricAFT, kaplan_meier

PUBLISHED_S = {12: 0.8432, 24: 0.7887, 36: 0.7485, 48: 0.7088, 60: 0.6644, 72: 0.5928}


def survival_at(curve: pd.DataFrame, times: list[int]) -> np.ndarray:
    """Read a step curve at `times`: the value at the last step point at or before each time."""
    steps = curve["t"].to_numpy()
    return curve["survival"].to_numpy()[np.searchsorted(steps, times, side="right") - 1]


def median_survival(curve: pd.DataFrame) -> int:
    """First step point where S(t) <= 0.5 (the lifelines convention)."""
    return int(curve.loc[curve["survival"] <= 0.5, "t"].iloc[0])


def test_churned_count(telco):
    assert len(telco) == 7043
    assert telco["churned"].sum() == 1869
    assert round(100 * telco["churned"].mean(), 2) == 26.54


def test_kaplan_meier_reproduces_published_survival(telco):
    curve = kaplan_meier(telco, "tenure", "churned")
    assert set(curve["segment_type"]) == {"all"} and set(curve["segment"]) == {"all"}
    assert curve["t"].iloc[0] == 0 and curve["survival"].iloc[0] == 1.0
    assert curve["at_risk"].iloc[0] == 7043
    got = np.round(survival_at(curve, list(PUBLISHED_S)), 4)
    assert got.tolist() == list(PUBLISHED_S.values())


def test_tenure_zero_customers_are_censored_at_zero(telco):
    zero = telco[telco["tenure"] == 0]
    assert len(zero) == 11 and not zero["churned"].any()
    with_zero = kaplan_meier(telco, "tenure", "churned")
    without = kaplan_meier(telco[telco["tenure"] > 0], "tenure", "churned")
    assert with_zero["at_risk"].iloc[:2].tolist() == [7043, 7032]
    # dropping them changes nothing after t=0: same step points and values
    pd.testing.assert_frame_equal(
        with_zero[with_zero["t"] > 0].reset_index(drop=True),
        without[without["t"] > 0].reset_index(drop=True),
    )


def test_kaplan_meier_accepts_polars(telco):
    frame = telco[["tenure", "churned", "Contract"]]
    from_pandas = kaplan_meier(frame, "tenure", "churned", ["Contract"])
    from_polars = kaplan_meier(pl.from_pandas(frame), "tenure", "churned", ["Contract"])
    assert isinstance(from_polars, pl.DataFrame)
    pd.testing.assert_frame_equal(from_polars.to_pandas(), from_pandas, check_dtype=False)


def test_month_to_month_with_internet_subgroup(telco):
    group = telco[telco["Contract"].eq("Month-to-month") & telco["InternetService"].ne("No")]
    assert (len(group), int(group["churned"].sum())) == (3351, 1556)
    curve = kaplan_meier(group, "tenure", "churned")
    assert median_survival(curve) == 34
    assert np.round(survival_at(curve, [12, 24]), 4).tolist() == [0.6950, 0.5753]


def test_segment_curves_hold_the_invariants(telco):
    segments = ["Contract", "InternetService", "PaymentMethod", "SeniorCitizen"]
    curves = kaplan_meier(telco, "tenure", "churned", segments)
    check_survival_curve(curves)
    counts = curves.groupby(["segment_type", "segment"]).size()
    assert counts.index.get_level_values(0).value_counts().to_dict() == {
        "all": 1,
        "Contract": 3,
        "InternetService": 3,
        "PaymentMethod": 4,
        "SeniorCitizen": 2,
    }
    # at t=0 every segment starts whole, and its customers add up to the base
    starts = curves[(curves["t"] == 0) & (curves["segment_type"] == "Contract")]
    assert (starts["survival"] == 1.0).all() and starts["at_risk"].sum() == 7043


def test_small_segments_are_skipped(telco):
    frame = telco.assign(cohort=np.where(np.arange(len(telco)) < 29, "tiny", "big"))
    curves = kaplan_meier(frame, "tenure", "churned", ["cohort"], min_customers=30)
    assert set(curves.loc[curves["segment_type"] == "cohort", "segment"]) == {"big"}


@pytest.fixture(scope="module")
def cox(telco, telco_covariates) -> CoxPH:
    return CoxPH(penalizer=0.01).fit(telco_covariates, telco["tenure"], telco["churned"])


@pytest.fixture(scope="module")
def aft(telco, telco_covariates) -> ParametricAFT:
    return ParametricAFT("weibull").fit(telco_covariates, telco["tenure"], telco["churned"])


def test_cox_concordance_about_published(cox):
    assert 0.82 <= cox.concordance_ <= 0.87, cox.concordance_


def test_aft_concordance_close_to_cox(aft, cox):
    assert abs(aft.concordance_ - cox.concordance_) < 0.01


@pytest.mark.parametrize("model_name", ["cox", "aft"])
def test_expected_remaining_lifetime(model_name, request, telco, telco_covariates):
    """Active customers whose horizon stays within the 72 months of follow-up."""
    model = request.getfixturevalue(model_name)
    horizon = 36
    active = telco.index[~telco["churned"] & (telco["tenure"] <= 72 - horizon)][:40]
    X, tenure = telco_covariates.loc[active], telco.loc[active, "tenure"]
    remaining = model.expected_remaining(X, tenure, horizon=horizon)
    assert remaining.index.equals(X.index)
    values = remaining.to_numpy()
    assert np.isfinite(values).all()
    assert (values > 0).all() and (values <= horizon + 1e-9).all()
    check_interval(remaining["expected_remaining"], remaining["ci_lower"], remaining["ci_upper"])
    assert (remaining["ci_upper"] > remaining["ci_lower"]).all()
    check_survival_values(np.arange(0, 80, 6), model.predict_survival(X, np.arange(0, 80, 6)))


def test_beyond_follow_up_cox_is_flat_and_aft_extrapolates(cox, aft, telco, telco_covariates):
    """At the longest tenure (72 months) the Cox curve has no further steps: the customer stays
    for the whole horizon under every draw; the Weibull AFT still expects some churn."""
    longest = telco.index[~telco["churned"] & (telco["tenure"] == 72)][:5]
    X, tenure = telco_covariates.loc[longest], telco.loc[longest, "tenure"]
    flat = cox.expected_remaining(X, tenure, horizon=24)
    assert (flat.to_numpy() == 24).all()
    extrapolated = aft.expected_remaining(X, tenure, horizon=24)
    assert (extrapolated["expected_remaining"] < 24).all()


def test_logistic_regression_auc_about_published(telco):
    X = telco.drop(columns=["customerID", "Churn", "churned"])
    X["TotalCharges"] = pd.to_numeric(X["TotalCharges"], errors="coerce").fillna(0.0)
    numeric = ["tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen"]
    categorical = [c for c in X.columns if c not in numeric]
    X_train, X_test, y_train, y_test = train_test_split(
        X, telco["churned"], test_size=0.25, stratify=telco["churned"], random_state=0
    )
    model = make_pipeline(
        ColumnTransformer(
            [
                ("numeric", StandardScaler(), numeric),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        ),
        LogisticRegression(max_iter=1000),
    ).fit(X_train, y_train)
    predicted = model.predict_proba(X_test)[:, 1]
    auc = roc_auc_score(y_test, predicted)
    assert 0.83 <= auc <= 0.86, auc
    check_calibration(predicted, y_test, max_ece=0.05)
