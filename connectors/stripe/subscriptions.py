"""The recurring state of a Stripe subscription: what the contract's `subscription.started` /
`subscription.changed` carry (offer, price, discount, currency, billing period).

One contract subscription per Stripe subscription: its price is the sum over its items of the
item's price for its quantity (all items of a Stripe subscription share one interval), its
`offer_id` the first item's price id. Metered items add nothing here: their MRR comes from the
subscription's last finalized invoice (`subscription.renewed`, see `connectors.stripe`).
Coupons: `repeating` and `forever` reduce the recurring price while the discount is on the
subscription (`discount_minor`); a `once` coupon is a one-time reduction of one invoice and does
not reduce MRR (its `coupon_id` is still recorded).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from connectors.stripe.vocabulary import (
    INTERVAL_UNITS,
    billing_period,
    contract_minor,
    currency_problem,
)


class Problem(Exception):
    """A Stripe object the contract cannot state exactly: a machine reason and a detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def ref(value: Any) -> str | None:
    """The id of a Stripe reference, expanded (an object) or not (its id)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        return value.get("id")
    return None


def recurring(price: dict) -> tuple[Any, Any, Any]:
    """(interval, interval_count, usage_type) of a price (`recurring`) or a legacy plan."""
    rec = price.get("recurring")
    if isinstance(rec, dict):
        return rec.get("interval"), rec.get("interval_count"), rec.get("usage_type")
    return price.get("interval"), price.get("interval_count"), price.get("usage_type")


def _round(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_HALF_UP))


def _tiered(price: dict, quantity: int) -> int:
    tiers = price.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        raise Problem("tiered_price_without_tiers", f"price {price.get('id')}: tiers not expanded")
    total = Decimal(0)
    below = 0
    for tier in tiers:
        up_to = tier.get("up_to")
        unit = Decimal(str(tier.get("unit_amount_decimal") or tier.get("unit_amount") or 0))
        flat = Decimal(str(tier.get("flat_amount_decimal") or tier.get("flat_amount") or 0))
        if price.get("tiers_mode") == "volume":
            if up_to is None or quantity <= up_to:
                return _round(unit * quantity + flat)
            continue
        if quantity > below:  # graduated: each tier prices its own slice
            total += unit * (min(quantity, up_to or quantity) - below) + flat
        if up_to is None or quantity <= up_to:
            break
        below = up_to
    return _round(total)


def item_amount(price: dict, quantity: int) -> int:
    """Stripe amount (Stripe's smallest unit) of `quantity` of a licensed price."""
    if price.get("billing_scheme") == "tiered":
        return _tiered(price, quantity)
    unit = price["unit_amount"] if "unit_amount" in price else price.get("amount")
    if type(unit) is int:  # whole units: unit_amount_decimal says the same
        return unit * quantity
    exact = price.get("unit_amount_decimal")  # fractions of the smallest unit
    if exact is None:
        raise Problem("price_without_amount", f"price {price.get('id')} has no unit amount")
    return _round(Decimal(str(exact)) * quantity)


def discount_objects(holder: dict) -> list[dict]:
    """The expanded discount objects of a subscription or invoice (`discount`, `discounts`)."""
    found = []
    single = holder.get("discount")
    if isinstance(single, dict):
        found.append(single)
    for d in holder.get("discounts") or ():
        if isinstance(d, dict) and not any(
            d.get("id") == f.get("id") for f in found if d.get("id")
        ):
            found.append(d)
    return found


def coupon_of(discount: dict) -> dict | None:
    coupon = discount.get("coupon")
    if not isinstance(coupon, dict):
        source = discount.get("source")
        coupon = source.get("coupon") if isinstance(source, dict) else None
    return coupon if isinstance(coupon, dict) else None


def discounts(holder: dict) -> list[tuple[dict, dict]]:
    """(discount, coupon) pairs of a subscription or invoice, expanded coupons only."""
    if not holder.get("discount") and not holder.get("discounts"):
        return []
    return [(d, c) for d in discount_objects(holder) if (c := coupon_of(d)) is not None]


def recurring_discount(pairs: list[tuple[dict, dict]], price_minor: int, currency: str) -> int:
    """The part of the recurring price that repeating / forever coupons take off (contract
    minor units, half-up, at most the price)."""
    off = 0
    for _, coupon in pairs:
        if coupon.get("duration") not in ("repeating", "forever"):
            continue
        if coupon.get("percent_off") is not None:
            off += _round(Decimal(str(coupon["percent_off"])) * price_minor / 100)
        elif type(coupon.get("amount_off")) is int:
            off += contract_minor(coupon["amount_off"], currency)
    return min(off, price_minor)


def items_of(sub: dict) -> list[dict]:
    items = sub.get("items")
    if isinstance(items, dict):
        items = items.get("data")
    return items if isinstance(items, list) else []


def state(sub_id: str, items: list[dict], currency: Any, pairs: list[tuple[dict, dict]]) -> dict:
    """The contract state of a subscription's items and discounts; raises `Problem`."""
    if not items:
        raise Problem("subscription_without_items", f"subscription {sub_id} has no items")
    problem = currency_problem(currency)
    if problem:
        raise Problem("currency_without_rates", f"subscription {sub_id}: {problem}")
    currency = currency.upper()
    period = None
    amount = 0
    offer_id = None
    for item in items:
        price = item.get("price") or item.get("plan")
        if not isinstance(price, dict):
            raise Problem("price_not_expanded", f"subscription {sub_id}: an item has no price")
        interval, count, usage = recurring(price)
        item_period = billing_period(interval, count)
        if item_period is None:
            if interval in INTERVAL_UNITS:  # e.g. 1095 days: no one-unit ISO duration of it
                raise Problem(
                    "interval_out_of_range",
                    f"subscription {sub_id}: price {price.get('id')} bills every {count} "
                    f"{interval}s, more than the contract's 999 units",
                )
            raise Problem(
                "price_without_interval",
                f"subscription {sub_id}: price {price.get('id')} has no recurring interval",
            )
        if period is not None and item_period != period:
            raise Problem(
                "mixed_intervals", f"subscription {sub_id}: items bill {period} and {item_period}"
            )
        period = item_period
        offer_id = offer_id or price.get("id")
        if usage == "metered":
            continue
        quantity = item.get("quantity")
        amount += item_amount(price, 1 if quantity is None else quantity)
    price_minor = contract_minor(amount, currency)
    coupon_id = pairs[0][1].get("id") if pairs else None
    return {
        "offer_id": offer_id,
        "price_minor": price_minor,
        "discount_minor": recurring_discount(pairs, price_minor, currency) if pairs else 0,
        "currency": currency,
        "billing_period": period,
        "coupon_id": coupon_id,
    }


def item_currency(items: list[dict]) -> Any:
    for item in items:
        price = item.get("price") or item.get("plan")
        if isinstance(price, dict):
            return price.get("currency")
    return None


def state_of(sub: dict, items: list[dict] | None = None, pairs: list | None = None) -> dict:
    """`state` of a subscription object as it is (its `items_of` and `discounts` when the
    caller has them already); raises `Problem`."""
    items = items_of(sub) if items is None else items
    pairs = discounts(sub) if pairs is None else pairs
    return state(sub.get("id"), items, sub.get("currency") or item_currency(items), pairs)


def current_period_end(sub: dict) -> int | None:
    """`current_period_end` of the subscription, or of its items (API versions from 2025)."""
    end = sub.get("current_period_end")
    if type(end) is int:
        return end
    ends = [i.get("current_period_end") for i in items_of(sub)]
    ends = [e for e in ends if type(e) is int]
    return max(ends) if ends else None
