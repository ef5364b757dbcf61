"""The contract facts a Stripe object states by itself, whichever path delivered it (a webhook's
`data.object` or an API listing): each fact's `event_id` and body derive from the object's own
fields only, so both paths produce byte-identical events (see `connectors.stripe` for the id
scheme)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from connectors.stripe.subscriptions import (
    Problem,
    coupon_of,
    current_period_end,
    discount_objects,
    discounts,
    items_of,
    recurring,
    ref,
    state_of,
)
from connectors.stripe.vocabulary import (
    billing_period,
    cancel_reason,
    contract_minor,
    country,
    coupon_duration,
    currency_problem,
    ended_reason,
    failure_code,
    utc_text,
)
from connectors.translation import MAX_EVENT_ID, Translation, Untranslatable, derived_event_id

SOURCE = "stripe"
PLATFORM = "web"
PROVIDER = "stripe"


class Facts:
    """Contract events collected from Stripe objects, each event id once (the first wins), plus
    the untranslatable objects and ignored types (`translation`)."""

    def __init__(self) -> None:
        self.translation = Translation()
        self._events = self.translation.events
        self._seen: set[str] = set()
        self._offers: set[tuple] = set()  # offers already emitted

    def emit(self, key: str, event_type: str, occurred_at: Any, customer: str, data: dict) -> None:
        """One contract event; `key` is its id after `stripe:`, the provider ids and the change
        joined by `:` (`derived_event_id`'s scheme, spelled as an f-string on the hot path)."""
        event_id = f"{SOURCE}:{key}"
        if len(event_id) > MAX_EVENT_ID:
            event_id = derived_event_id(SOURCE, key)
        seen = self._seen
        if event_id in seen:
            return
        seen.add(event_id)
        self._events.append(
            {
                "event_id": event_id,
                "event_type": event_type,
                "schema_version": 1,
                "occurred_at": occurred_at
                if isinstance(occurred_at, str)
                else utc_text(occurred_at),
                "source": SOURCE,
                "customer_id": customer,
                "data": data,
            }
        )

    def untranslatable(self, reason: str, detail: str, provider_id: Any, payload: Any) -> None:
        self.translation.untranslatable.append(
            Untranslatable(reason, detail, str(provider_id or "unknown"), payload)
        )

    def ignore(self, kind: str) -> None:
        self.translation.ignored[kind] += 1

    # -- catalogue -------------------------------------------------------------------------

    def offer(self, price: dict) -> None:
        """`offer.published` of a recurring price (offer_id = price id). Its id carries a digest
        of the body: a renamed price is a new version, the same price seen twice one event."""
        product = price.get("product")
        # a Stripe price's amount, currency and interval never change: its id, name and
        # product say whether this copy was already published
        if type(product) is str:  # as the API lists prices unless asked to expand them
            quick = (price.get("id"), price.get("nickname"), product, None)
        else:
            quick = (
                price.get("id"),
                price.get("nickname"),
                ref(product),
                product.get("name") if isinstance(product, dict) else None,
            )
        if quick in self._offers:  # the same price on many subscriptions
            return
        self._offers.add(quick)
        interval, count, _ = recurring(price)
        period = billing_period(interval, count)
        price_id = price.get("id")
        currency = price.get("currency")
        if period is None or not price_id or currency_problem(currency):
            return
        currency = currency.upper()
        title = (
            price.get("nickname")
            or (product.get("name") if isinstance(product, dict) else None)
            or ref(product)
            or price_id
        )
        unit = price.get("unit_amount", price.get("amount"))
        data = {
            "offer_id": price_id,
            "title": title,
            "offer_type": "subscription",
            "billing_period": period,
            "price_minor": contract_minor(unit, currency) if type(unit) is int else 0,
            "currency": currency,
        }
        rec = price.get("recurring") if isinstance(price.get("recurring"), dict) else price
        trial_days = rec.get("trial_period_days")
        if type(trial_days) is int and 1 <= trial_days <= 999:
            data["trial_period"] = f"P{trial_days}D"
        created = price.get("created")
        digest = hashlib.blake2b(orjson.dumps(data, option=orjson.OPT_SORT_KEYS), digest_size=6)
        key = digest.hexdigest()
        self.emit(f"{price_id}:offer:{key}", "offer.published", created or 946684800, "", data)

    def price(self, price: dict) -> None:
        interval, _, _ = recurring(price)
        if interval is None:
            if price.get("type") == "recurring":
                self.untranslatable(
                    "price_without_interval",
                    f"recurring price {price.get('id')} has no interval",
                    price.get("id"),
                    price,
                )
            else:
                self.ignore("price(one_time)")
            return
        problem = currency_problem(price.get("currency"))
        if problem:
            self.untranslatable(
                "currency_without_rates",
                f"price {price.get('id')}: {problem}",
                price.get("id"),
                price,
            )
            return
        self.offer(price)

    # -- customers -------------------------------------------------------------------------

    def customer(self, cus: dict, fallback_country: str | None = None) -> None:
        """`customer.created` when Stripe knows the customer's country (address, shipping, or an
        invoice's customer_address in a backfill); the contract requires one, and a customer
        without it still appears through their subscriptions (country `unknown` in the marts)."""
        cus_id = cus.get("id")
        if cus.get("deleted") or not cus_id:
            return
        code = customer_country(cus) or fallback_country
        if code is None or type(cus.get("created")) is not int:
            return
        data = {"country": code, "signup_platform": PLATFORM}
        self.emit(f"{cus_id}:created:{code}", "customer.created", cus["created"], cus_id, data)

    # -- subscriptions ---------------------------------------------------------------------

    def subscription_state(
        self, sub: dict, items: list[dict] | None = None, pairs: list | None = None
    ) -> dict | None:
        """The subscription's recurring state, or None when it is untranslatable (recorded)."""
        try:
            return state_of(sub, items, pairs)
        except Problem as problem:
            self.untranslatable(problem.reason, problem.detail, sub.get("id"), sub)
            return None

    def started(self, sub: dict, recurring_state: dict, period_end: int | None) -> None:
        sub_id, cus_id = sub["id"], ref(sub.get("customer"))
        start = sub.get("start_date") or sub.get("start") or sub.get("created")
        if not cus_id or type(start) is not int:
            self.untranslatable(
                "subscription_without_customer",
                f"subscription {sub_id}: no customer or start",
                sub_id,
                sub,
            )
            return
        data = {
            "subscription_id": sub_id,
            "offer_id": recurring_state["offer_id"],
            "platform": PLATFORM,
            "price_minor": recurring_state["price_minor"],
            "currency": recurring_state["currency"],
            "billing_period": recurring_state["billing_period"],
            "discount_minor": recurring_state["discount_minor"],
        }
        if recurring_state["coupon_id"]:
            data["coupon_id"] = recurring_state["coupon_id"]
        trial_end = sub.get("trial_end")
        if type(trial_end) is int and trial_end > start:
            data["trial_ends_at"] = utc_text(trial_end)
        data["current_period_end"] = utc_text(period_end if period_end else start)
        self.emit(f"{sub_id}:started", "subscription.started", start, cus_id, data)

    def changed(self, sub: dict, recurring_state: dict, at: int, change_id: str) -> None:
        data = {
            "subscription_id": sub["id"],
            "effective_at": utc_text(at),
            "offer_id": recurring_state["offer_id"],
            "price_minor": recurring_state["price_minor"],
            "discount_minor": recurring_state["discount_minor"],
            "currency": recurring_state["currency"],
            "billing_period": recurring_state["billing_period"],
        }
        cus_id = ref(sub.get("customer"))
        if cus_id:
            self.emit(f"{change_id}:changed", "subscription.changed", at, cus_id, data)

    def subscription_lifecycle(
        self, sub: dict, items: list[dict] | None = None, pairs: list | None = None
    ) -> None:
        """The facts any copy of a subscription states: its prices' offers, its scheduled or
        immediate cancellation, its end, its coupons (`items` and `pairs` as in `state_of`)."""
        sub_id, cus_id = sub.get("id"), ref(sub.get("customer"))
        if not sub_id or not cus_id:
            return
        for item in items_of(sub) if items is None else items:
            price = item.get("price") or item.get("plan")
            if isinstance(price, dict):
                self.offer(price)
        status = sub.get("status")
        canceled_at = sub.get("canceled_at")
        ended_at = sub.get("ended_at")
        details = sub.get("cancellation_details")
        if type(canceled_at) is int:
            effective = sub.get("cancel_at")
            if type(effective) is not int:
                effective = current_period_end(sub) if sub.get("cancel_at_period_end") else ended_at
            if type(effective) is int:
                reason, initiated_by = cancel_reason(details)
                data = {
                    "subscription_id": sub_id,
                    "effective_at": utc_text(effective),
                    "reason": reason,
                    "initiated_by": initiated_by,
                }
                self.emit(
                    f"{sub_id}:cancelled:{canceled_at}",
                    "subscription.cancelled",
                    canceled_at,
                    cus_id,
                    data,
                )
        if status in ("canceled", "incomplete_expired") and type(ended_at) is int:
            data = {"subscription_id": sub_id, "ended_reason": ended_reason(status, details)}
            self.emit(f"{sub_id}:ended", "subscription.ended", ended_at, cus_id, data)
        for discount, coupon in discounts(sub) if pairs is None else pairs:
            self.coupon_redeemed(discount, coupon, cus_id, sub_id, sub.get("currency"))

    def coupon_redeemed(
        self, discount: dict, coupon: dict, cus_id: str, sub_id: str | None, currency: Any
    ) -> None:
        if "subscription" in discount:  # the discount's own word, whichever object holds it
            sub_id = ref(discount["subscription"])
        start = discount.get("start")
        coupon_id = coupon.get("id")
        if type(start) is not int or not coupon_id:
            return
        data: dict[str, Any] = {"coupon_id": coupon_id}
        if sub_id:
            data["subscription_id"] = sub_id
        if coupon.get("percent_off") is not None:
            data["discount_type"] = "percent"
            data["discount_value"] = float(coupon["percent_off"])
        elif type(coupon.get("amount_off")) is int:
            code = (coupon.get("currency") or currency or "").upper()
            data["discount_type"] = "amount"
            data["discount_value"] = (
                contract_minor(coupon["amount_off"], code) if code else coupon["amount_off"]
            )
        else:
            return
        data["duration"] = coupon_duration(coupon)
        holder = sub_id or cus_id
        self.emit(f"{holder}:coupon:{coupon_id}:{start}", "coupon.redeemed", start, cus_id, data)

    # -- invoices and money ----------------------------------------------------------------

    def invoice(self, inv: dict) -> None:
        """`subscription.renewed` of a finalized renewal invoice (its recurring lines: the period
        price, metered usage included, and the repeating / forever discounts), and
        `payment.succeeded` of a paid invoice (one-off invoices: `purchase_id` = invoice id)."""
        inv_id, cus_id = inv.get("id"), ref(inv.get("customer"))
        status = inv.get("status")
        if not inv_id or status not in ("open", "paid", "uncollectible"):
            return
        currency = inv.get("currency")
        problem = currency_problem(currency)
        if problem:
            self.untranslatable(
                "currency_without_rates", f"invoice {inv_id}: {problem}", inv_id, inv
            )
            return
        if not cus_id:
            self.untranslatable(
                "invoice_without_customer", f"invoice {inv_id} has no customer", inv_id, inv
            )
            return
        currency = currency.upper()
        sub_id = invoice_subscription(inv)
        transitions = inv.get("status_transitions") or {}
        if sub_id and inv.get("billing_reason") == "subscription_cycle":
            self._renewed(inv, inv_id, cus_id, sub_id, currency, transitions)
        for discount, coupon in discounts(inv):  # a coupon Stripe has since removed is here
            self.coupon_redeemed(discount, coupon, cus_id, sub_id, currency)
        if status == "paid" and type(inv.get("amount_paid")) is int and inv["amount_paid"] > 0:
            paid_at = transitions.get("paid_at") or inv.get("created")
            data = {
                "payment_id": ref(inv.get("charge")) or inv_id,
                "subscription_id" if sub_id else "purchase_id": sub_id or inv_id,
                "amount_minor": contract_minor(inv["amount_paid"], currency),
                "currency": currency,
                "provider": PROVIDER,
            }
            self.emit(f"{inv_id}:paid", "payment.succeeded", paid_at, cus_id, data)

    def _renewed(
        self, inv: dict, inv_id: str, cus_id: str, sub_id: str, currency: str, transitions: dict
    ) -> None:
        lines = recurring_lines(inv)
        if not lines:
            return
        amount = sum(line.get("amount") or 0 for line in lines)
        if amount <= 0:
            return
        once_only = _once_only(inv)
        discount = 0
        if not once_only:
            for line in lines:
                for d in line.get("discount_amounts") or ():
                    discount += d.get("amount") or 0
        starts = [ln["period"]["start"] for ln in lines if isinstance(ln.get("period"), dict)]
        ends = [ln["period"]["end"] for ln in lines if isinstance(ln.get("period"), dict)]
        if not starts:
            return
        price_minor = contract_minor(amount, currency)
        data = {
            "subscription_id": sub_id,
            "period_start": utc_text(min(starts)),
            "period_end": utc_text(max(ends)),
            "price_minor": price_minor,
            "discount_minor": min(contract_minor(discount, currency), price_minor),
            "currency": currency,
        }
        occurred = transitions.get("finalized_at") or inv.get("created")
        self.emit(f"{inv_id}:renewed", "subscription.renewed", occurred, cus_id, data)

    def payment_failed(self, inv: dict, occurred_at: int) -> None:
        """`payment.failed` of one failed attempt at an invoice (`invoice.payment_failed`):
        attempt = the invoice's `attempt_count`; the decline code from the charge or payment
        intent when Stripe expanded them, else the finalization error, else `other`."""
        inv_id, cus_id = inv.get("id"), ref(inv.get("customer"))
        currency = inv.get("currency")
        problem = currency_problem(currency)
        if problem or not inv_id or not cus_id:
            self.untranslatable(
                "currency_without_rates" if problem else "invoice_without_customer",
                f"invoice {inv_id}: {problem or 'no customer'}",
                inv_id,
                inv,
            )
            return
        currency = currency.upper()
        attempt = inv.get("attempt_count")
        attempt = attempt if type(attempt) is int and attempt >= 1 else 1
        sub_id = invoice_subscription(inv)
        charge = inv.get("charge") if isinstance(inv.get("charge"), dict) else {}
        intent = inv.get("payment_intent") if isinstance(inv.get("payment_intent"), dict) else {}
        error = intent.get("last_payment_error") or {}
        outcome = charge.get("outcome") or {}
        finalization = inv.get("last_finalization_error") or {}
        data = {
            "payment_id": ref(inv.get("charge")) or inv_id,
            "subscription_id" if sub_id else "purchase_id": sub_id or inv_id,
            "amount_minor": contract_minor(inv.get("amount_due") or 0, currency),
            "currency": currency,
            "provider": PROVIDER,
            "failure_code": failure_code(
                error.get("decline_code"),
                error.get("code"),
                outcome.get("reason"),
                charge.get("failure_code"),
                finalization.get("code"),
            ),
            "attempt": attempt,
        }
        self.emit(f"{inv_id}:failed:{attempt}", "payment.failed", occurred_at, cus_id, data)

    def charge(self, ch: dict) -> None:
        """A charge's refunds, and the payment itself when it belongs to no invoice (an explicit
        `invoice: null`; invoice payments are the invoice's facts): `purchase_id` = charge id."""
        ch_id, cus_id = ch.get("id"), ref(ch.get("customer"))
        refunds = ch.get("refunds")
        refunds = refunds.get("data") if isinstance(refunds, dict) else refunds
        standalone = "invoice" in ch and ch["invoice"] is None
        refunded = ch.get("amount_refunded")
        listed = sum(r.get("amount") or 0 for r in refunds or () if isinstance(r, dict))
        if type(refunded) is int and refunded > listed:
            # API versions from 2022-11-15 leave `refunds` out of a charge: its refunds are
            # only known by their ids from the refunds listing (a backfill joins them)
            self.untranslatable(
                "refunds_not_listed",
                f"charge {ch_id}: {refunded - listed} refunded by refunds it does not list; "
                "import the refunds with a backfill",
                ch_id,
                ch,
            )
        if not standalone and not refunds:
            self.ignore(f"charge({ch.get('status')}): its invoice's fact")
            return
        problem = currency_problem(ch.get("currency"))
        if problem or not cus_id:
            self.untranslatable(
                "currency_without_rates" if problem else "charge_without_customer",
                f"charge {ch_id}: {problem or 'no customer, a payment nobody can be credited with'}",
                ch_id,
                ch,
            )
            return
        currency = ch["currency"].upper()
        if standalone and ch.get("status") in ("succeeded", "failed"):
            data = {
                "payment_id": ch_id,
                "purchase_id": ch_id,
                "amount_minor": contract_minor(ch.get("amount") or 0, currency),
                "currency": currency,
                "provider": PROVIDER,
            }
            if ch["status"] == "succeeded":
                self.emit(f"{ch_id}:paid", "payment.succeeded", ch["created"], cus_id, data)
            else:
                outcome = ch.get("outcome") or {}
                data["failure_code"] = failure_code(outcome.get("reason"), ch.get("failure_code"))
                data["attempt"] = 1
                self.emit(f"{ch_id}:failed", "payment.failed", ch["created"], cus_id, data)
        for refund in refunds or ():
            if isinstance(refund, dict):
                self.refund(refund, cus_id)

    def refund(self, refund: dict, cus_id: str | None) -> None:
        re_id, ch_id = refund.get("id"), ref(refund.get("charge"))
        if refund.get("status") not in ("succeeded", "pending", None):
            return
        self.money_on_charge(
            refund, "refund", ch_id, cus_id, f"{ch_id}:refund:{re_id}", "payment.refunded",
            {"refund_id": re_id},
        )  # fmt: skip

    def dispute(self, dp: dict, cus_id: str | None) -> None:
        """`payment.chargeback` of a dispute, unless it is an inquiry or early warning
        (`warning_*`: no money moved). Stripe's dispute names its charge, not its customer:
        the customer comes from an expanded charge or, in a backfill, the charges beside it."""
        dp_id, ch_id = dp.get("id"), ref(dp.get("charge"))
        if str(dp.get("status") or "").startswith("warning"):
            self.ignore("dispute(warning)")
            return
        if cus_id is None and isinstance(dp.get("charge"), dict):
            cus_id = ref(dp["charge"].get("customer"))
        self.money_on_charge(
            dp, "dispute", ch_id, cus_id, f"{dp_id or ch_id}:chargeback", "payment.chargeback"
        )

    def money_on_charge(
        self,
        obj: dict,
        what: str,
        ch_id: str | None,
        cus_id: str | None,
        key: str,
        event_type: str,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """The contract event of money moved back on charge `ch_id` (a refund, a dispute):
        untranslatable without rates for its currency or without the charge's customer."""
        obj_id = obj.get("id")
        problem = currency_problem(obj.get("currency"))
        if problem or not cus_id or not ch_id:
            self.untranslatable(
                "currency_without_rates" if problem else f"{what}_without_customer",
                f"{what} {obj_id}: {problem or 'its charge (and so its customer) is unknown'}",
                obj_id,
                obj,
            )
            return
        currency = obj["currency"].upper()
        data = {
            "payment_id": ch_id,
            **(extra or {}),
            "amount_minor": contract_minor(obj.get("amount") or 0, currency),
            "currency": currency,
        }
        if obj.get("reason"):
            data["reason"] = obj["reason"]
        self.emit(key, event_type, obj["created"], cus_id, data)


def customer_country(cus: dict) -> str | None:
    for holder in (cus.get("address"), (cus.get("shipping") or {}).get("address")):
        if isinstance(holder, dict) and (code := country(holder.get("country"))):
            return code
    return None


def invoice_subscription(inv: dict) -> str | None:
    """The subscription of an invoice: `subscription` (before 2025) or
    `parent.subscription_details.subscription`."""
    sub = ref(inv.get("subscription"))
    if sub:
        return sub
    parent = inv.get("parent")
    if isinstance(parent, dict) and isinstance(parent.get("subscription_details"), dict):
        return ref(parent["subscription_details"].get("subscription"))
    return None


def _line_is_recurring(line: dict) -> bool:
    parent = line.get("parent")
    details = parent.get("subscription_item_details") if isinstance(parent, dict) else None
    if isinstance(details, dict):
        return not details.get("proration")
    return line.get("type") == "subscription" and not line.get("proration")


def recurring_lines(inv: dict) -> list[dict]:
    """An invoice's subscription lines that bill a period (proration lines are revenue, not
    recurring price)."""
    lines = inv.get("lines")
    lines = lines.get("data") if isinstance(lines, dict) else lines
    return [ln for ln in lines or () if isinstance(ln, dict) and _line_is_recurring(ln)]


def _once_only(inv: dict) -> bool:
    """True when every discount on the invoice is a known `once` coupon (not recurring)."""
    coupons = [coupon_of(d) for d in discount_objects(inv)]
    return bool(coupons) and all(c is not None and c.get("duration") == "once" for c in coupons)


def first_invoice_items(inv: dict) -> tuple[list[dict], int | None]:
    """The subscription items as the creating invoice billed them (price and quantity per
    recurring line) and the end of the first period: how a backfill recovers a subscription's
    starting state after later changes."""
    lines = recurring_lines(inv)
    items = []
    for line in lines:
        price = line.get("price") or line.get("plan")
        if isinstance(price, dict):
            items.append({"price": price, "quantity": line.get("quantity")})
    ends = [ln["period"]["end"] for ln in lines if isinstance(ln.get("period"), dict)]
    return items, (max(ends) if ends else None)
