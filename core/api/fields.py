"""Constrained field types of the API's requests: every value a request can carry is bounded
so that it fits its column (PostgreSQL VARCHAR lengths, 32/64-bit integers), the event
contract (a core event that fails the contract is a 500) and the database's text encoding
(no NUL, no lone surrogates)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
)

from foundation.contract.types import COUNTRIES, CURRENCIES, DURATION_PATTERN, EARLIEST, LATEST

from ..errors import InvalidInput
from ..periods import add_duration

# ids: those the core makes (c_0f3a…) and those callers choose (offers, coupons)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
ID_MAX = 64
MAX_MINOR = 10**12  # 10 billion in major units: far above any price, far below BIGINT
_LONGEST = timedelta(days=3661)  # durations up to ten years
# RFC 3339 date and time; the offset is checked by AwareDatetime (which names what is missing)
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def check_text(value: Any) -> Any:
    """Refuse NUL characters (PostgreSQL cannot store them) and lone surrogates (no UTF-8
    encoding), anywhere in a string, list or mapping."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k)
            check_text(v)
    elif isinstance(value, list | tuple | set | frozenset):
        for v in value:
            check_text(v)
    return value


def _country(value: str) -> str:
    if value not in _COUNTRY_SET:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (e.g. DE)")
    return value


def _currency(value: str) -> str:
    if value not in _CURRENCY_SET:
        raise ValueError("not an ISO 4217 currency code (e.g. EUR)")
    return value


def _date_time_text(value: Any) -> Any:
    """Only an RFC 3339 string is a timestamp: not a number (Unix time), nor a date alone."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        raise ValueError("must be an RFC 3339 timestamp such as 2026-01-31T09:00:00Z")
    return value


def _whole_number(value: Any) -> Any:
    """2058.0 is the integer 2058 (JSON Schema counts a number without fraction as an integer);
    anything else goes on to the strict integer check (no string, no boolean, no fraction)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def bounded_int(ge: int, le: int) -> Any:
    """An integer field of a request between `ge` and `le` (the bounds before the validator:
    after it, pydantic would write them into the JSON schema as unknown `ge`/`le` keys)."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_whole_number)]


def _timestamp(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("out of range") from None
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST.year} and {LATEST.year}")
    return value


def _duration(value: str) -> str:
    start = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        end = add_duration(start, value)
    except (InvalidInput, OverflowError, ValueError):
        raise ValueError("not an ISO 8601 duration such as P1M or P7D") from None
    if not value.isascii():  # the pattern's \d also matches other scripts' digits
        raise ValueError("not an ISO 8601 duration such as P1M or P7D (ASCII digits)")
    if end <= start:
        raise ValueError("must be longer than zero")
    if end - start > _LONGEST:
        raise ValueError("must be at most ten years")
    return value


_COUNTRY_SET = frozenset(COUNTRIES)
_CURRENCY_SET = frozenset(CURRENCIES)

Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
Country = Annotated[
    str,
    AfterValidator(_country),
    WithJsonSchema({"type": "string", "enum": list(COUNTRIES)}),
]
Currency = Annotated[
    str,
    AfterValidator(_currency),
    WithJsonSchema({"type": "string", "enum": list(CURRENCIES)}),
]
# parsed from its text (the one lax field of the strict request models), never from a number
Timestamp = Annotated[
    AwareDatetime, Strict(False), BeforeValidator(_date_time_text), AfterValidator(_timestamp)
]
Duration = Annotated[
    str,
    StringConstraints(max_length=16, pattern=DURATION_PATTERN),
    AfterValidator(_duration),
    Field(json_schema_extra={"not": {"pattern": "^P(0+[YMWD])+$"}}),  # P0D is no duration
]
MinorAmount = bounded_int(0, MAX_MINOR)
PositiveMinor = bounded_int(1, MAX_MINOR)
Platform = Literal["web", "ios", "android", "roku", "firetv", "tvos", "other"]
# `\s` is not the same set in every regex engine: the validator's (Rust) and Python's hold U+0085,
# Python's U+001C-U+001F, the document's readers' (ECMA-262) U+FEFF; refuse the union in all
_EMAIL_PART = r"[^@\s\x1c-\x1f\x85\ufeff]+"
Email = Annotated[
    str,
    StringConstraints(max_length=320, pattern=rf"^{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}$"),
]
CardNumber = Annotated[str, StringConstraints(max_length=23, pattern=r"^[0-9][0-9 -]{10,21}[0-9]$")]
Provider = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z_]+$")]

# free text, bounded by its column
Name = Annotated[str, StringConstraints(max_length=200)]
Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Short = Annotated[str, StringConstraints(max_length=64)]
ExternalRef = Annotated[str, StringConstraints(min_length=1, max_length=128)]
KeyName = Annotated[str, StringConstraints(max_length=100)]
Subject = Annotated[str, StringConstraints(max_length=1000)]
