"""The published survival curves (`ml.survival_curves`) and cohort projections
(`ml.cohort_projections`), from one row per paying customer (models.store.survival_input)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from models import store
from models.cohort import ShiftedBetaGeometric
from models.survival import kaplan_meier

log = logging.getLogger(__name__)

SEGMENT_TYPES = ("offer_type", "platform", "country", "cohort_month")
DAYS_PER_MONTH = 365.25 / 12
MIN_OBSERVED_MONTHS = 3  # renewal periods observed before a cohort is projected


def survival_curves(
    customers: pd.DataFrame, segment_types: Sequence[str] = SEGMENT_TYPES, min_customers: int = 30
) -> pd.DataFrame:
    """Kaplan–Meier of tenure in days (first paid day to churn or the as-of date), for all
    customers and by each segment type, at its step points with 95 % bounds."""
    curves = kaplan_meier(
        customers, "duration_days", "churned", segment_types, min_customers=min_customers
    )
    return curves.rename(columns={"t": "t_days"})


def monthly_lifetimes(customers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Whole months since the first paid day. Only months a customer could have completed by the
    as-of date count: a churn in month k is an event at period k when the customer has been
    followed for k months or more, otherwise (a churn in the current, unfinished month) the
    customer is censored after the months completed, like everyone still active in that month.
    Counting those churns while the survivors of the same month are censored would overstate the
    churn of the last period, above all for young cohorts."""
    months = customers["duration_days"].to_numpy() / DAYS_PER_MONTH
    followed = np.floor(customers["followup_days"].to_numpy() / DAYS_PER_MONTH)
    churned = customers["churned"].to_numpy().astype(bool)
    churn_period = np.maximum(np.ceil(months), 1)
    counted = churned & (churn_period <= followed)
    periods = np.where(counted, churn_period, np.minimum(np.floor(months), followed))
    return periods.astype(np.int64), counted


def cohort_projections(
    customers: pd.DataFrame,
    groups: Sequence[tuple[str, str]] = (("signup_month", "cohort_month"), ("offer", "offer_id")),
    horizon_months: int = 36,
    min_customers: int = 100,
) -> pd.DataFrame:
    """The shifted-beta-geometric model fitted to each signup cohort and each first offer, with the
    observed retention, the projection to `horizon_months` and its interval."""
    parts = []
    for cohort_type, column in groups:
        for cohort, group in customers.groupby(column, sort=True):
            if len(group) < min_customers:
                continue
            periods, churned = monthly_lifetimes(group)
            if periods.max() < MIN_OBSERVED_MONTHS or not churned.any():
                log.info("cohort %s=%s: too little history to project", column, cohort)
                continue
            try:
                model = ShiftedBetaGeometric().fit_lifetimes(periods, churned)
            except (RuntimeError, np.linalg.LinAlgError) as error:
                log.warning("cohort %s=%s: sBG fit failed (%s)", column, cohort, error)
                continue
            table = model.projected_retention(horizon_months)
            table.insert(0, "cohort", str(cohort))
            table.insert(0, "cohort_type", cohort_type)
            table["customers"] = len(group)
            table["observed_months"] = int(periods.max())
            table["log_likelihood"] = model.log_likelihood_
            table["expected_months_within_horizon"] = model.expected_lifetime(horizon_months)
            parts.append(table)
    if not parts:
        return pd.DataFrame(
            columns=[
                "cohort_type",
                "cohort",
                "period",
                "actual_retention",
                "projected_retention",
                "ci_lower",
                "ci_upper",
                "alpha",
                "beta",
                "customers",
                "observed_months",
                "log_likelihood",
                "expected_months_within_horizon",
            ]  # fmt: skip
        )
    return pd.concat(parts, ignore_index=True)


def refresh_curve_tables(con) -> dict[str, int]:
    """Recompute `ml.survival_curves` and `ml.cohort_projections` from the marts."""
    customers = store.survival_input(con)
    return {
        "survival_curves": store.write_table(con, "survival_curves", survival_curves(customers)),
        "cohort_projections": store.write_table(
            con, "cohort_projections", cohort_projections(customers)
        ),
    }
