"""Synthetic `marts.customer_months` rows with a KNOWN logistic churn process.

Each customer has a main driver (failed payments, an engagement drop, a pending cancellation, a
price increase, or none), active in a random half of their months. The true 30-day churn
log-odds is

    -3.2 + 0.9 * failed_payments_30d - 0.9 * log(watch trend) + 2.4 * pending cancellation
         + 5 * price increase (fraction) - 0.3 * (log1p(tenure_days) - 5) + 0.3 * billing tickets
         + 0.3 * (3 - csat) + 0.2 * [ios]

and the 60 / 90-day labels are nested (one uniform draw per row). Each row also carries its
true probability (`true_p30`, for the oracle AUC) and its true main driver (`true_driver`: the
largest of the four driver terms when it adds at least 0.5 to the log-odds, else "none"), named
by the model's explanation group. The model ignores these extra columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DRIVERS = ("failed_payments", "engagement", "pending_cancellation", "price_change")
PLATFORMS = ["web", "ios", "android", "roku", "firetv"]
AS_OF = pd.Timestamp("2025-06-30")


def month_ends(n_months: int, as_of: pd.Timestamp = AS_OF) -> pd.DatetimeIndex:
    """The last `n_months` month ends, the last one being the as-of date."""
    return pd.date_range(end=as_of, periods=n_months, freq="ME")


def make_customer_months(
    n_customers: int = 2000, n_months: int = 12, seed: int = 0, as_of: pd.Timestamp = AS_OF
) -> pd.DataFrame:
    """A panel of `n_customers` x `n_months` customer-month rows (see the module doc)."""
    rng = np.random.default_rng(seed)
    ends = month_ends(n_months, as_of)
    n = n_customers * n_months
    cust = np.repeat(np.arange(n_customers), n_months)
    month_idx = np.tile(np.arange(n_months), n_customers)
    month_end = ends[month_idx]

    driver_of_customer = rng.choice(
        np.array(["none", *DRIVERS]), size=n_customers, p=[0.4, 0.15, 0.15, 0.15, 0.15]
    )
    driver = driver_of_customer[cust]
    active = rng.random(n) < 0.5

    # per-customer attributes (constant over months)
    start_offset = rng.integers(0, 1500, n_customers)
    platform = rng.choice(PLATFORMS, size=n_customers, p=[0.35, 0.25, 0.2, 0.1, 0.1])[cust]
    offer_type = rng.choice(
        ["subscription", "pass", "live_ppv", "tvod", "unknown"],
        size=n_customers,
        p=[0.85, 0.07, 0.03, 0.03, 0.02],
    )[cust]
    period = rng.choice(["P1M", "P1Y", "P3M", "P1W"], size=n_customers, p=[0.7, 0.15, 0.1, 0.05])
    billing_period = np.where(offer_type == "subscription", period[cust], None)
    currency = rng.choice(["EUR", "USD", "GBP"], size=n_customers)[cust]
    base_price = rng.choice([5.99, 9.99, 12.99, 17.99], size=n_customers)[cust]

    tenure = start_offset[cust] + 30 * month_idx + 1
    trialing = ((tenure < 30) & (rng.random(n) < 0.6)).astype(int)
    never_paid = trialing.astype(bool)
    paid_tenure = np.where(never_paid, np.nan, np.maximum(tenure - 14, 0))

    # driver features
    fp_active = (driver == "failed_payments") & active
    failed_30 = np.where(fp_active, rng.poisson(1.5, n) + 1, rng.random(n) < 0.03).astype(int)
    failed_90 = failed_30 + rng.poisson(0.1, n)
    recovered_90 = rng.binomial(failed_90, 0.4)

    eng_active = (driver == "engagement") & active
    trend = np.where(
        eng_active,
        rng.uniform(0.05, 0.5, n),
        np.exp(np.clip(rng.normal(0, 0.15, n), -0.4, 0.4)),
    )
    minutes_prev = np.round(rng.lognormal(6.0, 0.8, n), 1)
    minutes_prev[rng.random(n) < 0.03] = 0.0  # no previous viewing: trend undefined
    minutes_4w = np.round(minutes_prev * trend, 1)
    no_prev = minutes_prev == 0
    minutes_4w[no_prev] = np.round(rng.lognormal(4.0, 1.0, no_prev.sum()), 1)
    trend_obs = np.where(no_prev, np.nan, minutes_4w / np.where(no_prev, 1, minutes_prev))
    sessions = rng.poisson(np.maximum(minutes_4w, 1) / 45).astype(int)

    pending = np.where((driver == "pending_cancellation") & active, True, rng.random(n) < 0.01)

    price_active = (driver == "price_change") & active
    background_up = rng.random(n) < 0.03
    pct = np.where(
        price_active,
        rng.uniform(0.1, 0.4, n),
        np.where(background_up, rng.uniform(0.05, 0.15, n), np.nan),
    )
    increases = (~np.isnan(pct)).astype(int)

    # background features
    billing_30 = rng.poisson(0.1, n)
    technical_30 = rng.poisson(0.1, n)
    other_30 = rng.poisson(0.05, n)
    billing_90 = billing_30 + rng.poisson(0.1, n)
    technical_90 = technical_30 + rng.poisson(0.1, n)
    other_90 = other_30 + rng.poisson(0.05, n)
    rated = rng.random(n) < 0.3
    csat = np.where(rated, rng.integers(1, 6, n), np.nan)
    has_discount = rng.random(n) < 0.2
    coupon_expiring = has_discount & (rng.random(n) < 0.2)
    paused = (rng.random(n) < 0.03).astype(int)
    live = 1 + (rng.random(n) < 0.1).astype(int)
    mrr = np.where(
        never_paid | (paused > 0), 0.0, base_price * (1 + np.nan_to_num(pct)) * live
    ).round(2)

    terms = {
        "failed_payments": 0.9 * failed_30,
        "engagement": -0.9 * np.log(trend),
        "pending_cancellation": 2.4 * pending,
        "price_change": 5.0 * np.nan_to_num(pct),
    }
    logit = (
        -3.2
        + sum(terms.values())
        - 0.3 * (np.log1p(tenure) - 5)
        + 0.3 * billing_30
        + 0.3 * np.nan_to_num(3 - csat)
        + 0.2 * (platform == "ios")
    )
    p30 = 1 / (1 + np.exp(-logit))
    stacked = np.column_stack([terms[d] for d in DRIVERS])
    main = np.asarray(DRIVERS, dtype=object)[stacked.argmax(axis=1)]
    true_driver = np.where(stacked.max(axis=1) >= 0.5, main, "none")

    u = rng.random(n)
    labels = {h: u < 1 - (1 - p30) ** (h // 30) for h in (30, 60, 90)}

    ids = np.char.add("c", np.char.zfill(cust.astype(str), 6))
    frame = pd.DataFrame(
        {
            "customer_id": ids,
            "month": month_end.to_period("M").to_timestamp(),
            "month_end": month_end,
            "tenure_days": tenure.astype("int32"),
            "paid_tenure_days": pd.array(paid_tenure, dtype="Int32"),
            "subscription_id": np.char.add("s", ids),
            "offer_id": np.char.add("o-", offer_type.astype(str)),
            "offer_type": offer_type,
            "billing_period": billing_period,
            "platform": platform,
            "currency": currency,
            "live_subscriptions": live,
            "paused_subscriptions": paused,
            "trialing_subscriptions": trialing,
            "mrr": mrr,
            "price_increases_90d": increases,
            "price_decreases_90d": np.zeros(n, dtype=int),
            "last_price_change_pct_90d": pct,
            "has_discount": has_discount,
            "coupon_expiring_30d": coupon_expiring,
            "failed_payments_30d": failed_30,
            "failed_payments_90d": failed_90,
            "recovered_payments_90d": recovered_90,
            "in_dunning": (failed_30 > 0) & (rng.random(n) < 0.5),
            "tickets_30d": billing_30 + technical_30 + other_30,
            "billing_tickets_30d": billing_30,
            "technical_tickets_30d": technical_30,
            "tickets_90d": billing_90 + technical_90 + other_90,
            "billing_tickets_90d": billing_90,
            "technical_tickets_90d": technical_90,
            "last_csat": pd.array(csat, dtype="Int32"),
            "minutes_watched_4w": minutes_4w,
            "minutes_watched_prev_4w": minutes_prev,
            "minutes_watched_trend": trend_obs,
            "sessions_4w": sessions,
            "has_pending_cancellation": pending,
            # cancellations take effect at the period end, within a month of the request
            "days_to_cancellation": pd.array(
                np.where(pending, rng.integers(1, 31, n), np.nan), dtype="Int32"
            ),
            "days_to_trial_end": pd.array(
                np.where(trialing > 0, rng.integers(1, 15, n), np.nan), dtype="Int32"
            ),
            "past_churns": rng.poisson(0.15, n),
            "past_reactivations": rng.poisson(0.05, n),
        }
    )
    for h, churned in labels.items():
        frame[f"churned_within_{h}d"] = churned
        frame[f"label_observable_{h}d"] = np.asarray(month_end + pd.Timedelta(days=h) <= as_of)
    frame["true_p30"] = p30
    frame["true_driver"] = true_driver
    return frame
