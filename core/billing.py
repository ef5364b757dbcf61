"""Charging through a provider: one payment row and one contract event per attempt."""

from __future__ import annotations

from .errors import PaymentDeclined
from .ids import new_id
from .schema import Payment, PaymentMethod
from .unit import Unit


def emit_payment(u: Unit, payment: Payment) -> None:
    """`payment.succeeded` or `payment.failed` for a recorded payment."""
    data = {
        "payment_id": payment.id,
        "amount_minor": payment.amount_minor,
        "currency": payment.currency,
        "provider": payment.provider,
        "payment_method": payment.payment_method,
    }
    data |= {"subscription_id": payment.subscription_id} if payment.subscription_id else {}
    data |= {"purchase_id": payment.purchase_id} if payment.purchase_id else {}
    if payment.status == "succeeded":
        u.emit("payment.succeeded", payment.customer_id, data)
    else:
        failure = {"failure_code": payment.failure_code, "attempt": payment.attempt}
        u.emit("payment.failed", payment.customer_id, data | failure)


def charge(
    u: Unit,
    *,
    customer_id: str,
    method: PaymentMethod,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    renewal: bool,
    attempt: int = 1,
    subscription_id: str | None = None,
    emit: bool = True,
) -> Payment:
    """Charge `method` and return the payment. With `emit`, the payment is recorded and its
    event written now; without (a sign-up or purchase not created yet), the caller records a
    successful one once its subscription or purchase exists, and a declined one not at all.
    The provider's idempotency key makes a repeated call (a retried job) charge at most once."""
    provider = u.providers.get(method.provider)
    exp = (method.exp_month, method.exp_year) if method.exp_month and method.exp_year else None
    result = provider.charge(
        token=method.token or "",
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        at=u.now,
        renewal=renewal,
        attempt=attempt,
        exp=exp,
    )
    payment = Payment(
        id=new_id("pay"),
        customer_id=customer_id,
        subscription_id=subscription_id,
        amount_minor=amount_minor,
        currency=currency,
        provider=method.provider,
        provider_ref=result.provider_ref,
        payment_method=method.kind,
        status="succeeded" if result.approved else "failed",
        failure_code=result.failure_code,
        attempt=attempt,
        created_at=u.now,
    )
    if emit:
        u.session.add(payment)
        emit_payment(u, payment)
    return payment


def charge_up_front(
    u: Unit,
    *,
    customer_id: str,
    method: PaymentMethod,
    amount_minor: int,
    currency: str,
    idempotency_key: str,
    what: str,
) -> Payment:
    """The charge a sign-up or purchase needs before it exists: not recorded yet (the caller
    records it with its subscription or purchase); a decline refuses the operation."""
    payment = charge(
        u,
        customer_id=customer_id,
        method=method,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=idempotency_key,
        renewal=False,
        emit=False,
    )
    if payment.status != "succeeded":
        raise PaymentDeclined(f"{what} was declined: {payment.failure_code}", payment.failure_code)
    return payment
