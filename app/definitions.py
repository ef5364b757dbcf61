"""Metric definitions shown as "how is this computed" help texts.

The wording follows /work/shared/METRICS.md, which is also what the dbt doc blocks carry; keep
the three in step. Pages look definitions up by metric column name (``DEFINITIONS["mrr"]``) so
KPIs, charts and tables reuse one text. Values are Markdown (Streamlit renders help tooltips as
Markdown).
"""

from __future__ import annotations

from typing import Final

_AS_OF: Final = "Figures are as of the data's watermark (the latest event loaded)."

DEFINITIONS: Final[dict[str, str]] = {
    "mrr": (
        "**MRR** (monthly recurring revenue) at the end of the month: the sum over active, paying "
        "subscriptions of their recurring net price (price − discount) normalised to one month "
        "(monthly ×1, quarterly ÷3, half-yearly ÷6, yearly ÷12, weekly ×52/12, daily ×365/12). "
        "Not MRR: trials (trial MRR, apart), tax, one-time purchases (passes, pay-per-view, "
        "TVOD), paused subscriptions. A subscription counts from its first paid period until its "
        "access ends, not until the cancellation request. In the reporting currency. " + _AS_OF
    ),
    "arr": "**ARR** (annual recurring revenue) = 12 × MRR at the end of the month.",
    "paying_customers": (
        "**Paying customers**: customers with MRR > 0 at the end of the month (at least one "
        "active, paying, unpaused subscription)."
    ),
    "customer_churn_rate": (
        "**Customer churn rate** (month) = customers who churned in the month among those active "
        "at its start ÷ customers active at its start. A customer churns when their last active "
        "subscription ends (ending one of several is contraction). New customers who churn in "
        "their first month are counted separately, not in this rate."
    ),
    "net_new_mrr": (
        "**Net new MRR** = the month's MRR movements summed: new + expansion + reactivation + "
        "resume − contraction − churn − pause (movements per customer and day, summed per month). "
        "The MRR bridge holds exactly: MRR end = MRR start + these movements + FX adjustment."
    ),
    "new_mrr": "**New MRR**: MRR of customers who never had MRR before (yesterday 0, today > 0).",
    "expansion_mrr": "**Expansion MRR**: increases of customers who already paid (0 < before < after).",
    "contraction_mrr": "**Contraction MRR**: decreases of customers who keep paying (0 < after < before).",
    "churned_mrr": (
        "**Churned MRR**: MRR lost when a customer's last subscription ended (before > 0, after 0)."
    ),
    "reactivation_mrr": (
        "**Reactivation MRR**: MRR of customers who had MRR before, lost it (not through a pause) "
        "and pay again."
    ),
    "pause_mrr": "**Pause MRR**: MRR going to 0 because of a pause: neither churn nor contraction.",
    "resume_mrr": "**Resume MRR**: MRR coming back from a pause: neither new nor reactivation.",
    "fx_adjustment": (
        "**FX adjustment**: what the change of exchange rates alone did to MRR. FX never creates a "
        "business movement: movements compare yesterday's and today's subscriptions at today's "
        "rate (ECB daily reference rates)."
    ),
    "mrr_at_start": (
        "**MRR at start**: MRR at the end of the previous month. The MRR bridge holds exactly: "
        "MRR end = MRR start + new + reactivation + expansion + contraction + churn + pause + "
        "resume + FX adjustment (losses negative)."
    ),
    "arpu": (
        "**ARPU** (average revenue per user) = MRR ÷ paying customers, both at the end of the "
        "month."
    ),
    "quick_ratio": (
        "**Quick ratio** = (new + expansion + reactivation MRR) ÷ |churn + contraction MRR|: MRR "
        "gained for each unit of MRR lost. Empty when nothing was lost (churn + contraction = 0)."
    ),
    "net_mrr_churn_rate": (
        "**Net MRR churn rate** = −(churn + contraction + expansion + reactivation MRR) ÷ MRR at "
        "start of month (negative means net expansion)."
    ),
    "net_revenue_retention": (
        "**Net revenue retention** = 1 − net MRR churn rate, where net MRR churn rate = −(churn + "
        "contraction + expansion + reactivation MRR) ÷ MRR at start of month. Above 100% means "
        "the existing customers' expansion and reactivation outweigh churn and contraction. "
        "Empty when MRR at start is 0."
    ),
}

MRR_MOVEMENTS_HELP: Final = (
    "Monthly MRR movements: gains (new, expansion, reactivation, resume) above zero, losses "
    "(contraction, churn, pause) below, and the net new MRR line. Movements compare each "
    "customer's MRR yesterday and today, both at today's exchange rate, and are summed per month. "
    + DEFINITIONS["fx_adjustment"]
)

MRR_TREND_HELP: Final = DEFINITIONS["mrr"]

MRR_BRIDGE_HELP: Final = (
    "The month's MRR bridge as a waterfall: MRR at start (the previous month's end), each "
    "movement (gains up, losses down), the FX adjustment, and MRR at end. "
    + DEFINITIONS["mrr_at_start"]
    + " "
    + DEFINITIONS["fx_adjustment"]
)

MRR_SEGMENTS_HELP: Final = (
    "The month's MRR bridge per segment: the customer's latest country and signup platform "
    "(`unknown` when missing or erased). Summing the segments gives the bridge above."
)


def definition(metric: str) -> str | None:
    """The help text of a metric column, or None when it has none yet."""
    return DEFINITIONS.get(metric)
