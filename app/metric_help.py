"""Metric definitions and the help texts built on them, shown as "how is this computed"
tooltips of the MRR, churn, at-risk, revenue and offers pages (the other pages keep theirs
beside their charts, :mod:`app.charts`).

The wording follows METRICS.md (the specification), which is also what the dbt doc blocks carry; keep
the three in step. Pages look definitions up by metric column name (``DEFINITIONS["mrr"]``,
``COMMERCE_DEFINITIONS["net_cash_revenue"]``) so KPIs, charts and tables reuse one text.
Values are Markdown (Streamlit renders help tooltips as Markdown).
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
    "gross_mrr_churn_rate": (
        "**Gross MRR churn rate** = −(churn + contraction MRR) ÷ MRR at start of month: the share "
        "of the month's starting MRR lost to customers who left or paid less, before any expansion "
        "or reactivation."
    ),
    "churned_in_first_month_customers": (
        "**First-month churners**: new customers who churned in their first month. They were not "
        "active at the start of the month, so they are not in the customer churn rate; they are "
        "counted separately and shown, not hidden."
    ),
    "churned_customers": (
        "**Churned customers**: customers whose last active subscription ended in the month (ending "
        "one of several subscriptions is contraction), including first-month churners."
    ),
    "churn_type": (
        "**Voluntary vs involuntary**: the churn is involuntary when the subscription ended for "
        "`payment_failed` and no customer-initiated cancellation was requested before; a customer "
        "who cancels during dunning churned voluntarily."
    ),
}


CHURN_RATES_HELP: Final = (
    "Monthly customer churn rate and gross MRR churn rate. "
    + DEFINITIONS["customer_churn_rate"]
    + " "
    + DEFINITIONS["gross_mrr_churn_rate"]
)

CHURN_TYPES_HELP: Final = (
    "Churned customers per month, voluntary and involuntary stacked (together: all churned "
    "customers of the month). " + DEFINITIONS["churned_customers"] + " " + DEFINITIONS["churn_type"]
)

CHURN_REASONS_HELP: Final = (
    "Churned customers of the period by cancellation reason: the reason of the request pending "
    "when the last subscription ended (`unknown` without a request), who initiated it (customer, "
    "merchant, or `system` for a failed payment) and whether the churn was voluntary or "
    "involuntary. " + DEFINITIONS["churn_type"]
)

SCHEDULED_CHURN_HELP: Final = (
    "Pending cancellations (requested, not yet effective) by the month they take effect: "
    "subscriptions, customers, customers whose last live subscription leaves (they will churn; "
    "the others contract), and the MRR at stake, the MRR those subscriptions carry now. " + _AS_OF
)


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


_LATEST_SCORING: Final = (
    "Over the subscribers of the latest scoring (`ml.churn_scores`) that match the filters."
)

#: Help texts of the at-risk page (churn scores of the latest scoring).
SCORE_DEFINITIONS: Final[dict[str, str]] = {
    "subscribers": (
        "**Subscribers**: customers scored in the latest scoring run that match the global "
        "platform and country filters and the page's filters (risk band, minimum churn "
        "probability, minimum MRR, minimum predicted LTV, top reason, offer type). Each customer "
        "counts once."
    ),
    "mrr_at_risk": (
        "**MRR at risk** = Σ MRR × churn probability (30 days) over the selection: the MRR the "
        "selection is expected to lose to churn within 30 days of the scoring date, an expected "
        "value under the model, not a forecast for any single subscriber. MRR is the "
        "customer's MRR when scored, in the reporting currency. " + _LATEST_SCORING
    ),
    "selection_mrr": (
        "**MRR of the selection** = Σ MRR of the selected subscribers when scored (customers "
        "without MRR count 0), in the reporting currency. MRR at risk is a part of it. "
        + _LATEST_SCORING
    ),
    "expected_churners": (
        "**Expected churners** = Σ churn probability (30 days) over the selection: how many of "
        "the selected subscribers the model expects to churn within 30 days of the scoring date. "
        "A customer churns when their last active subscription ends. " + _LATEST_SCORING
    ),
    "churn_probability": (
        "**Churn probability** (30 days): the model's probability that the customer churns "
        "(their last active subscription ends) within 30 days of the scoring date."
    ),
}

AT_RISK_REASONS_HELP: Final = (
    "The selection by the group of each subscriber's top reason (the feature that raised the "
    "subscriber's churn score the most): number of subscribers and MRR at risk. "
    "*No stand-out reason* means no feature raised the score noticeably. "
    + SCORE_DEFINITIONS["mrr_at_risk"]
)

AT_RISK_LIST_HELP: Final = (
    "The selected subscribers, most MRR at risk first (MRR × churn probability). Customer ids "
    "are pseudonymous. Predicted LTV and expected remaining months come with their interval "
    "(low – high), never as a bare point. Top reasons are the features that raised the score "
    "the most, in plain words."
)


def definition(metric: str) -> str | None:
    """The help text of a metric column, or None when it has none yet."""
    return DEFINITIONS.get(metric)


# --- Revenue & payments, Offers & coupons ------------------------------------------------

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
