"""Request and response bodies of the API. Requests are strict (JSON types, no coercion),
forbid unknown fields and bound every value (see `fields`); responses carry ids as strings,
timestamps in RFC 3339 UTC and money in integer minor units."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..campaigns import MAX_MEMBERS
from ..keys import ROLES
from ..subscriptions import CANCEL_REASONS
from ..support import CATEGORIES, CHANNELS, PRIORITIES
from .fields import (
    CardNumber,
    Country,
    Currency,
    Duration,
    Email,
    ExternalRef,
    Id,
    KeyName,
    MinorAmount,
    Name,
    Platform,
    PositiveMinor,
    Provider,
    Short,
    Subject,
    Timestamp,
    Title,
    bounded_int,
    check_text,
)

CancelReason = Literal[CANCEL_REASONS]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Category = Literal[CATEGORIES]  # type: ignore[valid-type]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]


class Input(BaseModel):
    """Every request body: unknown fields refused, and values taken as JSON types them (strict:
    no "100" or true for an integer, no 0 or "yes" for a boolean, no "0.2" for a number; a
    timestamp is an RFC 3339 string, see `fields.Timestamp`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return check_text(value)


class Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# ---- customers ---------------------------------------------------------------------------


class CustomerCreate(Input):
    country: Country
    signup_platform: Platform
    email: Email | None = None
    name: Name | None = None
    acquisition_channel: Short | None = None
    marketing_consent: bool | None = None
    external_ref: ExternalRef | None = None


class CustomerUpdate(Input):
    """Only the fields given change; a null leaves the field as it is."""

    country: Country | None = None
    signup_platform: Platform | None = None
    email: Email | None = None
    name: Name | None = None
    acquisition_channel: Short | None = None
    marketing_consent: bool | None = None
    external_ref: ExternalRef | None = None


class SubscriptionSummary(Output):
    id: str
    offer_id: str
    status: str
    platform: str
    currency: str
    price_minor: int
    discount_minor: int
    current_period_end: datetime
    cancel_at: datetime | None
    ended_at: datetime | None


class CustomerOut(Output):
    id: str
    external_ref: str | None
    email: str | None
    name: str | None
    country: str | None
    signup_platform: str | None
    acquisition_channel: str | None
    marketing_consent: bool | None
    created_at: datetime
    erased_at: datetime | None
    subscriptions: list[SubscriptionSummary] = []


class PaymentMethodCreate(Input):
    provider: Provider = "sandbox"
    card_number: CardNumber | None = Field(
        None, description="A card to tokenize; never stored nor returned (only brand, last4)."
    )
    exp_month: bounded_int(1, 12) | None = None
    exp_year: bounded_int(2000, 2100) | None = None


class PaymentMethodOut(Output):
    id: str
    customer_id: str
    provider: str
    kind: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    created_at: datetime


class ActivityCreate(Input):
    period_start: Timestamp
    period_end: Timestamp
    minutes_watched: bounded_int(0, 7 * 24 * 60)
    sessions: bounded_int(0, 100_000)
    platform: Platform


class ActivityOut(Output):
    event_id: str
    customer_id: str
    period_start: datetime
    period_end: datetime
    minutes_watched: int
    sessions: int
    platform: str


class EntitlementOut(Output):
    offer_id: str
    source: Literal["subscription", "purchase"]
    source_id: str
    status: str
    until: datetime | None
    platforms: list[str] | None


class EntitlementsOut(Output):
    customer_id: str
    at: datetime
    entitlements: list[EntitlementOut]


class AccessOut(Output):
    access: bool
    customer_id: str
    offer_id: str
    platform: str | None
    at: datetime
    entitlement: EntitlementOut | None


# ---- catalogue ---------------------------------------------------------------------------


class OfferCreate(Input):
    id: Id
    title: Title
    offer_type: Literal["subscription", "pass", "live_ppv", "tvod"]
    prices: Annotated[dict[Currency, MinorAmount], Field(min_length=1, max_length=200)]
    billing_period: Duration | None = None
    access_period: Duration | None = None
    trial_period: Duration | None = None
    platforms: Annotated[list[Platform], Field(min_length=1, max_length=7)] | None = None
    event_starts_at: Timestamp | None = None
    event_ends_at: Timestamp | None = None


class OfferVersionCreate(Input):
    title: Title | None = None
    prices: Annotated[dict[Currency, MinorAmount], Field(min_length=1, max_length=200)] | None = (
        None
    )
    trial_period: Duration | None = None
    active: bool | None = None


class OfferOut(Output):
    id: str
    version: int
    title: str
    offer_type: str
    billing_period: str | None
    access_period: str | None
    trial_period: str | None
    prices: dict[str, int]
    platforms: list[str] | None
    event_starts_at: datetime | None
    event_ends_at: datetime | None
    active: bool
    created_at: datetime
    updated_at: datetime


class OffersOut(Output):
    offers: list[OfferOut]


class CouponCreate(Input):
    id: Id
    discount_type: Literal["percent", "amount"]
    percent_off: bounded_int(1, 100) | None = None
    amount_off_minor: PositiveMinor | None = None
    currency: Currency | None = None
    duration: Literal["once", "repeating", "forever"] = "once"
    duration_months: bounded_int(1, 120) | None = None
    max_redemptions: bounded_int(1, 1_000_000_000) | None = None
    valid_until: Timestamp | None = None
    campaign_id: Id | None = None


class CouponOut(Output):
    id: str
    discount_type: str
    percent_off: int | None
    amount_off_minor: int | None
    currency: str | None
    duration: str
    duration_months: int | None
    max_redemptions: int | None
    redemptions: int
    valid_until: datetime | None
    campaign_id: str | None
    active: bool
    created_at: datetime


class CouponsOut(Output):
    coupons: list[CouponOut]


# ---- subscriptions -----------------------------------------------------------------------


class SubscriptionCreate(Input):
    customer_id: Id
    offer_id: Id
    platform: Platform
    currency: Currency
    payment_method_id: Id | None = None
    coupon_id: Id | None = None
    with_trial: bool = True


class CancelRequest(Input):
    reason: CancelReason = "unknown"
    immediately: bool = False
    initiated_by: Literal["customer", "merchant"] = "customer"


class PauseRequest(Input):
    resume_at: Timestamp | None = None


class ChangeRequest(Input):
    offer_id: Id


class CouponRequest(Input):
    coupon_id: Id


class PaymentMethodRequest(Input):
    payment_method_id: Id


class EndRequest(Input):
    reason: Literal["merchant", "refunded", "expired"] = "merchant"


class SubscriptionOut(Output):
    id: str
    customer_id: str
    offer_id: str
    offer_version: int
    platform: str
    provider: str
    payment_method_id: str | None
    status: str
    currency: str
    price_minor: int
    discount_minor: int
    billing_period: str
    coupon_id: str | None
    coupon_periods_left: int | None
    started_at: datetime
    trial_ends_at: datetime | None
    current_period_start: datetime
    current_period_end: datetime
    cancel_requested_at: datetime | None
    cancel_at: datetime | None
    cancel_reason: str | None
    cancel_initiated_by: str | None
    paused_at: datetime | None
    resume_at: datetime | None
    dunning_attempt: int
    next_retry_at: datetime | None
    grace_until: datetime | None
    ended_at: datetime | None
    ended_reason: str | None


# ---- purchases and payments --------------------------------------------------------------


class PurchaseCreate(Input):
    customer_id: Id
    offer_id: Id
    platform: Platform
    currency: Currency
    payment_method_id: Id | None = None


class PurchaseOut(Output):
    id: str
    customer_id: str
    offer_id: str
    offer_version: int
    offer_type: str
    platform: str
    provider: str
    amount_minor: int
    currency: str
    access_from: datetime
    access_until: datetime | None
    status: str
    created_at: datetime


class PaymentOut(Output):
    id: str
    customer_id: str
    subscription_id: str | None
    purchase_id: str | None
    amount_minor: int
    currency: str
    provider: str
    payment_method: str | None
    status: str
    failure_code: str | None
    attempt: int
    refunded_minor: int
    charged_back_minor: int
    created_at: datetime


class PaymentsOut(Output):
    customer_id: str
    payments: list[PaymentOut]


class RefundRequest(Input):
    amount_minor: PositiveMinor | None = Field(
        None, description="Minor units to give back; the whole remainder when omitted."
    )
    reason: Short | None = None
    end_access: bool = False


class ChargebackRequest(Input):
    amount_minor: PositiveMinor | None = None
    reason: Short | None = None


class RefundOut(Output):
    id: str
    payment_id: str
    kind: Literal["refund", "chargeback"]
    amount_minor: int
    reason: str | None
    created_at: datetime
    payment: PaymentOut


# ---- retention and support ---------------------------------------------------------------


class CampaignCreate(Input):
    name: Title
    coupon_id: Id
    customer_ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_MEMBERS)]
    control_share: Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.2
    seed: bounded_int(0, 2**53 - 1) | None = None  # exact in any JSON reader


