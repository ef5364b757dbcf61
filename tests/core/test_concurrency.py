"""The core under concurrent writers, on SQLite and PostgreSQL: threads race through the service
layer (and once through the HTTP API), then the database is checked against the invariants with
queries of its own, not through the code under test.

- sign-ups: at most one live subscription per customer and offer, at most one trial, one
  charge per subscription; the losers of a race get the sequential case's Conflict;
- erasure against edits: an erased customer never gets personal data back;
- pause/resume storms: per subscription, the outbox's `occurred_at` order is its commit order
  and the final state is the one its last event says;
- billing runs in parallel: each due subscription is renewed exactly once.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from core import customers, subscriptions
from core.api import create_app
from core.cycle import run_billing_cycle
from core.errors import Conflict, InvalidTransition
from core.schema import Subscription
from core.unit import Core
from tests.core.api_support import CARD_OK, bearer, make_key
from tests.core.builders import catalogue, customer
from tests.core.conftest import START

THREADS = 8
ROUNDS = 3


class TickingClock:
    """A clock that moves one millisecond at every reading, from any thread: two readings are
    never equal, so any inversion of clock order and commit order shows."""

    def __init__(self, start: datetime) -> None:
        self._ticks = itertools.count()
        self._lock = threading.Lock()
        self._start = start

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(milliseconds=next(self._ticks))


@pytest.fixture
def ticking(db_url: str) -> Iterator[Core]:
    c = Core(db_url, clock=TickingClock(START))
    yield c
    c.close()


def race(n: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(0..n-1)` in n threads released at the same moment; each result or exception."""
    barrier = threading.Barrier(n)

    def one(i: int) -> object:
        barrier.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            return exc

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def sign_up(core: Core, customer_id: str, offer_id: str) -> str:
    with core.unit() as u:
        return subscriptions.start_subscription(
            u, customer_id=customer_id, offer_id=offer_id, platform="web", currency="EUR"
        ).id


def rows(core: Core, sql: str, **params) -> list[tuple]:
    with core.engine.connect() as con:
        return [tuple(r) for r in con.execute(text(sql), params)]


def assert_signup_invariants(core: Core) -> None:
    """≤ 1 live subscription and ≤ 1 trial per customer and offer; every subscription that
    started without a trial was charged once at sign-up, and nothing else was charged."""
    live = rows(core, "select customer_id, offer_id, count(*) from subscriptions "
                      "where status <> 'ended' group by customer_id, offer_id "
                      "having count(*) > 1")  # fmt: skip
    assert live == []
    trials = rows(core, "select customer_id, offer_id, count(*) from subscriptions "
                        "where trial_ends_at is not null group by customer_id, offer_id "
                        "having count(*) > 1")  # fmt: skip
    assert trials == []
    paid_subs = rows(core, "select count(*) from subscriptions where trial_ends_at is null")[0][0]
    charges = rows(core, "select count(*) from payments where status = 'succeeded'")[0][0]
    assert charges == paid_subs
    started = rows(core, "select count(*) from outbox where event_type = 'subscription.started'")
    assert started[0][0] == rows(core, "select count(*) from subscriptions")[0][0]


def one_winner(outcomes: list[object]) -> None:
    """Exactly one sign-up won; every loser got the sequential case's domain error."""
    won = [o for o in outcomes if isinstance(o, str)]
    lost = [o for o in outcomes if not isinstance(o, str)]
    assert len(won) == 1, f"{len(won)} of {len(outcomes)} parallel sign-ups succeeded"
    for exc in lost:
        assert isinstance(exc, Conflict) and "already has a live subscription" in str(exc), exc


