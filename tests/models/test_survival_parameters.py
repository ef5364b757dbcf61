"""The survival model published as `ml.survival_parameters`: the curve drawn from the table
(what the dashboards show) is the one the fitted model gives, to the last bit."""

from __future__ import annotations

import copy
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest

from models import store
from models.survival import ParametricAFT
from models.survival_parameters import TABLE, customer_curve, one_hot, parameter_table
from models.training import survival_covariates

PLANS = ("monthly", "annual", "weekly")
PLATFORMS = ("web", "ios", "android")
COUNTRIES = ("FR", "DE", "US")


def customers(n: int = 600, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "offer_type": rng.choice(PLANS, n),
            "platform": rng.choice(PLATFORMS, n),
            "country": rng.choice(COUNTRIES, n),
        }
    )


@pytest.fixture(scope="module", params=["weibull", "lognormal"])
def fitted(request: pytest.FixtureRequest) -> tuple[ParametricAFT, list[str]]:
    """An AFT model on one-hot plan, platform and country, as `models.training.fit_survival`
    fits it."""
    frame = customers()
    X = survival_covariates(frame)
    rng = np.random.default_rng(7)
    scale = np.exp(2.0 + 0.5 * X["offer_type_weekly"] - 0.3 * X["platform_web"])
    months = np.maximum(np.ceil(scale * rng.weibull(1.2, len(frame))), 1).astype(int)
    model = ParametricAFT(request.param).fit(X, np.minimum(months, 30), months < 30)
    return model, list(X.columns)


def the_models_curve(
    model: ParametricAFT, columns: list[str], values: dict[str, str], horizon: int
) -> pd.DataFrame:
    """The curve as the dashboards drew it from the model file before the table existed: S(t)
    of the fitted model, the interval from copies of it with parameters drawn from N(params,
    cov)."""
    X = survival_covariates(pd.DataFrame([values], dtype=object), columns)
    times = np.arange(horizon + 1, dtype=float)
    rng = np.random.default_rng(model.random_state)
    sampled = rng.multivariate_normal(
        model.params_.to_numpy(), model.cov_.to_numpy(), size=model.n_draws, method="eigh"
    )
    curves = []
    for params in sampled:
        drawn = copy.copy(model)
        drawn.params_ = pd.Series(params, index=model.params_.index)
        curves.append(drawn.predict_survival(X, times)[0])
    tail = (1 - model.ci_level) / 2
    lower, upper = np.quantile(np.stack(curves), [tail, 1 - tail], axis=0)
    return pd.DataFrame(
        {
            "t_months": times.astype(int),
            "survival": model.predict_survival(X, times)[0],
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )


def published(model: ParametricAFT) -> pd.DataFrame:
    """The table written to the warehouse by the scoring and read back as the app reads it."""
    con = duckdb.connect()
    store.write_table(con, TABLE, parameter_table(model, "v1"))
    table = con.execute(f"select * from ml.{TABLE} order by position").df()
    con.close()
    return table


@pytest.mark.parametrize(
    "values",
    [
        {"offer_type": "weekly", "platform": "web", "country": "FR"},
        {"offer_type": "annual", "platform": "ios", "country": "US"},
        # categories the model never saw: its baseline, as at scoring
        {"offer_type": "unknown", "platform": "tv", "country": "unknown"},
    ],
)
def test_the_curve_from_the_table_is_the_models(
    fitted: tuple[ParametricAFT, list[str]], values: dict[str, str]
) -> None:
    model, columns = fitted
    drawn = customer_curve(published(model), values, 40)
    expected = the_models_curve(model, columns, values, 40)
    pd.testing.assert_frame_equal(drawn, expected, check_exact=True)
    assert drawn["survival"].iloc[0] == 1.0 and drawn["survival"].is_monotonic_decreasing


def test_the_table_holds_every_parameter_and_its_covariance(
    fitted: tuple[ParametricAFT, list[str]],
) -> None:
    model, _ = fitted
    table = published(model)
    assert list(zip(table["parameter"], table["covariate"], strict=True)) == list(
        model.params_.index
    )
    np.testing.assert_array_equal(table["estimate"], model.params_.to_numpy())
    np.testing.assert_array_equal(np.stack(table["covariance"]), model.cov_.to_numpy())
    assert set(table["part"]) == {"scale", "shape"}
    assert set(table["distribution"]) == {model.distribution}
    assert set(table["model_version"]) == {"v1"}


def test_one_hot_is_the_training_encoding() -> None:
    frame = customers(50)
    columns = list(survival_covariates(frame).columns)
    expected = survival_covariates(frame, columns)
    for i, row in enumerate(frame.to_dict("records")):
        mine = one_hot(row, [*columns, "Intercept"])
        assert mine.pop("Intercept") == 1.0
        assert [float(mine[c][0]) for c in columns] == list(expected.iloc[i])


def test_drawing_a_curve_needs_neither_lifelines_nor_scikit_learn() -> None:
    code = (
        "import sys, models.survival_parameters; "
        "print(sorted(m for m in ('lifelines', 'sklearn', 'joblib', 'scipy.optimize') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
