"""The catalogue: offers (versioned) and coupons."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from ... import catalog
from ...schema import Coupon, Offer
from ...unit import Unit
from ..context import Context, IdempotentContext
from ..schemas import (
    CouponCreate,
    CouponOut,
    CouponsOut,
    OfferCreate,
    OfferOut,
    OffersOut,
    OfferVersionCreate,
)
from . import ERRORS, CouponId, OfferId

router = APIRouter(responses=ERRORS)


@router.post(
    "/offers",
    status_code=201,
    response_model=OfferOut,
    tags=["offers"],
    summary="Create an offer (its version 1)",
)
def create_offer(body: OfferCreate, ctx: IdempotentContext):
    def work(u: Unit) -> OfferOut:
        fields = body.model_dump(exclude={"id"})
        return OfferOut.model_validate(catalog.create_offer(u, offer_id=body.id, **fields))

    return ctx.write(work, 201)


@router.get("/offers", response_model=OffersOut, tags=["offers"], summary="Every offer")
def list_offers(ctx: Context):
    def work(u: Unit) -> OffersOut:
        offers = u.session.scalars(select(Offer).order_by(Offer.id)).all()
        return OffersOut.model_validate({"offers": offers})

    return ctx.read(work)


@router.get("/offers/{offer_id}", response_model=OfferOut, tags=["offers"], summary="An offer")
def get_offer(offer_id: OfferId, ctx: Context):
    return ctx.read(lambda u: OfferOut.model_validate(catalog.get_offer(u, offer_id)))


@router.post(
    "/offers/{offer_id}/versions",
    status_code=201,
    response_model=OfferOut,
    tags=["offers"],
    summary="Publish a new version (new sign-ups get it)",
)
def new_offer_version(offer_id: OfferId, body: OfferVersionCreate, ctx: IdempotentContext):
    def work(u: Unit) -> OfferOut:
        offer = catalog.new_offer_version(u, offer_id, **body.model_dump())
        return OfferOut.model_validate(offer)

    return ctx.write(work, 201)


@router.post(
    "/coupons",
    status_code=201,
    response_model=CouponOut,
    tags=["coupons"],
    summary="Create a coupon",
)
def create_coupon(body: CouponCreate, ctx: IdempotentContext):
    def work(u: Unit) -> CouponOut:
        fields = body.model_dump(exclude={"id"})
        return CouponOut.model_validate(catalog.create_coupon(u, coupon_id=body.id, **fields))

    return ctx.write(work, 201)


@router.get("/coupons", response_model=CouponsOut, tags=["coupons"], summary="Every coupon")
def list_coupons(ctx: Context):
    def work(u: Unit) -> CouponsOut:
        coupons = u.session.scalars(select(Coupon).order_by(Coupon.id)).all()
        return CouponsOut.model_validate({"coupons": coupons})

    return ctx.read(work)


@router.get("/coupons/{coupon_id}", response_model=CouponOut, tags=["coupons"], summary="A coupon")
def get_coupon(coupon_id: CouponId, ctx: Context):
    return ctx.read(lambda u: CouponOut.model_validate(catalog.get_coupon(u, coupon_id)))
