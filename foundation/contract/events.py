"""Typed schemas of every event of the contract, version 1 (CONTRACT.md).

One pydantic model per payload; `EVENT_MODELS` maps each `event_type` to its payload model.
Payloads accept extra fields (backward-compatible extension); the envelope is strict.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..vocabulary import CANCEL_REASONS
from .types import (
    DURATION_PATTERN,
    MAX_COUNT,
    MAX_MINOR,
    MAX_MINUTES,
    Count,
    Country,
    Currency,
    Duration,
    Id,
    MinorAmount,
    OfferType,
    Platform,
    Timestamp,
)

SCHEMA_VERSION = 1


def _exact_int(value: object) -> object:
    """A literal integer must be a JSON integer: pydantic would take `true` or `1.0` as 1."""
    if type(value) is not int:
        raise ValueError("wrong_type: must be an integer")
    return value


class Payload(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    # Cross-field rules in SQL (condition that must hold, reason, detail) for the vectorised
    # validator; each mirrors a model_validator below.
    sql_rules: ClassVar[tuple[tuple[str, str, str], ...]] = ()


class OfferPublished(Payload):
    offer_id: Id
    title: str
    offer_type: OfferType
    billing_period: Duration | None = None
    access_period: Duration | None = None
    price_minor: MinorAmount
    currency: Currency
    trial_period: Duration | None = None


class CustomerCreated(Payload):
    country: Country
    signup_platform: Platform
    acquisition_channel: str | None = None
    marketing_consent: bool | None = None


class CustomerUpdated(Payload):
    country: Country | None = None
    signup_platform: Platform | None = None
    acquisition_channel: str | None = None
    marketing_consent: bool | None = None


class CustomerErased(Payload):
    pass


class SubscriptionStarted(Payload):
    subscription_id: Id
    offer_id: Id
    platform: Platform
    price_minor: MinorAmount
    currency: Currency
    billing_period: Duration
    discount_minor: MinorAmount = 0
    coupon_id: Id | None = None
    trial_ends_at: Timestamp | None = None
    current_period_end: Timestamp
    # Extension (backward compatible, optional): a migrated subscription whose earlier history is
    # unknown (an export holds its start and current terms, not its past changes) says from when
    # its events are complete; the marts mark the months before as approximate
    # (`metrics_monthly.is_exact`). Absent: the history is complete.
    history_known_from: Timestamp | None = Field(
        default=None,
        description="the moment from which this subscription's events are complete (migrated "
        "history); the terms before it are approximate. Absent: complete from the start.",
    )


class SubscriptionRenewed(Payload):
    subscription_id: Id
    period_start: Timestamp
    period_end: Timestamp
    price_minor: MinorAmount
    discount_minor: MinorAmount = 0
    currency: Currency


class SubscriptionChanged(Payload):
    subscription_id: Id
    effective_at: Timestamp
    offer_id: Id
    price_minor: MinorAmount
    discount_minor: MinorAmount = 0
    currency: Currency
    billing_period: Duration


CancelReason = Literal[CANCEL_REASONS]  # type: ignore[valid-type]  # foundation.vocabulary


class SubscriptionCancelled(Payload):
    subscription_id: Id
    effective_at: Timestamp
    reason: CancelReason
    initiated_by: Literal["customer", "merchant", "system"]


class SubscriptionReactivated(Payload):
    subscription_id: Id


class SubscriptionPaused(Payload):
    subscription_id: Id
    resume_at: Timestamp | None = None


class SubscriptionResumed(Payload):
    subscription_id: Id


class SubscriptionEnded(Payload):
    subscription_id: Id
    ended_reason: Literal["cancelled", "payment_failed", "refunded", "expired", "merchant"]


class PurchaseCompleted(Payload):
    purchase_id: Id
    offer_id: Id
    offer_type: Literal["pass", "live_ppv", "tvod"]
    platform: Platform
    amount_minor: MinorAmount
    currency: Currency
    access_until: Timestamp | None = None


Provider = Annotated[str, Field(min_length=1, max_length=64)]


class _PaymentTarget(Payload):
    sql_rules = (
        (
            "subscription_id is not null or purchase_id is not null",
            "missing_field",
            "data.subscription_id or data.purchase_id",
        ),
    )

    @model_validator(mode="after")
    def _has_target(self) -> _PaymentTarget:
        if self.subscription_id is None and self.purchase_id is None:  # type: ignore[attr-defined]
            raise ValueError("missing_field: data.subscription_id or data.purchase_id")
        return self


class PaymentSucceeded(_PaymentTarget):
    payment_id: Id
    subscription_id: Id | None = None
    purchase_id: Id | None = None
    amount_minor: MinorAmount
    currency: Currency
    provider: Provider
    payment_method: str | None = None


FailureCode = Literal[
    "insufficient_funds",
    "card_expired",
    "do_not_honor",
    "fraud_suspected",
    "authentication_required",
    "technical",
    "other",
]


class PaymentFailed(_PaymentTarget):
    payment_id: Id
    subscription_id: Id | None = None
    purchase_id: Id | None = None
    amount_minor: MinorAmount
    currency: Currency
    provider: Provider
    payment_method: str | None = None
    failure_code: FailureCode
    attempt: Annotated[int, Field(ge=1, le=MAX_COUNT)]


class PaymentRefunded(Payload):
    payment_id: Id
    refund_id: Id
    amount_minor: MinorAmount
    currency: Currency
    reason: str | None = None


class PaymentChargeback(Payload):
    payment_id: Id
    amount_minor: MinorAmount
    currency: Currency
    reason: str | None = None


class CouponRedeemed(Payload):
    coupon_id: Id
    campaign_id: Id | None = None
    subscription_id: Id | None = None
    discount_type: Literal["percent", "amount"]
    discount_value: Annotated[float, Field(ge=0, le=MAX_MINOR)]
    duration: Annotated[
        str,
        Field(
            pattern=rf"^(once|forever|{DURATION_PATTERN.strip('^$')})$",
            json_schema_extra={"x-churniq-kind": "duration"},
        ),
    ]


class RetentionActionTaken(Payload):
    campaign_id: Id
    action: Annotated[str, Field(min_length=1, max_length=64)]
    group: Literal["treatment", "control"]
    coupon_id: Id | None = None


class SupportTicketOpened(Payload):
    ticket_id: Id
    channel: Literal["email", "chat", "phone", "social", "in_app"]
    category: Literal["billing", "technical", "content", "account", "cancellation", "other"]
    priority: Literal["low", "normal", "high", "urgent"]


class SupportTicketResolved(Payload):
    ticket_id: Id
    resolution_minutes: Count
    csat: Annotated[int, Field(ge=1, le=5)] | None = None


class EngagementActivity(Payload):
    period_start: Timestamp
    period_end: Timestamp
    minutes_watched: Annotated[float, Field(ge=0, le=MAX_MINUTES)]
    sessions: Count
    platform: Platform

    sql_rules = (
        (
            "period_end >= period_start and period_end <= period_start + interval 7 day",
            "invalid_period",
            "data.period_end must be 0 to 7 days after data.period_start",
        ),
    )

    @model_validator(mode="after")
    def _at_most_a_week(self) -> EngagementActivity:
        span = self.period_end - self.period_start
        if span.total_seconds() < 0 or span.days > 7 or (span.days == 7 and span.seconds > 0):
            raise ValueError("invalid_period: data.period_end must be 0 to 7 days after start")
        return self


EVENT_MODELS: dict[str, type[Payload]] = {
    "offer.published": OfferPublished,
    "customer.created": CustomerCreated,
    "customer.updated": CustomerUpdated,
    "customer.erased": CustomerErased,
    "subscription.started": SubscriptionStarted,
    "subscription.renewed": SubscriptionRenewed,
    "subscription.changed": SubscriptionChanged,
    "subscription.cancelled": SubscriptionCancelled,
    "subscription.reactivated": SubscriptionReactivated,
    "subscription.paused": SubscriptionPaused,
    "subscription.resumed": SubscriptionResumed,
    "subscription.ended": SubscriptionEnded,
    "purchase.completed": PurchaseCompleted,
    "payment.succeeded": PaymentSucceeded,
    "payment.failed": PaymentFailed,
    "payment.refunded": PaymentRefunded,
    "payment.chargeback": PaymentChargeback,
    "coupon.redeemed": CouponRedeemed,
    "retention.action_taken": RetentionActionTaken,
    "support.ticket_opened": SupportTicketOpened,
    "support.ticket_resolved": SupportTicketResolved,
    "engagement.activity": EngagementActivity,
}

EVENT_TYPES: tuple[str, ...] = tuple(EVENT_MODELS)
# Events about the catalogue rather than a subscriber carry an empty customer_id.
CATALOGUE_EVENT_TYPES: frozenset[str] = frozenset({"offer.published"})
EVENT_FAMILIES: dict[str, str] = {t: t.split(".")[0] for t in EVENT_TYPES}


class Envelope(BaseModel):
    """The envelope shared by every event; `data` is checked against its payload model."""

    model_config = ConfigDict(strict=True, extra="allow")

    event_id: Id
    event_type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    schema_version: Annotated[Literal[1], BeforeValidator(_exact_int)]
    occurred_at: Timestamp
    source: Annotated[str, Field(min_length=1, max_length=64)]
    customer_id: Annotated[str, Field(max_length=128)]
    data: dict
