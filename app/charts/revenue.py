"""Altair charts of the "Revenue & payments" page.

Chart builders take the small, aggregated frames of :mod:`app.data.revenue`, the same frames
the page offers as CSV downloads; the help texts are in :mod:`app.metric_help`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import MONTH_AXIS, ONE_TIME_TYPES, currency_unit, labelled


def revenue_trend_chart(
    frame: pd.DataFrame, column: str, title: str, currency: str | None
) -> alt.Chart:
    """Net cash revenue per month, stacked by the values of `column` (biggest at the bottom)."""
    order = list(frame.groupby(column)["net_cash_revenue"].sum().sort_values(ascending=False).index)
    shown = labelled(frame).assign(order=lambda f: f[column].map(order.index))
    unit = currency_unit(currency)
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=MONTH_AXIS),
            y=alt.Y("net_cash_revenue:Q", title=f"Net cash revenue{unit}", stack="zero"),
            color=alt.Color(
                f"{column}:N", title=title, sort=order, legend=alt.Legend(orient="bottom")
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip(f"{column}:N", title=title),
                alt.Tooltip("net_cash_revenue:Q", title=f"Net cash revenue{unit}", format=",.2f"),
                alt.Tooltip("payments:Q", title=f"Payments{unit}", format=",.2f"),
                alt.Tooltip("refunds:Q", title=f"Refunds{unit}", format=",.2f"),
                alt.Tooltip("chargebacks:Q", title=f"Chargebacks{unit}", format=",.2f"),
            ],
        )
    )


def revenue_breakdown_chart(
    frame: pd.DataFrame, column: str, title: str, currency: str | None
) -> alt.Chart:
    """The period's net cash revenue per value of `column` (horizontal bars, most first)."""
    unit = currency_unit(currency)
    return (
        alt.Chart(frame)
        .mark_bar(color="#1565c0")
        .encode(
            y=alt.Y(f"{column}:N", sort=list(frame[column]), title=None),
            x=alt.X("net_cash_revenue:Q", title=f"Net cash revenue{unit}"),
            tooltip=[
                alt.Tooltip(f"{column}:N", title=title),
                alt.Tooltip("net_cash_revenue:Q", title=f"Net cash revenue{unit}", format=",.2f"),
                alt.Tooltip("share_of_net_revenue:Q", title="Share", format=".1%"),
                alt.Tooltip("payments:Q", title=f"Payments{unit}", format=",.2f"),
                alt.Tooltip("reversed_share:Q", title="Refunded or charged back", format=".2%"),
            ],
        )
    )


#: Offer types of one-time purchases → label.
def one_time_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """One-time revenue per month, stacked by offer type."""
    unit = currency_unit(currency)
    shown = labelled(frame).assign(kind=frame["offer_type"].map(lambda t: ONE_TIME_TYPES.get(t, t)))
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=MONTH_AXIS),
            y=alt.Y("one_time_revenue:Q", title=f"One-time revenue{unit}", stack="zero"),
            color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("kind:N", title="Offer type"),
                alt.Tooltip("purchases:Q", title="Purchases", format=","),
                alt.Tooltip("one_time_revenue:Q", title=f"One-time revenue{unit}", format=",.2f"),
            ],
        )
    )


#: Reversal columns → (label, colour).
REVERSALS: dict[str, tuple[str, str]] = {
    "refunds": ("Refunds", "#ef6c00"),
    "chargebacks": ("Chargebacks", "#c62828"),
}


def reversals_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """Refunds and chargebacks per month (stacked amounts), counts and share in the tooltip."""
    unit = currency_unit(currency)
    long = labelled(frame).melt(
        id_vars=["label", "reversed_share"],
        value_vars=list(REVERSALS),
        var_name="column",
        value_name="amount",
    )
    counts = pd.concat(
        [frame["refunds_count"], frame["chargebacks_count"]], ignore_index=True
    ).astype("int64")
    long = long.assign(
        kind=long["column"].map(lambda c: REVERSALS[c][0]),
        count=counts,
        order=long["column"].map(list(REVERSALS).index),
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=MONTH_AXIS),
            y=alt.Y("amount:Q", title=f"Refunded or charged back{unit}", stack="zero"),
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(
                    domain=[v[0] for v in REVERSALS.values()],
                    range=[v[1] for v in REVERSALS.values()],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("kind:N", title="Kind"),
                alt.Tooltip("amount:Q", title=f"Amount{unit}", format=",.2f"),
                alt.Tooltip("count:Q", title="Count", format=","),
                alt.Tooltip("reversed_share:Q", title="Share of payments (both)", format=".2%"),
            ],
        )
    )


def recovery_trend_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Failed renewals per month split into recovered / not (yet) recovered bars, with the
    recovery rate as a line on its own axis."""
    base = labelled(frame)
    long = base.assign(not_recovered=base["failed_renewals"] - base["recovered"]).melt(
        id_vars=["label", "failed_renewals", "recovery_rate"],
        value_vars=["recovered", "not_recovered"],
        var_name="column",
        value_name="renewals",
    )
    names = {"recovered": "Recovered", "not_recovered": "Not recovered (yet)"}
    long = long.assign(
        outcome=long["column"].map(names), order=long["column"].map(list(names).index)
    )
    x = alt.X("label:O", title=None, axis=MONTH_AXIS)
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("renewals:Q", title="Failed renewals", stack="zero"),
            color=alt.Color(
                "outcome:N",
                title=None,
                scale=alt.Scale(domain=list(names.values()), range=["#2e7d32", "#ef9a9a"]),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("renewals:Q", title="Failed renewals", format=","),
                alt.Tooltip("recovery_rate:Q", title="Recovery rate", format=".1%"),
            ],
        )
    )
    line = (
        alt.Chart(base[["label", "recovery_rate", "failed_renewals", "recovered"]])
        .mark_line(color="#212121", point=alt.OverlayMarkDef(color="#212121"))
        .encode(
            x=x,
            y=alt.Y(
                "recovery_rate:Q",
                title="Recovery rate",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("recovery_rate:Q", title="Recovery rate", format=".1%"),
                alt.Tooltip("recovered:Q", title="Recovered", format=","),
                alt.Tooltip("failed_renewals:Q", title="Failed renewals", format=","),
            ],
        )
    )
    return alt.layer(bars, line).resolve_scale(y="independent")


def recovery_codes_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Failure code × provider heatmap: colour = recovery rate, text = failed renewals."""
    codes = list(frame.groupby("failure_code")["failed_renewals"].sum().sort_values().index[::-1])
    providers = list(frame.groupby("provider")["failed_renewals"].sum().sort_values().index[::-1])
    base = alt.Chart(frame).encode(
        x=alt.X("provider:N", sort=providers, title="Provider"),
        y=alt.Y("failure_code:N", sort=codes, title="Failure code"),
        tooltip=[
            alt.Tooltip("failure_code:N", title="Failure code"),
            alt.Tooltip("provider:N", title="Provider"),
            alt.Tooltip("failed_renewals:Q", title="Failed renewals", format=","),
            alt.Tooltip("recovered:Q", title="Recovered", format=","),
            alt.Tooltip("recovery_rate:Q", title="Recovery rate", format=".1%"),
        ],
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "recovery_rate:Q",
            title="Recovery rate",
            scale=alt.Scale(scheme="redyellowgreen", domain=[0, 1]),
            legend=alt.Legend(format="%"),
        )
    )
    text = base.mark_text(color="#212121").encode(text=alt.Text("failed_renewals:Q", format=","))
    return alt.layer(cells, text)


#: Retention horizons of ``marts.offer_performance`` → label.
