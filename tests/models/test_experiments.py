"""The campaign effect interval against Newcombe's formula written out from the Wilson intervals."""

from __future__ import annotations

import math

import pytest

from models.experiments import churn_difference, churn_ratio

Z95 = 1.959963984540054


def wilson(x: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def newcombe(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Newcombe (1998), method 10: the hybrid score interval of p1 − p2."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1)
    l2, u2 = wilson(x2, n2)
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


@pytest.mark.parametrize(
    ("x1", "n1", "x2", "n2"),
    [(30, 400, 52, 100), (0, 10, 3, 10), (56, 70, 48, 80), (5, 5, 0, 7), (120, 8000, 45, 2000)],
)
def test_interval_matches_newcombe(x1, n1, x2, n2) -> None:
    result = churn_difference(x1, n1, x2, n2)
    assert result is not None
    lower, upper = newcombe(x1, n1, x2, n2)
    assert result.lower == pytest.approx(lower, abs=1e-9)
    assert result.upper == pytest.approx(upper, abs=1e-9)
    assert result.difference == pytest.approx(x1 / n1 - x2 / n2)
    assert result.lower <= result.difference <= result.upper


def test_conclusive_only_when_zero_is_outside() -> None:
    clear = churn_difference(30, 400, 52, 100)  # 7.5% against 52%
    assert clear is not None and clear.conclusive and clear.upper < 0
    unclear = churn_difference(10, 100, 12, 100)
    assert unclear is not None and not unclear.conclusive


def test_wider_at_higher_confidence() -> None:
    at95 = churn_difference(10, 100, 20, 100)
    at99 = churn_difference(10, 100, 20, 100, confidence=0.99)
    assert at95 is not None and at99 is not None
    assert at99.lower < at95.lower and at99.upper > at95.upper


def test_empty_group_and_bad_counts() -> None:
    assert churn_difference(0, 0, 3, 10) is None
    with pytest.raises(ValueError, match="between 0 and"):
        churn_difference(11, 10, 3, 10)
    with pytest.raises(ValueError, match="confidence"):
        churn_difference(1, 10, 3, 10, confidence=1.5)


@pytest.mark.parametrize(
    ("a", "n1", "c", "n2"), [(2, 10, 9, 90), (52, 80, 19, 176), (5, 5, 1, 3), (1, 1000, 30, 40)]
)
def test_ratio_matches_katz(a, n1, c, n2) -> None:
    result = churn_ratio(a, n1, c, n2)
    assert result is not None
    ratio = (a / n1) / (c / n2)
    se = math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2)  # Katz et al. (1978)
    assert result.ratio == pytest.approx(ratio)
    assert result.lower == pytest.approx(ratio * math.exp(-Z95 * se))
    assert result.upper == pytest.approx(ratio * math.exp(Z95 * se))


def test_ratio_undefined_without_churners() -> None:
    assert churn_ratio(3, 10, 0, 10) is None
    assert churn_ratio(0, 10, 3, 10) is None
    assert churn_ratio(1, 0, 3, 10) is None
