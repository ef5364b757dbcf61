"""Survival models of subscriber lifetimes: Kaplan–Meier curves by segment, Cox proportional hazards
and a parametric accelerated failure time model, with expected remaining lifetime and its interval.

Durations are whole periods (days or months, integers): lifelines is much faster on integer
durations, and the step functions here jump only at whole periods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Literal, Self

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter, LogNormalAFTFitter, WeibullAFTFitter

from models._frames import event_flags, integer_durations, is_polars, to_pandas
from models.survival_parameters import (
    INTERCEPT,
    aft_survival,
    linear_predictor,
    parameter_draws,
)

CURVE_COLUMNS = ["segment_type", "segment", "t", "survival", "ci_lower", "ci_upper", "at_risk"]
_DURATION, _EVENT = "__duration", "__event"


def kaplan_meier(
    frame: Any,
    duration_col: str,
    event_col: str,
    segment_cols: Sequence[str] = (),
    min_customers: int = 30,
    ci_level: float = 0.95,
) -> Any:
    """Kaplan–Meier survival of the whole base and of each segment, as one tidy table.

    One row per step point (every distinct duration, plus t=0) per segment, with the lifelines
    (exponential Greenwood) confidence interval and the number at risk at t (duration >= t).
    The whole base is `segment_type='all', segment='all'`; each column of `segment_cols` adds its
    values as segments. Segments with fewer than `min_customers` customers are skipped: their
    curves are too noisy to show. Customers with duration 0 and no event are censored at 0: they
    count at risk at t=0 only and leave every S(t) unchanged; churn at duration 0 (same-day
    refunds) does count, so S(0) is below 1 only then. Returns polars for polars input,
    pandas otherwise.
    """
    df = to_pandas(frame)
    durations = integer_durations(df[duration_col], duration_col)
    events = event_flags(df[event_col], event_col)
    parts = []
    if len(df) >= min_customers:
        parts.append(_km_curve("all", "all", durations, events, ci_level))
    for col in segment_cols:
        codes, values = pd.factorize(df[col], use_na_sentinel=False)
        for code, value in enumerate(values):
            mask = codes == code
            if mask.sum() >= min_customers:
                label = "null" if pd.isna(value) else str(value)
                parts.append(_km_curve(col, label, durations[mask], events[mask], ci_level))
    result = pd.concat(parts, ignore_index=True) if parts else _empty_curves()
    if is_polars(frame):
        import polars as pl

        return pl.from_pandas(result)
    return result


def _km_curve(
    segment_type: str, segment: str, durations: np.ndarray, events: np.ndarray, ci_level: float
) -> pd.DataFrame:
    kmf = KaplanMeierFitter(alpha=1 - ci_level).fit(durations, events)
    t = kmf.survival_function_.index.to_numpy().astype(np.int64)
    ci = kmf.confidence_interval_.to_numpy()
    at_risk = durations.size - np.searchsorted(np.sort(durations), t, side="left")
    return pd.DataFrame(
        {
            "segment_type": segment_type,
            "segment": segment,
            "t": t,
            "survival": kmf.survival_function_.iloc[:, 0].to_numpy(),
            "ci_lower": ci[:, 0],
            "ci_upper": ci[:, 1],
            "at_risk": at_risk.astype(np.int64),
        }
    )


def _empty_curves() -> pd.DataFrame:
    dtypes = [str, str, np.int64, float, float, float, np.int64]
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in zip(CURVE_COLUMNS, dtypes, strict=True)})


class _SurvivalRegression(ABC):
    """Shared fit / predict plumbing; subclasses supply the lifelines fitter and S(t | x, params).

    Intervals come from sampling the parameters from their asymptotic normal distribution
    (estimate, inverse observed information as covariance) with a fixed seed, and taking
    quantiles of the quantity computed under each draw.
    """

    def __init__(
        self,
        penalizer: float = 0.01,
        ci_level: float = 0.95,
        n_draws: int = 200,
        random_state: int = 0,
    ) -> None:
        self.penalizer = penalizer
        self.ci_level = ci_level
        self.n_draws = n_draws
        self.random_state = random_state

    # subclass hooks ---------------------------------------------------------------------------
    @abstractmethod
    def _fit_lifelines(self, data: pd.DataFrame) -> Any:
        """Fit the lifelines model on covariates plus the duration and event columns."""

    @abstractmethod
    def _survival(self, X: np.ndarray, times: np.ndarray, params: np.ndarray) -> np.ndarray:
        """S at per-row times (n, k) for covariate rows X (n, p) under one parameter vector."""

    @abstractmethod
    def _integrate(self, conditional: np.ndarray) -> np.ndarray:
        """The area under each row's conditional survival on a unit grid."""

    # public API -------------------------------------------------------------------------------
    def fit(self, X: Any, durations: Any, events: Any) -> Self:
        """Fit on numeric covariates X (already encoded), whole-period durations and event flags."""
        X = self._covariates(X, fitting=True)
        data = X.assign(
            **{
                _DURATION: integer_durations(durations),
                _EVENT: event_flags(events).astype(int),
            }
        )
        self.model_ = self._fit_lifelines(data)
        params = self.model_.params_
        if not isinstance(params.index, pd.MultiIndex):  # Cox: one coefficient per covariate
            params = params.reindex(self.feature_names_)
        self.params_ = params.copy()
        self.cov_ = self.model_.variance_matrix_.loc[params.index, params.index].copy()
        self.concordance_ = float(self.model_.concordance_index_)
        return self

    def predict_survival(self, X: Any, times: Any) -> np.ndarray:
        """S(t | x) for each row of X (rows) at each of `times` (columns)."""
        design = self._design(X)
        grid = np.broadcast_to(np.asarray(times, dtype=float), (design.shape[0], np.size(times)))
        return self._survival(design, grid, self.params_.to_numpy())

    def expected_remaining(self, X: Any, tenure: Any, horizon: int = 60) -> pd.DataFrame:
        """Expected remaining lifetime within `horizon` periods, given survival to `tenure`.

        E[min(T - tenure, horizon) | T > tenure] = integral of S(t)/S(tenure) over
        [tenure, tenure + horizon], tenure in whole periods (one value or one per row): a restricted mean, finite even when the fitted tail is heavy
        or (Cox) flat beyond the last observed duration. Columns `expected_remaining`,
        `ci_lower`, `ci_upper`; the interval is from `n_draws` parameter draws (see class doc).
        """
        design = self._design(X)
        n = design.shape[0]
        start = np.broadcast_to(integer_durations(tenure, "tenure"), (n,)).astype(float)
        grid = start[:, None] + np.arange(horizon + 1, dtype=float)[None, :]
        point = self._remaining(design, grid, self.params_.to_numpy())
        draws = np.stack([self._remaining(design, grid, p) for p in self._param_draws()])
        tail = (1 - self.ci_level) / 2
        lower, upper = np.quantile(draws, [tail, 1 - tail], axis=0)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(
            {"expected_remaining": point, "ci_lower": lower, "ci_upper": upper}, index=index
        )

    # helpers ----------------------------------------------------------------------------------
    def _covariates(self, X: Any, fitting: bool = False) -> pd.DataFrame:
        df = to_pandas(X)
        if fitting:
            self.feature_names_ = list(df.columns)
        missing = [c for c in self.feature_names_ if c not in df.columns]
        if missing:
            raise ValueError(f"covariates missing: {missing}")
        return df[self.feature_names_].astype(float).reset_index(drop=True)

    def _design(self, X: Any) -> np.ndarray:
        return self._covariates(X).to_numpy()

    def _remaining(self, design: np.ndarray, grid: np.ndarray, params: np.ndarray) -> np.ndarray:
        s = self._survival(design, grid, params)
        at_tenure = s[:, :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            conditional = np.where(at_tenure > 0, s / at_tenure, 0.0)
        return self._integrate(conditional)

    def _param_draws(self) -> np.ndarray:
        return parameter_draws(
            self.params_.to_numpy(), self.cov_.to_numpy(), self.n_draws, self.random_state
        )


class CoxPH(_SurvivalRegression):
    """Cox proportional hazards (lifelines `CoxPHFitter`, ridge penalizer) with a Breslow baseline.

    S(t | x) = exp(-H0(t) exp((x - mean) b)), a step function jumping at observed durations and
    flat after the last one (`times_[-1]`): nobody churns beyond the follow-up, so keep
    tenure + horizon within it for `expected_remaining`, or use the parametric AFT model there. Interval of `expected_remaining`: coefficients b are drawn from
    N(b_hat, inverse information) and, for each draw, the Breslow baseline H0 is re-estimated on
    the training data, so the interval carries the coefficient uncertainty through both the
    relative risk and the baseline (not the baseline's own sampling noise given b, which is small
    next to it on thousands of customers).
    """

    def _fit_lifelines(self, data: pd.DataFrame) -> CoxPHFitter:
        cph = CoxPHFitter(penalizer=self.penalizer).fit(data, _DURATION, _EVENT)
        X = data[self.feature_names_].to_numpy()
        self.mean_ = X.mean(axis=0)
        durations = data[_DURATION].to_numpy()
        self.times_, time_index = np.unique(durations, return_inverse=True)
        deaths = np.bincount(
            time_index, weights=data[_EVENT].to_numpy(), minlength=self.times_.size
        )
        self._train = (X - self.mean_, time_index, deaths)
        return cph

    def baseline_cumulative_hazard(self, params: np.ndarray | None = None) -> np.ndarray:
        """Breslow H0 at `times_` for coefficients `params` (default the fitted ones)."""
        b = self.params_.to_numpy() if params is None else params
        centered, time_index, deaths = self._train
        weights = np.exp(centered @ b)
        per_time = np.bincount(time_index, weights=weights, minlength=self.times_.size)
        at_risk = np.cumsum(per_time[::-1])[::-1]
        return np.cumsum(deaths / at_risk)

    def _survival(self, X: np.ndarray, times: np.ndarray, params: np.ndarray) -> np.ndarray:
        H0 = np.concatenate([[0.0], self.baseline_cumulative_hazard(params)])
        steps = np.searchsorted(self.times_, times, side="right")  # 0 before the first duration
        risk = np.exp((X - self.mean_) @ params)
        return np.exp(-H0[steps] * risk[:, None])

    def _integrate(self, conditional: np.ndarray) -> np.ndarray:
        # a step function jumping only at whole periods: the left sum on a unit grid is exact
        return conditional[:, :-1].sum(axis=1)


class ParametricAFT(_SurvivalRegression):
    """Accelerated failure time model (lifelines `WeibullAFTFitter` or `LogNormalAFTFitter`).

    Weibull: S(t | x) = exp(-(t / lambda)^rho), log lambda = x b_lambda, log rho = b_rho.
    Log-normal: S(t | x) = 1 - Phi((log t - mu) / sigma), mu = x b_mu, log sigma = b_sigma.
    Interval of `expected_remaining`: all parameters drawn from N(params_, cov_) (lifelines'
    inverse observed information), the restricted mean recomputed for each draw. Customers with
    duration 0 and no event are dropped from the fit (their likelihood factor S(0) is 1); churn at
    duration 0 has no density and is refused: measure durations so the first period counts as 1.
    """

    def __init__(
        self,
        distribution: Literal["weibull", "lognormal"] = "weibull",
        penalizer: float = 0.01,
        ci_level: float = 0.95,
        n_draws: int = 200,
        random_state: int = 0,
    ) -> None:
        super().__init__(penalizer, ci_level, n_draws, random_state)
        self.distribution = distribution

    def _fit_lifelines(self, data: pd.DataFrame) -> Any:
        if (data[_EVENT].astype(bool) & (data[_DURATION] == 0)).any():
            raise ValueError("AFT models need positive event durations; got churn at duration 0")
        data = data[data[_DURATION] > 0]
        fitters = {"weibull": WeibullAFTFitter, "lognormal": LogNormalAFTFitter}
        if self.distribution not in fitters:
            raise ValueError(f"distribution must be one of {sorted(fitters)}")
        model = fitters[self.distribution](penalizer=self.penalizer).fit(data, _DURATION, _EVENT)
        groups = model.params_.index.get_level_values(0)
        names = model.params_.index.get_level_values(1)
        self.scale_param_, self.shape_param_ = groups.unique()
        self._terms = {
            group: (np.flatnonzero(groups == group), list(names[groups == group]))
            for group in (self.scale_param_, self.shape_param_)
        }
        return model

    def _linear(self, X: np.ndarray, params: np.ndarray, group: str) -> np.ndarray:
        positions, names = self._terms[group]
        cols = {name: X[:, i] for i, name in enumerate(self.feature_names_)}
        cols[INTERCEPT] = np.ones(X.shape[0])
        return linear_predictor(cols, names, params[positions])

    def _survival(self, X: np.ndarray, times: np.ndarray, params: np.ndarray) -> np.ndarray:
        location = self._linear(X, params, self.scale_param_)
        log_shape = self._linear(X, params, self.shape_param_)
        return aft_survival(self.distribution, location, log_shape, times)

    def _integrate(self, conditional: np.ndarray) -> np.ndarray:
        # smooth curve on a unit grid: the trapezoid rule (error far below a period)
        return np.trapezoid(conditional, dx=1.0, axis=1)
