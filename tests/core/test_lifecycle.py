"""The subscription lifecycle in the core, on SQLite and PostgreSQL: each path a subscriber
can take, the events it writes, and the refusals of invalid operations."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import campaigns, customers, entitlements, money, purchases, subscriptions
from core.catalog import new_offer_version
from core.cycle import run_billing_cycle
from core.errors import Conflict, InvalidInput, InvalidTransition, NotFound, PaymentDeclined
from core.schema import OUTBOX, Customer, Payment, PaymentMethod, Subscription
from foundation.contract import validate_event
from tests.core.builders import CARDS, catalogue, customer, outbox_count

DAY = timedelta(days=1)


def events(core, customer_id: str | None = None) -> list[dict]:
    with core.unit() as u:
        q = select(OUTBOX.c.envelope).order_by(OUTBOX.c.seq)
        if customer_id:
            q = q.where(OUTBOX.c.customer_id == customer_id)
        return [json.loads(e) for e in u.session.scalars(q)]


def kinds(core, customer_id: str) -> list[str]:
    return [e["event_type"] for e in events(core, customer_id)]


def sub_of(core, sub_id: str) -> Subscription:
    with core.unit() as u:
        return u.session.get(Subscription, sub_id)


def days(core, clock, n: int) -> None:
    for _ in range(n):
        clock.advance(DAY)
        run_billing_cycle(core)


def sign_up(core, card="approve", offer="monthly", **kw) -> tuple[str, str]:
    with core.unit() as u:
        cid = customer(u, card)
        sub = subscriptions.start_subscription(
            u, customer_id=cid, offer_id=offer, platform="web", currency="EUR", **kw
        )
        return cid, sub.id


def test_trial_converts_then_renews_monthly(core, clock):
    catalogue(core)
    cid, sid = sign_up(core)
    assert sub_of(core, sid).status == "trialing"
    days(core, clock, 7)
    assert sub_of(core, sid).status == "active"
    days(core, clock, 31)
    assert kinds(core, cid) == [
        "customer.created", "subscription.started",
        "subscription.renewed", "payment.succeeded",  # trial end: first paid period
        "subscription.renewed", "payment.succeeded",  # a month later
    ]  # fmt: skip
    renewals = [e["data"] for e in events(core, cid) if e["event_type"] == "subscription.renewed"]
    assert renewals[0]["period_end"] == renewals[1]["period_start"]
    assert all(validate_event(e, now=clock.now()).ok for e in events(core))


def test_dunning_recovers_on_retry(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, card="retry_recovers", with_trial=False)
    days(core, clock, 31)
    assert sub_of(core, sid).status == "past_due"
    with core.unit() as u:  # access continues during the grace period
        assert entitlements.has_access(u, cid, "monthly") is not None
    days(core, clock, 1)
    sub = sub_of(core, sid)
    assert sub.status == "active" and sub.dunning_attempt == 0
    failed = [e["data"] for e in events(core, cid) if e["event_type"] == "payment.failed"]
    assert [(f["failure_code"], f["attempt"]) for f in failed] == [("insufficient_funds", 1)]
    # the recovered period starts at the original due date: no gap, no overlap
    renewed = [e["data"] for e in events(core, cid) if e["event_type"] == "subscription.renewed"]
    assert renewed[0]["period_start"] == "2026-02-01T09:00:00Z"


def test_dunning_ends_for_payment_failed_after_the_retries(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, card="renewals_fail", with_trial=False)
    days(core, clock, 31 + 7)
    sub = sub_of(core, sid)
    assert (sub.status, sub.ended_reason) == ("ended", "payment_failed")
    failed = [e for e in events(core, cid) if e["event_type"] == "payment.failed"]
    assert [f["data"]["attempt"] for f in failed] == [1, 2, 3, 4, 5]
    assert [f["occurred_at"][:10] for f in failed] == [
        "2026-02-01", "2026-02-02", "2026-02-04", "2026-02-06", "2026-02-08",
    ]  # fmt: skip
    with core.unit() as u:
        assert entitlements.has_access(u, cid, "monthly") is None


def test_a_new_card_in_dunning_is_retried_at_the_next_run_and_recovers(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, card="renewals_fail", with_trial=False)
    days(core, clock, 31)
    assert sub_of(core, sid).status == "past_due"
    with core.unit() as u:
        card = customers.add_payment_method(u, cid, card_number=CARDS["approve"], exp_month=1,
                                            exp_year=2041)  # fmt: skip
        subscriptions.update_payment_method(u, sid, payment_method_id=card.id)
    clock.advance(timedelta(hours=1))  # the next hourly run, before the day-1 retry
    assert run_billing_cycle(core) == {"recovered": 1}
    sub = sub_of(core, sid)
    assert (sub.status, sub.payment_method_id, sub.dunning_attempt) == ("active", card.id, 0)
    paid = [e["data"] for e in events(core, cid) if e["event_type"] == "payment.succeeded"]
    assert [p["amount_minor"] for p in paid] == [999, 999]
    with core.unit() as u, pytest.raises(NotFound):  # only the customer's own methods
        other = customer(u)
        mine = u.session.scalars(select(PaymentMethod.id).where(PaymentMethod.customer_id == other))
        subscriptions.update_payment_method(u, sid, payment_method_id=mine.one())


def test_a_cancellation_after_an_unrenewed_period_end_takes_effect_at_once(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, with_trial=False)
    clock.advance(31 * DAY)  # the period ended; the billing cycle has not run yet
    with core.unit() as u:
        subscriptions.cancel_subscription(u, sid, reason="not_using")
    sub = sub_of(core, sid)
    assert (sub.status, sub.ended_reason) == ("ended", "cancelled")
    cancelled, ended = events(core, cid)[-2:]
    assert cancelled["data"]["effective_at"] == ended["occurred_at"] == cancelled["occurred_at"]
    assert run_billing_cycle(core) == {}  # nothing to renew: no charge after the cancellation


def test_cancel_at_period_end_then_reactivate_then_end(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, with_trial=False)
    days(core, clock, 10)
    with core.unit() as u:
        subscriptions.cancel_subscription(u, sid, reason="too_expensive")
    assert sub_of(core, sid).status == "cancellation_pending"
    with core.unit() as u:
        subscriptions.reactivate_subscription(u, sid)
    assert sub_of(core, sid).status == "active"
    with core.unit() as u:
        subscriptions.cancel_subscription(u, sid, reason="content")
    days(core, clock, 25)
    sub = sub_of(core, sid)
    assert (sub.status, sub.ended_reason) == ("ended", "cancelled")
    ended = [e for e in events(core, cid) if e["event_type"] == "subscription.ended"][0]
    assert ended["occurred_at"] == "2026-02-01T09:00:00Z"  # access ends at the period end
    with core.unit() as u, pytest.raises(InvalidTransition, match="it is ended"):
        subscriptions.reactivate_subscription(u, sid)


def test_cancel_in_dunning_ends_at_once(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, card="renewals_fail", with_trial=False)
    days(core, clock, 32)
    with core.unit() as u:
        subscriptions.cancel_subscription(u, sid, reason="payment_failed")
    assert sub_of(core, sid).status == "ended"
    assert kinds(core, cid)[-2:] == ["subscription.cancelled", "subscription.ended"]


def test_pause_keeps_the_rest_of_the_period(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, with_trial=False)
    days(core, clock, 10)
    end_before = sub_of(core, sid).current_period_end
    with core.unit() as u:
        subscriptions.pause_subscription(u, sid, resume_at=clock.now() + 20 * DAY)
    with core.unit() as u:
        assert entitlements.has_access(u, cid, "monthly") is None  # no access while paused
    days(core, clock, 25)
    sub = sub_of(core, sid)
    assert sub.status == "active"
    assert sub.current_period_end == end_before + 20 * DAY


def test_repeating_coupon_expires_after_its_months(core, clock):
    catalogue(core)
    cid, sid = sign_up(core, with_trial=False, coupon_id="half3")
    days(core, clock, 31 * 4)
    paid = [
        e["data"]["amount_minor"]
        for e in events(core, cid)
        if e["event_type"] == "payment.succeeded"
    ]
    assert paid == [500, 500, 500, 999, 999]
    changed = [e["data"] for e in events(core, cid) if e["event_type"] == "subscription.changed"]
    assert [c["discount_minor"] for c in changed] == [0]
    assert changed[0]["effective_at"] == "2026-04-01T09:00:00Z"


def test_declined_sign_up_writes_nothing(core):
    catalogue(core)
    with core.unit() as u:
        cid = customer(u, "insufficient_funds")
    before = outbox_count(core)
    with core.unit() as u, pytest.raises(PaymentDeclined, match="insufficient_funds"):
        subscriptions.start_subscription(
            u, customer_id=cid, offer_id="premium", platform="web", currency="EUR"
        )
    assert outbox_count(core) == before


@pytest.mark.parametrize(
    "operation",
    [
        lambda u, s: subscriptions.resume_subscription(u, s),
        lambda u, s: subscriptions.reactivate_subscription(u, s),
        lambda u, s: subscriptions.pause_subscription(u, s),  # trialing cannot pause
    ],
)
def test_invalid_transitions_are_refused_and_write_nothing(core, operation):
    catalogue(core)
    _, sid = sign_up(core)
    before = outbox_count(core), sub_of(core, sid).status
    with core.unit() as u, pytest.raises(InvalidTransition, match="it is trialing"):
        operation(u, sid)
    assert (outbox_count(core), sub_of(core, sid).status) == before


def test_one_live_subscription_per_offer_and_one_trial_per_customer(core, clock):
    catalogue(core)
    cid, sid = sign_up(core)
    with core.unit() as u, pytest.raises(Conflict, match="already has a live"):
        subscriptions.start_subscription(
            u, customer_id=cid, offer_id="monthly", platform="web", currency="EUR"
        )
    with core.unit() as u:
        subscriptions.cancel_subscription(u, sid, reason="other", immediately=True)
    with core.unit() as u:
        again = subscriptions.start_subscription(
            u, customer_id=cid, offer_id="monthly", platform="web", currency="EUR"
        )
    assert sub_of(core, again.id).status == "active"  # no second trial


def test_refunds_never_exceed_the_payment(core):
    catalogue(core)
    cid, sid = sign_up(core, with_trial=False)
    with core.unit() as u:
        pay = u.session.scalar(select(Payment).where(Payment.subscription_id == sid))
        money.refund_payment(u, pay.id, amount_minor=400)
    with core.unit() as u, pytest.raises(Conflict, match="599 EUR minor units left"):
        money.refund_payment(u, pay.id, amount_minor=600)
    with core.unit() as u:
        money.refund_payment(u, pay.id, end_access=True)
    assert sub_of(core, sid).ended_reason == "refunded"
    refunds = [
        e["data"]["amount_minor"] for e in events(core, cid) if "refunded" in e["event_type"]
    ]
    assert refunds == [400, 599]


def test_one_time_purchases_grant_access_for_their_window(core, clock):
    catalogue(core)
    with core.unit() as u:
        cid = customer(u)
        purchases.buy(u, customer_id=cid, offer_id="film", platform="roku", currency="EUR")
    with core.unit() as u:
        assert entitlements.has_access(u, cid, "film", platform="ios").source == "purchase"
    clock.advance(2 * DAY)
    with core.unit() as u:
        assert entitlements.has_access(u, cid, "film") is None


def test_new_offer_version_keeps_existing_prices(core):
    catalogue(core)
    _, sid = sign_up(core, with_trial=False)
    with core.unit() as u:
        offer = new_offer_version(u, "monthly", prices={"EUR": 1199})
        assert offer.version == 2
    assert sub_of(core, sid).price_minor == 999
    published = [e for e in events(core) if e["event_type"] == "offer.published"]
    assert [e["data"]["version"] for e in published if e["data"]["offer_id"] == "monthly"] == [1, 2]


def test_campaign_control_group_is_exact_and_only_treatment_gets_the_coupon(core):
    catalogue(core)
    ids = [sign_up(core, with_trial=False)[0] for _ in range(20)]
    with core.unit() as u:
        camp = campaigns.launch_campaign(
            u, name="save", coupon_id="twoeuros", customer_ids=ids, control_share=0.25, seed=7
        )
    actions = [e["data"] for e in events(core) if e["event_type"] == "retention.action_taken"]
    assert sorted(a["group"] for a in actions).count("control") == 5
    redeemed = {e["customer_id"] for e in events(core) if e["event_type"] == "coupon.redeemed"}
    treated = {e["customer_id"] for e in events(core) if e["event_type"] == "retention.action_taken"
               and e["data"]["group"] == "treatment"}  # fmt: skip
    assert redeemed == treated and len(treated) == 15
    with core.unit() as u:
        _, groups = campaigns.campaign_result(u, camp.id)
    assert [(g.group, g.members, g.still_live) for g in groups] == [
        ("treatment", 15, 15), ("control", 5, 5),
    ]  # fmt: skip


def test_erasure_removes_personal_data_and_keeps_revenue(core):
    catalogue(core)
    with core.unit() as u:
        c = customers.create_customer(u, country="FR", signup_platform="web", email="x@y.fr")
        customers.add_payment_method(u, c.id, card_number="4242424242424242", exp_month=1,
                                     exp_year=2040)  # fmt: skip
        subscriptions.start_subscription(
            u, customer_id=c.id, offer_id="premium", platform="web", currency="EUR"
        )
    with core.unit() as u:
        customers.erase_customer(u, c.id)
    with core.unit() as u:
        row = u.session.get(Customer, c.id)
        assert (row.email, row.name, row.country) == (None, None, None)
        assert u.session.scalar(select(Payment.amount_minor).where(Payment.customer_id == c.id))
    assert kinds(core, c.id)[-1] == "customer.erased"
    assert "x@y.fr" not in json.dumps(events(core))
    with core.unit() as u, pytest.raises(Conflict, match="erased"):
        customers.update_customer(u, c.id, country="DE")


def test_billing_cycle_twice_at_the_same_time_does_nothing_more(core, clock):
    catalogue(core)
    sign_up(core, with_trial=False)
    clock.advance(31 * DAY)
    first = run_billing_cycle(core)
    count = outbox_count(core)
    assert first == {"renewed": 1} and not run_billing_cycle(core)
    assert outbox_count(core) == count


def test_bad_input_is_refused_with_the_field(core):
    catalogue(core)
    with core.unit() as u, pytest.raises(InvalidInput, match="country"):
        customers.create_customer(u, country="XX", signup_platform="web")
    with core.unit() as u, pytest.raises(InvalidInput, match="card_number"):
        cid = customers.create_customer(u, country="DE", signup_platform="web").id
        customers.add_payment_method(u, cid, card_number="4242424242424241", exp_month=1,
                                     exp_year=2030)  # fmt: skip
