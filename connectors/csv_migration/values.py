"""Cell values of a migration CSV turned into contract values: dates in a stated format, money
as exact minor units, currencies, billing intervals, flags. Each parser raises `BadValue` with a
reason a person can act on; the translation turns it into a rejected row."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from babel.numbers import get_currency_precision

from foundation.contract.types import CURRENCIES, EARLIEST, LATEST, MAX_MINOR

ISO = "iso"
_UNITS = {
    "d": "D",
    "day": "D",
    "days": "D",
    "daily": "D",
    "w": "W",
    "week": "W",
    "weeks": "W",
    "weekly": "W",
    "m": "M",
    "month": "M",
    "months": "M",
    "monthly": "M",
    "y": "Y",
    "year": "Y",
    "years": "Y",
    "yearly": "Y",
    "annual": "Y",
    "annually": "Y",
}
_DURATION = re.compile(r"P([1-9][0-9]{0,2})([YMWD])")
_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f", ""}


class BadValue(ValueError):
    """A cell that cannot become a contract value; the message says why."""


def parse_date(text: str, formats: Sequence[str]) -> datetime:
    """An aware UTC datetime from `text` in one of `formats` (strftime patterns, or `iso` for
    ISO 8601 / RFC 3339). A value without an offset is UTC (exports label their columns
    `(UTC)`); a value with one is converted."""
    value = text.strip()
    for fmt in formats:
        try:
            moment = (
                datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
                if fmt == ISO
                else datetime.strptime(value, fmt)
            )
        except ValueError:
            continue
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        if not EARLIEST <= moment < LATEST:
            raise BadValue(f"date {value!r} is outside {EARLIEST.year} to {LATEST.year - 1}")
        return moment
    raise BadValue(f"bad date {value!r}: expected {' or '.join(map(repr, formats))}")


@cache
def minor_unit_exponent(currency: str) -> int:
    """The ISO 4217 exponent (EUR 2, JPY 0, KWD 3): the same source (babel/CLDR) as the
    warehouse's `raw.currencies`."""
    return int(get_currency_precision(currency))


def parse_currency(text: str) -> str:
    code = text.strip().upper()
    if code not in CURRENCIES:
        raise BadValue(f"unknown currency {text.strip()!r}")
    return code


def parse_amount(text: str, currency: str, unit: str) -> int:
    """Integer minor units of `currency` from a decimal in `major` units (exactly: an amount with
    more decimals than the currency has is refused, never rounded) or an integer in `minor`
    units. Thousands separators (`,` or `_`) are dropped; a negative amount is refused."""
    value = text.strip().replace(",", "").replace("_", "")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadValue(f"bad amount {text.strip()!r}") from None
    if not amount.is_finite():
        raise BadValue(f"bad amount {text.strip()!r}")
    if amount < 0:
        raise BadValue(f"negative amount {text.strip()!r}")
    minor = amount.scaleb(minor_unit_exponent(currency)) if unit == "major" else amount
    if minor != minor.to_integral_value():
        what = f"{currency} has {minor_unit_exponent(currency)} decimals"
        raise BadValue(f"amount {text.strip()!r} is not a whole number of minor units ({what})")
    if minor > MAX_MINOR:
        raise BadValue(f"amount {text.strip()!r} is above the contract's bound")
    return int(minor)


def parse_count(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        raise BadValue(f"bad count {value!r}: expected a whole number of at least 1")
    return int(value)


def billing_period(unit_text: str, count_text: str | None) -> str:
    """An ISO 8601 one-unit duration (`P1M`, `P3M`, `P1Y`, `P2W`) from an interval unit (`month`,
    `year`, `week`, `day`, their adjectives, or an ISO duration) and an optional count."""
    unit = unit_text.strip()
    if _DURATION.fullmatch(unit.upper()) and not count_text:
        return unit.upper()
    letter = _UNITS.get(unit.lower())
    if letter is None:
        raise BadValue(f"unknown billing interval {unit!r}")
    count = parse_count(count_text) if count_text and count_text.strip() else 1
    if count > 999:
        raise BadValue(f"billing interval count {count} is above 999")
    return f"P{count}{letter}"


def parse_flag(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise BadValue(f"bad flag {text.strip()!r}: expected true or false")
