"""Field types shared by the event payloads: one definition per kind of value.

Each type carries a `x-churniq-kind` marker in its JSON Schema so that the vectorised
validator (`ingestion.loader.sql_checks`) can derive the same rule from the schema.
"""

from datetime import datetime
from typing import Annotated, Literal

import pycountry
from pydantic import AwareDatetime, Field, StringConstraints

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

# ISO 8601 durations as used by offers: P1M, P3M, P1Y, P7D, P2W, P1Y6M ...
DURATION_PATTERN = r"^P(\d+[YMWD])+$"
# RFC 3339 timestamp with an explicit offset.
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"


def _kind(kind: str) -> dict:
    return {"json_schema_extra": {"x-churniq-kind": kind}}


Currency = Annotated[Literal[CURRENCIES], Field(**_kind("currency"))]  # type: ignore[valid-type]
Country = Annotated[Literal[COUNTRIES], Field(**_kind("country"))]  # type: ignore[valid-type]
Duration = Annotated[str, StringConstraints(pattern=DURATION_PATTERN), Field(**_kind("duration"))]
Timestamp = Annotated[
    AwareDatetime,
    Field(json_schema_extra={"x-churniq-kind": "timestamp", "pattern": TIMESTAMP_PATTERN}),
]
MinorAmount = Annotated[int, Field(ge=0, **_kind("amount"))]
Id = Annotated[str, StringConstraints(min_length=1, max_length=128), Field(**_kind("id"))]
Platform = Literal["web", "ios", "android", "roku", "firetv", "tvos", "other"]
OfferType = Literal["subscription", "pass", "live_ppv", "tvod"]

__all__ = [
    "COUNTRIES",
    "CURRENCIES",
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
