"""Subscriptions: sign-up and every transition of the state machine."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter

from ... import subscriptions as subs
from ...schema import Subscription
from ...unit import Unit
from ..context import Context, Ctx, IdempotentContext
from ..schemas import (
    CancelRequest,
    ChangeRequest,
    CouponRequest,
    EndRequest,
    ErrorOut,
    PauseRequest,
    PaymentMethodRequest,
    SubscriptionCreate,
    SubscriptionOut,
)
from . import ERRORS, SubscriptionId

router = APIRouter(prefix="/subscriptions", tags=["subscriptions"], responses=ERRORS)
DECLINED = {402: {"model": ErrorOut, "description": "The first payment was declined"}}


def _transition(ctx: Ctx, change: Callable[[Unit], Subscription]):
    return ctx.write(lambda u: SubscriptionOut.model_validate(change(u)))


@router.post(
    "",
    status_code=201,
    response_model=SubscriptionOut,
    responses=DECLINED,
    summary="Start a subscription (a trial, or the first period charged now)",
)
def start_subscription(body: SubscriptionCreate, ctx: IdempotentContext):
    def work(u: Unit) -> SubscriptionOut:
        return SubscriptionOut.model_validate(subs.start_subscription(u, **body.model_dump()))

    return ctx.write(work, 201)


@router.get("/{subscription_id}", response_model=SubscriptionOut, summary="A subscription")
def get_subscription(subscription_id: SubscriptionId, ctx: Context):
    return ctx.read(
        lambda u: SubscriptionOut.model_validate(
            subs.get_subscription(u, subscription_id, lock=False)
        )
    )


@router.post(
    "/{subscription_id}/cancel",
    response_model=SubscriptionOut,
    summary="Cancel: at the end of the paid period, or now",
)
def cancel(
    subscription_id: SubscriptionId, ctx: IdempotentContext, body: CancelRequest | None = None
):
    fields = (body or CancelRequest()).model_dump()
    return _transition(ctx, lambda u: subs.cancel_subscription(u, subscription_id, **fields))


@router.post(
    "/{subscription_id}/reactivate",
    response_model=SubscriptionOut,
    summary="Take back a cancellation before it takes effect",
)
def reactivate(subscription_id: SubscriptionId, ctx: IdempotentContext):
    return _transition(ctx, lambda u: subs.reactivate_subscription(u, subscription_id))


@router.post(
    "/{subscription_id}/pause",
    response_model=SubscriptionOut,
    summary="Pause (until resume, or until resume_at)",
)
def pause(
    subscription_id: SubscriptionId, ctx: IdempotentContext, body: PauseRequest | None = None
):
    resume_at = body.resume_at if body else None
    return _transition(
        ctx, lambda u: subs.pause_subscription(u, subscription_id, resume_at=resume_at)
    )


@router.post(
    "/{subscription_id}/resume",
    response_model=SubscriptionOut,
    summary="Resume a paused subscription",
)
def resume(subscription_id: SubscriptionId, ctx: IdempotentContext):
    return _transition(ctx, lambda u: subs.resume_subscription(u, subscription_id))


@router.post(
    "/{subscription_id}/change",
    response_model=SubscriptionOut,
    summary="Move to another offer (or the offer's current version)",
)
def change(subscription_id: SubscriptionId, body: ChangeRequest, ctx: IdempotentContext):
    return _transition(ctx, lambda u: subs.change_offer(u, subscription_id, offer_id=body.offer_id))


@router.post(
    "/{subscription_id}/coupon",
    response_model=SubscriptionOut,
    summary="Apply a coupon from the next charge",
)
def apply_coupon(subscription_id: SubscriptionId, body: CouponRequest, ctx: IdempotentContext):
    return _transition(
        ctx, lambda u: subs.apply_coupon(u, subscription_id, coupon_id=body.coupon_id)
    )


@router.post(
    "/{subscription_id}/payment-method",
    response_model=SubscriptionOut,
    summary="Charge another of the customer's payment methods (in dunning: retried next run)",
)
def update_payment_method(
    subscription_id: SubscriptionId, body: PaymentMethodRequest, ctx: IdempotentContext
):
    return _transition(
        ctx,
        lambda u: subs.update_payment_method(
            u, subscription_id, payment_method_id=body.payment_method_id
        ),
    )


@router.post(
    "/{subscription_id}/end",
    response_model=SubscriptionOut,
    summary="End now (the merchant's decision)",
)
def end(subscription_id: SubscriptionId, ctx: IdempotentContext, body: EndRequest | None = None):
    reason = body.reason if body else "merchant"
    return _transition(ctx, lambda u: subs.end_subscription(u, subscription_id, reason=reason))
