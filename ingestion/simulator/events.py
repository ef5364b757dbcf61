"""Column-wise event buffer and the payload schema of every simulated event type.

The engine never builds a Python dict per event: it appends numpy arrays (timestamps, customer
indexes and integer-coded fields) per event type; the writer turns them into contract JSON with
vectorised string expressions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from . import catalogue as cat

# Field kinds:
#   ("str", vocab)  integer code into vocab        ("int",)   integer
#   ("bool",)       0/1                            ("ts",)    epoch seconds -> RFC 3339 UTC
#   ("id", prefix)  integer -> "{prefix}{seed}-{n}" ("sub",)   subscription number -> "s{seed}-{cust}-{k}"
#   ("offer",)      offer code -> offer_id
# A field marked optional is omitted from the JSON when its value is negative (-1 sentinel).


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    vocab: tuple[str, ...] | str | None = None
    optional: bool = False
    src: str | None = None  # column holding the value (defaults to name)

    @property
    def column(self) -> str:
        return self.src or self.name


COUNTRY_CODES = tuple(c for c, _, _ in cat.COUNTRIES)
COUPON_IDS = tuple(c[0] for c in cat.COUPONS)
COUPON_CAMPAIGNS = tuple(c[1] for c in cat.COUPONS)
COUPON_TYPES = tuple(c[2] for c in cat.COUPONS)
COUPON_DURATIONS = tuple(c[4] for c in cat.COUPONS)

_SUB = Field("subscription_id", "sub", src="sub_k")
_CUR = Field("currency", "str", cat.CURRENCIES)

SCHEMAS: dict[str, tuple[Field, ...]] = {
    "customer.created": (
        Field("country", "str", COUNTRY_CODES),
        Field("signup_platform", "str", cat.PLATFORMS),
        Field("acquisition_channel", "str", cat.CHANNELS),
        Field("marketing_consent", "bool"),
    ),
    "customer.updated": (Field("marketing_consent", "bool"),),
    "subscription.started": (
        _SUB,
        Field("offer_id", "offer", src="offer"),
        Field("platform", "str", cat.PLATFORMS),
        Field("price_minor", "int"),
        _CUR,
        Field("billing_period", "str", cat.BILLING_PERIODS),
        Field("discount_minor", "int"),
        Field("coupon_id", "str", COUPON_IDS, optional=True, src="coupon"),
        Field("trial_ends_at", "ts", optional=True),
        Field("current_period_end", "ts"),
    ),
    "subscription.renewed": (
        _SUB,
        Field("period_start", "ts"),
        Field("period_end", "ts"),
        Field("price_minor", "int"),
        Field("discount_minor", "int"),
        _CUR,
    ),
    "subscription.changed": (
        _SUB,
        Field("effective_at", "ts"),
        Field("offer_id", "offer", src="offer"),
        Field("price_minor", "int"),
        Field("discount_minor", "int"),
        _CUR,
        Field("billing_period", "str", cat.BILLING_PERIODS),
    ),
    "subscription.cancelled": (
        _SUB,
        Field("effective_at", "ts"),
        Field("reason", "str", cat.CANCEL_REASONS),
        Field("initiated_by", "str", cat.INITIATED_BY),
    ),
    "subscription.reactivated": (_SUB,),
    "subscription.paused": (_SUB, Field("resume_at", "ts", optional=True)),
    "subscription.resumed": (_SUB,),
    "subscription.ended": (_SUB, Field("ended_reason", "str", cat.ENDED_REASONS)),
    "purchase.completed": (
        Field("purchase_id", "id", "o"),
        Field("offer_id", "offer", src="offer"),
        Field("offer_type", "str", cat.OFFER_TYPES),
        Field("platform", "str", cat.PLATFORMS),
        Field("amount_minor", "int"),
        _CUR,
        Field("access_until", "ts", optional=True),
    ),
    "payment.succeeded": (
        Field("payment_id", "id", "p"),
        Field("subscription_id", "sub", optional=True, src="sub_k"),
        Field("purchase_id", "id", "o", optional=True),
        Field("amount_minor", "int"),
        _CUR,
        Field("provider", "str", cat.PROVIDERS),
        Field("payment_method", "str", cat.PAYMENT_METHODS, optional=True, src="method"),
    ),
    "payment.failed": (
        Field("payment_id", "id", "p"),
        Field("subscription_id", "sub", src="sub_k"),
        Field("amount_minor", "int"),
        _CUR,
        Field("provider", "str", cat.PROVIDERS),
        Field("payment_method", "str", cat.PAYMENT_METHODS, optional=True, src="method"),
        Field("failure_code", "str", cat.FAILURE_CODES),
        Field("attempt", "int"),
    ),
    "payment.refunded": (
        Field("payment_id", "id", "p"),
        Field("refund_id", "id", "r"),
        Field("amount_minor", "int"),
        _CUR,
        Field("reason", "str", cat.REFUND_REASONS, optional=True),
    ),
    "payment.chargeback": (
        Field("payment_id", "id", "p"),
        Field("amount_minor", "int"),
        _CUR,
        Field("reason", "str", cat.CHARGEBACK_REASONS, optional=True),
    ),
    "coupon.redeemed": (
        Field("coupon_id", "str", COUPON_IDS, src="coupon"),
        Field("campaign_id", "str", COUPON_CAMPAIGNS, optional=True, src="coupon"),
        Field("subscription_id", "sub", optional=True, src="sub_k"),
        Field("discount_type", "str", COUPON_TYPES, src="coupon"),
        Field("discount_value", "int"),
        Field("duration", "str", COUPON_DURATIONS, src="coupon"),
    ),
    "support.ticket_opened": (
        Field("ticket_id", "id", "t"),
        Field("channel", "str", cat.TICKET_CHANNELS),
        Field("category", "str", cat.TICKET_CATEGORIES),
        Field("priority", "str", cat.TICKET_PRIORITIES),
    ),
    "support.ticket_resolved": (
        Field("ticket_id", "id", "t"),
        Field("resolution_minutes", "int"),
        Field("csat", "int", optional=True),
    ),
    "engagement.activity": (
        Field("period_start", "ts"),
        Field("period_end", "ts"),
        Field("minutes_watched", "int"),
        Field("sessions", "int"),
        Field("platform", "str", cat.PLATFORMS),
    ),
}

EVENT_TYPES: tuple[str, ...] = ("offer.published", *SCHEMAS)
TYPE_CODE = {t: i for i, t in enumerate(EVENT_TYPES)}


class EventBuffer:
    """Collects events column-wise: per type, lists of numpy chunks per column."""

    def __init__(self) -> None:
        self._cols: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))

    def add(self, etype: str, ts: np.ndarray, cust: np.ndarray, **cols) -> None:
        ts = np.asarray(ts, dtype=np.int64)
        n = ts.shape[0]
        if n == 0:
            return
        store = self._cols[etype]
        store["ts"].append(ts)
        store["cust"].append(np.broadcast_to(np.asarray(cust, dtype=np.int64), (n,)))
        needed = {f.column for f in SCHEMAS[etype]}
        missing = needed - cols.keys()
        if missing:
            raise KeyError(f"{etype}: missing columns {sorted(missing)}")
        for name in needed:
            store[name].append(np.broadcast_to(np.asarray(cols[name], dtype=np.int64), (n,)))

    def finish(self) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for etype in SCHEMAS:  # fixed order: deterministic
            if etype in self._cols:
                out[etype] = {k: np.concatenate(v) for k, v in sorted(self._cols[etype].items())}
        return out