def test_parallel_sign_ups_create_one_subscription_and_charge_once(core):
    catalogue(core)
    for _ in range(ROUNDS):
        with core.unit() as u:
            cid = customer(u)
        for offer in ("monthly", "premium"):  # with a trial; charged at once
            one_winner(race(THREADS, lambda _i, c=cid, o=offer: sign_up(core, c, o)))
        with core.unit() as u:  # the trial is used: the next sign-up pays at once
            trial = u.session.scalar(
                select(Subscription.id).where(
                    Subscription.customer_id == cid, Subscription.offer_id == "monthly"
                )
            )
            subscriptions.end_subscription(u, trial)
        one_winner(race(THREADS, lambda _i, c=cid: sign_up(core, c, "monthly")))
    assert_signup_invariants(core)


def test_the_database_refuses_a_second_live_subscription_when_the_lock_is_bypassed(
    core, monkeypatch
):
    """The constraints hold on their own: with the customer lock taken away, a lost race still
    gets the sequential Conflict, and nothing is charged twice."""
    catalogue(core)
    with core.unit() as u:
        cid = customer(u)
    unlocked = customers.get_customer
    monkeypatch.setattr(
        subscriptions, "get_customer", lambda u, c, **kw: unlocked(u, c, **kw | {"lock": False})
    )
    one_winner(race(THREADS, lambda _i: sign_up(core, cid, "premium")))
    assert_signup_invariants(core)


def test_one_trial_per_customer_and_offer_survives_a_change_of_offer(core):
    catalogue(core)
    with core.unit() as u:
        cid = customer(u)
    first = sign_up(core, cid, "monthly")
    with core.unit() as u:
        subscriptions.change_offer(u, first, offer_id="premium")  # the trial moves away
    again = sign_up(core, cid, "monthly")
    with core.unit() as u:
        assert u.session.get(Subscription, again).trial_ends_at is None
    assert_signup_invariants(core)


def test_database_constraints_back_the_invariants(core):
    """Written past the service, a second live subscription, a second trial or personal data
    on an erased customer is refused by the database itself."""
    catalogue(core)
    with core.unit() as u:
        cid = customer(u)
    sid = sign_up(core, cid, "monthly")
    with core.unit() as u:
        sub = u.session.get(Subscription, sid)
        copy = {a.key: getattr(sub, a.key) for a in sub.__mapper__.column_attrs if a.key != "id"}
    with pytest.raises(IntegrityError), core.unit() as u:
        u.session.add(Subscription(id="sub_copy", **copy))
    with core.unit() as u:
        subscriptions.end_subscription(u, sid)
    with pytest.raises(IntegrityError), core.unit() as u:  # the ended one had the trial
        u.session.execute(
            text(
                "insert into trial_grants (customer_id, offer_id, subscription_id, granted_at) "
                "values (:c, 'monthly', 'sub_other', :t)"
            ),  # fmt: skip
            {"c": cid, "t": START.replace(tzinfo=None)},
        )
    with core.unit() as u:
        customers.erase_customer(u, cid)
    for column, value in (("email", "back@example.com"), ("name", "Back"), ("country", "DE")):
        with pytest.raises(IntegrityError), core.unit() as u:
            u.session.execute(
                text(f"update customers set {column} = :v where id = :c"), {"v": value, "c": cid}
            )


def test_an_erasure_racing_an_edit_is_final(core):
    catalogue(core)
    outcomes: Counter = Counter()
    for i in range(2 * ROUNDS):
        with core.unit() as u:
            cid = customers.create_customer(
                u, country="FR", signup_platform="web", email=f"old{i}@example.com", name="Old"
            ).id

        def edit_or_erase(k: int, c: str = cid) -> object:
            with core.unit() as u:
                if k == 0:
                    return customers.erase_customer(u, c).id
                return customers.update_customer(
                    u, c, email=f"new{k}@example.com", name="New", country="DE"
                ).id

        for result in race(3, edit_or_erase)[1:]:
            assert isinstance(result, (str, Conflict)), result
            outcomes["edited" if isinstance(result, str) else "refused"] += 1
        with core.unit() as u:  # a second erasure finds nothing to blank
            customers.erase_customer(u, cid)
        personal = rows(core, "select email, name, external_ref, country, signup_platform, "
                              "acquisition_channel, marketing_consent from customers "
                              "where id = :c and erased_at is not null", c=cid)  # fmt: skip
        assert personal == [(None,) * 7]
    assert sum(outcomes.values()) == 4 * ROUNDS


