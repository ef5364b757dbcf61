"""Charts and help texts of the Subscriber 360 page (wording from METRICS.md and the dbt docs)."""

from __future__ import annotations

from typing import Final

import altair as alt
import pandas as pd

from app.metric_help import DEFINITIONS, SCORE_DEFINITIONS

_AS_OF: Final = "As of the data's watermark (the latest event loaded)."

SUBSCRIBER_DEFINITIONS: Final[dict[str, str]] = {
    "status": (
        "**Status** of the customer as of the watermark: `active` (paying), `trialing`, "
        "`paused`, `churned` (their last active subscription ended) or `never_paid`. " + _AS_OF
    ),
    "current_mrr": (
        "**Current MRR** = the sum of the MRR of the customer's subscriptions at the as-of date. "
        + DEFINITIONS["mrr"]
    ),
    "lifetime_revenue": (
        "**Lifetime revenue** (historical LTV) = the customer's net revenue to date: successful "
        "payments − refunds − chargebacks, in the reporting currency."
    ),
    "cohort_month": "**Cohort** = month of the customer's first paid day.",
    "churn_probability": SCORE_DEFINITIONS["churn_probability"],
    "predicted_ltv": (
        "**Predicted LTV** = current MRR × expected remaining months within 36 months "
        "(undiscounted). Predicted LTV comes from the survival and cohort models, with an "
        "interval, never a bare point."
    ),
    "expected_remaining_months": (
        "**Expected remaining months** (within 36 months) = the 30-day churn probability p × "
        "half a month + (1 − p) × (1 + the survival model's remaining months for a customer "
        "still there next month). The interval carries the survival model's parameter "
        "uncertainty."
    ),
}

PROFILE_HELP: Final = (
    "The customer's attributes in `marts.dim_customers`: latest country, signup platform and "
    "acquisition channel (`unknown` or empty when missing or erased), cohort (month of the first "
    "paid day), status and MRR as of the watermark. Pseudonymous id only: the platform keeps no "
    "name or email."
)
SUBSCRIPTIONS_HELP: Final = (
    "The customer's subscriptions (`marts.fct_subscriptions`), latest started first: offer, "
    "billing period, platform, lifecycle dates, cancellation and end reasons, churn type and MRR "
    "as of the watermark. " + DEFINITIONS["churn_type"]
)
SCORE_HELP: Final = (
    "The customer in the latest scoring run (`ml.churn_scores`): churn probabilities within 30, "
    "60 and 90 days of the scoring date, risk band, expected remaining months and predicted LTV "
    "with their intervals, and the top reasons: the features that raised the customer's score "
    "the most, in plain words. Only customers live at the as-of date are scored."
)
MODEL_SURVIVAL_HELP: Final = (
    "**The customer's survival curve**: the probability of still being a paying customer t "
    "months after the first paid day, from the champion model's Weibull accelerated failure time "
    "model on the customer's plan (offer type), platform and country, with the 95% interval of "
    "its parameter uncertainty (parameters drawn from their estimated distribution). Lifetimes "
    "are whole months from the first paid day to churn (a customer churns when their last "
    "active subscription ends) or the as-of date. The dashed line marks the customer's tenure."
)
SEGMENT_SURVIVAL_HELP: Final = (
    "**Kaplan–Meier survival of the customer's segment** (`ml.survival_curves`): the share of "
    "the segment's customers still paying t months after their first paid day, at its step "
    "points, with the 95% interval; tenure measured per customer from first paid day to churn "
    "or the as-of date. Segments are those of the first paid month (offer type), the signup "
    "platform, the country and the cohort. The dashed line marks the customer's tenure."
)
ENGAGEMENT_HELP: Final = (
    "Minutes watched per month: the minutes reported in the 4 calendar weeks (Monday-based) "
    "ending with the week of the month end, up to the month end (`marts.customer_months`, one row "
    "per month the customer had a live subscription), with the sessions of the same weeks."
)
TIMELINE_HELP: Final = (
    "Every event of the customer (`marts.customer_timeline`), newest first: sign-up, "
    "subscription lifecycle, payments, purchases, coupons, retention actions and support "
    "tickets, each with a short summary. Weekly engagement reports are left out (their trend is "
    "above). Amounts in the reporting currency at the event day's rate (and in minor units of "
    "the event's currency in the download): for a subscription event the net recurring price, "
    "for a payment the amount paid, failed, refunded or charged back."
)
PAYMENTS_HELP: Final = (
    "The customer's payment events, newest first: successful, failed (with the failure code and "
    "attempt), refunded and charged back, with the amount in the reporting currency. Net revenue "
    "= successful payments − refunds − chargebacks."
)
TICKETS_HELP: Final = (
    "The customer's support tickets, latest opened first: category, channel and priority when "
    "opened, resolution time and CSAT (1–5) when resolved."
)


def engagement_chart(frame: pd.DataFrame) -> alt.Chart:
    """Minutes watched in the 4 weeks to each month end (bars), sessions in the tooltip."""
    shown = frame.assign(month=pd.to_datetime(frame["month"]))
    tooltip = [
        alt.Tooltip("yearmonth(month):T", title="Month"),
        alt.Tooltip("minutes_watched_4w:Q", title="Minutes watched (4 weeks)", format=",.0f"),
    ]
    if "sessions_4w" in shown.columns:
        tooltip.append(alt.Tooltip("sessions_4w:Q", title="Sessions (4 weeks)", format=","))
    return (
        alt.Chart(shown)
        .mark_bar(color="#00838f")
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("minutes_watched_4w:Q", title="Minutes watched (4 weeks to month end)"),
            tooltip=tooltip,
        )
    )


def survival_chart(frame: pd.DataFrame, tenure_months: int | None, step: bool) -> alt.LayerChart:
    """Survival with its interval band over months since the first paid day; a dashed rule at
    the customer's tenure. `step`: draw a Kaplan–Meier step function."""
    interpolate = "step-after" if step else "linear"
    x = alt.X("t_months:Q", title="Months since the first paid day")
    band = (
        alt.Chart(frame)
        .mark_area(opacity=0.25, color="#1565c0", interpolate=interpolate)
        .encode(x=x, y=alt.Y("ci_lower:Q", title="Still paying"), y2="ci_upper:Q")
    )
    line = (
        alt.Chart(frame)
        .mark_line(color="#1565c0", interpolate=interpolate)
        .encode(
            x=x,
            y=alt.Y("survival:Q", title="Still paying", axis=alt.Axis(format="%")),
            tooltip=[
                alt.Tooltip("t_months:Q", title="Months", format=".1f"),
                alt.Tooltip("survival:Q", title="Survival", format=".1%"),
                alt.Tooltip("ci_lower:Q", title="95% low", format=".1%"),
                alt.Tooltip("ci_upper:Q", title="95% high", format=".1%"),
            ],
        )
    )
    layers: list[alt.Chart] = [band, line]
    if tenure_months is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"t_months": [tenure_months]}))
            .mark_rule(color="#c62828", strokeDash=[4, 4])
            .encode(x="t_months:Q")
        )
    return alt.layer(*layers)
