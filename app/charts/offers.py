"""Altair charts of the "Offers & coupons" page.

Chart builders take the small, aggregated frames of :mod:`app.data.offers`, the same frames
the page offers as CSV downloads; the help texts are in :mod:`app.metric_help`.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import MONTH_AXIS, ONE_TIME_TYPES, currency_unit, labelled

RETENTION_HORIZONS: dict[str, str] = {
    "retention_1m": "1 month",
    "retention_3m": "3 months",
    "retention_6m": "6 months",
}


def retention_chart(frame: pd.DataFrame) -> alt.Chart:
    """Retention at 1, 3 and 6 months per offer (grouped horizontal bars)."""
    long = frame.melt(
        id_vars=["offer_id", "title"],
        value_vars=list(RETENTION_HORIZONS),
        var_name="column",
        value_name="retention",
    )
    eligible = pd.concat(
        [frame[f"{c}_eligible"] for c in RETENTION_HORIZONS], ignore_index=True
    ).astype("int64")
    long = long.assign(horizon=long["column"].map(RETENTION_HORIZONS), eligible=eligible)
    return (
        alt.Chart(long.dropna(subset=["retention"]))
        .mark_bar()
        .encode(
            y=alt.Y(
                "title:N", sort=list(frame["title"]), title=None, axis=alt.Axis(labelLimit=260)
            ),
            yOffset=alt.YOffset("horizon:N", sort=list(RETENTION_HORIZONS.values())),
            x=alt.X("retention:Q", title="Retention", axis=alt.Axis(format="%")),
            color=alt.Color(
                "horizon:N",
                title=None,
                sort=list(RETENTION_HORIZONS.values()),
                scale=alt.Scale(range=["#90caf9", "#1e88e5", "#0d47a1"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("offer_id:N", title="Offer"),
                alt.Tooltip("horizon:N", title="After"),
                alt.Tooltip("retention:Q", title="Retention", format=".1%"),
                alt.Tooltip("eligible:Q", title="Eligible subscriptions", format=","),
            ],
        )
    )


def one_time_offers_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """One-time revenue per one-time offer (horizontal bars, most first)."""
    unit = currency_unit(currency)
    shown = frame.assign(kind=frame["offer_type"].map(lambda t: ONE_TIME_TYPES.get(t, t)))
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y(
                "title:N", sort=list(frame["title"]), title=None, axis=alt.Axis(labelLimit=260)
            ),
            x=alt.X("one_time_revenue:Q", title=f"One-time revenue{unit}"),
            color=alt.Color("kind:N", title=None, legend=alt.Legend(orient="bottom")),
            tooltip=[
                alt.Tooltip("offer_id:N", title="Offer"),
                alt.Tooltip("kind:N", title="Offer type"),
                alt.Tooltip("purchases:Q", title="Purchases", format=","),
                alt.Tooltip("one_time_revenue:Q", title=f"One-time revenue{unit}", format=",.2f"),
            ],
        )
    )


def coupon_label(frame: pd.DataFrame) -> pd.Series:
    """``COUPON · campaign`` (the coupon alone without a campaign)."""
    return (
        frame["coupon_id"]
        .astype(str)
        .where(
            frame["campaign_id"].isna() | (frame["campaign_id"] == "none"),
            frame["coupon_id"].astype(str) + " · " + frame["campaign_id"].astype(str),
        )
    )


#: Coupon outcomes → label.
COUPON_OUTCOMES: dict[str, str] = {
    "churn_rate_90d": "Churned within 90 days",
    "retention_3m": "Retained at 3 months",
}


def coupon_outcomes_chart(frame: pd.DataFrame) -> alt.Chart:
    """Churn within 90 days and retention at 3 months per coupon × campaign."""
    labelled = frame.assign(coupon=coupon_label(frame))
    long = labelled.melt(
        id_vars=["coupon", "redemptions", "redemptions_90d_observable"],
        value_vars=list(COUPON_OUTCOMES),
        var_name="column",
        value_name="share",
    ).dropna(subset=["share"])
    long = long.assign(outcome=long["column"].map(COUPON_OUTCOMES))
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("coupon:N", sort=list(labelled["coupon"]), title=None),
            yOffset=alt.YOffset("outcome:N", sort=list(COUPON_OUTCOMES.values())),
            x=alt.X("share:Q", title="Share of redemptions", axis=alt.Axis(format="%")),
            color=alt.Color(
                "outcome:N",
                title=None,
                sort=list(COUPON_OUTCOMES.values()),
                scale=alt.Scale(range=["#c62828", "#2e7d32"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("coupon:N", title="Coupon"),
                alt.Tooltip("outcome:N", title="Outcome"),
                alt.Tooltip("share:Q", title="Share", format=".1%"),
                alt.Tooltip("redemptions:Q", title="Redemptions", format=","),
                alt.Tooltip(
                    "redemptions_90d_observable:Q", title="At least 90 days old", format=","
                ),
            ],
        )
    )


def coupon_expiry_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """MRR during and after the coupon per coupon × campaign (grouped horizontal bars)."""
    unit = currency_unit(currency)
    labelled = frame.assign(coupon=coupon_label(frame))
    names = {"mrr_during_coupon": "During the coupon", "mrr_after_coupon": "After it ended"}
    long = labelled.melt(
        id_vars=["coupon", "expired_while_live", "mrr_after_to_during_ratio"],
        value_vars=list(names),
        var_name="column",
        value_name="mrr",
    )
    long = long.assign(when=long["column"].map(names))
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("coupon:N", sort=list(labelled["coupon"]), title=None),
            yOffset=alt.YOffset("when:N", sort=list(names.values())),
            x=alt.X("mrr:Q", title=f"MRR{unit}"),
            color=alt.Color(
                "when:N",
                title=None,
                sort=list(names.values()),
                scale=alt.Scale(range=["#ffb74d", "#1565c0"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("coupon:N", title="Coupon"),
                alt.Tooltip("when:N", title="MRR"),
                alt.Tooltip("mrr:Q", title=f"MRR{unit}", format=",.2f"),
                alt.Tooltip("expired_while_live:Q", title="Expired while live", format=","),
                alt.Tooltip("mrr_after_to_during_ratio:Q", title="After ÷ during", format=".2f"),
            ],
        )
    )


def trial_trend_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Trials ended per month (bars) and the trial conversion rate (line, own axis)."""
    base = labelled(frame)
    x = alt.X("label:O", title="Trial end month", axis=MONTH_AXIS)
    tooltip = [
        alt.Tooltip("label:O", title="Month"),
        alt.Tooltip("trials_ended:Q", title="Trials ended", format=","),
        alt.Tooltip("converted:Q", title="Converted", format=","),
        alt.Tooltip("conversion_rate:Q", title="Conversion rate", format=".1%"),
    ]
    bars = (
        alt.Chart(base)
        .mark_bar(color="#bbdefb")
        .encode(x=x, y=alt.Y("trials_ended:Q", title="Trials ended"), tooltip=tooltip)
    )
    line = (
        alt.Chart(base)
        .mark_line(color="#1565c0", point=alt.OverlayMarkDef(color="#1565c0"))
        .encode(
            x=x,
            y=alt.Y(
                "conversion_rate:Q",
                title="Trial conversion rate",
                axis=alt.Axis(format="%"),
                scale=alt.Scale(domain=[0, 1]),
            ),
            tooltip=tooltip,
        )
    )
    return alt.layer(bars, line).resolve_scale(y="independent")
