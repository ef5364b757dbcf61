"""The invariant checks accept valid outputs and name the first violation in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from models.checks import (
    check_calibration,
    check_interval,
    check_probabilities,
    check_survival_curve,
    check_survival_values,
    expected_calibration_error,
)


def one_line(excinfo: pytest.ExceptionInfo[ValueError]) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


def test_probabilities():
    check_probabilities([0.0, 0.3, 1.0])
    with pytest.raises(ValueError, match=r"outside \[0, 1\]: 1.2 at position 1") as excinfo:
        check_probabilities([0.5, 1.2])
    one_line(excinfo)
    with pytest.raises(ValueError, match="NaN"):
        check_probabilities([0.5, np.nan])


def test_survival_values():
    check_survival_values([0, 1, 5], [1.0, 0.9, 0.9])
    check_survival_values([0, 1], np.array([[1.0, 0.5], [1.0, 1.0]]))  # one curve per row
    with pytest.raises(ValueError, match="increases from 0.8 at t=1 to 0.85 at t=2") as excinfo:
        check_survival_values([0, 1, 2], [1.0, 0.8, 0.85])
    one_line(excinfo)
    with pytest.raises(ValueError, match=r"\(row 1\)"):
        check_survival_values([0, 1], [[1.0, 0.5], [0.5, 0.6]])
    with pytest.raises(ValueError, match="outside"):
        check_survival_values([0, 1], [1.1, 0.5])
    with pytest.raises(ValueError, match="strictly increasing"):
        check_survival_values([0, 0], [1.0, 0.5])


def test_interval():
    check_interval([0.5, 2.0], [0.4, 2.0], [0.6, 3.0])
    check_interval(1.0, 0.5, 1.5)
    with pytest.raises(ValueError, match=r"estimate 0.7 outside its interval \[0.4, 0.6\]"):
        check_interval([0.5, 0.7], [0.4, 0.4], [0.6, 0.6])
    with pytest.raises(ValueError, match="outside its interval"):
        check_interval(1.0, 1.5, 0.5)  # reversed bounds


def test_survival_curve_table_names_the_segment():
    good = pd.DataFrame(
        {
            "segment_type": ["plan"] * 3 + ["country"] * 3,
            "segment": ["basic"] * 3 + ["FR"] * 3,
            "t": [0, 1, 2] * 2,
            "survival": [1.0, 0.9, 0.8, 1.0, 0.7, 0.7],
            "ci_lower": [1.0, 0.85, 0.7, 1.0, 0.6, 0.6],
            "ci_upper": [1.0, 0.95, 0.9, 1.0, 0.8, 0.8],
        }
    )
    check_survival_curve(good)
    check_survival_curve(pl.from_pandas(good))
    rising = good.assign(survival=[1.0, 0.9, 0.8, 1.0, 0.7, 0.75])
    with pytest.raises(ValueError, match="segment_type=country, segment=FR"):
        check_survival_curve(rising)
    narrow = good.assign(ci_upper=[1.0, 0.85, 0.9, 1.0, 0.8, 0.8])
    with pytest.raises(ValueError, match="segment=basic.*outside its interval"):
        check_survival_curve(narrow)


def test_calibration():
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0, 1, 20_000)
    outcomes = rng.uniform(0, 1, predicted.size) < predicted
    assert check_calibration(predicted, outcomes, max_ece=0.02) < 0.02
    overconfident = np.clip(predicted * 1.5 - 0.25, 0, 1)
    assert expected_calibration_error(overconfident, outcomes) > 0.05
    with pytest.raises(ValueError, match=r"calibration error 0\.\d{4} above 0.05 over 10 bins"):
        check_calibration(overconfident, outcomes, max_ece=0.05)
    with pytest.raises(ValueError, match="as many outcomes"):
        expected_calibration_error([0.5], [1, 0])
