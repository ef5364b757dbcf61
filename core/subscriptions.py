"""Subscriptions and their state machine.

    trialing ──trial end, paid──► active ──renewal paid──► active
        │                          │  ▲
        │        renewal declined  ▼  │ retry paid
        └──────────────────────► past_due ──retries exhausted / grace over──► ended
    trialing, active ──cancel──► cancellation_pending ──effective_at──► ended
                                   │ reactivate (before effective_at) ▲
                                   └─► the state it came from          │
    active ──pause──► paused ──resume (or resume_at)──► active         │
    past_due, paused ──cancel──► ended at once ─────────────────────────┘
    past_due ──new card──► retried at the next billing run

A cancellation requested after the paid period ended but before the billing cycle renewed it
takes effect at once: nothing paid covers the time after the period end.

Every operation names the states it is allowed from; anything else raises InvalidTransition
with the current state, and nothing is written.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from foundation.vocabulary import CANCEL_REASONS

from .billing import charge, charge_up_front, emit_payment
from .catalog import (
    contract_duration,
    coupon_discount,
    coupon_periods,
    get_coupon,
    get_offer,
    price_of,
    redeem,
)
from .customers import get_customer, get_payment_method
from .errors import Conflict, InvalidInput, InvalidTransition, NotFound
from .ids import new_id
from .periods import add_duration
from .schema import Coupon, Subscription, TrialGrant
from .unit import Unit

LIVE = ("trialing", "active", "past_due", "cancellation_pending", "paused")
STATES = (*LIVE, "ended")
ALLOWED: dict[str, tuple[str, ...]] = {
    "cancel": ("trialing", "active", "past_due", "paused"),
    "reactivate": ("cancellation_pending",),
    "pause": ("active",),
    "resume": ("paused",),
    "change": ("trialing", "active"),
    "apply_coupon": ("trialing", "active", "past_due", "cancellation_pending"),
    "renew": ("trialing", "active"),
    "retry": ("past_due",),
    "expire": ("cancellation_pending",),
    "end": LIVE,
    "update_payment_method": LIVE,
}


def require(sub: Subscription, operation: str) -> None:
    allowed = ALLOWED[operation]
    if sub.status not in allowed:
        raise InvalidTransition(
            f"cannot {operation.replace('_', ' ')} subscription {sub.id}: it is {sub.status} "
            f"(allowed when {' or '.join(allowed)})"
        )


def get_subscription(u: Unit, subscription_id: str, *, lock: bool = True) -> Subscription:
    sub = u.session.get(Subscription, subscription_id, with_for_update=lock or None)
    if sub is None:
        raise NotFound(f"subscription {subscription_id} not found")
    return sub


def _refuse_second_live(u: Unit, customer_id: str, offer_id: str, but: str | None = None) -> None:
    """Conflict when the customer has a live subscription to the offer (other than `but`)."""
    query = select(Subscription.id).where(
        Subscription.customer_id == customer_id,
        Subscription.offer_id == offer_id,
        Subscription.status.in_(LIVE),
        Subscription.id != (but or ""),
    )
    if u.session.scalar(query.limit(1)) is not None:
        raise _already_live(customer_id, offer_id)


def _already_live(customer_id: str, offer_id: str) -> Conflict:
    return Conflict(f"customer {customer_id} already has a live subscription to {offer_id}")


# how each engine names a violation of the rules the database keeps for subscriptions
_LIVE_INDEX = ("uq_subscriptions_live_offer", "subscriptions.customer_id, subscriptions.offer_id")
_TRIAL_KEY = ("trial_grants_pkey", "trial_grants.customer_id, trial_grants.offer_id")


def _flush_claim(u: Unit, customer_id: str, offer_id: str) -> None:
    """Write the pending rows now, before any money moves. A concurrent change that the checks
    could not see (it had not committed) and that the database's constraints refuse gets the
    same Conflict as the sequential case."""
    try:
        u.session.flush()
    except IntegrityError as exc:
        why = str(exc.orig)
        if any(name in why for name in _LIVE_INDEX):
            raise _already_live(customer_id, offer_id) from exc
        if any(name in why for name in _TRIAL_KEY):
            raise Conflict(
                f"customer {customer_id} already had the trial of {offer_id}: retry"
            ) from exc
        raise


def _changed(u: Unit, sub: Subscription, effective_at: datetime) -> None:
    u.emit(
        "subscription.changed",
        sub.customer_id,
        {
            "subscription_id": sub.id,
            "effective_at": effective_at,
            "offer_id": sub.offer_id,
            "price_minor": sub.price_minor,
            "discount_minor": sub.discount_minor,
            "currency": sub.currency,
            "billing_period": sub.billing_period,
        },
    )


def _redeemed(u: Unit, sub: Subscription, coupon: Coupon, campaign_id: str | None) -> None:
    data = {
        "coupon_id": coupon.id,
        "subscription_id": sub.id,
        "discount_type": coupon.discount_type,
        "discount_value": coupon.percent_off
        if coupon.discount_type == "percent"
        else coupon.amount_off_minor,
        "duration": contract_duration(coupon),
    }
    if campaign_id or coupon.campaign_id:
        data["campaign_id"] = campaign_id or coupon.campaign_id
    u.emit("coupon.redeemed", sub.customer_id, data)


def start_subscription(
    u: Unit,
    *,
    customer_id: str,
    offer_id: str,
    platform: str,
    currency: str,
    payment_method_id: str | None = None,
    coupon_id: str | None = None,
    with_trial: bool = True,
    subscription_id: str | None = None,
) -> Subscription:
    """Sign up: a trial when the offer has one (once per customer and offer), else the first
    period is charged now; a declined first charge refuses the sign-up (PaymentDeclined).

    The customer's row is locked first, so parallel sign-ups of one customer run one after the
    other and each sees the subscriptions and trials the ones before committed; the database's
    constraints (one live subscription per customer and offer, one trial) hold regardless."""
    customer = get_customer(u, customer_id, lock=True)
    offer = get_offer(u, offer_id)
    if offer.offer_type != "subscription":
        raise InvalidInput(f"offer_id: {offer_id} is a {offer.offer_type}; buy it as a purchase")
    if not offer.active:
        raise Conflict(f"offer {offer_id} is no longer sold")
    if offer.platforms and platform not in offer.platforms:
        raise InvalidInput(f"platform: offer {offer_id} is not sold on {platform}")
    price = price_of(offer, currency)
    _refuse_second_live(u, customer.id, offer.id)
    method = get_payment_method(u, customer.id, payment_method_id)
    coupon = get_coupon(u, coupon_id, lock=True) if coupon_id else None
    discount = coupon_discount(coupon, price, currency) if coupon else 0
    trial = None
    if with_trial and offer.trial_period and _trial_left(u, customer.id, offer.id):
        trial = offer.trial_period
    sub = Subscription(
        id=subscription_id or new_id("sub"),
        customer_id=customer.id,
        offer_id=offer.id,
        offer_version=offer.version,
        platform=platform,
        provider=method.provider,
        payment_method_id=method.id,
        status="trialing" if trial else "active",
        currency=currency,
        price_minor=price,
        discount_minor=discount,
        billing_period=offer.billing_period,
        coupon_id=coupon.id if coupon else None,
        coupon_periods_left=coupon_periods(coupon, offer.billing_period) if coupon else None,
        started_at=u.now,
        trial_ends_at=add_duration(u.now, trial) if trial else None,
        current_period_start=u.now,
        current_period_end=add_duration(u.now, trial or offer.billing_period),
        dunning_attempt=0,
    )
    if not trial and coupon is not None and sub.coupon_periods_left is not None:
        sub.coupon_periods_left -= 1  # the first period used one
    if coupon is not None:
        redeem(u, coupon)
    u.session.add(sub)
    if trial:
        u.session.add(
            TrialGrant(
                customer_id=customer.id, offer_id=offer.id, subscription_id=sub.id, granted_at=u.now
            )
        )
    _flush_claim(u, customer.id, offer.id)
    payment = None
    if not trial and price - discount > 0:
        payment = charge_up_front(
            u,
            customer_id=customer.id,
            method=method,
            amount_minor=price - discount,
            currency=currency,
            idempotency_key=f"{sub.id}:signup",
            what="the first payment",
        )
    if coupon is not None:
        _redeemed(u, sub, coupon, None)
    data = {
        "subscription_id": sub.id,
        "offer_id": offer.id,
        "platform": platform,
        "price_minor": price,
        "currency": currency,
        "billing_period": offer.billing_period,
        "discount_minor": discount,
        "current_period_end": sub.current_period_end,
    }
    data |= {"coupon_id": coupon.id} if coupon else {}
    data |= {"trial_ends_at": sub.trial_ends_at} if trial else {}
    u.emit("subscription.started", customer.id, data)
    if payment is not None:
        payment.subscription_id = sub.id
        u.session.add(payment)
        emit_payment(u, payment)
    u.audit("subscription.start", "subscription", sub.id, offer_id=offer.id, trial=bool(trial))
    return sub


def _trial_left(u: Unit, customer_id: str, offer_id: str) -> bool:
    """Whether the customer may still have the offer's trial: never subscribed to the offer and
    never had its trial (also not on a subscription that moved to another offer since)."""
    if u.session.get(TrialGrant, (customer_id, offer_id)) is not None:
        return False
    query = select(Subscription.id).where(
        Subscription.customer_id == customer_id, Subscription.offer_id == offer_id
    )
    return u.session.scalar(query.limit(1)) is None


def _end(u: Unit, sub: Subscription, reason: str, at: datetime) -> None:
    sub.status = "ended"
    sub.ended_at = at
    sub.ended_reason = reason
    sub.next_retry_at = sub.grace_until = None
    u.emit(
        "subscription.ended",
        sub.customer_id,
        {"subscription_id": sub.id, "ended_reason": reason},
        occurred_at=at,
    )


def cancel_subscription(
    u: Unit,
    subscription_id: str,
    *,
    reason: str = "unknown",
    initiated_by: str = "customer",
    immediately: bool = False,
) -> Subscription:
    """A cancellation request: access continues to the end of the paid (or trial) period,
    except in dunning or while paused, and when `immediately`, where access ends now."""
    if reason not in CANCEL_REASONS:
        raise InvalidInput(f"reason: must be one of {', '.join(CANCEL_REASONS)}")
    if initiated_by not in ("customer", "merchant", "system"):
        raise InvalidInput("initiated_by: must be customer, merchant or system")
    sub = get_subscription(u, subscription_id)
    require(sub, "cancel")
    unpaid = sub.current_period_end <= u.now  # the period ended; no renewal has run yet
    at_once = immediately or unpaid or sub.status in ("past_due", "paused")
    effective = u.now if at_once else sub.current_period_end
    sub.cancel_requested_at = u.now
    sub.cancel_at = effective
    sub.cancel_reason = reason
    sub.cancel_initiated_by = initiated_by
    u.emit(
        "subscription.cancelled",
        sub.customer_id,
        {
            "subscription_id": sub.id,
            "effective_at": effective,
            "reason": reason,
            "initiated_by": initiated_by,
        },
    )
    if at_once:
        _end(u, sub, "cancelled", u.now)
    else:
        sub.status_before_cancel = sub.status
        sub.status = "cancellation_pending"
    u.audit("subscription.cancel", "subscription", sub.id, reason=reason, immediately=at_once)
    return sub


def reactivate_subscription(u: Unit, subscription_id: str) -> Subscription:
    sub = get_subscription(u, subscription_id)
    require(sub, "reactivate")
    if sub.cancel_at is not None and u.now >= sub.cancel_at:
        raise InvalidTransition(
            f"cannot reactivate subscription {sub.id}: its cancellation took effect at "
            f"{sub.cancel_at:%Y-%m-%d %H:%M}"
        )
    sub.status = sub.status_before_cancel or "active"
    sub.status_before_cancel = None
    sub.cancel_requested_at = sub.cancel_at = sub.cancel_reason = sub.cancel_initiated_by = None
    u.emit("subscription.reactivated", sub.customer_id, {"subscription_id": sub.id})
    u.audit("subscription.reactivate", "subscription", sub.id)
    return sub


def pause_subscription(
    u: Unit, subscription_id: str, *, resume_at: datetime | None = None
) -> Subscription:
    """Pause now; the unused part of the paid period is kept and given back at resume."""
    sub = get_subscription(u, subscription_id)
    require(sub, "pause")
    if resume_at is not None and resume_at <= u.now:
        raise InvalidInput("resume_at: must be in the future")
    sub.status = "paused"
    sub.paused_at = u.now
    sub.resume_at = resume_at
    data = {"subscription_id": sub.id} | ({"resume_at": resume_at} if resume_at else {})
    u.emit("subscription.paused", sub.customer_id, data)
    u.audit("subscription.pause", "subscription", sub.id)
    return sub


def resume_subscription(u: Unit, subscription_id: str, at: datetime | None = None) -> Subscription:
    sub = get_subscription(u, subscription_id)
    require(sub, "resume")
    when = at or u.now
    remaining = sub.current_period_end - (sub.paused_at or when)
    sub.current_period_end = when + max(remaining, timedelta(0))
    sub.status = "active"
    sub.paused_at = sub.resume_at = None
    u.emit("subscription.resumed", sub.customer_id, {"subscription_id": sub.id}, occurred_at=when)
    u.audit("subscription.resume", "subscription", sub.id)
    return sub


def change_offer(u: Unit, subscription_id: str, *, offer_id: str) -> Subscription:
    """Upgrade, downgrade or move to another plan: effective now; the next renewal charges
    the new price. A coupon's discount is recomputed on the new price."""
    sub = get_subscription(u, subscription_id)
    require(sub, "change")
    offer = get_offer(u, offer_id)
    if offer.offer_type != "subscription" or not offer.active:
        raise InvalidInput(f"offer_id: {offer_id} is not a subscription offer on sale")
    if offer.id == sub.offer_id and offer.version == sub.offer_version:
        raise Conflict(f"subscription {sub.id} is on {offer_id} already")
    _refuse_second_live(u, sub.customer_id, offer.id, but=sub.id)
    sub.offer_id, sub.offer_version = offer.id, offer.version
    sub.price_minor = price_of(offer, sub.currency)
    sub.billing_period = offer.billing_period
    if sub.coupon_id and sub.discount_minor:
        sub.discount_minor = coupon_discount(
            get_coupon(u, sub.coupon_id), sub.price_minor, sub.currency
        )
    _flush_claim(u, sub.customer_id, offer.id)
    _changed(u, sub, u.now)
    u.audit("subscription.change", "subscription", sub.id, offer_id=offer_id)
    return sub


