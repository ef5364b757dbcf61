"""Metrics against independent hand computations, the backtest's leakage rule, promotion rule."""

from __future__ import annotations

import math
from itertools import product

import numpy as np
import pandas as pd
import pytest

from models.checks import expected_calibration_error
from models.classifier import ChurnClassifier
from models.evaluation import (
    METRIC_NAMES,
    backtest_split,
    calibration_curve,
    classification_metrics,
    rolling_backtest,
    should_promote,
    suspected_leak,
    top_decile,
)

# 20 customers: 6 churned; scores without ties
Y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0])
P = np.array(
    [0.9, 0.8, 0.75, 0.1, 0.2, 0.6, 0.05, 0.3, 0.15, 0.35,
     0.12, 0.4, 0.07, 0.22, 0.5, 0.02, 0.03, 0.45, 0.08, 0.01]
)  # fmt: skip


def auc_by_pairs(y, p) -> float:
    pos, neg = p[y == 1], p[y == 0]
    wins = [1.0 if a > b else 0.5 if a == b else 0.0 for a, b in product(pos, neg)]
    return sum(wins) / len(wins)


def average_precision_by_hand(y, p) -> float:
    ranked = y[np.argsort(-p)]
    hits = np.cumsum(ranked)
    return float(np.mean([hits[i] / (i + 1) for i in range(len(ranked)) if ranked[i]]))


def test_metrics_match_hand_computation():
    m = classification_metrics(Y, P)
    assert m["n"] == 20 and m["positives"] == 6
    assert m["base_rate"] == pytest.approx(0.3)
    assert m["roc_auc"] == pytest.approx(auc_by_pairs(Y, P))
    assert m["pr_auc"] == pytest.approx(average_precision_by_hand(Y, P))
    brier = sum((p - y) ** 2 for p, y in zip(P, Y, strict=True)) / 20
    assert m["brier"] == pytest.approx(brier)
    assert m["brier_skill"] == pytest.approx(1 - brier / (0.3 * 0.7))
    # top decile = the 2 highest scores (0.9 churned, 0.8 did not): rate 0.5, lift 0.5 / 0.3
    assert m["top_decile_lift"] == pytest.approx(0.5 / 0.3)
    assert m["top_decile_capture"] == pytest.approx(1 / 6)
    assert m["ece"] == pytest.approx(expected_calibration_error(P, Y))
    assert set(METRIC_NAMES) <= set(m)


