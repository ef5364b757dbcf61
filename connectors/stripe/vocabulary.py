"""Stripe's words in the contract's: billing intervals, money exponents, cancellation reasons,
decline codes and coupon durations. Plain lookups, no Stripe object handling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel.numbers import get_currency_precision
from currency_converter import CurrencyConverter

from foundation.contract.types import COUNTRIES, CURRENCIES

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_PREFIX: dict[int, str] = {}


# `HH:MM:SSZ` of every second of a day (86,400 short strings, made once)
_CLOCK = tuple(f"{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60))


def utc_text(value: int | float) -> str:
    """RFC 3339 UTC text of a Unix timestamp, as `connectors.translation.utc_timestamp` writes
    it, without a datetime per call (day and time-of-day texts are tables): a backfill formats
    millions."""
    seconds = int(value)
    try:
        return _DAY_PREFIX[seconds // 86400] + _CLOCK[seconds % 86400]
    except KeyError:
        day = seconds // 86400
        _DAY_PREFIX[day] = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")
        return _DAY_PREFIX[day] + _CLOCK[seconds % 86400]


INTERVAL_UNITS = {"day": "D", "week": "W", "month": "M", "year": "Y"}

# Stripe's amounts are integers in the currency's smallest unit *as Stripe defines it*
# (https://docs.stripe.com/currencies#zero-decimal, #three-decimal, #special-cases): the
# zero-decimal currencies are whole units, the three-decimal ones thousandths, and ISK is sent
# with two decimals although it has none. The contract counts ISO 4217 minor units (babel's
# precision, what ingestion's FX tables use), so an amount is rescaled where the two differ.
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
THREE_DECIMAL = frozenset(["BHD", "JOD", "KWD", "OMR", "TND"])
_CURRENCIES = frozenset(CURRENCIES)
_COUNTRIES = frozenset(COUNTRIES)


def stripe_exponent(currency: str) -> int:
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


@cache
def contract_exponent(currency: str) -> int:
    return int(get_currency_precision(currency))


@cache
def _rescale(currency: str) -> int:
    """Contract exponent minus Stripe's (0 for every currency but the special cases)."""
    return contract_exponent(currency) - stripe_exponent(currency)


def contract_minor(amount: int, currency: str) -> int:
    """A Stripe amount of `currency` as contract minor units (half-up where Stripe has more
    digits than ISO 4217, e.g. ISK's two decimals)."""
    shift = _rescale(currency)
    if shift == 0:
        return amount
    if shift > 0:
        return amount * 10**shift
    return int((Decimal(amount).scaleb(shift)).to_integral_value(ROUND_HALF_UP))


@cache
def _ecb_currencies() -> frozenset[str]:
    return frozenset(CurrencyConverter().currencies)


_USABLE: set[str] = set()  # Stripe currency codes already found usable


def currency_problem(code: object) -> str | None:
    """Why a Stripe currency cannot become contract money (None when it can): the contract's
    ISO 4217 list and an ECB rate history (METRICS.md, reporting currency)."""
    if code in _USABLE:
        return None
    if not isinstance(code, str) or code.upper() not in _CURRENCIES:
        return f"{code!r} is not an ISO 4217 currency"
    if code.upper() not in _ecb_currencies():
        return f"{code.upper()} has no ECB reference rates, its money cannot be reported"
    _USABLE.add(code)
    return None


def country(code: object) -> str | None:
    """An ISO 3166-1 alpha-2 country, or None when Stripe's value is missing or not one."""
    if isinstance(code, str) and code.upper() in _COUNTRIES:
        return code.upper()
    return None


def billing_period(interval: object, count: object) -> str | None:
    """`PnU` of a Stripe recurring interval (`month`, 3 → `P3M`), None when there is none."""
    unit = INTERVAL_UNITS.get(interval) if isinstance(interval, str) else None
    n = 1 if count is None else count
    if unit is None or type(n) is not int or not 1 <= n <= 999:
        return None
    return f"P{n}{unit}"


# METRICS.md normalisation: price x 1 month / period, a month a twelfth of a 365-day year.
_MONTH_FACTOR = {"M": (1, 1), "Y": (1, 12), "W": (52, 12), "D": (365, 12)}
MRR_QUANTUM = Decimal("0.000001")


def monthly_major(net_minor: int, period: str, currency: str) -> Decimal:
    """The monthly amount of a recurring net price, in major units of `currency`, exact to six
    decimals (half-up), the way dbt's `monthly_amount` normalises it."""
    n = int(period[1:-1])
    num, den = _MONTH_FACTOR[period[-1]]
    value = Decimal(net_minor * num) / Decimal(den * n)
    return value.scaleb(-contract_exponent(currency)).quantize(MRR_QUANTUM, ROUND_HALF_UP)


# cancellation_details.feedback (what the customer said) → contract cancel reason.
FEEDBACK_REASONS = {
    "too_expensive": "too_expensive",
    "unused": "not_using",
    "switched_service": "switched_service",
    "low_quality": "content",
    "missing_features": "content",
    "customer_service": "other",
    "too_complex": "technical",
    "other": "other",
}
# cancellation_details.reason (why Stripe cancelled) → (reason when no feedback, initiated_by).
CANCELLATION_REASONS = {
    "cancellation_requested": ("unknown", "customer"),
    "payment_failed": ("payment_failed", "system"),
    "payment_disputed": ("other", "system"),
}


def cancel_reason(details: object) -> tuple[str, str]:
    """(contract reason, initiated_by) of a subscription's `cancellation_details`."""
    details = details if isinstance(details, dict) else {}
    reason, initiated_by = CANCELLATION_REASONS.get(details.get("reason"), ("unknown", "merchant"))
    feedback = FEEDBACK_REASONS.get(details.get("feedback"))
    return feedback or reason, initiated_by


def ended_reason(status: object, details: object) -> str:
    if status == "incomplete_expired":
        return "payment_failed"
    why = details.get("reason") if isinstance(details, dict) else None
    if why == "payment_failed":
        return "payment_failed"
    if why == "payment_disputed":
        return "merchant"
    return "cancelled"


# Stripe decline codes and charge failure codes → contract failure_code.
FAILURE_CODES = {
    "insufficient_funds": "insufficient_funds",
    "expired_card": "card_expired",
    "do_not_honor": "do_not_honor",
    "fraudulent": "fraud_suspected",
    "stolen_card": "fraud_suspected",
    "lost_card": "fraud_suspected",
    "pickup_card": "fraud_suspected",
    "merchant_blacklist": "fraud_suspected",
    "authentication_required": "authentication_required",
    "card_velocity_exceeded": "insufficient_funds",
    "processing_error": "technical",
    "issuer_not_available": "technical",
    "try_again_later": "technical",
    "reenter_transaction": "technical",
}


def failure_code(*codes: object) -> str:
    """The contract failure code of the first Stripe code that has one (the most specific
    first: decline code, then failure code), else `other`."""
    for code in codes:
        if isinstance(code, str) and code in FAILURE_CODES:
            return FAILURE_CODES[code]
    return "other"


def coupon_duration(coupon: dict) -> str:
    duration = coupon.get("duration")
    if duration == "repeating":
        months = coupon.get("duration_in_months")
        return f"P{months}M" if type(months) is int and 1 <= months <= 999 else "once"
    return "forever" if duration == "forever" else "once"