def apply_coupon(
    u: Unit, subscription_id: str, *, coupon_id: str, campaign_id: str | None = None
) -> Subscription:
    """A coupon on a running subscription: the discount applies from the next charge."""
    sub = get_subscription(u, subscription_id)
    require(sub, "apply_coupon")
    coupon = get_coupon(u, coupon_id, lock=True)
    discount = coupon_discount(coupon, sub.price_minor, sub.currency)
    redeem(u, coupon)
    sub.coupon_id = coupon.id
    sub.discount_minor = discount
    sub.coupon_periods_left = coupon_periods(coupon, sub.billing_period)
    _redeemed(u, sub, coupon, campaign_id)
    _changed(u, sub, u.now)
    u.audit("subscription.apply_coupon", "subscription", sub.id, coupon_id=coupon_id)
    return sub


def update_payment_method(u: Unit, subscription_id: str, *, payment_method_id: str) -> Subscription:
    """Charge another of the customer's payment methods from now on. In dunning, the declined
    renewal is retried with it at the next billing run (the way most failed renewals are
    saved). Operational only: the contract has no event for it; the audit log records it."""
    sub = get_subscription(u, subscription_id)
    require(sub, "update_payment_method")
    method = get_payment_method(u, sub.customer_id, payment_method_id)
    sub.payment_method_id, sub.provider = method.id, method.provider
    if sub.status == "past_due":
        sub.next_retry_at = u.now
    u.audit("subscription.update_payment_method", "subscription", sub.id, payment_method=method.id)
    return sub