def test_pause_resume_storm_keeps_event_time_in_commit_order(ticking):
    catalogue(ticking)
    with ticking.unit() as u:
        cid = customer(u)
    sid = sign_up(ticking, cid, "premium")

    def toggle(k: int) -> object:
        done = 0
        for _ in range(6):
            try:
                with ticking.unit() as u:
                    operation = (
                        subscriptions.pause_subscription
                        if k % 2
                        else (subscriptions.resume_subscription)
                    )
                    operation(u, sid)
                done += 1
            except InvalidTransition:
                pass
        return done

    assert all(isinstance(r, int) for r in race(THREADS, toggle))
    events = [
        (event_type, occurred_at, orjson.loads(envelope)["data"].get("subscription_id"))
        for event_type, occurred_at, envelope in rows(
            ticking, "select event_type, occurred_at, envelope from outbox order by seq"
        )
    ]
    mine = [(t, at) for t, at, s in events if s == sid and t.startswith("subscription.")]
    times = [at for _, at in mine]
    assert len(mine) > 2
    inverted = [(a, b) for a, b in itertools.pairwise(times) if str(b) <= str(a)]
    assert inverted == [], f"{len(inverted)} of {len(times)} events earlier than the one before"
    kinds = [t for t, _ in mine]
    assert all(a != b for a, b in itertools.pairwise(kinds[1:]))  # paused, resumed, paused …
    status = rows(ticking, "select status from subscriptions where id = :s", s=sid)[0][0]
    assert status == {"subscription.paused": "paused", "subscription.resumed": "active",
                      "subscription.started": "active"}[kinds[-1]]  # fmt: skip


def test_two_billing_runs_at_once_renew_each_subscription_once(core, clock):
    catalogue(core)
    with core.unit() as u:
        ids = [customer(u) for _ in range(12)]
    subs = [sign_up(core, cid, "premium") for cid in ids]
    clock.advance(timedelta(days=32))
    results = race(2, lambda _i: run_billing_cycle(core))
    assert all(isinstance(r, Counter) for r in results), results
    assert sum((r for r in results), Counter()) == Counter(renewed=len(subs))
    renewed = Counter(
        orjson.loads(envelope)["data"]["subscription_id"]
        for (envelope,) in rows(
            core, "select envelope from outbox where event_type = 'subscription.renewed'"
        )
    )
    assert renewed == dict.fromkeys(subs, 1)
    charges = rows(core, "select subscription_id, count(*) from payments group by subscription_id")
    assert dict(charges) == dict.fromkeys(subs, 2)  # sign-up and one renewal


def test_parallel_sign_ups_through_the_api(core):
    """One round through HTTP: eight POSTs with different idempotency keys, one 201, seven 409s
    naming the live subscription, no 500."""
    _, secret = make_key(core, "admin")
    app = create_app(core)
    api = TestClient(app, headers=bearer(secret))
    catalogue(core)
    cid = api.post("/customers", json={"country": "DE", "signup_platform": "web"}).json()["id"]
    card = {"card_number": CARD_OK, "exp_month": 12, "exp_year": 2040}
    assert api.post(f"/customers/{cid}/payment-methods", json=card).status_code == 201
    body = {"customer_id": cid, "offer_id": "premium", "platform": "web", "currency": "EUR"}

    def post(i: int) -> tuple[int, dict]:
        response = TestClient(app, headers=bearer(secret)).post(
            "/subscriptions", json=body, headers={"Idempotency-Key": f"click-{i}"}
        )
        return response.status_code, response.json()

    answers = race(THREADS, post)
    assert sorted(status for status, _ in answers) == [201] + [409] * (THREADS - 1), answers
    for status, answer in answers:
        if status == 409:
            assert answer["error"] == "conflict" and "already has a live" in answer["message"]
    assert_signup_invariants(core)
