"""The core's tables (SQLAlchemy 2 declarative). Migrations in `core/migrations` follow this."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from foundation.contract.outbox import outbox_table
from foundation.contract.webhooks import provider_webhooks_table

# an auto-incrementing big integer that SQLite accepts as its rowid alias
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Stored as naive UTC (portable), always returned as an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


# blanked by erasure, and kept blank by the database: an erasure is final
ERASED_BLANK = (
    "email",
    "name",
    "external_ref",
    "country",
    "signup_platform",
    "acquisition_channel",
    "marketing_consent",
)
ERASED_IS_BLANK = (
    "erased_at IS NULL OR (" + " AND ".join(f"{c} IS NULL" for c in ERASED_BLANK) + ")"
)
# a subscription is live until it ends; a customer has at most one live one per offer
LIVE_SUBSCRIPTION = "status <> 'ended'"


class Customer(Base):
    """The only place personal data (e-mail, name) lives; `customer.erased` blanks it."""

    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(ERASED_IS_BLANK, name="ck_customers_erased_blank"),)
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_ref: Mapped[str | None] = mapped_column(String(128), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))
    signup_platform: Mapped[str | None] = mapped_column(String(16))
    acquisition_channel: Mapped[str | None] = mapped_column(String(64))
    marketing_consent: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class PaymentMethod(Base):
    __tablename__ = "payment_methods"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    token: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32))  # card, paypal, store_account
    brand: Mapped[str | None] = mapped_column(String(32))
    last4: Mapped[str | None] = mapped_column(String(4))
    exp_month: Mapped[int | None]
    exp_year: Mapped[int | None]
    created_at: Mapped[datetime]


class Offer(Base):
    """The current version of an offer; every version is kept in `offer_versions`."""

    __tablename__ = "offers"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    title: Mapped[str] = mapped_column(String(200))
    offer_type: Mapped[str] = mapped_column(String(16))
    billing_period: Mapped[str | None] = mapped_column(String(16))
    access_period: Mapped[str | None] = mapped_column(String(16))
    trial_period: Mapped[str | None] = mapped_column(String(16))
    prices: Mapped[dict] = mapped_column(JSON)  # currency → price_minor
    platforms: Mapped[list | None] = mapped_column(JSON)  # None: every platform
    event_starts_at: Mapped[datetime | None]  # live pay-per-view
    event_ends_at: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OfferVersion(Base):
    __tablename__ = "offer_versions"
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    billing_period: Mapped[str | None] = mapped_column(String(16))
    access_period: Mapped[str | None] = mapped_column(String(16))
    trial_period: Mapped[str | None] = mapped_column(String(16))
    prices: Mapped[dict] = mapped_column(JSON)
    published_at: Mapped[datetime]


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32), default="coupon_offered")
    coupon_id: Mapped[str | None] = mapped_column(ForeignKey("coupons.id"))
    control_share: Mapped[float]
    seed: Mapped[int] = mapped_column(BigInteger)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class Coupon(Base):
    __tablename__ = "coupons"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    discount_type: Mapped[str] = mapped_column(String(8))  # percent | amount
    percent_off: Mapped[int | None]
    amount_off_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    duration: Mapped[str] = mapped_column(String(16))  # once | repeating | forever
    duration_months: Mapped[int | None]
    max_redemptions: Mapped[int | None]
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    valid_until: Mapped[datetime | None]
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class Subscription(Base):
    __tablename__ = "subscriptions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    offer_version: Mapped[int]
    platform: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    payment_method_id: Mapped[str | None] = mapped_column(ForeignKey("payment_methods.id"))
    status: Mapped[str] = mapped_column(String(24), index=True)
    status_before_cancel: Mapped[str | None] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    billing_period: Mapped[str] = mapped_column(String(16))
    coupon_id: Mapped[str | None] = mapped_column(ForeignKey("coupons.id"))
    coupon_periods_left: Mapped[int | None]  # None: forever (or no coupon)
    started_at: Mapped[datetime]
    trial_ends_at: Mapped[datetime | None]
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    cancel_requested_at: Mapped[datetime | None]
    cancel_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(32))
    cancel_initiated_by: Mapped[str | None] = mapped_column(String(16))
    paused_at: Mapped[datetime | None]
    resume_at: Mapped[datetime | None]
    dunning_attempt: Mapped[int] = mapped_column(Integer, default=0)
    next_retry_at: Mapped[datetime | None]
    grace_until: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(32))
    version_id: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version_id}
    __table_args__ = (
        Index(
            "uq_subscriptions_live_offer",
            "customer_id",
            "offer_id",
            unique=True,
            sqlite_where=text(LIVE_SUBSCRIPTION),
            postgresql_where=text(LIVE_SUBSCRIPTION),
        ),
    )


class TrialGrant(Base):
    """The one trial a customer gets per offer, kept when the subscription that had it changes
    offer or ends (the primary key is the rule)."""

    __tablename__ = "trial_grants"
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id"))
    granted_at: Mapped[datetime]


class Purchase(Base):
    __tablename__ = "purchases"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    offer_id: Mapped[str] = mapped_column(ForeignKey("offers.id"))
    offer_version: Mapped[int]
    offer_type: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str] = mapped_column(String(32))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    access_from: Mapped[datetime]
    access_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # completed | refunded
    created_at: Mapped[datetime]


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    subscription_id: Mapped[str | None] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    purchase_id: Mapped[str | None] = mapped_column(ForeignKey("purchases.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider: Mapped[str] = mapped_column(String(32))
    provider_ref: Mapped[str | None] = mapped_column(String(128))
    payment_method: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    failure_code: Mapped[str | None] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_back_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime]


class Refund(Base):
    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # refund | chargeback
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class CampaignMember(Base):
    __tablename__ = "campaign_members"
    campaign_id: Mapped[str] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    group: Mapped[str] = mapped_column("group_name", String(16))  # treatment | control
    subscription_id: Mapped[str | None] = mapped_column(String(64))
    coupon_applied: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(String(200))


class SupportTicket(Base):
    __tablename__ = "support_tickets"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str | None] = mapped_column(Text)  # personal: blanked on erasure
    status: Mapped[str] = mapped_column(String(16))  # open | resolved
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    csat: Mapped[int | None]


class ApiKey(Base):
    """An API key: only its SHA-256 is stored (keys are 256-bit random, so a fast hash is
    safe); `prefix` identifies it in the audit log and lists."""

    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The first response to a POST with an Idempotency-Key, replayed for every retry."""

    __tablename__ = "idempotency_keys"
    api_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    __table_args__ = (Index("ix_audit_target", "target_type", "target_id"),)


class JobRun(Base):
    """Runs of `churniq core renew` (and its Dagster schedule): what each run did."""

    __tablename__ = "job_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    as_of: Mapped[datetime]
    summary: Mapped[dict | None] = mapped_column(JSON)


# the contract events of every state change, written in the same transaction (the reader in
# ingestion.sources.core_outbox moves them to the warehouse exactly once)
OUTBOX = outbox_table(Base.metadata)

# every verified provider webhook, once by the provider's event id (core.webhooks writes it in
# the transaction of the contract events it translates to)
PROVIDER_WEBHOOKS = provider_webhooks_table(Base.metadata)
