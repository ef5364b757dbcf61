"""Cohort retention projection with the shifted-beta-geometric (sBG) model.

Fader & Hardie (2007), "How to Project Customer Retention": each customer churns at the end of a
period with a constant probability theta, and theta varies across the cohort as Beta(alpha, beta).
The cohort's retention then falls ever more slowly (the risky leave first), which a constant
churn rate cannot reproduce. Periods are renewal opportunities: S(0) = 1 is the acquired cohort,
S(t) the share still active after t periods.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, hyp2f1

LOG_BOUND = 12.0  # alpha, beta within [e^-12, e^12]


class Estimate(NamedTuple):
    """A point estimate with its interval."""

    estimate: float
    ci_lower: float
    ci_upper: float


def sbg_log_likelihood(alpha: float, beta: float, alive: Any) -> float:
    """Log-likelihood of a cohort's active counts at periods 0..n under sBG(alpha, beta).

    Customers lost in period t contribute log P(T = t) = log B(alpha+1, beta+t-1) / B(alpha, beta);
    those still active after period n contribute log S(n) (right-censored).
    """
    counts = np.asarray(alive, dtype=float)
    n = counts.size - 1
    t = np.arange(1, n + 1)
    lost = counts[:-1] - counts[1:]
    log_pmf = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)
    log_survival = betaln(alpha, beta + n) - betaln(alpha, beta)
    return float(lost @ log_pmf + counts[-1] * log_survival)


def simulate_sbg_cohort(
    alpha: float, beta: float, size: int, periods: int, rng: np.random.Generator
) -> np.ndarray:
    """Active counts at periods 0..`periods` of a simulated cohort: theta ~ Beta, T ~ Geometric."""
    theta = np.clip(rng.beta(alpha, beta, size), 1e-12, 1.0)
    churn_period = rng.geometric(theta)  # first period at whose end the customer leaves, >= 1
    return np.array([(churn_period > t).sum() for t in range(periods + 1)])


class ShiftedBetaGeometric:
    """The sBG model fitted by maximum likelihood to one cohort's retention series.

    Parameters are fitted on (log alpha, log beta), which keeps them positive and makes the
    likelihood surface closer to quadratic. Intervals: (log alpha, log beta) are drawn
    `n_draws` times from N(estimate, inverse observed information) with a fixed seed; each
    projection's interval is the quantiles of that projection over the draws.
    """

    def __init__(self, ci_level: float = 0.95, n_draws: int = 2000, random_state: int = 0) -> None:
        self.ci_level = ci_level
        self.n_draws = n_draws
        self.random_state = random_state

    def fit(self, alive: Any, cohort_size: float | None = None) -> Self:
        """Fit on the number still active at periods 0..n (alive[0] is the whole cohort).

        Shares or percentages need `cohort_size`, the number of customers acquired: the
        likelihood, and so the width of the intervals, depends on how many customers there were.
        """
        series = np.asarray(alive, dtype=float)
        if series.ndim != 1 or series.size < 2:
            raise ValueError("need a retention series with at least periods 0 and 1")
        if np.any(np.diff(series) > 0) or series[-1] < 0 or series[0] <= 0:
            raise ValueError("retention series must start positive and never increase")
        if cohort_size is None and series[0] <= 1:
            raise ValueError("retention given as shares: pass cohort_size (customers acquired)")
        counts = series if cohort_size is None else series / series[0] * cohort_size
        self.alive_ = counts
        self.cohort_size_ = float(counts[0])
        self.n_periods_ = counts.size - 1
        return self._fit(lambda a, b: sbg_log_likelihood(a, b, counts))

    def fit_lifetimes(self, periods: Any, churned: Any) -> Self:
        """Fit on individual customers observed for different lengths of time.

        `periods`: whole periods each customer was observed (churned in that period, or still
        active after it); `churned`: whether they churned. A pooled group (an offer's customers
        from many signup months) is right-censored at different periods, which a single
        retention series cannot express. `alive_` is then the life-table (actuarial) share still
        active at each period (for the actual_retention column), times the group size.
        """
        t = np.asarray(periods, dtype=np.int64)
        lost = np.asarray(churned, dtype=bool)
        if t.size == 0 or t.min() < 0 or (lost & (t < 1)).any():
            raise ValueError("lifetimes: need customers, with churn only from period 1 on")
        n = int(t.max())
        lost_at = np.bincount(t[lost], minlength=n + 1).astype(float)
        censored_at = np.bincount(t[~lost], minlength=n + 1).astype(float)
        # actuarial life table: entering period t are the churners of periods >= t and the
        # customers censored after completing t-1 or more periods; those censored during period t
        # (after completing t-1) count as half at risk, so a partly observed last period is not
        # read as everybody churning
        lost_from = lost_at[::-1].cumsum()[::-1]
        censored_from = censored_at[::-1].cumsum()[::-1]
        at_risk = np.zeros(n + 1)
        at_risk[1:] = lost_from[1:] + censored_from[:-1] - 0.5 * censored_at[:-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            retained = np.where(at_risk > 0, 1 - lost_at / np.where(at_risk > 0, at_risk, 1), 1)
        retained[0] = 1.0
        self.cohort_size_ = float(t.size)
        self.alive_ = np.cumprod(retained) * t.size
        self.n_periods_ = n
        periods_ = np.arange(n + 1, dtype=float)

        def log_likelihood(a: float, b: float) -> float:
            log_pmf = betaln(a + 1, b + periods_[1:] - 1) - betaln(a, b)
            log_survival = betaln(a, b + periods_) - betaln(a, b)
            return float(lost_at[1:] @ log_pmf + censored_at @ log_survival)

        return self._fit(log_likelihood)

    def _fit(self, log_likelihood: Any) -> Self:
        def nll(log_params: np.ndarray) -> float:
            return -log_likelihood(*np.exp(log_params))

        # Nelder–Mead on the log scale; tolerances relative to the likelihood's size (a cohort of a
        # million customers has a log-likelihood near -1e6). Nearly homogeneous cohorts drive
        # alpha and beta to infinity together (the geometric limit): the bounds stop them there,
        # where the projection no longer depends on how large they are.
        scale = max(1.0, abs(nll(np.zeros(2))))
        result = minimize(
            nll,
            x0=np.zeros(2),
            method="Nelder-Mead",
            bounds=[(-LOG_BOUND, LOG_BOUND)] * 2,
            options={"xatol": 1e-9, "fatol": 1e-13 * scale, "maxiter": 20_000},
        )
        if not result.success and np.ptp(result.final_simplex[1]) <= 1e-9 * scale:
            # a flat ridge (alpha and beta growing together towards the geometric limit) can
            # exhaust Nelder–Mead while the likelihood no longer changes: the points along it
            # give the same projections, so the best vertex is the fit
            result.success = True
        if not result.success:
            raise RuntimeError(f"sBG fit did not converge: {result.message}")
        self.log_params_ = result.x
        self.alpha_, self.beta_ = (float(v) for v in np.exp(result.x))
        self.log_likelihood_ = float(-result.fun)
        hessian = _hessian(nll, result.x)
        # at the bound (geometric limit) the curvature is flat: no sampling spread there
        self.cov_ = np.linalg.pinv(hessian) if np.linalg.cond(hessian) < 1e12 else np.zeros((2, 2))
        self.cov_ = (self.cov_ + self.cov_.T) / 2
        return self

    # model quantities -------------------------------------------------------------------------
    def survival(self, t: Any) -> np.ndarray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share of the cohort active after t periods."""
        return _survival(self.alpha_, self.beta_, np.asarray(t, dtype=float))

    def churn_probability(self, t: Any) -> np.ndarray:
        """P(T = t), t >= 1: share of the acquired cohort lost in period t."""
        t = np.asarray(t, dtype=float)
        return np.exp(betaln(self.alpha_ + 1, self.beta_ + t - 1) - betaln(self.alpha_, self.beta_))

    def churn_rate(self, t: Any) -> np.ndarray:
        """P(T = t | T >= t) = alpha / (alpha + beta + t - 1): churn among those active before t."""
        return self.alpha_ / (self.alpha_ + self.beta_ + np.asarray(t, dtype=float) - 1)

    def expected_lifetime(self, horizon: int | None = None) -> float:
        """Expected number of periods paid for, sum of S(t) for t >= 0 (up to `horizon` periods).

        Without a horizon it is (alpha + beta - 1) / (alpha - 1), infinite when alpha <= 1 (a
        heavy tail of near-loyal customers); use a horizon or `derl` for value.
        """
        if horizon is not None:
            return float(self.survival(np.arange(horizon)).sum())
        if self.alpha_ <= 1:
            return float("inf")
        return (self.alpha_ + self.beta_ - 1) / (self.alpha_ - 1)

    def derl(self, discount: float, renewals: int = 0) -> Estimate:
        """Discounted expected residual lifetime (Fader & Hardie 2010) with its interval.

        For a customer active after `renewals` renewals, at the end of that period:
        DERL = (beta + n) / (alpha + beta + n) * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1/(1+d)),
        the expected number of further payments, the next one undiscounted. Multiply by the
        margin per period for the residual lifetime value.
        """
        if discount <= 0:
            raise ValueError("discount rate must be positive (DERL diverges when alpha <= 1)")
        a, b = self._draws()
        point = _derl(self.alpha_, self.beta_, discount, renewals)
        lower, upper = self._quantiles(_derl(a, b, discount, renewals))
        return Estimate(float(point), float(lower), float(upper))

    def projected_retention(self, periods: int | Any) -> pd.DataFrame:
        """S(t) for t = 0..periods (or the given periods) with its interval, and the actual
        retention where the fit observed it (NaN beyond): the `ml.cohort_projections` shape."""
        t = np.arange(periods + 1) if np.ndim(periods) == 0 else np.asarray(periods)
        a, b = self._draws()
        lower, upper = self._quantiles(_survival(a[:, None], b[:, None], t[None, :].astype(float)))
        actual = np.full(t.size, np.nan)
        observed = (t >= 0) & (t <= self.n_periods_)
        actual[observed] = self.alive_[t[observed].astype(int)] / self.cohort_size_
        return pd.DataFrame(
            {
                "period": t,
                "actual_retention": actual,
                "projected_retention": self.survival(t),
                "ci_lower": lower,
                "ci_upper": upper,
                "alpha": self.alpha_,
                "beta": self.beta_,
            }
        )

    # helpers ----------------------------------------------------------------------------------
    def _draws(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(self.random_state)
        draws = rng.multivariate_normal(self.log_params_, self.cov_, size=self.n_draws)
        return np.exp(draws[:, 0]), np.exp(draws[:, 1])

    def _quantiles(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tail = (1 - self.ci_level) / 2
        lower, upper = np.quantile(values, [tail, 1 - tail], axis=0)
        return lower, upper


def _survival(alpha: Any, beta: Any, t: Any) -> np.ndarray:
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def _derl(alpha: Any, beta: Any, discount: float, renewals: int) -> Any:
    b, c = beta + renewals, alpha + beta + renewals
    return b / c * hyp2f1(1.0, b + 1, c + 1, 1.0 / (1.0 + discount))


def _hessian(f: Any, x: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a smooth scalar function (2 parameters: 16 evaluations)."""
    k = x.size
    h = np.zeros((k, k))
    eye = np.eye(k) * step
    for i in range(k):
        for j in range(k):
            h[i, j] = (
                f(x + eye[i] + eye[j])
                - f(x + eye[i] - eye[j])
                - f(x - eye[i] + eye[j])
                + f(x - eye[i] - eye[j])
            ) / (4 * step * step)
    return h
