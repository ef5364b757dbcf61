"""Help texts and Altair charts of the "Revenue & payments" and "Offers & coupons" pages.

Help texts follow /work/shared/METRICS.md ("Revenue, ARPU, LTV", "Trials, payments, cohorts")
and the dbt doc blocks and model headers of the marts they describe; they are Markdown. Chart
builders take the small, aggregated frames of :mod:`app.data_commerce`, the same frames the pages
offer as CSV downloads.
"""

from __future__ import annotations

from typing import Final

import altair as alt
import pandas as pd

from app import formatting as fmt
from app.components import Kpi

# --- Help texts -----------------------------------------------------------------------------

_CASH: Final = (
    "**Revenue (cash)** = successful payments − refunds − chargebacks, by offer type, platform, "
    "provider, country. Each amount is converted at the rate of its own day (reporting "
    "currency). A refund or chargeback is dated when it happened and attributed to the offer "
    "type, platform and provider of the payment it reverses."
)
_RECOVERY: Final = (
    "**Payment recovery**: a failed renewal is recovered when a successful payment for the same "
    "subscription follows within the dunning window (default 14 days). Recovery rate = "
    "recovered ÷ failed renewals (first failures), and recovered MRR."
)
_FIRST_FAILURE: Final = (
    "A failed renewal is a first failure: a `payment.failed` with `attempt` = 1 on a "
    "subscription (retries are attempts 2, 3, ...), counted in the month of the failure."
)
_TRIALS: Final = (
    "**Trial conversion rate** = trials whose first paid period started ÷ trials that ended, by "
    "trial end month. A trial ends at its trial end, or earlier when the subscription ends first "
    "(not converted); trials not ended by the as-of date are not counted yet. Over several "
    "offers or months the rate is recomputed from the sums, never averaged."
)
_AS_OF: Final = "Figures are as of the data's watermark (the latest event loaded)."

#: KPI and column help texts, by metric column.
COMMERCE_DEFINITIONS: Final[dict[str, str]] = {
    "net_cash_revenue": _CASH,
    "payments": (
        "**Successful payments**: the month's `payment.succeeded` amounts (subscriptions and "
        "one-time purchases), each converted at the rate of its day."
    ),
    "one_time_revenue": (
        "**One-time revenue**: `purchase.completed` amounts (passes, live pay-per-view, TVOD), "
        "converted at the purchase day's rate. Not MRR. A view on the one-time part of the "
        "revenue: the payments of these purchases are already in the successful payments, so it "
        "is not added to the net cash revenue again."
    ),
    "refunds_and_chargebacks": (
        "**Refunds + chargebacks**: refunded and charged-back amounts, dated when they happened, "
        "each at the rate of its day, attributed to the segment of the payment they reverse. "
        "They are subtracted from the successful payments in the cash revenue."
    ),
    "reversed_share": (
        "**Share of payments refunded or charged back** = (refunds + chargebacks) ÷ successful "
        "payments of the same month, as amounts. A month's refunds may reverse payments of "
        "earlier months."
    ),
    "failed_renewals": "**Failed renewals**: " + _FIRST_FAILURE,
    "recovered": (
        "**Recovered**: failed renewals followed by a successful payment for the same "
        "subscription within the dunning window (default 14 days)."
    ),
    "recovery_rate": (
        "**Recovery rate** = recovered ÷ failed renewals (first failures), by month of the "
        "first failure; over several months, codes or providers recomputed from the sums. A "
        "month with open dunning windows can still rise."
    ),
    "recovered_mrr": (
        "**Recovered MRR**: the subscriptions' MRR on the failure day (priced at that day's "
        "rate) over the recovered failed renewals."
    ),
    "failed_mrr": (
        "**Failed MRR**: the subscriptions' MRR on the failure day over all failed renewals "
        "(the MRR put at risk)."
    ),
    "cancelled_during_dunning": (
        "**Cancelled during dunning**: failed renewals with a customer-initiated cancellation "
        "between the failure and the recovery (or the end of the window); such a churn is "
        "voluntary."
    ),
    "open_windows": (
        "**Open windows**: failed renewals not yet recovered whose dunning window ends after the "
        "as-of date (the month's recovery rate can still rise)."
    ),
    "subscriptions_started": (
        "**Subscriptions started** with the offers (by the offer each subscription started "
        "with, so upgrades do not move a subscriber's history between offers). " + _AS_OF
    ),
    "active_now": (
        "**Active now**: subscriptions started with the offers still live at the as-of date "
        "(trialing, active or paused)."
    ),
    "trial_conversion_rate": (
        "**Trial conversion rate** (offers) = conversions ÷ trials: of the subscriptions started "
        "with a trial, those whose first paid period started. Trials still running count among "
        "the trials, not yet among the conversions. Over several offers recomputed from the sums."
    ),
    "retention_3m": (
        "**Retention at 3 months** = share of the subscriptions started at least 3 months before "
        "the as-of date that were still live (not ended; paused counts as live) 3 months after "
        "their start. Over several offers recomputed from the sums (retained ÷ eligible)."
    ),
    "current_mrr": (
        "**Current MRR** of the subscriptions started with the offers, wherever they are now "
        "(MRR as defined on the MRR page: recurring net price normalised to one month, paying "
        "subscriptions only). " + _AS_OF
    ),
    "trials_ended": "**Trials ended** in the month (by the as-of date). " + _TRIALS,
    "conversion_rate": _TRIALS,
}

