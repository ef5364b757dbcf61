"""The catalogue: offers of the four types (versioned, priced per currency, with trials) and
coupons (percent or amount; once, repeating or forever; redemption limits; campaigns)."""

from __future__ import annotations

from datetime import datetime

from foundation.contract.types import CURRENCIES

from .errors import Conflict, InvalidInput, NotFound
from .periods import months_in, parse_duration
from .schema import Coupon, Offer, OfferVersion
from .unit import Unit

OFFER_TYPES = ("subscription", "pass", "live_ppv", "tvod")


def get_offer(u: Unit, offer_id: str) -> Offer:
    offer = u.session.get(Offer, offer_id)
    if offer is None:
        raise NotFound(f"offer {offer_id} not found")
    return offer


def price_of(offer: Offer, currency: str) -> int:
    if currency not in offer.prices:
        raise InvalidInput(
            f"currency: offer {offer.id} has no {currency} price "
            f"(it is sold in {', '.join(sorted(offer.prices))})"
        )
    return int(offer.prices[currency])


def _check_offer(
    offer_type: str,
    billing_period: str | None,
    access_period: str | None,
    trial_period: str | None,
    prices: dict[str, int],
    event_window: tuple[datetime | None, datetime | None],
) -> None:
    if offer_type not in OFFER_TYPES:
        raise InvalidInput(f"offer_type: must be one of {', '.join(OFFER_TYPES)}")
    if not prices:
        raise InvalidInput("prices: at least one currency price is needed")
    for currency, amount in prices.items():
        if currency not in CURRENCIES:
            raise InvalidInput(f"prices: {currency!r} is not an ISO 4217 currency")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise InvalidInput(f"prices.{currency}: must be a non-negative integer of minor units")
    for name, value in (
        ("billing_period", billing_period),
        ("access_period", access_period),
        ("trial_period", trial_period),
    ):
        if value is not None:
            try:
                parse_duration(value)
            except InvalidInput as exc:
                raise InvalidInput(f"{name}: {exc}") from None
    if offer_type == "subscription":
        if billing_period is None:
            raise InvalidInput("billing_period: a subscription offer needs one (e.g. P1M)")
        if access_period is not None:
            raise InvalidInput("access_period: only passes and rentals have one")
    else:
        if billing_period is not None or trial_period is not None:
            raise InvalidInput("billing_period: one-time offers have no billing period or trial")
        if offer_type == "pass" and access_period is None:
            raise InvalidInput("access_period: a pass needs one (e.g. P30D)")
    starts, ends = event_window
    if offer_type == "live_ppv":
        if starts is None or ends is None or ends <= starts:
            raise InvalidInput("event_ends_at: a live event needs a start and a later end")
    elif starts is not None or ends is not None:
        raise InvalidInput("event_starts_at: only live pay-per-view offers have an event window")


def _publish(u: Unit, offer: Offer) -> None:
    u.session.add(
        OfferVersion(
            offer_id=offer.id,
            version=offer.version,
            title=offer.title,
            billing_period=offer.billing_period,
            access_period=offer.access_period,
            trial_period=offer.trial_period,
            prices=dict(offer.prices),
            published_at=u.now,
        )
    )
    # the contract's offer.published has one price: the first currency; every price rides
    # along in `prices` (a backward-compatible extension of the payload)
    currency = sorted(offer.prices)[0]
    data = {
        "offer_id": offer.id,
        "title": offer.title,
        "offer_type": offer.offer_type,
        "price_minor": int(offer.prices[currency]),
        "currency": currency,
        "prices": dict(offer.prices),
        "version": offer.version,
    }
    for key in ("billing_period", "access_period", "trial_period"):
        if getattr(offer, key) is not None:
            data[key] = getattr(offer, key)
    u.emit("offer.published", None, data)


def create_offer(
    u: Unit,
    *,
    offer_id: str,
    title: str,
    offer_type: str,
    prices: dict[str, int],
    billing_period: str | None = None,
    access_period: str | None = None,
    trial_period: str | None = None,
    platforms: list[str] | None = None,
    event_starts_at: datetime | None = None,
    event_ends_at: datetime | None = None,
) -> Offer:
    if u.session.get(Offer, offer_id) is not None:
        raise Conflict(f"offer {offer_id} exists already: publish a new version instead")
    _check_offer(
        offer_type, billing_period, access_period, trial_period, prices,
        (event_starts_at, event_ends_at),
    )  # fmt: skip
    offer = Offer(
        id=offer_id,
        version=1,
        title=title,
        offer_type=offer_type,
        billing_period=billing_period,
        access_period=access_period,
        trial_period=trial_period,
        prices=dict(prices),
        platforms=platforms,
        event_starts_at=event_starts_at,
        event_ends_at=event_ends_at,
        active=True,
        created_at=u.now,
        updated_at=u.now,
    )
    u.session.add(offer)
    u.session.flush()
    _publish(u, offer)
    u.audit("offer.create", "offer", offer_id)
    return offer


