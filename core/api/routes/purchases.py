"""One-time purchases, and refunds and chargebacks of payments."""

from __future__ import annotations

from fastapi import APIRouter

from ... import money, purchases
from ...schema import Payment, Refund
from ...unit import Unit
from ..context import Context, IdempotentContext
from ..schemas import (
    ChargebackRequest,
    ErrorOut,
    PaymentOut,
    PurchaseCreate,
    PurchaseOut,
    RefundOut,
    RefundRequest,
)
from . import ERRORS, PaymentId, PurchaseId

router = APIRouter(responses=ERRORS)
DECLINED = {402: {"model": ErrorOut, "description": "The payment was declined"}}


def refund_out(u: Unit, refund: Refund) -> RefundOut:
    payment = u.session.get(Payment, refund.payment_id)
    return RefundOut.model_validate(
        {
            "id": refund.id,
            "payment_id": refund.payment_id,
            "kind": refund.kind,
            "amount_minor": refund.amount_minor,
            "reason": refund.reason,
            "created_at": refund.created_at,
            "payment": PaymentOut.model_validate(payment),
        }
    )


@router.post(
    "/purchases",
    status_code=201,
    response_model=PurchaseOut,
    responses=DECLINED,
    tags=["purchases"],
    summary="Buy a pass, a live event or a rental (charged now)",
)
def buy(body: PurchaseCreate, ctx: IdempotentContext):
    def work(u: Unit) -> PurchaseOut:
        return PurchaseOut.model_validate(purchases.buy(u, **body.model_dump()))

    return ctx.write(work, 201)


@router.get(
    "/purchases/{purchase_id}", response_model=PurchaseOut, tags=["purchases"], summary="A purchase"
)
def get_purchase(purchase_id: PurchaseId, ctx: Context):
    return ctx.read(lambda u: PurchaseOut.model_validate(purchases.get_purchase(u, purchase_id)))


@router.post(
    "/payments/{payment_id}/refund",
    status_code=201,
    response_model=RefundOut,
    tags=["payments"],
    summary="Refund all or part of a payment",
)
def refund(payment_id: PaymentId, ctx: IdempotentContext, body: RefundRequest | None = None):
    fields = (body or RefundRequest()).model_dump()
    return ctx.write(lambda u: refund_out(u, money.refund_payment(u, payment_id, **fields)), 201)


@router.post(
    "/payments/{payment_id}/chargeback",
    status_code=201,
    response_model=RefundOut,
    tags=["payments"],
    summary="Record a chargeback notified by the provider",
)
def chargeback(
    payment_id: PaymentId, ctx: IdempotentContext, body: ChargebackRequest | None = None
):
    fields = (body or ChargebackRequest()).model_dump()
    return ctx.write(lambda u: refund_out(u, money.record_chargeback(u, payment_id, **fields)), 201)
