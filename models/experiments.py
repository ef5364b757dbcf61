"""Two groups' churn rates compared, with confidence intervals: treatment against control of a
retention campaign, customers with a recent support ticket against those without.

The difference uses Newcombe's hybrid score interval (from the two Wilson intervals), which
keeps its coverage for small groups and rates near 0 or 1 where the textbook Wald interval does
not; the ratio (relative risk) uses the Katz log interval. statsmodels computes both.
"""

from __future__ import annotations

from dataclasses import dataclass

from statsmodels.stats.proportion import confint_proportions_2indep

METHOD = "Newcombe hybrid score interval (Wilson intervals of both groups)"
RATIO_METHOD = "Katz log interval"


@dataclass(frozen=True)
class ChurnDifference:
    """Churn of treatment against control: rates, their difference and its interval."""

    treatment_rate: float
    control_rate: float
    difference: float  # treatment − control: negative when the offer reduced churn
    lower: float
    upper: float
    confidence: float

    @property
    def conclusive(self) -> bool:
        """Whether the interval excludes 0 (a difference at this confidence level)."""
        return self.upper < 0 or self.lower > 0


def churn_difference(
    treatment_churned: int,
    treatment_at_risk: int,
    control_churned: int,
    control_at_risk: int,
    confidence: float = 0.95,
) -> ChurnDifference | None:
    """Treatment's churn rate minus control's with its interval; None when a group is empty."""
    if treatment_at_risk <= 0 or control_at_risk <= 0:
        return None
    for churned, at_risk in (
        (treatment_churned, treatment_at_risk),
        (control_churned, control_at_risk),
    ):
        if not 0 <= churned <= at_risk:
            raise ValueError(f"churned {churned} must lie between 0 and the group's {at_risk}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence}: must lie strictly between 0 and 1")
    lower, upper = confint_proportions_2indep(
        treatment_churned,
        treatment_at_risk,
        control_churned,
        control_at_risk,
        method="newcomb",
        compare="diff",
        alpha=1 - confidence,
    )
    treatment_rate = treatment_churned / treatment_at_risk
    control_rate = control_churned / control_at_risk
    return ChurnDifference(
        treatment_rate,
        control_rate,
        treatment_rate - control_rate,
        float(lower),
        float(upper),
        confidence,
    )


@dataclass(frozen=True)
class ChurnRatio:
    """Relative churn risk of the first group against the second, with its interval."""

    ratio: float
    lower: float
    upper: float
    confidence: float


def churn_ratio(
    churned: int,
    at_risk: int,
    baseline_churned: int,
    baseline_at_risk: int,
    confidence: float = 0.95,
) -> ChurnRatio | None:
    """(churned ÷ at_risk) ÷ (baseline_churned ÷ baseline_at_risk) with the Katz log interval;
    None when a group is empty or has no churner (the log interval is undefined then)."""
    if min(churned, at_risk, baseline_churned, baseline_at_risk) <= 0:
        return None
    _check(churned, at_risk, baseline_churned, baseline_at_risk, confidence)
    lower, upper = confint_proportions_2indep(
        churned,
        at_risk,
        baseline_churned,
        baseline_at_risk,
        method="log",
        compare="ratio",
        alpha=1 - confidence,
    )
    ratio = (churned / at_risk) / (baseline_churned / baseline_at_risk)
    return ChurnRatio(ratio, float(lower), float(upper), confidence)


def _check(x1: int, n1: int, x2: int, n2: int, confidence: float) -> None:
    for churned, at_risk in ((x1, n1), (x2, n2)):
        if not 0 <= churned <= at_risk:
            raise ValueError(f"churned {churned} must lie between 0 and the group's {at_risk}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence {confidence}: must lie strictly between 0 and 1")