REVENUE_KPIS_HELP: Final = _CASH

REVENUE_SEGMENTS_HELP: Final = (
    "The period's revenue per value of the chosen dimension: successful payments, refunds, "
    "chargebacks, net cash revenue and its share of the total, and the share of payments "
    "refunded or charged back. " + _CASH + " Platform is the subscription's or purchase's; "
    "provider is the payment's (for a refund or chargeback, the reversed payment's); country "
    "is the customer's latest (`unknown` when missing or erased)."
)

REVENUE_TREND_HELP: Final = (
    "Net cash revenue per month, stacked by the chosen dimension (the values with the most net "
    "cash revenue over the period; the rest summed as *other*). " + _CASH
)

ONE_TIME_HELP: Final = (
    COMMERCE_DEFINITIONS["one_time_revenue"]
    + " Purchases are the `purchase.completed` events of the month."
)

REVERSALS_HELP: Final = (
    "Refunds and chargebacks per month: amounts, counts and their share of the month's "
    "successful payments. "
    + COMMERCE_DEFINITIONS["refunds_and_chargebacks"]
    + " "
    + COMMERCE_DEFINITIONS["reversed_share"]
)

RECOVERY_TREND_HELP: Final = (
    "Failed renewals per month of the first failure, recovered or not, and the recovery rate. "
    + _RECOVERY
    + " "
    + _FIRST_FAILURE
    + " Recovered MRR = the subscription's MRR on the failure day (priced at that day's rate) "
    "for the recovered ones; a failure whose window is still open at the as-of date and not yet "
    "recovered counts in *open windows* (the latest month's rate can still rise)."
)

RECOVERY_CODES_HELP: Final = (
    "Failed renewals of the period by the first failure's code and payment provider (`unknown` "
    "when missing), with the recovery rate recomputed from the sums. " + _RECOVERY
)

OFFERS_HELP: Final = (
    "One row per offer. Subscription figures follow the offer the subscription **started** with "
    "(upgrades do not move a subscriber's history between offers): subscriptions started, "
    "trials (started with a trial), conversions (trials whose first paid period started), "
    "active now (still live: trialing, active or paused), churned (ended). Retention at k "
    "months = share of the subscriptions started at least k months before the as-of date that "
    "were still live (not ended; paused counts as live) k months after their start, with its "
    "eligible count (the denominator). Current MRR is the MRR of the subscriptions started with "
    "the offer wherever they are now; *MRR on the offer now* that of the subscriptions currently "
    "on it. One-time offers (pass, live PPV, TVOD) have purchases and one-time revenue instead. "
    + _AS_OF
)

RETENTION_HELP: Final = (
    "Retention at 1, 3 and 6 months of the offers with the most subscriptions started: share "
    "of the subscriptions started at least k months before the as-of date that were still live "
    "(not ended; paused counts as live) k months after their start. The tooltip gives the "
    "eligible count (the denominator)."
)

ONE_TIME_OFFERS_HELP: Final = (
    "One-time offers (passes, live pay-per-view, TVOD) with the most one-time revenue: "
    "purchases and one-time revenue. " + COMMERCE_DEFINITIONS["one_time_revenue"]
)

