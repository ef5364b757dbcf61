"""The churn classifier on synthetic customer_months with a known churn process: it ranks nearly
as well as the true probability, its probabilities are calibrated, and its reasons find the
true driver and are faithful to the model."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from models.checks import check_calibration, check_probabilities
from models.classifier import ChurnClassifier
from models.features import GROUP_NAMES
from models.reasons import reason

KINDS = ("logistic", "gbm")


def outcomes(frame) -> np.ndarray:
    return frame["churned_within_30d"].to_numpy()


def test_oracle_is_realistic(synthetic_test):
    """The process is learnable but not trivially: an AUC above 0.95 would look like a leak."""
    oracle = roc_auc_score(outcomes(synthetic_test), synthetic_test["true_p30"])
    assert 0.72 < oracle < 0.9


@pytest.mark.parametrize("kind", KINDS)
def test_ranks_within_005_of_the_oracle(fitted, synthetic_test, kind):
    y = outcomes(synthetic_test)
    oracle = roc_auc_score(y, synthetic_test["true_p30"])
    auc = roc_auc_score(y, fitted[kind].predict_proba(synthetic_test))
    assert auc > oracle - 0.05, (auc, oracle)


@pytest.mark.parametrize("kind", KINDS)
def test_probabilities_are_calibrated(fitted, synthetic_test, kind):
    p = fitted[kind].predict_proba(synthetic_test)
    check_probabilities(p)
    check_calibration(p, outcomes(synthetic_test), max_ece=0.02)
    assert abs(p.mean() - outcomes(synthetic_test).mean()) < 0.01


def test_sigmoid_calibration_is_calibrated_too(synthetic_train, synthetic_test):
    model = ChurnClassifier("logistic", calibration="sigmoid").fit(synthetic_train)
    check_calibration(model.predict_proba(synthetic_test), outcomes(synthetic_test), max_ece=0.02)


def test_calibration_holds_out_the_latest_months(fitted, synthetic_train):
    model = fitted["gbm"]
    observable = synthetic_train[synthetic_train["label_observable_30d"]]
    assert model.calibration_split_ == "time"
    assert model.n_train_ + model.n_calibration_ == len(observable)
    assert 0.1 < model.n_calibration_ / len(observable) < 0.3
    assert model.metadata_["last_month_end"] == str(observable["month_end"].max().date())


@pytest.mark.parametrize("kind", KINDS)
def test_true_driver_is_among_the_top_reasons_of_high_risk_customers(fitted, synthetic_test, kind):
    p, explanations = fitted[kind].predict_explain(synthetic_test, top=3)
    high = np.argsort(-p, kind="stable")[: len(p) // 10]
    drivers = synthetic_test["true_driver"].to_numpy()
    high = [i for i in high if drivers[i] != "none"]
    assert len(high) > 300
    hits = [drivers[i] in [group for group, _, _ in explanations[i]] for i in high]
    assert np.mean(hits) >= 0.7, np.mean(hits)


@pytest.mark.parametrize("kind", KINDS)
def test_explanations_are_positive_ranked_and_worded(fitted, synthetic_test, kind):
    frame = synthetic_test.iloc[:300]
    explanations = fitted[kind].explain(frame, top=3)
    contributions = fitted[kind].contributions(frame)
    assert len(explanations) == len(frame)
    records = frame.to_dict("records")
    for i, reasons in enumerate(explanations):
        assert len(reasons) <= 3
        values = [c for _, c, _ in reasons]
        assert values == sorted(values, reverse=True) and all(c > 0.01 for c in values)
        for group, value, sentence in reasons:
            assert group in GROUP_NAMES
            assert value == pytest.approx(contributions.loc[i, group])
            assert sentence == reason(group, records[i])
        # no group left out raises the risk more than the last reason shown
        shown = {g for g, _, _ in reasons}
        rest = contributions.loc[i].drop(list(shown))
        floor = values[-1] if len(values) == 3 else 0.01
        assert (rest <= floor + 1e-12).all()
    assert fitted[kind].explain(frame, top=1)[0] == explanations[0][:1]


def test_logistic_contributions_add_up_to_the_log_odds(fitted, synthetic_test):
    model = fitted["logistic"]
    frame = synthetic_test.iloc[:500]
    contributions = model.contributions(frame)
    raw = model.decision_function(frame)
    np.testing.assert_allclose(model.base_log_odds_ + contributions.sum(axis=1), raw, atol=1e-9)
    # and each is coef * (x - training mean) in the original units
    X = model.encoder_.transform(frame)
    coef = model.estimator_.coef_[0] / model.scaler_.scale_
    cols = model.encoder_.group_indices()["failed_payments"]
    by_hand = ((X[:, cols] - model.scaler_.mean_[cols]) * coef[cols]).sum(axis=1)
    np.testing.assert_allclose(contributions["failed_payments"], by_hand, atol=1e-9)


def test_gbm_contribution_is_the_occlusion_effect(fitted, synthetic_test):
    model = fitted["gbm"]
    frame = synthetic_test.iloc[:200]
    contributions = model.contributions(frame)
    X = model.encoder_.transform(frame)
    raw = model.decision_function(frame)
    for group in ("engagement", "platform", "failed_payments"):
        cols = model.encoder_.group_indices()[group]
        occluded = X.copy()
        occluded[:, cols] = model.reference_[cols]
        by_hand = raw - model.estimator_.decision_function(occluded)
        np.testing.assert_allclose(contributions[group], by_hand, atol=1e-9)
    at_reference = frame["failed_payments_30d"].eq(0) & frame["failed_payments_90d"].eq(0)
    at_reference &= frame["recovered_payments_90d"].eq(0)
    assert at_reference.any()
    assert (contributions.loc[at_reference.to_numpy(), "failed_payments"] == 0).all()


def test_fit_uses_only_observable_labels(synthetic_train, synthetic_test):
    poisoned = synthetic_train.copy()
    hidden = ~poisoned["label_observable_30d"]
    assert hidden.sum() > 1000
    poisoned.loc[hidden, "churned_within_30d"] = ~poisoned.loc[hidden, "churned_within_30d"]
    clean = ChurnClassifier("logistic").fit(synthetic_train).predict_proba(synthetic_test)
    dirty = ChurnClassifier("logistic").fit(poisoned).predict_proba(synthetic_test)
    np.testing.assert_array_equal(clean, dirty)


def test_scoring_survives_unseen_categories_and_polars(fitted, synthetic_test):
    model = fitted["gbm"]
    frame = synthetic_test.iloc[:50].copy()
    frame["platform"] = "vision_pro"
    frame["billing_period"] = None
    p, explanations = model.predict_explain(frame)
    check_probabilities(p)
    assert len(explanations) == 50
    original = synthetic_test.iloc[:50]
    np.testing.assert_array_equal(
        model.predict_proba(pl.from_pandas(original)), model.predict_proba(original)
    )


def test_save_and_load_give_identical_predictions(fitted, synthetic_test, tmp_path):
    for kind, model in fitted.items():
        path = model.save(tmp_path / "artifacts" / f"churn_{kind}_30d.joblib")
        loaded = ChurnClassifier.load(path)
        assert loaded.metadata_ == model.metadata_
        frame = synthetic_test.iloc[:400]
        np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
        assert loaded.explain(frame.iloc[:20]) == model.explain(frame.iloc[:20])


def test_load_refuses_other_files(tmp_path):
    import joblib

    joblib.dump({"something": "else"}, tmp_path / "x.joblib")
    with pytest.raises(ValueError, match="not a churn classifier"):
        ChurnClassifier.load(tmp_path / "x.joblib")


def test_fit_needs_both_classes_and_valid_settings(synthetic_train):
    with pytest.raises(ValueError, match="both classes"):
        ChurnClassifier().fit(synthetic_train.assign(churned_within_30d=False))
    with pytest.raises(ValueError, match="kind"):
        ChurnClassifier(kind="forest").fit(synthetic_train)
    with pytest.raises(RuntimeError, match="not fitted"):
        ChurnClassifier().predict_proba(synthetic_train)


def test_single_month_falls_back_to_a_random_calibration_split(synthetic_train):
    one_month = synthetic_train[synthetic_train["month_end"] == synthetic_train["month_end"].min()]
    model = ChurnClassifier("logistic", horizon_days=90).fit(one_month)
    assert model.calibration_split_ == "random"
    check_probabilities(model.predict_proba(one_month))