class GroupResultOut(Output):
    group: Literal["treatment", "control"]
    members: int
    with_subscription: int
    still_live: int
    churn_rate: float | None


class CampaignOut(Output):
    id: str
    name: str
    action: str
    coupon_id: str | None
    control_share: float
    seed: int
    created_by: str | None
    created_at: datetime
    campaign_result: list[GroupResultOut]


class CampaignSummaryOut(Output):
    id: str
    name: str
    action: str
    coupon_id: str | None
    control_share: float
    created_by: str | None
    created_at: datetime


class CampaignsOut(Output):
    campaigns: list[CampaignSummaryOut]


class TicketCreate(Input):
    customer_id: Id
    channel: Channel
    category: Category
    priority: Priority = "normal"
    subject: Subject | None = None


class TicketResolve(Input):
    csat: bounded_int(1, 5) | None = None


class TicketOut(Output):
    id: str
    customer_id: str
    channel: str
    category: str
    priority: str
    subject: str | None
    status: str
    opened_at: datetime
    resolved_at: datetime | None
    csat: int | None


# ---- administration ----------------------------------------------------------------------


class ApiKeyCreate(Input):
    role: Role
    name: KeyName | None = None


class ApiKeyOut(Output):
    id: str
    prefix: str
    role: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret: shown this once, only its SHA-256 is kept.")


class ApiKeysOut(Output):
    api_keys: list[ApiKeyOut]


class AuditEntryOut(Output):
    id: int
    at: datetime
    actor: str
    role: str | None
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any] | None


class AuditOut(Output):
    entries: list[AuditEntryOut]


class BillingRunOut(Output):
    as_of: datetime
    outcomes: dict[str, int]


class HealthOut(Output):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]


class ErrorOut(Output):
    error: str
    message: str


class ValidationIssue(Output):
    loc: list[str]
    msg: str
    type: str | None


class ValidationErrorOut(ErrorOut):
    detail: list[ValidationIssue] = []
