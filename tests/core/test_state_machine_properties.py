"""Property-based tests of the subscription state machine: random sequences of valid and
invalid operations, with time passing and the billing cycle running, keep the invariants.

- the status in the database is the one an independent reading of the subscription's
  contract events gives (a reducer written here from CONTRACT.md, not from the core);
- one paid period at a time: renewals are contiguous and never overlap, and a customer has
  at most one live subscription per offer;
- no access after the end;
- money balances: every successful payment of a subscription is its first charge or one
  renewal's price less discount; refunds and chargebacks never exceed a payment;
- a refused operation writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import func, select

from core import entitlements, money, subscriptions
from core.cycle import run_billing_cycle
from core.errors import CoreError
from core.schema import OUTBOX, Payment, Refund, Subscription
from foundation.contract import validate_event
from tests.core.builders import CARDS, catalogue, customer

OPERATIONS = (
    "cancel", "cancel_now", "reactivate", "pause", "resume", "change", "coupon", "refund", "end",
)  # fmt: skip


def reduce_status(events: list[dict]) -> str:
    """A subscription's status from its events alone (CONTRACT.md semantics)."""
    status, before_cancel = None, None
    for e in events:
        t, d = e["event_type"], e["data"]
        if t == "subscription.started":
            status = "trialing" if d.get("trial_ends_at") else "active"
        elif t == "subscription.renewed":
            status = "active"
        elif t == "payment.failed":
            status = "past_due"
        elif t == "subscription.cancelled":
            before_cancel, status = status, "cancellation_pending"
        elif t == "subscription.reactivated":
            status = before_cancel
        elif t == "subscription.paused":
            status = "paused"
        elif t == "subscription.resumed":
            status = "active"
        elif t == "subscription.ended":
            status = "ended"
    return status


