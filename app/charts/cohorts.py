"""Charts, frames and help texts of the "Cohorts & survival" page.

Help texts follow METRICS.md (the specification) ("Trials, payments, cohorts" and the published tables)
and the docstrings of ``models.curves`` / ``models.cohort`` for the models.
"""

from __future__ import annotations

from typing import Final

import altair as alt
import pandas as pd

COHORT_DEFINITION: Final = (
    "**Cohort** = month of a customer's first paid day (first day with customer MRR > 0). Month k "
    "(months since) is the k-th calendar month after the cohort month (k = 0 is the cohort month "
    "itself); its end is the month's last day, or the as-of date for the as-of month. Customers, "
    "not subscriptions, are counted."
)
LOGO_RETENTION: Final = (
    "**Logo retention** at month k = cohort customers paying at the end of month k ÷ cohort size. "
    "Month 0 can be below 100%: a customer who started paying and churned within the cohort month "
    "is not paying at its end."
)
REVENUE_RETENTION: Final = (
    "**Revenue retention** at month k = the cohort's MRR at the end of month k ÷ its MRR at the "
    "end of month 0 (each month end priced at its own day's rate). Above 100% means expansion and "
    "reactivation outweigh churn and contraction. Empty when the month-0 MRR is 0."
)
SEGMENT_SUMS: Final = (
    "With a platform, country or acquisition-channel selection, customers and MRR are summed over "
    "the selected segments (the customer's latest country, signup platform and acquisition "
    "channel, `unknown` when missing or erased) and the retention recomputed from the sums: a "
    "ratio is never averaged."
)
LOGO_HELP: Final = " ".join((COHORT_DEFINITION, LOGO_RETENTION, SEGMENT_SUMS))
REVENUE_HELP: Final = " ".join((COHORT_DEFINITION, REVENUE_RETENTION, SEGMENT_SUMS))
SURVIVAL_HELP: Final = (
    "**Kaplan–Meier survival** S(t): the share of customers still paying t days after their first "
    "paid day, tenure measured per customer from first paid day to churn or the as-of date "
    "(customers still active are censored there, not counted as churned). The band is the 95% "
    "confidence interval (exponential Greenwood). *At risk* is the number of customers followed "
    "for at least t days: where it is small the curve is noisy. A customer churns when their last "
    "active subscription ends. Segments with fewer than 30 customers have no curve."
)
PROJECTION_HELP: Final = (
    "**Cohort projection** with the shifted-beta-geometric (sBG) model (Fader & Hardie, 2007): "
    "each customer churns at the end of a monthly renewal period with a constant probability θ, "
    "and θ varies across the cohort as Beta(α, β), so retention falls ever more slowly (the risky "
    "leave first). Dots: the actual retention (share of the cohort still active after t whole "
    "months; only months the customers could have completed count). Line: the fitted projection "
    "to 36 months, with its 95% interval (band). Cohorts with fewer than 100 customers or 3 "
    "observed months are not projected."
)

SEGMENT_TYPE_LABELS: Final[dict[str, str]] = {
    "all": "All customers",
    "offer_type": "Offer type",
    "platform": "Platform",
    "country": "Country",
    "cohort_month": "Cohort month",
}
COHORT_TYPE_LABELS: Final[dict[str, str]] = {
    "signup_month": "Signup (cohort) month",
    "offer": "First offer",
}


def segment_type_label(key: str) -> str:
    return SEGMENT_TYPE_LABELS.get(key, key.replace("_", " ").capitalize())


def cohort_type_label(key: str) -> str:
    return COHORT_TYPE_LABELS.get(key, key.replace("_", " ").capitalize())


# --- Retention heatmaps ----------------------------------------------------------------------


