"""Number formatting for KPIs: values and signed deltas as display strings.

Deltas are strings with an explicit sign because ``st.metric`` picks the arrow and colour from a
leading minus sign, and a "+" makes growth readable at a glance.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from babel.numbers import format_compact_currency, format_currency, format_decimal

LOCALE = "en"


def is_missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


WHOLE_UNITS_FROM = 10_000  # KPI tiles are narrow: large amounts drop the cents
COMPACT_FROM = 1_000_000  # and millions read as €2.60M


def money(value: Any, currency: str | None) -> str | None:
    """``€1,234.56`` in the reporting currency (``€217,035`` from 10,000, ``€2.60M`` from a
    million); a plain grouped number when the currency is unknown."""
    if is_missing(value):
        return None
    whole = abs(float(value)) >= WHOLE_UNITS_FROM
    if currency and abs(float(value)) >= COMPACT_FROM:
        return format_compact_currency(float(value), currency, locale=LOCALE, fraction_digits=2)
    if currency:
        pattern = "¤#,##0" if whole else None
        return format_currency(
            float(value), currency, format=pattern, locale=LOCALE, currency_digits=not whole
        )
    return format_decimal(float(value), format="#,##0" if whole else "#,##0.00", locale=LOCALE)


def count(value: Any) -> str | None:
    """Grouped integer, ``1,234``."""
    return None if is_missing(value) else format_decimal(round(float(value)), locale=LOCALE)


def percent(rate: Any, digits: int = 2) -> str | None:
    """A ratio as a percentage, ``0.025`` → ``2.50%``."""
    return None if is_missing(rate) else f"{float(rate) * 100:.{digits}f}%"


def signed(text: str | None, value: float) -> str | None:
    """Prefix "+" on positive numbers (negative ones already carry "-")."""
    if text is None:
        return None
    return f"+{text}" if value > 0 else text


def money_delta(current: Any, previous: Any, currency: str | None) -> str | None:
    if is_missing(current) or is_missing(previous):
        return None
    diff = float(current) - float(previous)
    return signed(money(diff, currency), diff)


def count_delta(current: Any, previous: Any) -> str | None:
    if is_missing(current) or is_missing(previous):
        return None
    diff = float(current) - float(previous)
    return signed(count(diff), diff)


def rate_delta_pp(current: Any, previous: Any, digits: int = 2) -> str | None:
    """Change of a rate in percentage points, ``+0.30 pp``."""
    if is_missing(current) or is_missing(previous):
        return None
    diff = (float(current) - float(previous)) * 100
    diff = round(diff, digits) + 0.0  # avoid "-0.00"
    return signed(f"{diff:.{digits}f} pp", diff)


def ratio(value: Any, digits: int = 2) -> str | None:
    """A plain ratio, ``1.6923`` → ``1.69``."""
    return (
        None
        if is_missing(value)
        else format_decimal(
            round(float(value), digits), format=f"#,##0.{'0' * digits}", locale=LOCALE
        )
    )


def ratio_delta(current: Any, previous: Any, digits: int = 2) -> str | None:
    if is_missing(current) or is_missing(previous):
        return None
    diff = round(float(current) - float(previous), digits) + 0.0  # avoid "-0.00"
    return signed(ratio(diff, digits), diff)