def make_machine(core, clock):
    catalogue(core)

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.subs: list[str] = []
            with core.unit() as u:  # the database is shared by the examples: read only ours
                self.first_seq = u.session.scalar(select(func.coalesce(func.max(OUTBOX.c.seq), 0)))

        def outbox_size(self) -> int:
            with core.unit() as u:
                return u.session.scalar(select(func.count()).select_from(OUTBOX))

        @rule(
            card=st.sampled_from(sorted(CARDS)),
            offer=st.sampled_from(["monthly", "premium", "yearly"]),
            trial=st.booleans(),
            coupon=st.sampled_from([None, "half3", "twoeuros"]),
        )
        def sign_up(self, card, offer, trial, coupon):
            before = self.outbox_size()
            try:
                with core.unit() as u:
                    cid = customer(u, card)
                    sub = subscriptions.start_subscription(
                        u, customer_id=cid, offer_id=offer, platform="web", currency="EUR",
                        with_trial=trial, coupon_id=coupon,
                    )  # fmt: skip
                self.subs.append(sub.id)
            except CoreError:
                assert self.outbox_size() == before

        @rule(hours=st.integers(min_value=1, max_value=24 * 45))
        def time_passes(self, hours):
            clock.advance(timedelta(hours=hours))
            run_billing_cycle(core)

        @precondition(lambda self: self.subs)
        @rule(data=st.data(), operation=st.sampled_from(OPERATIONS))
        def operate(self, data, operation):
            sid = data.draw(st.sampled_from(self.subs))
            before = self.outbox_size()
            try:
                with core.unit() as u:
                    self.apply(u, sid, operation)
            except CoreError:
                assert self.outbox_size() == before, f"refused {operation} wrote events"

        @staticmethod
        def apply(u, sid, operation):
            s = subscriptions
            if operation == "cancel":
                s.cancel_subscription(u, sid, reason="not_using")
            elif operation == "cancel_now":
                s.cancel_subscription(u, sid, reason="content", immediately=True)
            elif operation == "reactivate":
                s.reactivate_subscription(u, sid)
            elif operation == "pause":
                s.pause_subscription(u, sid, resume_at=u.now + timedelta(days=10))
            elif operation == "resume":
                s.resume_subscription(u, sid)
            elif operation == "change":
                current = u.session.get(Subscription, sid).offer_id
                s.change_offer(u, sid, offer_id="premium" if current != "premium" else "monthly")
            elif operation == "coupon":
                s.apply_coupon(u, sid, coupon_id="twoeuros")
            elif operation == "end":
                s.end_subscription(u, sid)
            else:
                pay = u.session.scalar(
                    select(Payment)
                    .where(Payment.subscription_id == sid, Payment.status == "succeeded")
                    .order_by(Payment.created_at.desc(), Payment.id)
                    .limit(1)
                )
                if pay is None:
                    raise CoreError("nothing to refund")
                money.refund_payment(u, pay.id, amount_minor=1, end_access=False)

        def events_by_sub(self) -> dict[str, list[dict]]:
            with core.unit() as u:
                rows = u.session.scalars(
                    select(OUTBOX.c.envelope)
                    .where(OUTBOX.c.seq > self.first_seq)
                    .order_by(OUTBOX.c.seq)
                )
                out = defaultdict(list)
                for text in rows:
                    e = json.loads(text)
                    sid = e["data"].get("subscription_id")
                    if sid in self.subs:
                        out[sid].append(e)
                return out

        @invariant()
        def invariants_hold(self):
            by_sub = self.events_by_sub()
            self.statuses_follow_from_the_events(by_sub)
            self.one_paid_period_at_a_time(by_sub)
            self.no_access_after_the_end()
            self.money_balances(by_sub)
            self.every_event_is_valid(by_sub)

        def statuses_follow_from_the_events(self, by_sub):
            with core.unit() as u:
                for sid in self.subs:
                    assert u.session.get(Subscription, sid).status == reduce_status(by_sub[sid])

        def one_paid_period_at_a_time(self, by_sub):
            for evs in by_sub.values():
                start = next(e for e in evs if e["event_type"] == "subscription.started")
                expected = start["data"]["current_period_end"]
                pauses = any(e["event_type"] == "subscription.paused" for e in evs)
                renewals = [e["data"] for e in evs if e["event_type"] == "subscription.renewed"]
                for r in renewals:
                    assert r["period_start"] < r["period_end"]
                    if not pauses:  # a pause moves the period end by the time paused
                        assert r["period_start"] == expected
                    else:
                        assert r["period_start"] >= expected
                    expected = r["period_end"]
            with core.unit() as u:
                live = u.session.execute(
                    select(Subscription.customer_id, Subscription.offer_id, func.count())
                    .where(Subscription.status != "ended")
                    .group_by(Subscription.customer_id, Subscription.offer_id)
                ).all()
                assert all(n == 1 for *_, n in live)

        def no_access_after_the_end(self):
            with core.unit() as u:
                for sid in self.subs:
                    sub = u.session.get(Subscription, sid)
                    granted = entitlements.has_access(u, sub.customer_id, sub.offer_id)
                    if sub.status in ("ended", "paused"):
                        assert granted is None
                    else:
                        assert (granted is not None) == entitlements.subscription_grants(sub, u.now)

        def money_balances(self, by_sub):
            for evs in by_sub.values():
                start = next(e for e in evs if e["event_type"] == "subscription.started")["data"]
                owed = [
                    r["price_minor"] - r["discount_minor"]
                    for r in (e["data"] for e in evs if e["event_type"] == "subscription.renewed")
                ]
                if not start.get("trial_ends_at"):
                    owed.insert(0, start["price_minor"] - start["discount_minor"])
                paid = [e["data"]["amount_minor"] for e in evs
                        if e["event_type"] == "payment.succeeded"]  # fmt: skip
                assert sorted(paid) == sorted(a for a in owed if a > 0)
            with core.unit() as u:
                for pay in u.session.scalars(
                    select(Payment).where(Payment.subscription_id.in_(self.subs))
                ):
                    back = u.session.scalar(
                        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
                            Refund.payment_id == pay.id
                        )
                    )
                    assert back == pay.refunded_minor + pay.charged_back_minor <= pay.amount_minor

        def every_event_is_valid(self, by_sub):
            for evs in by_sub.values():
                for e in evs:
                    assert validate_event(e, now=clock.now()).ok

    return Lifecycle


def test_random_operation_sequences_keep_the_invariants(core, clock, db_url):
    machine = make_machine(core, clock)
    machine.TestCase.settings = settings(
        max_examples=10 if db_url.startswith("sqlite") else 6,
        stateful_step_count=20,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    machine.TestCase().runTest()
