"""Refunds and chargebacks: money back, never more than was paid."""

from __future__ import annotations

from .errors import Conflict, InvalidInput, NotFound
from .ids import new_id
from .schema import Payment, Purchase, Refund
from .subscriptions import end_subscription, get_subscription
from .unit import Unit


def _payment(u: Unit, payment_id: str) -> Payment:
    payment = u.session.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found")
    if payment.status != "succeeded":
        raise Conflict(f"payment {payment_id} failed: there is nothing to give back")
    return payment


def _amount(payment: Payment, amount_minor: int | None) -> int:
    left = payment.amount_minor - payment.refunded_minor - payment.charged_back_minor
    amount = left if amount_minor is None else amount_minor
    if amount <= 0:
        raise InvalidInput("amount_minor: must be positive")
    if amount > left:
        raise Conflict(
            f"payment {payment.id} has {left} {payment.currency} minor units left to give back, "
            f"not {amount}"
        )
    return amount


def refund_payment(
    u: Unit,
    payment_id: str,
    *,
    amount_minor: int | None = None,
    reason: str | None = None,
    end_access: bool = False,
) -> Refund:
    """Refund all (default) or part of a payment; `end_access` also ends the subscription
    (`ended_reason` refunded) or the purchase's access."""
    payment = _payment(u, payment_id)
    if end_access and payment.subscription_id:  # its row before the time (Unit.now)
        get_subscription(u, payment.subscription_id)
    amount = _amount(payment, amount_minor)
    u.providers.get(payment.provider).refund(
        provider_ref=payment.provider_ref or "", amount_minor=amount, currency=payment.currency
    )
    payment.refunded_minor += amount
    refund = Refund(
        id=new_id("re"),
        payment_id=payment.id,
        kind="refund",
        amount_minor=amount,
        reason=reason,
        created_at=u.now,
    )
    u.session.add(refund)
    data = {
        "payment_id": payment.id,
        "refund_id": refund.id,
        "amount_minor": amount,
        "currency": payment.currency,
    }
    u.emit("payment.refunded", payment.customer_id, data | ({"reason": reason} if reason else {}))
    if end_access and payment.subscription_id:
        end_subscription(u, payment.subscription_id, reason="refunded")
    elif end_access and payment.purchase_id:
        purchase = u.session.get(Purchase, payment.purchase_id)
        purchase.status = "refunded"
        purchase.access_until = u.now
    u.audit("payment.refund", "payment", payment.id, amount_minor=amount)
    return refund


def record_chargeback(
    u: Unit, payment_id: str, *, amount_minor: int | None = None, reason: str | None = None
) -> Refund:
    """A chargeback notified by the provider: the money is gone; access is not touched here."""
    payment = _payment(u, payment_id)
    amount = _amount(payment, amount_minor)
    payment.charged_back_minor += amount
    entry = Refund(
        id=new_id("cb"),
        payment_id=payment.id,
        kind="chargeback",
        amount_minor=amount,
        reason=reason,
        created_at=u.now,
    )
    u.session.add(entry)
    data = {"payment_id": payment.id, "amount_minor": amount, "currency": payment.currency}
    u.emit("payment.chargeback", payment.customer_id, data | ({"reason": reason} if reason else {}))
    u.audit("payment.chargeback", "payment", payment.id, amount_minor=amount)
    return entry
