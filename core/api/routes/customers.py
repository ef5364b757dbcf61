"""Customers: profile, erasure, payment methods, entitlements, engagement and payments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ... import activity, customers, entitlements
from ...schema import Customer, Payment, Subscription
from ...unit import Unit
from ..context import Context, IdempotentContext
from ..fields import Id
from ..idempotency import forget_customer
from ..schemas import (
    AccessOut,
    ActivityCreate,
    ActivityOut,
    CustomerCreate,
    CustomerOut,
    CustomerUpdate,
    EntitlementOut,
    EntitlementsOut,
    PaymentMethodCreate,
    PaymentMethodOut,
    PaymentsOut,
    Platform,
    SubscriptionSummary,
)
from . import ERRORS, CustomerId

router = APIRouter(prefix="/customers", tags=["customers"], responses=ERRORS)


def customer_out(u: Unit, customer: Customer) -> CustomerOut:
    subs = u.session.scalars(
        select(Subscription)
        .where(Subscription.customer_id == customer.id)
        .order_by(Subscription.started_at, Subscription.id)
    ).all()
    out = CustomerOut.model_validate(customer)
    out.subscriptions = [SubscriptionSummary.model_validate(s) for s in subs]
    return out


@router.post("", status_code=201, response_model=CustomerOut, summary="Create a customer")
def create_customer(body: CustomerCreate, ctx: IdempotentContext):
    def work(u: Unit) -> CustomerOut:  # a new customer has no subscriptions to look up
        return CustomerOut.model_validate(customers.create_customer(u, **body.model_dump()))

    return ctx.write(work, 201)


@router.get(
    "/{customer_id}", response_model=CustomerOut, summary="A customer, with their subscriptions"
)
def get_customer(customer_id: CustomerId, ctx: Context):
    return ctx.read(lambda u: customer_out(u, customers.get_customer(u, customer_id, live=False)))


@router.patch("/{customer_id}", response_model=CustomerOut, summary="Update a customer")
def update_customer(customer_id: CustomerId, body: CustomerUpdate, ctx: Context):
    def work(u: Unit) -> CustomerOut:
        changes = body.model_dump(exclude_unset=True)
        return customer_out(u, customers.update_customer(u, customer_id, **changes))

    return ctx.write(work)


@router.post("/{customer_id}/erase", response_model=CustomerOut, summary="Erase personal data")
def erase_customer(customer_id: CustomerId, ctx: IdempotentContext):
    def work(u: Unit) -> CustomerOut:
        customer = customers.erase_customer(u, customer_id)
        forget_customer(u.session, customer_id)
        return customer_out(u, customer)

    return ctx.write(work)


@router.post(
    "/{customer_id}/payment-methods",
    status_code=201,
    response_model=PaymentMethodOut,
    summary="Add a payment method (a card is tokenized, never stored)",
)
def add_payment_method(customer_id: CustomerId, body: PaymentMethodCreate, ctx: IdempotentContext):
    def work(u: Unit) -> PaymentMethodOut:
        method = customers.add_payment_method(u, customer_id, **body.model_dump())
        return PaymentMethodOut.model_validate(method)

    return ctx.write(work, 201)


@router.get(
    "/{customer_id}/entitlements",
    response_model=EntitlementsOut,
    summary="What the customer has access to now",
)
def get_entitlements(customer_id: CustomerId, ctx: Context):
    def work(u: Unit) -> EntitlementsOut:
        found = entitlements.entitlements(u, customer_id)
        return EntitlementsOut(
            customer_id=customer_id,
            at=u.now,
            entitlements=[EntitlementOut.model_validate(e) for e in found],
        )

    return ctx.read(work)


@router.get(
    "/{customer_id}/access",
    response_model=AccessOut,
    summary="Does the customer have access to an offer now (on a platform)?",
)
def get_access(
    customer_id: CustomerId,
    offer_id: Annotated[Id, Query(description="The offer to check")],
    ctx: Context,
    platform: Annotated[Platform | None, Query(description="Only on this platform")] = None,
):
    def work(u: Unit) -> AccessOut:
        found = entitlements.has_access(u, customer_id, offer_id, platform)
        return AccessOut(
            access=found is not None,
            customer_id=customer_id,
            offer_id=offer_id,
            platform=platform,
            at=u.now,
            entitlement=EntitlementOut.model_validate(found) if found else None,
        )

    return ctx.read(work)


@router.post(
    "/{customer_id}/activity",
    status_code=201,
    response_model=ActivityOut,
    summary="Report engagement (watch time, sessions) for a period",
)
def record_activity(customer_id: CustomerId, body: ActivityCreate, ctx: IdempotentContext):
    def work(u: Unit) -> ActivityOut:
        event = activity.record_activity(u, customer_id=customer_id, **body.model_dump())
        return ActivityOut(event_id=event["event_id"], customer_id=customer_id, **body.model_dump())

    return ctx.write(work, 201)


@router.get(
    "/{customer_id}/payments",
    response_model=PaymentsOut,
    summary="The customer's payments, oldest first",
)
def get_payments(customer_id: CustomerId, ctx: Context):
    def work(u: Unit) -> PaymentsOut:
        customers.get_customer(u, customer_id, live=False)
        rows = u.session.scalars(
            select(Payment)
            .where(Payment.customer_id == customer_id)
            .order_by(Payment.created_at, Payment.id)
        ).all()
        return PaymentsOut.model_validate({"customer_id": customer_id, "payments": rows})

    return ctx.read(work)
