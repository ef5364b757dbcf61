"""Input adapters shared by the models: callers pass pandas or polars, the models work on numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def to_pandas(frame: Any) -> pd.DataFrame:
    """A pandas view of a pandas or polars frame (polars converts through Arrow)."""
    if isinstance(frame, pd.DataFrame):
        return frame
    convert = getattr(frame, "to_pandas", None)
    if callable(convert):
        return convert()
    raise TypeError(f"expected a pandas or polars DataFrame, got {type(frame).__name__}")


def is_polars(frame: Any) -> bool:
    """True for a polars frame, without importing polars for pandas callers."""
    return type(frame).__module__.startswith("polars")


def integer_durations(values: Any, name: str = "durations") -> np.ndarray:
    """Durations as int64: whole days or months, never negative.

    lifelines is much faster on integer durations than on unique floats, and the step functions
    below rely on jumps at whole periods, so fractional durations are refused rather than rounded.
    """
    arr = np.asarray(values)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be numeric whole periods, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contain missing or infinite values")
        fractional = arr[arr != np.round(arr)]
        if fractional.size:
            raise ValueError(f"{name} must be whole days or months, got {fractional[0]!r}")
    out = arr.astype(np.int64)
    if out.size and out.min() < 0:
        raise ValueError(f"{name} must not be negative, got {out.min()}")
    return out


def event_flags(values: Any, name: str = "events") -> np.ndarray:
    """Event indicators as bool: True means churned, False means still active (censored)."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be bool or 0/1, got dtype {arr.dtype}")
    bad = arr[(arr != 0) & (arr != 1)]
    if bad.size:
        raise ValueError(f"{name} must be bool or 0/1, got {bad[0]!r}")
    return arr.astype(bool)
