"""Static reference data of the simulated streaming business.

Everything here is plain data (tuples and numpy lookup arrays) so the engine can work on integer
codes and the writer can turn codes back into strings with vectorised gathers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import get_args

import numpy as np

from foundation.contract.events import (
    CancelReason,
    FailureCode,
    SubscriptionCancelled,
    SubscriptionEnded,
)

# --------------------------------------------------------------------------- geography
# country, currency, relative weight
COUNTRIES: tuple[tuple[str, str, float], ...] = (
    ("US", "USD", 30.0),
    ("GB", "GBP", 12.0),
    ("DE", "EUR", 11.0),
    ("FR", "EUR", 10.0),
    ("ES", "EUR", 6.0),
    ("IT", "EUR", 5.0),
    ("NL", "EUR", 4.0),
    ("IE", "EUR", 2.0),
    ("JP", "JPY", 9.0),
    ("SE", "SEK", 4.0),
    ("CH", "CHF", 3.0),
    ("PR", "USD", 1.0),
)
CURRENCIES: tuple[str, ...] = ("EUR", "USD", "GBP", "JPY", "SEK", "CHF")
# ISO 4217 exponent; JPY has no minor unit
CURRENCY_EXPONENT = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "SEK": 2, "CHF": 2}

# --------------------------------------------------------------------------- platforms
PLATFORMS: tuple[str, ...] = ("web", "ios", "android", "roku", "firetv")
PLATFORM_WEIGHTS = np.array([0.36, 0.22, 0.24, 0.10, 0.08])
PROVIDERS: tuple[str, ...] = (
    "stripe",
    "adyen",
    "paypal",
    "app_store",
    "google_play",
    "roku",
    "amazon",
)
# web is split between the three web processors; stores have their own billing
WEB_PROVIDER_WEIGHTS = np.array([0.55, 0.25, 0.20])
STORE_PROVIDER = {1: 3, 2: 4, 3: 5, 4: 6}  # platform idx -> provider idx
PAYMENT_METHODS: tuple[str, ...] = ("card", "paypal", "in_app")
PROVIDER_METHOD = np.array([0, 0, 1, 2, 2, 2, 2])
# base probability that a renewal charge fails, per provider
PROVIDER_FAIL = np.array([0.085, 0.080, 0.062, 0.042, 0.058, 0.062, 0.055])

CHANNELS: tuple[str, ...] = (
    "organic",
    "paid_search",
    "paid_social",
    "referral",
    "partner_bundle",
    "tv_ad",
    "affiliate",
)
CHANNEL_WEIGHTS = np.array([0.34, 0.18, 0.16, 0.09, 0.08, 0.08, 0.07])
CHANNEL_HAZARD = np.array([0.0, 0.05, 0.30, -0.20, 0.15, 0.05, 0.25])  # log-hazard shift

# --------------------------------------------------------------------------- offers
TIERS = ("basic", "standard", "premium")
# monthly list price per tier, minor units
MONTHLY_PRICE = {
    "EUR": (799, 1199, 1599),
    "USD": (899, 1399, 1799),
    "GBP": (699, 1099, 1499),
    "JPY": (990, 1490, 1990),
    "SEK": (9900, 14900, 19900),
    "CHF": (990, 1390, 1790),
}
PERIOD_MONTHS = {"P1M": 1, "P3M": 3, "P1Y": 12}
PERIOD_FACTOR = {"P1M": 1.0, "P3M": 2.8, "P1Y": 10.0}

# template: (key, offer_type, tier idx or -1, billing_period, trial_period, title)
SUB_TEMPLATES: tuple[tuple[str, int, str, str | None], ...] = (
    ("monthly_basic", 0, "P1M", None),
    ("monthly_standard", 1, "P1M", None),
    ("monthly_premium", 2, "P1M", None),
    ("monthly_standard_trial7", 1, "P1M", "P7D"),
    ("monthly_premium_trial14", 2, "P1M", "P14D"),
    ("quarterly_standard", 1, "P3M", None),
    ("quarterly_premium", 2, "P3M", None),
    ("annual_basic", 0, "P1Y", None),
    ("annual_standard", 1, "P1Y", None),
    ("annual_premium", 2, "P1Y", None),
    ("annual_premium_trial1m", 2, "P1Y", "P1M"),
)
# how new subscribers pick a template (first subscription)
SUB_TEMPLATE_WEIGHTS = np.array([0.14, 0.17, 0.09, 0.14, 0.08, 0.05, 0.04, 0.06, 0.11, 0.07, 0.05])
TRIAL_DAYS = {"P7D": 7, "P14D": 14, "P1M": None}  # None: one calendar month
# templates whose price rises during the window (monthly standard / premium, all currencies)
PRICE_RISE_TEMPLATES = (
    "monthly_standard",
    "monthly_premium",
    "monthly_standard_trial7",
    "monthly_premium_trial14",
)
PRICE_RISE_FACTOR = 1.15

ONE_TIME_TYPES = ("pass", "live_ppv", "tvod")
OFFER_TYPES = ("subscription", "pass", "live_ppv", "tvod")

# --------------------------------------------------------------------------- coupons
# coupon_id, campaign_id, discount_type, value (percent, or minor units of EUR-like 2-decimal currency),
# duration string, duration in months (0 = once: first paid period, -1 = forever)
COUPONS: tuple[tuple[str, str, str, int, str, int], ...] = (
    ("WELCOME50", "welcome", "percent", 50, "once", 0),
    ("SPRING30", "spring_promo", "percent", 30, "P3M", 3),
    ("FIVEOFF", "partner_push", "amount", 500, "P3M", 3),
    ("LOYAL15", "loyalty", "percent", 15, "forever", -1),
    ("BLACKFRIDAY40", "black_friday", "percent", 40, "P3M", 3),
    ("COMEBACK50", "winback", "percent", 50, "once", 0),
)
COUPON_SIGNUP_WEIGHTS = np.array([0.40, 0.20, 0.15, 0.10, 0.15, 0.0])
WINBACK_COUPON = 5
BLACKFRIDAY_COUPON = 4
# amount coupons in each currency (minor units); JPY and SEK scaled
AMOUNT_SCALE = {"EUR": 1.0, "USD": 1.0, "GBP": 1.0, "CHF": 1.0, "JPY": 1.2, "SEK": 10.0}

# --------------------------------------------------------------------------- reasons & codes
# The code lists are the contract's own (foundation.contract.events), in its order.
CANCEL_REASONS = get_args(CancelReason)
INITIATED_BY = get_args(SubscriptionCancelled.model_fields["initiated_by"].annotation)
ENDED_REASONS = get_args(SubscriptionEnded.model_fields["ended_reason"].annotation)
FAILURE_CODES = get_args(FailureCode)
FAILURE_WEIGHTS = np.array([0.40, 0.18, 0.20, 0.03, 0.08, 0.07, 0.04])
# probability that a retry of a charge that failed with this code succeeds
FAILURE_RECOVERY = np.array([0.32, 0.20, 0.22, 0.04, 0.40, 0.65, 0.26])
RETRY_DAYS = (3, 7, 14)  # days after the first failure; dunning ends after the last one

DRIVERS = (
    "baseline",
    "engagement_drop",
    "payment_failures",
    "support_trouble",
    "price_increase",
    "offer_type",
    "tenure",
)
# cancellation reason distribution by main driver (rows follow DRIVERS, columns CANCEL_REASONS)
REASON_BY_DRIVER = np.array(
    [
        [0.15, 0.15, 0.20, 0.03, 0.20, 0.00, 0.15, 0.12],  # baseline
        [0.05, 0.60, 0.20, 0.02, 0.08, 0.00, 0.03, 0.02],  # engagement_drop
        [0.45, 0.10, 0.05, 0.05, 0.10, 0.10, 0.10, 0.05],  # payment_failures
        [0.10, 0.05, 0.05, 0.55, 0.10, 0.00, 0.10, 0.05],  # support_trouble
        [0.70, 0.05, 0.05, 0.00, 0.12, 0.00, 0.05, 0.03],  # price_increase
        [0.25, 0.15, 0.20, 0.02, 0.25, 0.00, 0.08, 0.05],  # offer_type
        [0.15, 0.25, 0.25, 0.05, 0.15, 0.00, 0.10, 0.05],  # tenure
    ]
)

TICKET_CHANNELS = ("email", "chat", "phone", "social", "in_app")
TICKET_CHANNEL_WEIGHTS = np.array([0.35, 0.35, 0.12, 0.05, 0.13])
TICKET_CATEGORIES = ("billing", "technical", "content", "account", "cancellation", "other")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")

REFUND_REASONS = ("requested_by_customer", "duplicate", "service_issue")
CHARGEBACK_REASONS = ("fraudulent", "unrecognized", "product_not_received")


@dataclass(frozen=True)
class Offer:
    offer_id: str
    title: str
    offer_type: str
    billing_period: str | None
    access_period: str | None
    price_minor: int
    currency: str
    trial_period: str | None
    event_day: date | None = None  # live events only


def _round_price(x: float, currency: str) -> int:
    if CURRENCY_EXPONENT[currency] == 0:
        return int(round(x / 10.0)) * 10
    return max(99, int(round(x / 100.0)) * 100 - 1)


@dataclass
class Catalogue:
    """Offers as parallel numpy arrays (index = offer code) plus the list of `Offer` objects."""

    offers: list[Offer]
    published: list[tuple[date, Offer]]  # every offer.published event (version 1 and price rises)
    offer_type: np.ndarray  # index into OFFER_TYPES
    currency: np.ndarray  # index into CURRENCIES
    price: np.ndarray  # list price before the rise
    price_new: np.ndarray  # list price after the rise (== price when no rise)
    period: np.ndarray  # index into ("P1M","P3M","P1Y") or -1
    period_months: np.ndarray  # 1/3/12, 0 for one-time
    trial_kind: np.ndarray  # -1 none, else index into ("P7D","P14D","P1M")
    tier: np.ndarray  # -1 one-time
    template: np.ndarray  # index into SUB_TEMPLATES or -1
    up: np.ndarray  # offer code of the next tier up in the same family, -1 if none
    down: np.ndarray  # offer code of the tier below, -1 if none
    sub_offer: np.ndarray  # [template, currency] -> offer code
    pass_offer: np.ndarray  # [currency] -> offer code
    tvod_offer: np.ndarray  # [2, currency] -> offer code (new release, library)
    ppv_offer: np.ndarray  # [n_events, currency] -> offer code
    ppv_days: list[date]
    price_rise_day: date | None
    rises: np.ndarray  # bool per offer


BILLING_PERIODS = ("P1M", "P3M", "P1Y")
TRIAL_PERIODS = ("P7D", "P14D", "P1M")


def build_catalogue(start: date, months: int) -> Catalogue:
    offers: list[Offer] = []
    meta: list[
        tuple[int, int, int, int, int, int, int]
    ] = []  # type, cur, period, trial, tier, template
    n_cur = len(CURRENCIES)
    sub_offer = np.full((len(SUB_TEMPLATES), n_cur), -1, dtype=np.int32)
    for t, (key, tier, period, trial) in enumerate(SUB_TEMPLATES):
        for c, cur in enumerate(CURRENCIES):
            base = MONTHLY_PRICE[cur][tier] * PERIOD_FACTOR[period]
            price = _round_price(base, cur) if period != "P1M" else MONTHLY_PRICE[cur][tier]
            title = f"{key.replace('_', ' ').title()} ({cur})"
            sub_offer[t, c] = len(offers)
            offers.append(
                Offer(
                    f"{key}_{cur.lower()}", title, "subscription", period, None, price, cur, trial
                )
            )
            meta.append(
                (
                    0,
                    c,
                    BILLING_PERIODS.index(period),
                    TRIAL_PERIODS.index(trial) if trial else -1,
                    tier,
                    t,
                )
            )
    pass_offer = np.zeros(n_cur, dtype=np.int32)
    tvod_offer = np.zeros((2, n_cur), dtype=np.int32)
    for c, cur in enumerate(CURRENCIES):
        pass_offer[c] = len(offers)
        offers.append(
            Offer(
                f"pass_30d_{cur.lower()}",
                f"30-Day Pass ({cur})",
                "pass",
                None,
                "P30D",
                _round_price(MONTHLY_PRICE[cur][1] * 1.3, cur),
                cur,
                None,
            )
        )
        meta.append((1, c, -1, -1, -1, -1))
    for k, (key, title, factor) in enumerate(
        (("tvod_new_release", "New Release Rental", 0.45), ("tvod_library", "Library Rental", 0.28))
    ):
        for c, cur in enumerate(CURRENCIES):
            tvod_offer[k, c] = len(offers)
            offers.append(
                Offer(
                    f"{key}_{cur.lower()}",
                    f"{title} ({cur})",
                    "tvod",
                    None,
                    "P2D",
                    _round_price(MONTHLY_PRICE[cur][1] * factor, cur),
                    cur,
                    None,
                )
            )
            meta.append((3, c, -1, -1, -1, -1))
    # live pay-per-view events roughly every 3 months inside the window
    ppv_days = [start + timedelta(days=40 + 91 * i) for i in range(max(1, months // 3))]
    ppv_offer = np.zeros((len(ppv_days), n_cur), dtype=np.int32)
    for i, day in enumerate(ppv_days):
        for c, cur in enumerate(CURRENCIES):
            ppv_offer[i, c] = len(offers)
            offers.append(
                Offer(
                    f"live_fight_night_{day:%Y%m%d}_{cur.lower()}",
                    f"Fight Night {day:%b %Y} ({cur})",
                    "live_ppv",
                    None,
                    None,
                    _round_price(MONTHLY_PRICE[cur][2] * 1.9, cur),
                    cur,
                    None,
                    day,
                )
            )
            meta.append((2, c, -1, -1, -1, -1))

    m = np.array(meta, dtype=np.int32)
    offer_type, currency, period, trial_kind, tier, template = (m[:, i] for i in range(6))
    price = np.array([o.price_minor for o in offers], dtype=np.int64)
    period_months = np.where(period >= 0, np.array([1, 3, 12])[np.maximum(period, 0)], 0)

    # tier neighbours within the same billing family (no trial variants as targets)
    up = np.full(len(offers), -1, dtype=np.int32)
    down = np.full(len(offers), -1, dtype=np.int32)
    plain = {
        (SUB_TEMPLATES[t][2], SUB_TEMPLATES[t][1]): t
        for t in range(len(SUB_TEMPLATES))
        if SUB_TEMPLATES[t][3] is None
    }
    for i in range(len(offers)):
        if offer_type[i] != 0:
            continue
        p = BILLING_PERIODS[period[i]]
        if (p, tier[i] + 1) in plain:
            up[i] = sub_offer[plain[(p, tier[i] + 1)], currency[i]]
        if (p, tier[i] - 1) in plain:
            down[i] = sub_offer[plain[(p, tier[i] - 1)], currency[i]]

    publish_day = start - timedelta(days=14)
    published = [(publish_day - timedelta(days=0), o) for o in offers]
    rises = np.zeros(len(offers), dtype=bool)
    price_new = price.copy()
    rise_day: date | None = None
    if months >= 9:
        rise_day = start + timedelta(days=int(months * 30.4 * 0.42))
        for i, o in enumerate(offers):
            if template[i] >= 0 and SUB_TEMPLATES[template[i]][0] in PRICE_RISE_TEMPLATES:
                rises[i] = True
                price_new[i] = _round_price(o.price_minor * PRICE_RISE_FACTOR, o.currency)
                published.append(
                    (
                        rise_day,
                        Offer(
                            o.offer_id,
                            o.title,
                            o.offer_type,
                            o.billing_period,
                            None,
                            int(price_new[i]),
                            o.currency,
                            o.trial_period,
                        ),
                    )
                )
    return Catalogue(
        offers=offers,
        published=published,
        offer_type=offer_type,
        currency=currency,
        price=price,
        price_new=price_new,
        period=period,
        period_months=period_months,
        trial_kind=trial_kind,
        tier=tier,
        template=template,
        up=up,
        down=down,
        sub_offer=sub_offer,
        pass_offer=pass_offer,
        tvod_offer=tvod_offer,
        ppv_offer=ppv_offer,
        ppv_days=ppv_days,
        price_rise_day=rise_day,
        rises=rises,
    )
