"""Stripe events (webhooks, events exports) and API objects (backfill) into contract events;
Stripe's own view of its active subscriptions for reconciliation. The id scheme and the mapping
choices are described in `connectors.stripe`."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from connectors.stripe.facts import (
    Facts,
    customer_country,
    first_invoice_items,
    invoice_subscription,
)
from connectors.stripe.subscriptions import (
    Problem,
    coupon_of,
    current_period_end,
    discounts,
    items_of,
    ref,
    state,
    state_of,
)
from connectors.stripe.vocabulary import country, monthly_major, utc_text
from connectors.translation import Translation

# Stripe event types with no contract meaning: counted as ignored, by type.
IGNORED_TYPES = frozenset(
    {
        "invoice.upcoming",
        "invoice.updated",
        "invoice.created",
        "invoice.sent",
        "invoice.deleted",
        "invoice.voided",
        "invoice.will_be_due",
        "invoice.overdue",
        "invoice.payment_action_required",
        "invoice.finalization_failed",
        "invoice.overpaid",
        "invoiceitem.created",
        "invoiceitem.deleted",
        "invoice_payment.paid",
        "charge.updated",
        "charge.pending",
        "charge.captured",
        "charge.expired",
        "charge.refund.updated",
        "charge.dispute.funds_reinstated",
        "customer.deleted",  # deletion is not erasure; its subscriptions end by their own events
        "customer.discount.deleted",  # the discount's end reaches MRR by subscription.updated
        "customer.subscription.pending_update_expired",
        "price.deleted",
        "plan.deleted",
    }
)
IGNORED_PREFIXES = (
    "payment_intent.",
    "payment_method.",
    "setup_intent.",
    "customer.source.",
    "customer.tax_id.",
    "customer.cash_balance",
    "product.",
    "coupon.",
    "promotion_code.",
    "refund.",  # refunds are translated from their charge (charge.refunded), which names the customer
    "balance.",
    "payout.",
    "subscription_schedule.",
    "checkout.",
    "billing_portal.",
    "mandate.",
    "radar.",
    "review.",
    "credit_note.",
    "quote.",
    "tax_rate.",
    "tax.",
    "file.",
    "account.",
    "application_fee.",
    "transfer.",
    "topup.",
    "test_helpers.",
    "entitlements.",
    "billing.",
    "financial_connections.",
    "reporting.",
    "sigma.",
)
_SUBSCRIPTION_CHANGE_KEYS = ("items", "plan", "quantity", "discount", "discounts")


def _expect(facts: Facts, event: Mapping, obj: Any, *objects: str) -> bool:
    if isinstance(obj, dict) and obj.get("object") in objects:
        return True
    kind = obj.get("object") if isinstance(obj, dict) else type(obj).__name__
    facts.untranslatable(
        "unexpected_object",
        f"{event.get('type')} carries a {kind!r}, not a {' or '.join(objects)}",
        event.get("id"),
        dict(event),
    )
    return False


def _customer(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    if event["type"] == "customer.created":
        facts.customer(obj)
        return
    code = customer_country(obj)
    if code and ("address" in prev or "shipping" in prev):
        facts.emit(
            f"{event['id']}:updated",
            "customer.updated",
            event["created"],
            obj["id"],
            {"country": code},
        )
    elif not code or not ("address" in prev or "shipping" in prev):
        facts.ignore(f"{event['type']}(no country change)")


def _subscription(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    etype, at = event["type"], event["created"]
    current = facts.subscription_state(obj)
    if current is None:
        return
    if etype == "customer.subscription.created":
        facts.started(obj, current, current_period_end(obj))
    facts.subscription_lifecycle(obj)
    sub_id, cus_id = obj["id"], ref(obj.get("customer"))
    if not cus_id:
        return
    if etype == "customer.subscription.updated":
        if any(key in prev for key in _SUBSCRIPTION_CHANGE_KEYS):
            facts.changed(obj, current, at, event["id"])
        if prev.get("cancel_at_period_end") and not obj.get("cancel_at_period_end"):
            facts.emit(
                f"{sub_id}:reactivated:{event['id']}",
                "subscription.reactivated",
                at,
                cus_id,
                {"subscription_id": sub_id},
            )
        if "pause_collection" in prev:
            _pause_change(facts, obj, prev["pause_collection"], event)
    elif etype == "customer.subscription.paused":
        facts.emit(
            f"{sub_id}:paused:{event['id']}",
            "subscription.paused",
            at,
            cus_id,
            {"subscription_id": sub_id},
        )
    elif etype == "customer.subscription.resumed":
        facts.emit(
            f"{sub_id}:resumed:{event['id']}",
            "subscription.resumed",
            at,
            cus_id,
            {"subscription_id": sub_id},
        )


def _pause_change(facts: Facts, sub: dict, before: Any, event: Mapping) -> None:
    sub_id, cus_id, at = sub["id"], ref(sub["customer"]), event["created"]
    now = sub.get("pause_collection")
    if now and not before:
        data: dict[str, Any] = {"subscription_id": sub_id}
        if type(now.get("resumes_at")) is int:
            data["resume_at"] = utc_text(now["resumes_at"])
        facts.emit(f"{sub_id}:paused:{event['id']}", "subscription.paused", at, cus_id, data)
    elif before and not now:
        facts.emit(
            f"{sub_id}:resumed:{event['id']}",
            "subscription.resumed",
            at,
            cus_id,
            {"subscription_id": sub_id},
        )


def _invoice(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    if event["type"] == "invoice.payment_failed":
        facts.payment_failed(obj, event["created"])
    facts.invoice(obj)


def _charge(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    facts.charge(obj)


def _dispute(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    facts.dispute(obj, None)


def _discount(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    coupon, cus_id = coupon_of(obj), ref(obj.get("customer"))
    if coupon is None or not cus_id:
        facts.untranslatable(
            "discount_without_coupon",
            f"{event['type']}: no coupon or customer",
            event.get("id"),
            dict(event),
        )
        return
    facts.coupon_redeemed(obj, coupon, cus_id, ref(obj.get("subscription")), coupon.get("currency"))


def _price(facts: Facts, event: Mapping, obj: dict, prev: dict) -> None:
    facts.price(obj)


# event type -> (handler, the Stripe objects it carries)
HANDLERS = {
    "customer.created": (_customer, ("customer",)),
    "customer.updated": (_customer, ("customer",)),
    **{
        f"customer.subscription.{kind}": (_subscription, ("subscription",))
        for kind in (
            "created",
            "updated",
            "deleted",
            "paused",
            "resumed",
            "trial_will_end",
            "pending_update_applied",
        )
    },
    **{
        f"invoice.{kind}": (_invoice, ("invoice",))
        for kind in (
            "paid",
            "payment_succeeded",
            "payment_failed",
            "finalized",
            "marked_uncollectible",
        )
    },
    **{f"charge.{kind}": (_charge, ("charge",)) for kind in ("succeeded", "failed", "refunded")},
    **{
        f"charge.dispute.{kind}": (_dispute, ("dispute",))
        for kind in ("created", "updated", "closed", "funds_withdrawn")
    },
    **{f"customer.discount.{kind}": (_discount, ("discount",)) for kind in ("created", "updated")},
    **{
        f"{kind}.{change}": (_price, ("price", "plan"))
        for kind in ("price", "plan")
        for change in ("created", "updated")
    },
}


def _translate_event(facts: Facts, event: Mapping) -> None:
    etype = event.get("type")
    data = event.get("data")
    if event.get("object") != "event" or not isinstance(etype, str) or not isinstance(data, dict):
        facts.untranslatable(
            "not_an_event",
            "not a Stripe event object (object, type, data)",
            event.get("id"),
            dict(event),
        )
        return
    handler = HANDLERS.get(etype)
    if handler is None:
        if etype in IGNORED_TYPES or etype.startswith(IGNORED_PREFIXES):
            facts.ignore(etype)
        else:
            facts.untranslatable(
                "unknown_event_type",
                f"no translation for Stripe event type {etype}",
                event.get("id"),
                dict(event),
            )
        return
    function, objects = handler
    obj = data.get("object")
    if type(event.get("created")) is not int or not event.get("id"):
        facts.untranslatable(
            "not_an_event", f"{etype}: no id or created", event.get("id"), dict(event)
        )
        return
    if _expect(facts, event, obj, *objects):
        prev = data.get("previous_attributes")
        function(facts, event, obj, prev if isinstance(prev, dict) else {})


def translate_event(event: Mapping) -> Translation:
    """The contract events of one Stripe event object (a webhook's body, a line of an events
    export)."""
    facts = Facts()
    _translate_event(facts, event)
    return facts.translation


def translate_objects(objects: Iterable[Mapping], *, as_of: datetime) -> Translation:
    """The contract events of Stripe API objects from a backfill (customers, prices and plans,
    subscriptions with their items, invoices with their lines, charges, refunds, disputes,
    discounts, and event objects), in any order. `as_of` is when the objects were read: a
    subscription Stripe shows paused is paused from then on at the latest."""
    # The translation makes no reference cycles: pausing the cyclic garbage collector while it
    # allocates its many small dicts beside a large backfill saves it a third of its time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _translate_objects(objects, as_of)
    finally:
        if collecting:
            gc.enable()


def _translate_objects(objects: Iterable[Mapping], as_of: datetime) -> Translation:
    buckets: dict[str, list[dict]] = defaultdict(list)
    facts = Facts()
    for obj in objects:
        kind = obj.get("object") if type(obj) is dict or isinstance(obj, Mapping) else None
        if kind in _OBJECT_KINDS:
            buckets[kind].append(obj)  # type: ignore[arg-type]
        else:
            facts.untranslatable(
                "unknown_object",
                f"no translation for Stripe object {kind!r}",
                obj.get("id") if isinstance(obj, Mapping) else None,
                obj if isinstance(obj, Mapping) else {"value": repr(obj)},
            )
    first_invoices: dict[str, dict] = {}
    invoice_countries: dict[str, str] = {}
    for inv in buckets["invoice"]:
        sub_id = invoice_subscription(inv)
        if sub_id and inv.get("billing_reason") == "subscription_create":
            known = first_invoices.get(sub_id)
            if known is None or (inv.get("created") or 0) < (known.get("created") or 0):
                first_invoices[sub_id] = inv
        address = inv.get("customer_address")
        cus_id = ref(inv.get("customer"))
        if isinstance(address, dict) and cus_id and (code := country(address.get("country"))):
            invoice_countries.setdefault(cus_id, code)
    charge_customers = {ch.get("id"): ref(ch.get("customer")) for ch in buckets["charge"]}

    for cus in buckets["customer"]:
        facts.customer(cus, invoice_countries.get(cus.get("id")))
    for price in buckets["price"] + buckets["plan"]:
        facts.price(price)
    as_of_ts = int(as_of.timestamp())
    for sub in buckets["subscription"]:
        first = first_invoices.get(sub.get("id")) if first_invoices else None
        _backfill_subscription(facts, sub, first, as_of_ts)
    for inv in buckets["invoice"]:
        facts.invoice(inv)
    listed: dict[str, list[dict]] = defaultdict(list)
    for refund in buckets["refund"]:
        listed[ref(refund.get("charge"))].append(refund)
    for ch in buckets["charge"]:
        own = ch.get("refunds")
        if ch.get("id") in listed and not (isinstance(own, dict) and own.get("data")):
            ch = {**ch, "refunds": {"data": listed[ch["id"]]}}  # the backfill's own listing
        facts.charge(ch)
    for refund in buckets["refund"]:
        facts.refund(refund, charge_customers.get(ref(refund.get("charge"))))
    for dp in buckets["dispute"]:
        facts.dispute(dp, charge_customers.get(ref(dp.get("charge"))))
    for discount in buckets["discount"]:
        _discount(facts, {"type": "discount", "id": discount.get("id")}, discount, {})
    for event in buckets["event"]:
        _translate_event(facts, event)
    return facts.translation


_OBJECT_KINDS = frozenset(
    {
        "customer",
        "price",
        "plan",
        "subscription",
        "invoice",
        "charge",
        "refund",
        "dispute",
        "discount",
        "event",
    }
)


def _backfill_subscription(facts: Facts, sub: dict, first: dict | None, as_of: int) -> None:
    """A subscription as the API shows it now: its start as its creating invoice billed it
    (the same `subscription.started` as the webhook's customer.subscription.created), or as it
    is now when that invoice is not in the backfill; then its lifecycle facts, and a pause at
    `as_of` when Stripe shows it paused (when it paused is only in its events)."""
    items, pairs = items_of(sub), discounts(sub)
    current = facts.subscription_state(sub, items, pairs)
    if current is None:
        return
    start_state, period_end = current, current_period_end(sub)
    if first is not None:
        first_items, first_end = first_invoice_items(first)
        if first_items:
            try:
                currency = sub.get("currency") or first.get("currency")
                start_state = state(sub["id"], first_items, currency, discounts(first))
                period_end = first_end or period_end
            except Problem:
                start_state = current
    facts.started(sub, start_state, period_end)
    facts.subscription_lifecycle(sub, items, pairs)
    pause, status = sub.get("pause_collection"), sub.get("status")
    if not pause and status != "paused":
        return
    cus_id = ref(sub.get("customer"))
    if cus_id and status not in ("canceled", "incomplete_expired"):
        data: dict[str, Any] = {"subscription_id": sub["id"]}
        if isinstance(pause, dict) and type(pause.get("resumes_at")) is int:
            data["resume_at"] = utc_text(pause["resumes_at"])
        facts.emit(f"{sub['id']}:paused:as_of:{as_of}", "subscription.paused", as_of, cus_id, data)


# statuses of a subscription that still gives access (past_due and unpaid are dunning)
_LIVE = ("active", "past_due", "unpaid", "trialing", "paused")


def provider_view(subscriptions: Iterable[Mapping], *, as_of: datetime) -> list[dict]:
    """Stripe's own view for reconciliation: one row per subscription that is live on `as_of`
    (started, not ended), with its MRR in major units of its currency (METRICS.md: net of
    repeating / forever coupons, normalised to a month; 0 in trial or paused; metered items
    count 0 here, their usage is only on invoices)."""
    at = int(as_of.timestamp())
    rows = []
    for sub in subscriptions:
        if sub.get("object") != "subscription":
            continue
        start = sub.get("start_date") or sub.get("created")
        ended = sub.get("ended_at")
        if type(start) is not int or start > at or (type(ended) is int and ended <= at):
            continue
        status = sub.get("status")
        if status not in _LIVE and not (status == "canceled" and type(ended) is int):
            continue
        try:
            s = state_of(sub)
        except Problem:
            continue
        trial_end = sub.get("trial_end")
        in_trial = type(trial_end) is int and trial_end > at
        paused = bool(sub.get("pause_collection")) or status == "paused"
        mrr = (
            Decimal(0).quantize(Decimal("0.000001"))
            if in_trial or paused
            else monthly_major(
                s["price_minor"] - s["discount_minor"], s["billing_period"], s["currency"]
            )
        )
        rows.append(
            {
                "customer_id": ref(sub.get("customer")),
                "subscription_id": sub.get("id"),
                "status": status,
                "currency": s["currency"],
                "mrr": mrr,
            }
        )
    return rows
