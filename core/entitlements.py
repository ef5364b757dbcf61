"""Entitlements: does this customer have access to this offer now, on any platform?

Access comes from a live subscription (trial, paid, in dunning within its grace period, or
cancelled but not yet effective; never while paused or after its end) or from a purchase whose
access window contains the moment. A subscription bought on one platform gives access on all
of them unless the offer is limited to some platforms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from .customers import get_customer
from .schema import Offer, Purchase, Subscription
from .unit import Unit


@dataclass(frozen=True)
class Entitlement:
    offer_id: str
    source: str  # subscription | purchase
    source_id: str
    status: str
    until: datetime | None  # end of the paid, trial or access period (None: for good)
    platforms: list[str] | None  # None: every platform


def subscription_grants(sub: Subscription, at: datetime) -> bool:
    if sub.started_at > at or sub.status in ("ended", "paused"):
        return False
    if sub.status == "cancellation_pending":
        return sub.cancel_at is None or at < sub.cancel_at
    if sub.status == "past_due":
        return sub.grace_until is None or at < sub.grace_until
    return True


def purchase_grants(purchase: Purchase, at: datetime) -> bool:
    if purchase.status != "completed" or purchase.access_from > at:
        return False
    return purchase.access_until is None or at < purchase.access_until


def entitlements(u: Unit, customer_id: str, at: datetime | None = None) -> list[Entitlement]:
    get_customer(u, customer_id, live=False)
    at = at or u.now
    out: list[Entitlement] = []
    subs = u.session.execute(
        select(Subscription, Offer.platforms)
        .join(Offer, Offer.id == Subscription.offer_id)
        .where(Subscription.customer_id == customer_id, Subscription.status != "ended")
    ).all()
    for sub, platforms in subs:
        if subscription_grants(sub, at):
            until = (
                sub.cancel_at if sub.status == "cancellation_pending" else sub.current_period_end
            )
            if sub.status == "past_due":
                until = sub.grace_until
            out.append(
                Entitlement(sub.offer_id, "subscription", sub.id, sub.status, until, platforms)
            )
    purchases = u.session.execute(
        select(Purchase, Offer.platforms)
        .join(Offer, Offer.id == Purchase.offer_id)
        .where(Purchase.customer_id == customer_id, Purchase.status == "completed")
    ).all()
    for purchase, platforms in purchases:
        if purchase_grants(purchase, at):
            out.append(
                Entitlement(
                    purchase.offer_id,
                    "purchase",
                    purchase.id,
                    purchase.offer_type,
                    purchase.access_until,
                    platforms,
                )  # fmt: skip
            )
    return out


def has_access(
    u: Unit,
    customer_id: str,
    offer_id: str,
    platform: str | None = None,
    at: datetime | None = None,
) -> Entitlement | None:
    """The entitlement that grants access to `offer_id` (on `platform`, if given), or None."""
    for e in entitlements(u, customer_id, at):
        if e.offer_id == offer_id and (
            platform is None or not e.platforms or platform in e.platforms
        ):
            return e
    return None
