"""The champion's survival model as a published table, `ml.survival_parameters`, and a customer's
curve drawn from it, with numpy alone.

The parametric AFT model (`models.survival.ParametricAFT`) is fitted with lifelines but evaluated
by the functions here; the scoring step publishes its parameters (one row per parameter: its
estimate and its row of the covariance matrix), so the dashboards draw a customer's curve from
the snapshot, without the model file, scikit-learn or lifelines, and get the very numbers the
fitted model gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

TABLE = "survival_parameters"
#: The covariates of the survival model, one-hot encoded as `<covariate>_<value>`.
SURVIVAL_COVARIATES = ("offer_type", "platform", "country")
INTERCEPT = "Intercept"
SCALE, SHAPE = "scale", "shape"
COLUMNS = [
    "model_version",
    "distribution",
    "position",
    "part",
    "parameter",
    "covariate",
    "estimate",
    "covariance",
    "ci_level",
    "n_draws",
    "random_state",
]


def linear_predictor(
    columns: Mapping[str, np.ndarray], names: Sequence[str], params: np.ndarray
) -> np.ndarray:
    """Per row, the sum of the named covariate columns times their parameters."""
    return np.column_stack([columns[name] for name in names]) @ params


def aft_survival(
    distribution: str, location: np.ndarray, log_shape: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """S at per-row times (n, k) of an AFT model with per-row location and log shape (n,).

    Weibull: S = exp(-(t / exp(location))^shape); log-normal: S = 1 - Phi((log t - location) /
    shape).
    """
    location = location[:, None]
    shape = np.exp(log_shape)[:, None]
    with np.errstate(divide="ignore"):
        if distribution == "weibull":
            return np.exp(-((times / np.exp(location)) ** shape))
        if distribution == "lognormal":
            from scipy.special import ndtr  # only here: the champion is Weibull

            return ndtr(-((np.log(times) - location) / shape))
    raise ValueError(f"unknown AFT distribution {distribution!r}")


def parameter_draws(
    estimate: np.ndarray, covariance: np.ndarray, n_draws: int, random_state: int
) -> np.ndarray:
    """`n_draws` parameter vectors from N(estimate, covariance): the intervals' draws."""
    rng = np.random.default_rng(random_state)
    return rng.multivariate_normal(estimate, covariance, size=n_draws, method="eigh")


def parameter_table(model: Any, model_version: str) -> pd.DataFrame:
    """The rows of `ml.survival_parameters` of a fitted `ParametricAFT`."""
    index = model.params_.index
    parts = {model.scale_param_: SCALE, model.shape_param_: SHAPE}
    covariance = model.cov_.to_numpy()
    return pd.DataFrame(
        {
            "model_version": model_version,
            "distribution": model.distribution,
            "position": np.arange(len(index), dtype=np.int64),
            "part": [parts[group] for group, _ in index],
            "parameter": [str(group) for group, _ in index],
            "covariate": [str(name) for _, name in index],
            "estimate": model.params_.to_numpy(dtype=float),
            "covariance": [row.tolist() for row in covariance],
            "ci_level": float(model.ci_level),
            "n_draws": int(model.n_draws),
            "random_state": int(model.random_state),
        },
        columns=COLUMNS,
    )


def one_hot(values: Mapping[str, str], names: Sequence[str]) -> dict[str, np.ndarray]:
    """One customer's covariate columns: 1 for `<covariate>_<value>` of their values, 0 for the
    other names (a category the model has no parameter for is its baseline), 1 for the
    intercept; the encoding of `models.training.survival_covariates`."""
    mine = {f"{covariate}_{values[covariate]}" for covariate in SURVIVAL_COVARIATES}
    return {name: np.array([1.0 if name == INTERCEPT or name in mine else 0.0]) for name in names}


def customer_curve(
    table: pd.DataFrame, values: Mapping[str, str], horizon_months: int
) -> pd.DataFrame:
    """S(t | plan, platform, country) at t = 0..horizon months since the first paid day from
    the rows of `ml.survival_parameters`, with the interval of the model's parameter draws from
    N(estimate, covariance) (`t_months`, `survival`, `ci_lower`, `ci_upper`)."""
    rows = table.sort_values("position")
    first = rows.iloc[0]
    estimate = rows["estimate"].to_numpy(dtype=float)
    covariance = np.array([list(row) for row in rows["covariance"]], dtype=float)
    columns = one_hot(values, list(rows["covariate"]))
    terms = {
        part: (np.flatnonzero(rows["part"] == part), list(rows["covariate"][rows["part"] == part]))
        for part in (SCALE, SHAPE)
    }
    times = np.arange(horizon_months + 1, dtype=float)
    grid = times[None, :]

    def curve(params: np.ndarray) -> np.ndarray:
        location, log_shape = (
            linear_predictor(columns, terms[part][1], params[terms[part][0]])
            for part in (SCALE, SHAPE)
        )
        return aft_survival(str(first["distribution"]), location, log_shape, grid)[0]

    draws = parameter_draws(estimate, covariance, int(first["n_draws"]), int(first["random_state"]))
    tail = (1 - float(first["ci_level"])) / 2
    lower, upper = np.quantile(np.stack([curve(p) for p in draws]), [tail, 1 - tail], axis=0)
    return pd.DataFrame(
        {
            "t_months": times.astype(int),
            "survival": curve(estimate),
            "ci_lower": lower,
            "ci_upper": upper,
        }
    )