def end_subscription(u: Unit, subscription_id: str, *, reason: str = "merchant") -> Subscription:
    """The merchant ends a subscription now (fraud, abuse, a refund that ends it)."""
    if reason not in ("merchant", "refunded", "expired"):
        raise InvalidInput("reason: must be merchant, refunded or expired")
    sub = get_subscription(u, subscription_id)
    require(sub, "end")
    _end(u, sub, reason, u.now)
    u.audit("subscription.end", "subscription", sub.id, reason=reason)
    return sub


# ---- billing cycle: run by `churniq core renew` and the Dagster schedule ----------------


def _period_charge(u: Unit, sub: Subscription, attempt: int) -> bool:
    """Charge the period that starts at `current_period_end`; on success the period advances
    and `subscription.renewed` is emitted. Returns whether it was paid."""
    period_start = sub.current_period_end
    if sub.coupon_id and sub.coupon_periods_left == 0 and sub.discount_minor:
        sub.discount_minor = 0  # the coupon has run out: full price from this period
        sub.coupon_periods_left = None
        sub.coupon_id = None
        _changed(u, sub, period_start)
    method = get_payment_method(u, sub.customer_id, sub.payment_method_id)
    amount = sub.price_minor - sub.discount_minor
    period_end = add_duration(period_start, sub.billing_period)
    payment = None
    if amount > 0:
        payment = charge(
            u,
            customer_id=sub.customer_id,
            method=method,
            amount_minor=amount,
            currency=sub.currency,
            idempotency_key=f"{sub.id}:{period_start.isoformat()}:{attempt}",
            renewal=sub.status != "trialing" or attempt > 1,
            attempt=attempt,
            subscription_id=sub.id,
            emit=False,
        )
        u.session.add(payment)
        if payment.status != "succeeded":
            emit_payment(u, payment)
            return False
    if sub.coupon_periods_left:
        sub.coupon_periods_left -= 1
    # renewed before its payment, as the other producers of the contract write them
    u.emit(
        "subscription.renewed",
        sub.customer_id,
        {
            "subscription_id": sub.id,
            "period_start": period_start,
            "period_end": period_end,
            "price_minor": sub.price_minor,
            "discount_minor": sub.discount_minor,
            "currency": sub.currency,
        },
    )
    if payment is not None:
        emit_payment(u, payment)
    sub.current_period_start, sub.current_period_end = period_start, period_end
    sub.status = "active"
    sub.dunning_attempt = 0
    sub.next_retry_at = sub.grace_until = None
    return True


