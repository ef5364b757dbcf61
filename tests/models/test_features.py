"""Feature definitions: one encoding for training and scoring, robust to what scoring meets."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.features import (
    CATEGORICAL_FEATURES,
    GROUP_NAMES,
    NUMERIC_FEATURES,
    FeatureEncoder,
    design_matrix,
    labels,
    observable,
)


@pytest.fixture(scope="module")
def rows(synthetic_train) -> pd.DataFrame:
    return synthetic_train.iloc[:500].reset_index(drop=True)


def column(X: np.ndarray, names: list[str], name: str) -> np.ndarray:
    return X[:, names.index(name)]


def test_design_matrix_names_groups_and_shape(rows):
    X, names = design_matrix(rows)
    assert X.shape == (len(rows), len(names)) and X.dtype == np.float64
    assert np.isfinite(X).all()
    assert len(set(names)) == len(names)
    assert names[: len(NUMERIC_FEATURES)] == [f.name for f in NUMERIC_FEATURES]
    encoder = FeatureEncoder().fit(rows)
    groups = encoder.group_indices()
    assert list(groups) == list(GROUP_NAMES)
    assert all(cols.size for cols in groups.values()), "every group has columns"
    assert sorted(np.concatenate(list(groups.values()))) == list(range(len(names)))
    assert {names[j].split("=")[0] for j in groups["plan"]} == {"offer_type", "billing_period"}
    assert {names[j] for j in groups["platform"]} == {f"platform={p}" for p in set(rows.platform)}


def test_every_feature_has_a_description():
    for feature in [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]:
        assert feature.description and feature.group in GROUP_NAMES


def test_one_hot_vocabulary_is_fixed_at_fit_and_unseen_values_encode_as_zeros(rows):
    encoder = FeatureEncoder().fit(rows)
    scoring = rows.iloc[:4].copy()
    scoring["platform"] = ["ios", "vision_pro", None, "web"]
    scoring["billing_period"] = ["P2Y", None, "P1M", "P1M"]
    scoring["offer_type"] = ["bundle", "subscription", None, "subscription"]
    X = encoder.transform(scoring)
    names = encoder.feature_names_
    assert X.shape[1] == len(names)
    platform = X[:, [n.startswith("platform=") for n in names]]
    assert platform.sum(axis=1).tolist() == [1, 0, 0, 1]
    assert column(X, names, "platform=ios")[0] == 1
    period = X[:, [n.startswith("billing_period=") for n in names]]
    assert period.sum(axis=1).tolist() == [0, 0, 1, 1]
    offer = X[:, [n.startswith("offer_type=") for n in names]]
    assert offer.sum(axis=1).tolist() == [0, 1, 0, 1]


def test_category_cap_keeps_the_most_frequent(rows):
    encoder = FeatureEncoder(max_categories=2).fit(rows)
    top = rows["platform"].value_counts().index[:2]
    assert encoder.categories_["platform"] == sorted(top)
    assert encoder.most_common_["platform"] == rows["platform"].value_counts().index[0]


def test_numeric_transforms_and_missing_indicators(rows):
    frame = rows.iloc[:3].copy()
    frame["minutes_watched_trend"] = [np.nan, 0.0, 0.5]
    frame["last_csat"] = pd.array([None, 2, 5], dtype="Int32")
    frame["paid_tenure_days"] = pd.array([None, 0, 99], dtype="Int32")
    frame["tickets_30d"] = [5, 1, 0]
    frame["billing_tickets_30d"] = [2, 1, 0]
    frame["technical_tickets_30d"] = [1, 0, 0]
    X, names = design_matrix(frame)
    assert column(X, names, "watch_trend_log").tolist() == [0.0, np.log(0.01), np.log(0.5)]
    assert column(X, names, "watch_trend_missing").tolist() == [1, 0, 0]
    assert column(X, names, "last_csat").tolist() == [0, 2, 5]
    assert column(X, names, "csat_missing").tolist() == [1, 0, 0]
    assert column(X, names, "never_paid").tolist() == [1, 0, 0]
    assert column(X, names, "log_paid_tenure_days").tolist() == [0, 0, np.log(100)]
    assert column(X, names, "other_tickets_30d").tolist() == [2, 0, 0]


def test_polars_with_decimal_money_encodes_like_pandas(rows):
    encoder = FeatureEncoder().fit(rows)
    polars = pl.from_pandas(rows.assign(mrr=[Decimal(f"{v:.2f}") for v in rows["mrr"]]))
    assert isinstance(polars.schema["mrr"], pl.Decimal)
    np.testing.assert_allclose(encoder.transform(polars), encoder.transform(rows))


def test_missing_columns_are_named(rows):
    with pytest.raises(ValueError, match="sessions_4w"):
        design_matrix(rows.drop(columns=["sessions_4w"]))


def test_labels_and_observability():
    frame = pd.DataFrame(
        {
            "churned_within_60d": pd.array([True, False, None], dtype="boolean"),
            "label_observable_60d": pd.array([True, None, False], dtype="boolean"),
        }
    )
    assert labels(frame, 60).tolist() == [True, False, False]
    assert observable(frame, 60).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="horizon_days"):
        labels(frame, 45)