COUPONS_HELP: Final = (
    "One row per coupon × campaign (`none` without a campaign). A redemption is a "
    "`coupon.redeemed` (or a subscription started with a coupon and no redemption event). "
    "**Churn within 90 days**: the subscription ended within 90 days after the redemption, "
    "among redemptions at least 90 days before the as-of date. **Retention at 3 months**: "
    "still live (not ended) 3 months after the redemption, among redemptions at least 3 months "
    "old. **Coupon expiry**: for coupons whose scheduled end is on or before the as-of date "
    "while the subscription was live, the subscription's MRR the day before the end (during "
    "the coupon) and on the end day (after), both priced at the end day's rate, so FX does not "
    "blur the price effect. " + _AS_OF
)

COUPON_EXPIRY_HELP: Final = (
    "MRR of the subscriptions whose coupon ended while they were live: the day before the end "
    "(during the coupon) and on the end day (after), both priced at the end day's rate. After ÷ "
    "during above 1 means the full price brought more MRR than the discount lost to churn at "
    "expiry. " + _AS_OF
)

TRIAL_TREND_HELP: Final = _TRIALS

TRIAL_OFFERS_HELP: Final = (
    "Trials that ended in the period and their conversions per offer (the offer the "
    "subscription started with). " + _TRIALS
)


# --- Charts ---------------------------------------------------------------------------------

_MONTH_AXIS = alt.Axis(labelAngle=-45)


def _unit(currency: str | None) -> str:
    return f" ({currency})" if currency else ""


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(label=pd.to_datetime(frame["month"]).dt.strftime("%Y-%m"))


def month_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`month` (as a date) and `columns` of a monthly frame: what a chart plots and a download
    holds."""
    out = df[["month", *columns]].copy()
    out["month"] = pd.to_datetime(out["month"]).dt.date
    return out.reset_index(drop=True)


def revenue_trend_chart(
    frame: pd.DataFrame, column: str, title: str, currency: str | None
) -> alt.Chart:
    """Net cash revenue per month, stacked by the values of `column` (biggest at the bottom)."""
    order = list(frame.groupby(column)["net_cash_revenue"].sum().sort_values(ascending=False).index)
    shown = _labelled(frame).assign(order=lambda f: f[column].map(order.index))
    unit = _unit(currency)
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=_MONTH_AXIS),
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
    unit = _unit(currency)
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
ONE_TIME_TYPES: dict[str, str] = {"pass": "Pass", "live_ppv": "Live pay-per-view", "tvod": "TVOD"}


def one_time_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """One-time revenue per month, stacked by offer type."""
    unit = _unit(currency)
    shown = _labelled(frame).assign(
        kind=frame["offer_type"].map(lambda t: ONE_TIME_TYPES.get(t, t))
    )
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=_MONTH_AXIS),
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
    unit = _unit(currency)
    long = _labelled(frame).melt(
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
            x=alt.X("label:O", title=None, axis=_MONTH_AXIS),
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
    base = _labelled(frame)
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
    x = alt.X("label:O", title=None, axis=_MONTH_AXIS)
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
    unit = _unit(currency)
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
    unit = _unit(currency)
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
    base = _labelled(frame)
    x = alt.X("label:O", title="Trial end month", axis=_MONTH_AXIS)
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


# --- KPIs -----------------------------------------------------------------------------------


def commerce_kpis(
    specs: tuple[tuple[str, str, str], ...],
    current: pd.Series,
    previous: pd.Series | None,
    currency: str | None = None,
    lower_is_better: frozenset[str] = frozenset(),
) -> list[Kpi]:
    """A month's KPIs (label, column, kind: money / count / rate) with their change against
    the previous month and the help texts of :data:`COMMERCE_DEFINITIONS`; like
    :func:`app.components.month_kpis`, whose help texts are the shared MRR definitions."""
    kpis = []
    for label, column, kind in specs:
        value = current.get(column)
        before = None if previous is None else previous.get(column)
        if kind == "money":
            shown, delta = fmt.money(value, currency), fmt.money_delta(value, before, currency)
        elif kind == "count":
            shown, delta = fmt.count(value), fmt.count_delta(value, before)
        else:
            shown, delta = fmt.percent(value), fmt.rate_delta_pp(value, before)
        unchanged = not (fmt.is_missing(value) or fmt.is_missing(before)) and value == before
        kpis.append(
            Kpi(
                label,
                shown,
                delta,
                COMMERCE_DEFINITIONS[column],
                column in lower_is_better,
                unchanged,
            )
        )
    return kpis