def advance(u: Unit, sub: Subscription) -> str | None:
    """Do what is due for one subscription at `u.now`; returns what happened, or None."""
    now = u.now
    if sub.status == "cancellation_pending" and sub.cancel_at and sub.cancel_at <= now:
        _end(u, sub, "cancelled", sub.cancel_at)
        return "ended_cancelled"
    if sub.status == "paused" and sub.resume_at and sub.resume_at <= now:
        resume_subscription(u, sub.id, at=sub.resume_at)
        return "resumed"
    if sub.status in ("trialing", "active") and sub.current_period_end <= now:
        due = sub.current_period_end
        if _period_charge(u, sub, attempt=1):
            return "renewed" if sub.trial_ends_at != due else "converted"
        sub.status = "past_due"
        sub.dunning_attempt = 1
        sub.grace_until = add_duration(due, f"P{u.policy.grace_days}D")
        sub.next_retry_at = add_duration(due, f"P{u.policy.retry_days[0]}D")
        return "failed"
    if sub.status == "past_due" and sub.next_retry_at and sub.next_retry_at <= now:
        attempt = sub.dunning_attempt + 1
        if _period_charge(u, sub, attempt=attempt):
            return "recovered"
        sub.dunning_attempt = attempt
        retries = u.policy.retry_days
        nxt = (
            add_duration(sub.current_period_end, f"P{retries[attempt - 1]}D")
            if attempt <= len(retries)
            else None
        )
        if nxt is None or (sub.grace_until and nxt > sub.grace_until):
            _end(u, sub, "payment_failed", now)
            return "ended_unpaid"
        sub.next_retry_at = nxt
        return "retry_failed"
    return None


def next_due(sub: Subscription) -> datetime | None:
    """When this subscription next needs the billing cycle, or None."""
    return {
        "cancellation_pending": sub.cancel_at,
        "paused": sub.resume_at,
        "trialing": sub.current_period_end,
        "active": sub.current_period_end,
        "past_due": sub.next_retry_at,
    }.get(sub.status)
