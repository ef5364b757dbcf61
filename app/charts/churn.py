"""Charts of the Churn page: churn rates, churn types, cancellation reasons and scheduled
churn."""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import currency_unit, rate_lines_chart

#: Churn rate column → label, in legend order.
CHURN_RATES: dict[str, str] = {
    "customer_churn_rate": "Customer churn rate",
    "gross_mrr_churn_rate": "Gross MRR churn rate",
}
#: Churned customers by churn type: column → (label, colour), stacked in this order.
CHURN_TYPES: dict[str, tuple[str, str]] = {
    "voluntary_churned_customers": ("Voluntary", "#c62828"),
    "involuntary_churned_customers": ("Involuntary", "#ffb74d"),
}
#: ``churn_type`` values of ``marts.churn_reasons_monthly`` → (label, colour).
CHURN_TYPE_VALUES: dict[str, tuple[str, str]] = {
    "voluntary": CHURN_TYPES["voluntary_churned_customers"],
    "involuntary": CHURN_TYPES["involuntary_churned_customers"],
}


def churn_rates_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Month, customer churn rate and gross MRR churn rate: the data behind the rates chart."""
    out = df[["month", *CHURN_RATES]].copy()
    out["month"] = out["month"].dt.date
    return out


def churn_rates_chart(frame: pd.DataFrame) -> alt.Chart:
    return rate_lines_chart(frame, CHURN_RATES)


def churn_types_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Month, churned customers, voluntary and involuntary churned customers, and first-month
    churners: the data behind the churn type chart."""
    cols = [
        "churned_customers",
        *CHURN_TYPES,
        "churned_in_first_month_customers",
    ]
    out = df[["month", *cols]].copy()
    out["month"] = out["month"].dt.date
    out[cols] = out[cols].astype("int64")
    return out


def churn_types_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="month", value_vars=list(CHURN_TYPES), var_name="column", value_name="customers"
    )
    long["churn_type"] = long["column"].map(lambda c: CHURN_TYPES[c][0])
    long["order"] = long["column"].map(list(CHURN_TYPES).index)
    long["label"] = pd.to_datetime(long["month"]).dt.strftime("%Y-%m")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("sum(customers):Q", title="Churned customers", stack="zero"),
            color=alt.Color(
                "churn_type:N",
                title=None,
                scale=alt.Scale(
                    domain=[v[0] for v in CHURN_TYPES.values()],
                    range=[v[1] for v in CHURN_TYPES.values()],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("churn_type:N", title="Churn"),
                alt.Tooltip("sum(customers):Q", title="Churned customers", format=","),
            ],
        )
    )


def churn_reasons_chart(frame: pd.DataFrame) -> alt.Chart:
    """Churned customers per cancellation reason (horizontal bars, most first), stacked by
    voluntary / involuntary; initiated by in the tooltip.

    ``frame`` has ``reason``, ``initiated_by``, ``churn_type`` and ``churned_customers``.
    """
    order = list(
        frame.groupby("reason")["churned_customers"].sum().sort_values(ascending=False).index
    )
    known = [t for t in CHURN_TYPE_VALUES if t in set(frame["churn_type"])]
    others = sorted(set(frame["churn_type"]) - set(CHURN_TYPE_VALUES))
    shown = frame.assign(
        churn=frame["churn_type"].map(lambda t: CHURN_TYPE_VALUES.get(t, (t, ""))[0])
    )
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y("reason:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("sum(churned_customers):Q", title="Churned customers", stack="zero"),
            color=alt.Color(
                "churn:N",
                title=None,
                scale=alt.Scale(
                    domain=[CHURN_TYPE_VALUES[t][0] for t in known] + others,
                    range=[CHURN_TYPE_VALUES[t][1] for t in known] + ["#9e9e9e"] * len(others),
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("initiated_by:N", title="Initiated by"),
                alt.Tooltip("churn:N", title="Churn"),
                alt.Tooltip("sum(churned_customers):Q", title="Churned customers", format=","),
            ],
        )
    )


def scheduled_churn_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """MRR at stake of the pending cancellations per month they take effect (months with a
    date only), with the number of subscriptions and customers in the tooltip."""
    unit = currency_unit(currency)
    dated = frame[frame["month"].notna()]
    shown = dated.assign(label=pd.to_datetime(dated["month"]).dt.strftime("%Y-%m"))
    return (
        alt.Chart(shown)
        .mark_bar(color="#ef6c00")
        .encode(
            x=alt.X("label:O", title="Takes effect", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("mrr_at_stake:Q", title=f"MRR at stake{unit}"),
            tooltip=[
                alt.Tooltip("label:O", title="Takes effect"),
                alt.Tooltip("subscriptions:Q", title="Pending cancellations", format=","),
                alt.Tooltip("churning_customers:Q", title="Customers churning", format=","),
                alt.Tooltip("mrr_at_stake:Q", title=f"MRR at stake{unit}", format=",.2f"),
            ],
        )
    )
