"""The lists that several layers spell out, declared once.

dbt reads them as vars (`pipelines.dbt_project.dbt_vars`): its accepted_values tests and the SQL
that lists the MRR bridge columns loop over them. The app, the checks and the tests import them
from here. Adding a movement type: classify it in `fct_mrr_movements`, document it in the dbt doc
block `movement_type`, add it to `MOVEMENTS` below, and map it in the app if it is shown apart.

This module imports nothing: every layer may read it.
"""

from __future__ import annotations

# MRR movement types (`fct_mrr_movements.movement_type`), each with the column that carries its
# monthly sum in the metrics marts (`metrics_monthly`, `metrics_monthly_by_segment`,
# `metrics_daily`). The order is the order of those columns.
MOVEMENTS: tuple[tuple[str, str], ...] = (
    ("new", "new_mrr"),
    ("expansion", "expansion_mrr"),
    ("contraction", "contraction_mrr"),
    ("churn", "churned_mrr"),
    ("reactivation", "reactivation_mrr"),
    ("pause", "pause_mrr"),
    ("resume", "resume_mrr"),
)

MOVEMENT_TYPES: tuple[str, ...] = tuple(movement for movement, _ in MOVEMENTS)

# The movement columns: net_new_mrr is their sum.
MOVEMENT_MRR_COLUMNS: tuple[str, ...] = tuple(column for _, column in MOVEMENTS)

# The additive columns of the MRR bridge: MRR at the end of a month = MRR at its start + the sum
# of these (the movements and the FX adjustment of the levels carried over).
BRIDGE_COLUMNS: tuple[str, ...] = (*MOVEMENT_MRR_COLUMNS, "fx_adjustment")

# Why a subscription was cancelled (`subscription.cancelled` reason in the event contract) and
# the reasons of `churn_reasons_monthly` (involuntary churn is `payment_failed`, churn without a
# request `unknown`).
CANCEL_REASONS: tuple[str, ...] = (
    "too_expensive",
    "not_using",
    "content",
    "technical",
    "switched_service",
    "payment_failed",
    "other",
    "unknown",
)
