"""ISO 8601 durations of one unit (P1M, P3M, P1Y, P7D, P2W, as the contract has them) added to UTC
timestamps."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from dateutil.relativedelta import relativedelta

from foundation.contract.types import DURATION_PATTERN

from .errors import InvalidInput

_PART = re.compile(r"(\d+)([YMWD])")
_UNIT = {"Y": "years", "M": "months", "W": "weeks", "D": "days"}


def parse_duration(text: str) -> relativedelta:
    if not isinstance(text, str) or not re.match(DURATION_PATTERN, text):
        raise InvalidInput(f"not an ISO 8601 duration such as P1M or P7D: {text!r}")
    parts: dict[str, int] = {}
    for n, unit in _PART.findall(text):
        parts[_UNIT[unit]] = parts.get(_UNIT[unit], 0) + int(n)
    return relativedelta(**parts)


def add_duration(ts: datetime, text: str, times: int = 1) -> datetime:
    """`ts` plus `times` × the duration; month ends clamp (Jan 31 + P1M = Feb 28)."""
    return ts + parse_duration(text) * times


def months_in(text: str) -> int | None:
    """Whole months of a duration made of years and months only (P3M → 3), else None."""
    d = parse_duration(text)
    if d.days or d.weeks:
        return None
    return d.years * 12 + d.months


def utc(ts: datetime) -> datetime:
    """An aware UTC timestamp (naive ones are taken to be UTC already)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def naive(ts: datetime) -> datetime:
    """Naive UTC, the form the database stores."""
    return utc(ts).replace(tzinfo=None)


def rfc3339(ts: datetime) -> str:
    return utc(ts).isoformat().replace("+00:00", "Z")