def retention_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The data behind both heatmaps: cohort month, k, month, the sums and the two ratios."""
    out = df[
        [
            "cohort_month",
            "months_since",
            "month",
            "cohort_customers",
            "active_customers",
            "logo_retention",
            "mrr",
            "mrr_month0",
            "revenue_retention",
        ]
    ].copy()
    out["cohort_month"] = pd.to_datetime(out["cohort_month"]).dt.date
    out["month"] = pd.to_datetime(out["month"]).dt.date
    return out


def retention_heatmap(frame: pd.DataFrame, value: str, title: str) -> alt.LayerChart:
    """Cohort (rows, oldest first) × months since (columns), coloured by `value` with the
    percentage written in each cell."""
    shown = frame.assign(
        cohort=pd.to_datetime(frame["cohort_month"]).dt.strftime("%Y-%m"),
        label=frame[value].map(lambda v: "" if pd.isna(v) else f"{v:.0%}"),
    )
    cohorts = sorted(shown["cohort"].unique())
    base = alt.Chart(shown).encode(
        x=alt.X("months_since:O", title="Months since first paid month (k)"),
        y=alt.Y("cohort:O", title="Cohort", sort=cohorts),
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            f"{value}:Q",
            title=title,
            scale=alt.Scale(scheme="blues", domainMin=0),
            legend=alt.Legend(format="%", orient="right"),
        ),
        tooltip=[
            alt.Tooltip("cohort:O", title="Cohort"),
            alt.Tooltip("months_since:O", title="Month k"),
            alt.Tooltip(f"{value}:Q", title=title, format=".1%"),
            alt.Tooltip("cohort_customers:Q", title="Cohort customers", format=","),
            alt.Tooltip("active_customers:Q", title="Paying at end of month k", format=","),
            alt.Tooltip("mrr:Q", title="MRR at end of month k", format=",.2f"),
        ],
    )
    text = base.mark_text(fontSize=9).encode(
        text="label:N",
        color=alt.condition(alt.datum[value] > 0.6, alt.value("white"), alt.value("#212121")),
    )
    return alt.layer(cells, text).properties(height=max(160, 18 * len(cohorts)))


# --- Kaplan–Meier ----------------------------------------------------------------------------


def survival_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Step curves of S(t) per segment with their confidence bands."""
    domain = list(dict.fromkeys(frame["segment"]))
    color = alt.Color(
        "segment:N", title=None, scale=alt.Scale(domain=domain), legend=alt.Legend(orient="bottom")
    )
    base = alt.Chart(frame).encode(x=alt.X("t_days:Q", title="Days since first paid day"))
    band = base.mark_area(opacity=0.15, interpolate="step-after").encode(
        y=alt.Y("ci_lower:Q", title="Share still paying", axis=alt.Axis(format="%")),
        y2="ci_upper:Q",
        color=color,
    )
    line = base.mark_line(interpolate="step-after").encode(
        y=alt.Y("survival:Q", scale=alt.Scale(zero=False)),
        color=color,
        tooltip=[
            alt.Tooltip("segment:N", title="Segment"),
            alt.Tooltip("t_days:Q", title="Day"),
            alt.Tooltip("survival:Q", title="Survival", format=".1%"),
            alt.Tooltip("ci_lower:Q", title="95% low", format=".1%"),
            alt.Tooltip("ci_upper:Q", title="95% high", format=".1%"),
            alt.Tooltip("at_risk:Q", title="At risk", format=","),
        ],
    )
    return alt.layer(band, line)


# --- sBG projections -------------------------------------------------------------------------


def projection_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Projected retention (line and interval band) against the actual retention (dots)."""
    domain = list(dict.fromkeys(frame["cohort"]))
    color = alt.Color(
        "cohort:N", title=None, scale=alt.Scale(domain=domain), legend=alt.Legend(orient="bottom")
    )
    x = alt.X("period:Q", title="Months since first paid day")
    base = alt.Chart(frame).encode(x=x, color=color)
    band = base.mark_area(opacity=0.15).encode(
        y=alt.Y("ci_lower:Q", title="Retention", axis=alt.Axis(format="%")), y2="ci_upper:Q"
    )
    projected = base.mark_line(strokeDash=[4, 3]).encode(
        y="projected_retention:Q",
        tooltip=[
            alt.Tooltip("cohort:N", title="Cohort"),
            alt.Tooltip("period:Q", title="Month"),
            alt.Tooltip("projected_retention:Q", title="Projected", format=".1%"),
            alt.Tooltip("ci_lower:Q", title="95% low", format=".1%"),
            alt.Tooltip("ci_upper:Q", title="95% high", format=".1%"),
            alt.Tooltip("actual_retention:Q", title="Actual", format=".1%"),
        ],
    )
    actual = (
        alt.Chart(frame[frame["actual_retention"].notna()])
        .mark_point(filled=True, size=30)
        .encode(
            x=x,
            y="actual_retention:Q",
            color=color,
            tooltip=[
                alt.Tooltip("cohort:N", title="Cohort"),
                alt.Tooltip("period:Q", title="Month"),
                alt.Tooltip("actual_retention:Q", title="Actual", format=".1%"),
                alt.Tooltip("projected_retention:Q", title="Projected", format=".1%"),
            ],
        )
    )
    return alt.layer(band, projected, actual)