def new_offer_version(
    u: Unit,
    offer_id: str,
    *,
    title: str | None = None,
    prices: dict[str, int] | None = None,
    trial_period: str | None = None,
    active: bool | None = None,
) -> Offer:
    """A new version: new sign-ups get it; existing subscribers keep their price until a
    `subscription.changed` moves them."""
    offer = get_offer(u, offer_id)
    new_prices = dict(prices) if prices is not None else dict(offer.prices)
    trial = trial_period if trial_period is not None else offer.trial_period
    _check_offer(
        offer.offer_type, offer.billing_period, offer.access_period, trial, new_prices,
        (offer.event_starts_at, offer.event_ends_at),
    )  # fmt: skip
    offer.version += 1
    offer.title = title or offer.title
    offer.prices = new_prices
    offer.trial_period = trial
    if active is not None:
        offer.active = active
    offer.updated_at = u.now
    _publish(u, offer)
    u.audit("offer.version", "offer", offer_id, version=offer.version)
    return offer


def create_coupon(
    u: Unit,
    *,
    coupon_id: str,
    discount_type: str,
    percent_off: int | None = None,
    amount_off_minor: int | None = None,
    currency: str | None = None,
    duration: str = "once",
    duration_months: int | None = None,
    max_redemptions: int | None = None,
    valid_until: datetime | None = None,
    campaign_id: str | None = None,
) -> Coupon:
    if u.session.get(Coupon, coupon_id) is not None:
        raise Conflict(f"coupon {coupon_id} exists already")
    if discount_type == "percent":
        if percent_off is None or not 1 <= percent_off <= 100 or amount_off_minor is not None:
            raise InvalidInput("percent_off: a percent coupon needs 1-100 and no amount")
    elif discount_type == "amount":
        if amount_off_minor is None or amount_off_minor <= 0 or percent_off is not None:
            raise InvalidInput("amount_off_minor: an amount coupon needs a positive amount")
        if currency not in CURRENCIES:
            raise InvalidInput("currency: an amount coupon needs an ISO 4217 currency")
    else:
        raise InvalidInput("discount_type: must be percent or amount")
    if duration == "repeating":
        if duration_months is None or duration_months < 1:
            raise InvalidInput("duration_months: a repeating coupon needs at least 1 month")
    elif duration in ("once", "forever"):
        if duration_months is not None:
            raise InvalidInput("duration_months: only repeating coupons have one")
    else:
        raise InvalidInput("duration: must be once, repeating or forever")
    if max_redemptions is not None and max_redemptions < 1:
        raise InvalidInput("max_redemptions: must be at least 1")
    coupon = Coupon(
        id=coupon_id,
        discount_type=discount_type,
        percent_off=percent_off,
        amount_off_minor=amount_off_minor,
        currency=currency,
        duration=duration,
        duration_months=duration_months,
        max_redemptions=max_redemptions,
        redemptions=0,
        valid_until=valid_until,
        campaign_id=campaign_id,
        active=True,
        created_at=u.now,
    )
    u.session.add(coupon)
    u.audit("coupon.create", "coupon", coupon_id)
    return coupon


def get_coupon(u: Unit, coupon_id: str, *, lock: bool = False) -> Coupon:
    """The coupon; `lock` holds its row to the end of the transaction (redemption counts)."""
    coupon = u.session.get(Coupon, coupon_id, with_for_update=lock or None)
    if coupon is None:
        raise NotFound(f"coupon {coupon_id} not found")
    return coupon


def coupon_discount(coupon: Coupon, price_minor: int, currency: str) -> int:
    """The discount in minor units on one period's price (never above the price)."""
    if coupon.discount_type == "percent":
        return min(price_minor, price_minor * int(coupon.percent_off or 0) // 100)
    if coupon.currency != currency:
        raise InvalidInput(
            f"coupon_id: coupon {coupon.id} is in {coupon.currency}, the subscription in {currency}"
        )
    return min(price_minor, int(coupon.amount_off_minor or 0))


def coupon_periods(coupon: Coupon, billing_period: str) -> int | None:
    """Billing periods a coupon lasts: once 1, forever None, repeating N months in periods."""
    if coupon.duration == "once":
        return 1
    if coupon.duration == "forever":
        return None
    months = months_in(billing_period) or 1
    return max(1, -(-int(coupon.duration_months or 1) // months))


def contract_duration(coupon: Coupon) -> str:
    return f"P{coupon.duration_months}M" if coupon.duration == "repeating" else coupon.duration


def redeem(u: Unit, coupon: Coupon) -> None:
    """Count one redemption, refusing an inactive, expired or exhausted coupon."""
    if not coupon.active:
        raise Conflict(f"coupon {coupon.id} is not active")
    if coupon.valid_until is not None and u.now > coupon.valid_until:
        raise Conflict(f"coupon {coupon.id} expired on {coupon.valid_until:%Y-%m-%d}")
    if coupon.max_redemptions is not None and coupon.redemptions >= coupon.max_redemptions:
        raise Conflict(f"coupon {coupon.id} has reached its {coupon.max_redemptions} redemptions")
    coupon.redemptions += 1
