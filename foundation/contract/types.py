"""Field types shared by the event payloads: one definition per kind of value.

Each type carries a `x-churniq-kind` marker in its JSON Schema so that the vectorised
validator (`ingestion.loader.sql_checks`) can derive the same rule from the schema.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pycountry
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints

# ISO 4217 codes of real currencies: the X.. codes for gold, testing and "no currency" are not
# money a subscriber can pay in, except the CFA/CFP francs and the East Caribbean dollar.
_NOT_MONEY = {c.alpha_3 for c in pycountry.currencies if c.alpha_3.startswith("X")} - {
    "XAF",
    "XCD",
    "XOF",
    "XPF",
}
CURRENCIES: tuple[str, ...] = tuple(
    sorted(c.alpha_3 for c in pycountry.currencies if c.alpha_3 not in _NOT_MONEY)
)
COUNTRIES: tuple[str, ...] = tuple(sorted(c.alpha_2 for c in pycountry.countries))

# ISO 8601 durations of one unit, 1 to 999 of it: P1M, P3M, P1Y, P7D, P2W. Billing periods are
# one unit times a count (as card and app-store billing has them); a compound such as P1Y6M or a
# zero length has no monthly equivalent the marts could normalise MRR by, so it is refused
# (`invalid_duration`) rather than loaded with a NULL MRR.
DURATION_PATTERN = r"^P[1-9][0-9]{0,2}[YMWD]$"
# RFC 3339 timestamp with an explicit offset (ASCII digits; hours 00-23, minutes 00-59).
TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
# Every timestamp lies in [EARLIEST, LATEST): nothing a subscription business records predates
# the euro's ECB reference rates (1999) and 1970-01-01 / 0001-01-01 are a producer's "unset";
# the end matches the core API's bound and keeps date arithmetic in every engine in range.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
# Money in minor units: 10 billion major units at most, far above any price and far below BIGINT
# (the marts' type), so that sums and MRR's exact decimals stay in range.
MAX_MINOR = 10**12
# Counts (sessions, attempts, minutes) are INTEGER in the marts.
MAX_COUNT = 2**31 - 1
# Minutes watched in one period of at most 7 days: a bound against garbage, not plausibility.
MAX_MINUTES = 1_000_000


def _kind(kind: str) -> dict:
    return {"json_schema_extra": {"x-churniq-kind": kind}}


def _rfc3339(value: Any) -> Any:
    """The text of a timestamp, checked before pydantic parses it (lax, for text only)."""
    if not isinstance(value, str):
        raise ValueError("wrong_type: a timestamp is a string")
    if not re.fullmatch(TIMESTAMP_PATTERN, value):
        raise ValueError("invalid_timestamp: not RFC 3339 with an offset")
    return value


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise ValueError(f"invalid_timestamp: must be from {EARLIEST.year} to before {LATEST.year}")
    return value


Currency = Annotated[Literal[CURRENCIES], Field(**_kind("currency"))]  # type: ignore[valid-type]
Country = Annotated[Literal[COUNTRIES], Field(**_kind("country"))]  # type: ignore[valid-type]
Duration = Annotated[
    str,
    StringConstraints(pattern=DURATION_PATTERN),
    Field(
        description="ISO 8601 duration of one unit, 1 to 999 of it (P1M, P3M, P1Y, P7D, P2W); "
        "compounds such as P1Y6M are refused",
        **_kind("duration"),
    ),
]
Timestamp = Annotated[
    AwareDatetime,
    Field(strict=False),
    BeforeValidator(_rfc3339),
    AfterValidator(_in_range),
    Field(
        description=f"RFC 3339 with an offset, from {EARLIEST:%Y-%m-%d} to before "
        f"{LATEST:%Y-%m-%d} (UTC)",
        json_schema_extra={
            "x-churniq-kind": "timestamp",
            "pattern": TIMESTAMP_PATTERN,
            "x-churniq-range": [EARLIEST.isoformat(), LATEST.isoformat()],
        },
    ),
]
MinorAmount = Annotated[
    int,
    Field(ge=0, le=MAX_MINOR, description="integer count of minor units", **_kind("amount")),
]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128), Field(**_kind("id"))]
Platform = Literal["web", "ios", "android", "roku", "firetv", "tvos", "other"]
OfferType = Literal["subscription", "pass", "live_ppv", "tvod"]

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
    "EARLIEST",
    "LATEST",
    "MAX_COUNT",
    "MAX_MINOR",
    "MAX_MINUTES",
    "Count",
    "Country",
    "Currency",
    "Duration",
    "Id",
    "MinorAmount",
    "OfferType",
    "Platform",
    "Timestamp",
    "datetime",
]
