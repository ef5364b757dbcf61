"""One-time purchases: passes (an access period), live pay-per-view (the event's window) and
TVOD (a rental period, or for good when the offer has none)."""

from __future__ import annotations

from .billing import charge_up_front, emit_payment
from .catalog import get_offer, price_of
from .customers import get_customer, get_payment_method
from .errors import Conflict, InvalidInput, NotFound
from .ids import new_id
from .periods import add_duration
from .schema import Purchase
from .unit import Unit


def buy(
    u: Unit,
    *,
    customer_id: str,
    offer_id: str,
    platform: str,
    currency: str,
    payment_method_id: str | None = None,
) -> Purchase:
    customer = get_customer(u, customer_id, lock=True)
    offer = get_offer(u, offer_id)
    if offer.offer_type == "subscription":
        raise InvalidInput(f"offer_id: {offer_id} is a subscription; subscribe to it instead")
    if not offer.active:
        raise Conflict(f"offer {offer_id} is no longer sold")
    if offer.platforms and platform not in offer.platforms:
        raise InvalidInput(f"platform: offer {offer_id} is not sold on {platform}")
    if offer.offer_type == "live_ppv" and offer.event_ends_at and u.now >= offer.event_ends_at:
        raise Conflict(f"the live event {offer_id} is over")
    amount = price_of(offer, currency)
    method = get_payment_method(u, customer.id, payment_method_id)
    purchase = Purchase(
        id=new_id("pur"),
        customer_id=customer.id,
        offer_id=offer.id,
        offer_version=offer.version,
        offer_type=offer.offer_type,
        platform=platform,
        provider=method.provider,
        amount_minor=amount,
        currency=currency,
        access_from=u.now,
        access_until=(
            offer.event_ends_at
            if offer.offer_type == "live_ppv"
            else add_duration(u.now, offer.access_period)
            if offer.access_period
            else None
        ),
        status="completed",
        created_at=u.now,
    )
    payment = None
    if amount > 0:
        payment = charge_up_front(
            u,
            customer_id=customer.id,
            method=method,
            amount_minor=amount,
            currency=currency,
            idempotency_key=f"{purchase.id}:purchase",
            what="the payment",
        )
    u.session.add(purchase)
    u.session.flush()
    data = {
        "purchase_id": purchase.id,
        "offer_id": offer.id,
        "offer_type": offer.offer_type,
        "platform": platform,
        "amount_minor": amount,
        "currency": currency,
    }
    data |= {"access_until": purchase.access_until} if purchase.access_until else {}
    u.emit("purchase.completed", customer.id, data)
    if payment is not None:
        payment.purchase_id = purchase.id
        u.session.add(payment)
        emit_payment(u, payment)
    u.audit("purchase.buy", "purchase", purchase.id, offer_id=offer.id)
    return purchase


def get_purchase(u: Unit, purchase_id: str) -> Purchase:
    purchase = u.session.get(Purchase, purchase_id)
    if purchase is None:
        raise NotFound(f"purchase {purchase_id} not found")
    return purchase
