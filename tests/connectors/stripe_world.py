"""A small Stripe account in memory that records Stripe event objects as Stripe sends them.

The objects follow Stripe's documented shapes (API reference: Customer, Price, Subscription with
`items.data[].price.recurring`, Invoice with `lines.data[]` of type `subscription`, `period`,
`status_transitions`, `attempt_count`, Charge with `refunds`, Dispute, Discount with its Coupon,
Event with `data.object` and `data.previous_attributes`). Each event carries a copy of its object
at that moment; `objects()` gives the final state of every object (what an API backfill lists).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

DAY = 86400
PERIOD_DAYS = {"day": 1, "week": 7}


def ts(text: str) -> int:
    """Unix time of `YYYY-MM-DD` (10:00 UTC) or a full ISO timestamp."""
    if len(text) == 10:
        text += "T10:00:00"
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def add_interval(at: int, interval: str, count: int) -> int:
    moment = datetime.fromtimestamp(at, UTC)
    if interval in PERIOD_DAYS:
        return at + PERIOD_DAYS[interval] * count * DAY
    months = count * (12 if interval == "year" else 1)
    month = moment.month - 1 + months
    year = moment.year + month // 12
    month = month % 12 + 1
    day = min(moment.day, 28)
    return int(moment.replace(year=year, month=month, day=day).timestamp())


def price(
    price_id: str,
    unit_amount: int,
    currency: str = "eur",
    interval: str | None = "month",
    interval_count: int = 1,
    usage_type: str = "licensed",
    nickname: str | None = None,
    created: int = 1735725600,
) -> dict:
    return {
        "id": price_id,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": nickname,
        "product": f"prod_{price_id}",
        "recurring": None
        if interval is None
        else {
            "aggregate_usage": None,
            "interval": interval,
            "interval_count": interval_count,
            "trial_period_days": None,
            "usage_type": usage_type,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time" if interval is None else "recurring",
        "unit_amount": unit_amount,
        "unit_amount_decimal": str(unit_amount),
    }


def coupon(
    coupon_id: str,
    *,
    percent_off: float | None = None,
    amount_off: int | None = None,
    currency: str | None = None,
    duration: str = "forever",
    duration_in_months: int | None = None,
) -> dict:
    return {
        "id": coupon_id,
        "object": "coupon",
        "amount_off": amount_off,
        "currency": currency,
        "duration": duration,
        "duration_in_months": duration_in_months,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": coupon_id,
        "percent_off": percent_off,
        "redeem_by": None,
        "times_redeemed": 1,
        "valid": True,
    }


class StripeAccount:
    def __init__(self) -> None:
        self.events: list[dict] = []
        self.latest: dict[str, dict] = {}  # id -> final object
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n:06d}"

    def _emit(self, event_type: str, obj: dict, at: int, prev: dict | None = None) -> dict:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if prev is not None:
            data["previous_attributes"] = prev
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2024-06-20",
            "created": at,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        self.events.append(event)
        self.latest[obj["id"]] = copy.deepcopy(obj)
        return event

    def objects(self) -> list[dict]:
        return [copy.deepcopy(o) for o in self.latest.values()]

    # -- objects -------------------------------------------------------------------------

    def customer(self, cus_id: str, at: int, country: str | None) -> dict:
        cus = {
            "id": cus_id,
            "object": "customer",
            "address": None
            if country is None
            else {
                "country": country,
                "city": None,
                "line1": None,
                "line2": None,
                "postal_code": None,
                "state": None,
            },
            "balance": 0,
            "created": at,
            "currency": None,
            "delinquent": False,
            "description": None,
            "discount": None,
            "email": None,
            "livemode": False,
            "metadata": {},
            "name": None,
            "shipping": None,
        }
        self._emit("customer.created", cus, at)
        return cus

    def publish(self, p: dict) -> None:
        self._emit("price.created", p, p["created"])

    def subscribe(
        self,
        sub_id: str,
        cus_id: str,
        at: int,
        items: list[tuple[dict, int]],
        *,
        trial_days: int | None = None,
        discount_coupon: dict | None = None,
        payment_fails: bool = False,
    ) -> dict:
        first = items[0][0]["recurring"]
        trial_end = at + trial_days * DAY if trial_days else None
        period_end = trial_end or add_interval(at, first["interval"], first["interval_count"])
        sub = {
            "id": sub_id,
            "object": "subscription",
            "billing_cycle_anchor": trial_end or at,
            "cancel_at": None,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "cancellation_details": {"comment": None, "feedback": None, "reason": None},
            "collection_method": "charge_automatically",
            "created": at,
            "currency": items[0][0]["currency"],
            "current_period_end": period_end,
            "current_period_start": at,
            "customer": cus_id,
            "discount": None,
            "discounts": [],
            "ended_at": None,
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": f"si_{sub_id}_{n}",
                        "object": "subscription_item",
                        "created": at,
                        "metadata": {},
                        "price": copy.deepcopy(p),
                        "quantity": q,
                        "subscription": sub_id,
                    }
                    for n, (p, q) in enumerate(items)
                ],
                "has_more": False,
                "total_count": len(items),
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
            "latest_invoice": None,
            "livemode": False,
            "metadata": {},
            "pause_collection": None,
            "start_date": at,
            "status": "trialing" if trial_end else "active",
            "trial_end": trial_end,
            "trial_start": at if trial_end else None,
        }
        if discount_coupon:
            sub["discount"] = self._discount(discount_coupon, cus_id, sub_id, at)
        self._emit("customer.subscription.created", sub, at)
        if discount_coupon:
            self._emit("customer.discount.created", sub["discount"], at)
        self.invoice(
            sub,
            "subscription_create",
            at,
            at,
            period_end,
            trial=bool(trial_end),
            fails=payment_fails,
        )
        return sub

    def _discount(self, c: dict, cus_id: str, sub_id: str, at: int) -> dict:
        end = None
        if c["duration"] == "repeating":
            end = add_interval(at, "month", c["duration_in_months"])
        return {
            "id": f"di_{sub_id}_{c['id']}",
            "object": "discount",
            "coupon": copy.deepcopy(c),
            "customer": cus_id,
            "end": end,
            "invoice": None,
            "invoice_item": None,
            "promotion_code": None,
            "start": at,
            "subscription": sub_id,
        }

    def invoice(
        self,
        sub: dict,
        reason: str,
        at: int,
        period_start: int,
        period_end: int,
        *,
        trial: bool = False,
        fails: bool = False,
        decline_code: str | None = None,
    ) -> dict:
        inv_id = self._id("in")
        currency = sub["currency"]
        discount = sub.get("discount")
        lines, subtotal, discount_total = [], 0, 0
        for item in sub["items"]["data"]:
            p = item["price"]
            amount = 0 if trial else p["unit_amount"] * item["quantity"]
            off = 0
            if discount and not trial:
                c = discount["coupon"]
                off = (
                    round(amount * c["percent_off"] / 100)
                    if c["percent_off"]
                    else min(c["amount_off"], amount)
                )
            subtotal += amount
            discount_total += off
            lines.append(
                {
                    "id": self._id("il"),
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "description": f"{item['quantity']} x {p['id']}",
                    "discount_amounts": [{"amount": off, "discount": discount["id"]}]
                    if off
                    else [],
                    "discountable": True,
                    "livemode": False,
                    "period": {"start": period_start, "end": period_end},
                    "plan": None,
                    "price": copy.deepcopy(p),
                    "proration": False,
                    "quantity": item["quantity"],
                    "subscription": sub["id"],
                    "subscription_item": item["id"],
                    "type": "subscription",
                }
            )
        total = subtotal - discount_total
        inv = {
            "id": inv_id,
            "object": "invoice",
            "amount_due": total,
            "amount_paid": 0,
            "amount_remaining": total,
            "attempt_count": 0,
            "attempted": False,
            "billing_reason": reason,
            "charge": None,
            "collection_method": "charge_automatically",
            "created": at,
            "currency": currency,
            "customer": sub["customer"],
            "customer_address": None,
            "discount": copy.deepcopy(discount),
            "discounts": [discount["id"]] if discount else [],
            "last_finalization_error": None,
            "lines": {
                "object": "list",
                "data": lines,
                "has_more": False,
                "total_count": len(lines),
                "url": f"/v1/invoices/{inv_id}/lines",
            },
            "livemode": False,
            "paid": False,
            "period_end": at,
            "period_start": at,
            "status": "draft",
            "status_transitions": {
                "finalized_at": None,
                "marked_uncollectible_at": None,
                "paid_at": None,
                "voided_at": None,
            },
            "subscription": sub["id"],
            "subtotal": subtotal,
            "total": total,
        }
        sub["latest_invoice"] = inv_id
        inv["status"] = "open"
        inv["status_transitions"]["finalized_at"] = at
        self._emit("invoice.finalized", inv, at, {"status": "draft"})
        if fails:
            self.fail(inv, at, decline_code)
        else:
            self.pay(inv, at)
        return inv

    def pay(self, inv: dict, at: int) -> None:
        ch_id = self._id("ch")
        inv.update(
            status="paid",
            paid=True,
            amount_paid=inv["amount_due"],
            amount_remaining=0,
            attempt_count=inv["attempt_count"] + 1,
            attempted=True,
            charge=ch_id,
        )
        inv["status_transitions"]["paid_at"] = at
        if inv["amount_due"] > 0:
            self._charge(ch_id, inv, at, "succeeded", None)
        self._emit("invoice.paid", inv, at, {"status": "open", "paid": False})
        self._emit("invoice.payment_succeeded", inv, at)

    def fail(self, inv: dict, at: int, decline_code: str | None) -> None:
        ch_id = self._id("ch")
        inv.update(attempt_count=inv["attempt_count"] + 1, attempted=True, charge=ch_id)
        self._charge(ch_id, inv, at, "failed", decline_code)
        event = self._emit(
            "invoice.payment_failed", inv, at, {"attempt_count": inv["attempt_count"] - 1}
        )
        if decline_code:
            # an events export fetched with `expand[]=data.object.payment_intent`
            event["data"]["object"]["payment_intent"] = {
                "id": f"pi_{ch_id}",
                "object": "payment_intent",
                "last_payment_error": {"code": "card_declined", "decline_code": decline_code},
            }

    def _charge(self, ch_id: str, inv: dict, at: int, status: str, code: str | None) -> dict:
        ch = {
            "id": ch_id,
            "object": "charge",
            "amount": inv["amount_due"],
            "amount_refunded": 0,
            "created": at,
            "currency": inv["currency"],
            "customer": inv["customer"],
            "disputed": False,
            "failure_code": "card_declined" if status == "failed" else None,
            "failure_message": None,
            "invoice": inv["id"],
            "livemode": False,
            "outcome": {"reason": code, "type": "issuer_declined" if code else "authorized"},
            "paid": status == "succeeded",
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{ch_id}/refunds",
            },
            "status": status,
        }
        self._emit(f"charge.{status}", ch, at)
        return ch

    def renew(
        self, sub_id: str, at: int, *, fails: bool = False, decline_code: str | None = None
    ) -> dict:
        sub = self.latest[sub_id]
        rec = sub["items"]["data"][0]["price"]["recurring"]
        end = add_interval(at, rec["interval"], rec["interval_count"])
        prev = {
            "current_period_start": sub["current_period_start"],
            "current_period_end": sub["current_period_end"],
            "status": sub["status"],
        }
        if sub.get("discount") and sub["discount"]["end"] and sub["discount"]["end"] <= at:
            prev["discount"] = sub["discount"]
            sub["discount"] = None
        sub.update(
            current_period_start=at,
            current_period_end=end,
            status="past_due" if fails else "active",
        )
        self._emit("customer.subscription.updated", sub, at, prev)
        return self.invoice(
            sub, "subscription_cycle", at, at, end, fails=fails, decline_code=decline_code
        )

    def update(self, sub_id: str, at: int, **changes: Any) -> dict:
        """Change fields of a subscription (`items` as [(price, quantity)]) and send
        customer.subscription.updated with their previous values."""
        sub = self.latest[sub_id]
        prev = {}
        for key, value in changes.items():
            prev[key] = copy.deepcopy(sub.get(key))
            if key == "items":
                sub["items"]["data"] = [
                    {
                        "id": f"si_{sub_id}_{n}",
                        "object": "subscription_item",
                        "created": at,
                        "metadata": {},
                        "price": copy.deepcopy(p),
                        "quantity": q,
                        "subscription": sub_id,
                    }
                    for n, (p, q) in enumerate(value)
                ]
                prev["items"] = {"data": prev["items"]["data"]}
            else:
                sub[key] = value
        self._emit("customer.subscription.updated", sub, at, prev)
        return sub

    def delete(
        self, sub_id: str, at: int, *, reason: str | None = None, feedback: str | None = None
    ) -> dict:
        sub = self.latest[sub_id]
        sub.update(status="canceled", ended_at=at, canceled_at=sub["canceled_at"] or at)
        if reason or feedback:
            sub["cancellation_details"] = {"comment": None, "feedback": feedback, "reason": reason}
        self._emit("customer.subscription.deleted", sub, at)
        return sub

    def refund(self, ch_id: str, at: int, amount: int) -> None:
        ch = self.latest[ch_id]
        re = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": ch_id,
            "created": at,
            "currency": ch["currency"],
            "reason": "requested_by_customer",
            "status": "succeeded",
        }
        ch["refunds"]["data"].append(re)
        ch.update(amount_refunded=ch["amount_refunded"] + amount, refunded=True)
        self._emit("charge.refunded", ch, at, {"amount_refunded": 0})
        self.latest[re["id"]] = copy.deepcopy(re)

    def dispute(self, ch_id: str, at: int, status: str = "needs_response") -> None:
        ch = self.latest[ch_id]
        dp = {
            "id": self._id("dp"),
            "object": "dispute",
            "amount": ch["amount"],
            "charge": ch_id,
            "created": at,
            "currency": ch["currency"],
            "reason": "fraudulent",
            "status": status,
            "is_charge_refundable": False,
        }
        self._emit("charge.dispute.created", dp, at)


def iso(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_after(at: int, days: int) -> int:
    return at + int(timedelta(days=days).total_seconds())
