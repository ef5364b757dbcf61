"""Invariant checks for model outputs, shared by the tests and by the pipeline at run time.

Each check raises a ValueError with a one-line message naming the first violation, so a failing
asset check or test says what is wrong without a traceback dive. They return nothing (the
calibration check returns the error it measured).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from models._frames import to_pandas

ATOL = 1e-9


def _floats(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def check_probabilities(values: Any, name: str = "probability", atol: float = ATOL) -> None:
    """Every value is a probability: within [0, 1] and not NaN."""
    p = _floats(values, name)
    bad = np.flatnonzero((p < -atol) | (p > 1 + atol))
    if bad.size:
        raise ValueError(f"{name} outside [0, 1]: {float(p.flat[bad[0]])!r} at position {bad[0]}")


def check_survival_values(
    t: Any, survival: Any, label: str = "survival", atol: float = ATOL
) -> None:
    """One curve (or one curve per row of a 2-D array): within [0, 1] and non-increasing in t.

    `t` must be increasing; the survival values are ordered along the last axis.
    """
    times = _floats(t, f"{label} times")
    s = np.atleast_2d(_floats(survival, label))
    if s.shape[-1] != times.size:
        raise ValueError(f"{label}: {s.shape[-1]} survival values for {times.size} times")
    if times.size > 1 and np.any(np.diff(times) <= 0):
        raise ValueError(f"{label}: times are not strictly increasing")
    check_probabilities(s, label, atol)
    rows, cols = np.nonzero(np.diff(s, axis=-1) > atol)
    if rows.size:
        r, c = rows[0], cols[0]
        row = f" (row {r})" if s.shape[0] > 1 else ""
        raise ValueError(
            f"{label}{row} increases from {s[r, c]:.6g} at t={times[c]:g} "
            f"to {s[r, c + 1]:.6g} at t={times[c + 1]:g}"
        )


def check_interval(
    estimate: Any, lower: Any, upper: Any, name: str = "estimate", atol: float = ATOL
) -> None:
    """Each interval is ordered and contains its point estimate: lower <= estimate <= upper."""
    est, lo, hi = (_floats(v, n) for v, n in ((estimate, name), (lower, "lower"), (upper, "upper")))
    est, lo, hi = np.broadcast_arrays(est, lo, hi)
    bad = np.flatnonzero(((lo - est) > atol) | ((est - hi) > atol))
    if bad.size:
        i = bad[0]
        raise ValueError(
            f"{name} {float(est.flat[i])!r} outside its interval "
            f"[{float(lo.flat[i])!r}, {float(hi.flat[i])!r}] at position {i}"
        )


def check_survival_curve(
    curve: Any,
    t_col: str = "t",
    survival_col: str = "survival",
    group_cols: Sequence[str] = ("segment_type", "segment"),
    interval_cols: tuple[str, str] | None = ("ci_lower", "ci_upper"),
) -> None:
    """A tidy curve table (as from `kaplan_meier`): each segment's curve is a valid survival curve
    and, when the interval columns exist, its interval contains the estimate."""
    df = to_pandas(curve)
    keys = [c for c in group_cols if c in df.columns]
    groups = df.groupby(keys, sort=False, dropna=False) if keys else [((), df)]
    for key, part in groups:
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, np.atleast_1d(key), strict=True))
        label = f"survival [{label}]" if label else "survival"
        part = part.sort_values(t_col)
        check_survival_values(part[t_col], part[survival_col], label)
        if interval_cols and set(interval_cols) <= set(df.columns):
            lo, hi = interval_cols
            check_interval(part[survival_col], part[lo], part[hi], label)


def expected_calibration_error(predicted: Any, observed: Any, n_bins: int = 10) -> float:
    """Expected calibration error over equal-count bins of the predicted probability.

    Equal-count bins keep every bin populated when predictions cluster (most churn scores are
    small), so the measure does not hinge on a few nearly empty bins.
    """
    p = _floats(predicted, "predicted").ravel()
    y = _floats(observed, "observed").ravel()
    if p.size != y.size or p.size == 0:
        raise ValueError(f"need as many outcomes as predictions, got {p.size} and {y.size}")
    check_probabilities(p, "predicted")
    check_probabilities(y, "observed")
    order = np.argsort(p, kind="stable")
    bins = np.array_split(order, min(n_bins, p.size))
    return float(sum(abs(p[b].mean() - y[b].mean()) * b.size for b in bins) / p.size)


def check_calibration(
    predicted: Any, observed: Any, max_ece: float = 0.05, n_bins: int = 10
) -> float:
    """Predictions are calibrated: expected calibration error at most `max_ece`. Returns the ECE."""
    ece = expected_calibration_error(predicted, observed, n_bins)
    if ece > max_ece:
        raise ValueError(f"calibration error {ece:.4f} above {max_ece} over {n_bins} bins")
    return ece


def population_stability(previous: np.ndarray, current: np.ndarray) -> float:
    """PSI between two binned distributions (counts); above 0.2 is usually read as a shift."""
    p = np.maximum(previous / max(previous.sum(), 1), 1e-4)
    q = np.maximum(current / max(current.sum(), 1), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))
