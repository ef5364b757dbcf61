"""The API's routes, one module per resource."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from ..fields import ID_MAX, ID_PATTERN
from ..schemas import ErrorOut, ValidationErrorOut


def path_id(what: str) -> Any:
    return Annotated[
        str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN, description=f"The {what}")
    ]


CustomerId = path_id("customer's id")
OfferId = path_id("offer's id")
CouponId = path_id("coupon's id")
SubscriptionId = path_id("subscription's id")
PurchaseId = path_id("purchase's id")
PaymentId = path_id("payment's id")
CampaignId = path_id("campaign's id")
TicketId = path_id("ticket's id")
KeyId = path_id("API key's id")

# the error answers every authenticated route may give (documented in the OpenAPI)
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorOut,
        "description": "The body cannot be read (not UTF-8, or nested too deep)",
    },
    401: {
        "model": ErrorOut,
        "description": "No API key, or an unknown or revoked one",
        "headers": {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    },
    403: {"model": ErrorOut, "description": "The key's role may not call this route"},
    404: {"model": ErrorOut, "description": "Not found"},
    409: {"model": ErrorOut, "description": "Not allowed in the current state, or a conflict"},
    413: {"model": ErrorOut, "description": "The body is larger than 4 MiB"},
    422: {
        "model": ValidationErrorOut,
        "description": "Invalid input (the message names the field)",
    },
    503: {
        "model": ErrorOut,
        "description": "The database is busy: retry",
        "headers": {
            "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
        },
    },
}