def test_tiny_example_values():
    m = classification_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    # ceil(4 / 10) = 1 row: the 0.8, churned
    assert top_decile([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == (2.0, 0.5)


def test_one_class_gives_nan_ranking_metrics():
    m = classification_metrics([0, 0, 0], [0.1, 0.2, 0.3])
    assert math.isnan(m["roc_auc"]) and math.isnan(m["pr_auc"]) and math.isnan(m["brier_skill"])
    assert math.isnan(m["top_decile_lift"])
    with pytest.raises(ValueError, match="outside"):
        classification_metrics([0, 1], [0.5, 1.5])


def test_calibration_curve_bins():
    table = calibration_curve(Y, P, bins=4)
    assert table["n"].tolist() == [5, 5, 5, 5]
    low = np.sort(P)[:5]
    assert table.loc[0, "mean_predicted"] == pytest.approx(low.mean())
    assert table.loc[0, "observed_rate"] == pytest.approx(Y[np.argsort(P)[:5]].mean())
    assert (table["p_min"].diff().dropna() > 0).all()
    ece = float((table["gap"].abs() * table["n"]).sum() / 20)
    assert ece == pytest.approx(expected_calibration_error(P, Y, n_bins=4))


# rolling backtest -----------------------------------------------------------------------------
H = 60
ORIGIN = pd.Timestamp("2025-04-30")


@pytest.fixture(scope="module")
def panel(synthetic_train) -> pd.DataFrame:
    return synthetic_train[synthetic_train["customer_id"] < "c000800"].reset_index(drop=True)


class Spy:
    """A classifier that records what it was trained and tested on."""

    seen: list[tuple[pd.DataFrame, pd.DataFrame]] = []

    def __init__(self) -> None:
        self.model = ChurnClassifier("logistic", horizon_days=H)

    def fit(self, frame):
        self.train = frame
        self.model.fit(frame)
        return self

    def predict_proba(self, frame):
        Spy.seen.append((self.train, frame))
        return self.model.predict_proba(frame)


def test_backtest_trains_only_on_labels_known_at_the_origin(panel):
    origins = [pd.Timestamp("2025-03-31"), ORIGIN]
    Spy.seen = []
    rolling_backtest(panel, Spy, H, origins)
    assert len(Spy.seen) == 2
    for origin, (train, test) in zip(origins, Spy.seen, strict=True):
        ends = pd.to_datetime(train["month_end"])
        assert (ends + pd.Timedelta(days=H) <= origin).all()
        assert train["label_observable_60d"].all()
        assert (pd.to_datetime(test["month_end"]) == origin).all()
        assert test["label_observable_60d"].all()
        # and nothing that is allowed was left out
        allowed = panel["label_observable_60d"] & (
            panel["month_end"] + pd.Timedelta(days=H) <= origin
        )
        assert len(train) == allowed.sum()


def test_poisoned_rows_beyond_the_rule_change_nothing(panel):
    """Rows after the origin, rows whose 60-day window reaches past it, and rows whose label is not
    observable carry labels flipped and a feature equal to the flipped label: were any of them
    used, the model would learn the leaky feature. The metrics stay exactly those of the frame
    without the unobservable rows."""
    rng = np.random.default_rng(7)
    ends = panel["month_end"]
    late = (ends + pd.Timedelta(days=H) > ORIGIN) & (ends != ORIGIN)
    hidden = (ends < ORIGIN - pd.Timedelta(days=H)) & (rng.random(len(panel)) < 0.2)
    assert late.sum() > 1000 and hidden.sum() > 500

    poisoned = panel.copy()
    bad = late | hidden
    flipped = ~poisoned.loc[bad, "churned_within_60d"]
    poisoned.loc[bad, "churned_within_60d"] = flipped
    poisoned.loc[bad, "has_pending_cancellation"] = flipped
    poisoned.loc[hidden, "label_observable_60d"] = False

    def make_model():
        return ChurnClassifier("logistic", horizon_days=H)

    reference = rolling_backtest(panel.loc[~hidden], make_model, H, [ORIGIN])
    result = rolling_backtest(poisoned, make_model, H, [ORIGIN])
    pd.testing.assert_frame_equal(result, reference)
    assert not suspected_leak(result)


def test_backtest_table_and_pooled_row(panel):
    origins = ["2025-02-28", "2025-03-31", "2025-04-30"]
    table = rolling_backtest(panel, lambda: ChurnClassifier("logistic", horizon_days=H), H, origins)
    assert table["scope"].tolist() == ["origin"] * 3 + ["pooled"]
    assert table["origin"].iloc[:3].tolist() == [pd.Timestamp(o) for o in origins]
    pooled = table.iloc[-1]
    assert pooled["n_test"] == table["n_test"].iloc[:3].sum()
    assert set(METRIC_NAMES) <= set(table.columns)
    assert 0.6 < pooled["roc_auc"] < 0.95
    assert table["n_train"].iloc[:3].is_monotonic_increasing


def test_a_leaky_feature_is_flagged(panel):
    leaky = panel.assign(has_pending_cancellation=panel["churned_within_60d"])
    table = rolling_backtest(
        leaky, lambda: ChurnClassifier("logistic", horizon_days=H), H, [ORIGIN]
    )
    assert suspected_leak(table)


def test_backtest_refuses_origins_without_history(panel):
    with pytest.raises(ValueError, match="training"):
        rolling_backtest(panel, Spy, H, ["2024-07-31"])
    train, test = backtest_split(panel, H, "2025-06-30")
    assert len(test) == 0  # the as-of month: 60-day labels not yet observable


# promotion ------------------------------------------------------------------------------------
CHAMPION = {"roc_auc": 0.80, "pr_auc": 0.30, "brier": 0.050}


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted"),
    [
        ({"roc_auc": 0.81, "pr_auc": 0.32, "brier": 0.050}, CHAMPION, True),
        ({"roc_auc": 0.81, "pr_auc": 0.32, "brier": 0.0509}, CHAMPION, True),  # within 2 %
        ({"roc_auc": 0.81, "pr_auc": 0.32, "brier": 0.0520}, CHAMPION, False),  # brier worse
        ({"roc_auc": 0.80, "pr_auc": 0.30, "brier": 0.040}, CHAMPION, False),  # pr_auc not higher
        ({"roc_auc": 0.97, "pr_auc": 0.90, "brier": 0.010}, CHAMPION, False),  # suspected leak
        ({"roc_auc": 0.97, "pr_auc": 0.90, "brier": 0.010}, None, False),  # leak, no champion
        ({"roc_auc": 0.70, "pr_auc": 0.20, "brier": 0.060}, None, True),  # no champion
        ({"roc_auc": 0.70, "pr_auc": float("nan"), "brier": 0.06}, None, False),
        ({"roc_auc": 0.80, "pr_auc": 0.25, "brier": 0.06}, {**CHAMPION, "roc_auc": 0.99}, True),
    ],
)
def test_should_promote(challenger, champion, promoted):
    assert should_promote(challenger, champion) is promoted


def test_should_promote_reads_backtest_tables():
    table = pd.DataFrame(
        [
            {"scope": "origin", "roc_auc": 0.99, "pr_auc": 0.9, "brier": 0.01},
            {"scope": "pooled", "roc_auc": 0.82, "pr_auc": 0.35, "brier": 0.05},
        ]
    )
    assert not suspected_leak(table)
    assert should_promote(table, CHAMPION)
    assert not should_promote(CHAMPION, table)
