"""One valid example of every event type: documentation for producers and test fixtures."""

from __future__ import annotations

import copy
from typing import Any

_T = "2026-01-15T10:00:00Z"

_DATA: dict[str, dict[str, Any]] = {
    "offer.published": {
        "offer_id": "monthly_basic",
        "title": "Basic monthly",
        "offer_type": "subscription",
        "billing_period": "P1M",
        "price_minor": 999,
        "currency": "EUR",
        "trial_period": "P7D",
    },
    "customer.created": {
        "country": "DE",
        "signup_platform": "web",
        "acquisition_channel": "search",
        "marketing_consent": True,
    },
    "customer.updated": {"country": "AT"},
    "customer.erased": {},
    "subscription.started": {
        "subscription_id": "s_42_1",
        "offer_id": "monthly_basic",
        "platform": "web",
        "price_minor": 999,
        "currency": "EUR",
        "billing_period": "P1M",
        "discount_minor": 0,
        "coupon_id": "WELCOME",
        "trial_ends_at": "2026-01-22T10:00:00Z",
        "current_period_end": "2026-02-22T10:00:00Z",
    },
    "subscription.renewed": {
        "subscription_id": "s_42_1",
        "period_start": "2026-02-22T10:00:00Z",
        "period_end": "2026-03-22T10:00:00Z",
        "price_minor": 999,
        "discount_minor": 0,
        "currency": "EUR",
    },
    "subscription.changed": {
        "subscription_id": "s_42_1",
        "effective_at": "2026-03-22T10:00:00Z",
        "offer_id": "monthly_premium",
        "price_minor": 1499,
        "discount_minor": 0,
        "currency": "EUR",
        "billing_period": "P1M",
    },
    "subscription.cancelled": {
        "subscription_id": "s_42_1",
        "effective_at": "2026-04-22T10:00:00Z",
        "reason": "too_expensive",
        "initiated_by": "customer",
    },
    "subscription.reactivated": {"subscription_id": "s_42_1"},
    "subscription.paused": {"subscription_id": "s_42_1", "resume_at": "2026-05-01T00:00:00Z"},
    "subscription.resumed": {"subscription_id": "s_42_1"},
    "subscription.ended": {"subscription_id": "s_42_1", "ended_reason": "cancelled"},
    "purchase.completed": {
        "purchase_id": "pu_1",
        "offer_id": "ppv_final",
        "offer_type": "live_ppv",
        "platform": "roku",
        "amount_minor": 1999,
        "currency": "USD",
        "access_until": "2026-01-16T10:00:00Z",
    },
    "payment.succeeded": {
        "payment_id": "p_1",
        "subscription_id": "s_42_1",
        "amount_minor": 999,
        "currency": "EUR",
        "provider": "adyen",
        "payment_method": "card",
    },
    "payment.failed": {
        "payment_id": "p_9",
        "subscription_id": "s_42_1",
        "amount_minor": 999,
        "currency": "EUR",
        "provider": "adyen",
        "failure_code": "insufficient_funds",
        "attempt": 1,
    },
    "payment.refunded": {
        "payment_id": "p_1",
        "refund_id": "r_1",
        "amount_minor": 999,
        "currency": "EUR",
        "reason": "requested_by_customer",
    },
    "payment.chargeback": {
        "payment_id": "p_1",
        "amount_minor": 999,
        "currency": "EUR",
        "reason": "fraudulent",
    },
    "coupon.redeemed": {
        "coupon_id": "WELCOME",
        "campaign_id": "spring",
        "subscription_id": "s_42_1",
        "discount_type": "percent",
        "discount_value": 50,
        "duration": "P3M",
    },
    "retention.action_taken": {
        "campaign_id": "winback_1",
        "action": "coupon_offered",
        "group": "treatment",
        "coupon_id": "STAY20",
    },
    "support.ticket_opened": {
        "ticket_id": "t_1",
        "channel": "chat",
        "category": "billing",
        "priority": "normal",
    },
    "support.ticket_resolved": {"ticket_id": "t_1", "resolution_minutes": 42, "csat": 4},
    "engagement.activity": {
        "period_start": "2026-01-08T00:00:00Z",
        "period_end": "2026-01-15T00:00:00Z",
        "minutes_watched": 320,
        "sessions": 9,
        "platform": "ios",
    },
}


def example(event_type: str, n: int = 1, **envelope: Any) -> dict[str, Any]:
    """A valid event of `event_type` (a fresh copy; override envelope fields by keyword)."""
    event = {
        "event_id": f"ex-{event_type}-{n}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": _T,
        "source": "core",
        "customer_id": "" if event_type == "offer.published" else "c_42",
        "data": copy.deepcopy(_DATA[event_type]),
    }
    event.update(envelope)
    return event


def all_examples() -> list[dict[str, Any]]:
    return [example(t) for t in _DATA]
