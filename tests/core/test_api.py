"""The core's HTTP API end to end, through `TestClient`, on SQLite and PostgreSQL: a key, an
offer, a customer, a card, a subscription renewed by the billing run; dunning that fails and
one that recovers; refunds and chargebacks; purchases, campaigns, tickets, activity and
erasure; 402, 409 and 422 answers; idempotent retries."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.clock import FixedClock
from core.schema import Customer, IdempotencyRecord, PaymentMethod, Subscription
from core.unit import Core
from tests.core.api_support import (
    CARD_DECLINED,
    CARD_OK,
    CARD_RETRY_RECOVERS,
    MONTHLY,
    bearer,
    client,
    make_key,
    new_customer,
    ok,
    run_billing,
    subscribe,
)

DAY = timedelta(days=1)


@pytest.fixture
def admin(core: Core) -> TestClient:
    _, secret = make_key(core, "admin", "bootstrap")
    return client(core, secret)


def test_subscription_lifecycle_end_to_end(core: Core, clock: FixedClock, admin: TestClient):
    # an admin makes a support key through the API: shown once, never listed
    created = ok(admin.post("/api-keys", json={"role": "support", "name": "desk"}), 201)
    assert created["key"].startswith("ck_") and created["role"] == "support"
    listed = ok(admin.get("/api-keys"))["api_keys"]
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k and "key_hash" not in k for k in listed)
    desk = client(core, created["key"])

    offer = ok(admin.post("/offers", json=MONTHLY), 201)
    assert offer["version"] == 1 and offer["created_at"] == "2026-01-01T09:00:00Z"
    assert ok(admin.get("/offers"))["offers"][0]["id"] == "basic_monthly"

    customer_id, method_id = new_customer(desk, email="ana@example.org", name="Ana Müller 🎬")
    nothing = ok(desk.get(f"/customers/{customer_id}/payments"))
    assert nothing == {"customer_id": customer_id, "payments": []}
    with core.unit() as u:  # the card number is never stored, only brand and last four
        row = u.session.get(PaymentMethod, method_id)
        assert (row.brand, row.last4) == ("visa", "4242") and CARD_OK not in (row.token or "")

    sub = subscribe(desk, customer_id, payment_method_id=method_id)
    assert sub["status"] == "trialing"
    assert sub["trial_ends_at"] == sub["current_period_end"] == "2026-01-08T09:00:00Z"
    access = ok(desk.get(f"/customers/{customer_id}/access", params={"offer_id": "basic_monthly"}))
    assert access["access"] is True and access["entitlement"]["source_id"] == sub["id"]

    # the trial converts (first charge), then the first monthly renewal
    clock.advance(7 * DAY)
    assert run_billing(admin) == {"converted": 1}
    clock.advance(31 * DAY)
    assert run_billing(admin) == {"renewed": 1}
    sub = ok(desk.get(f"/subscriptions/{sub['id']}"))
    assert (sub["status"], sub["current_period_end"]) == ("active", "2026-03-08T09:00:00Z")
    payments = ok(desk.get(f"/customers/{customer_id}/payments"))["payments"]
    assert [(p["amount_minor"], p["status"]) for p in payments] == [(999, "succeeded")] * 2

    customer = ok(desk.get(f"/customers/{customer_id}"))
    assert customer["name"] == "Ana Müller 🎬"
    assert [(s["id"], s["status"]) for s in customer["subscriptions"]] == [(sub["id"], "active")]

    # a partial refund, the rest, then nothing is left to give back
    first, second = (p["id"] for p in payments)
    refund = ok(desk.post(f"/payments/{first}/refund", json={"amount_minor": 300}), 201)
    assert (refund["kind"], refund["amount_minor"]) == ("refund", 300)
    assert refund["payment"]["refunded_minor"] == 300
    refund = ok(desk.post(f"/payments/{first}/refund", json={"reason": "goodwill"}), 201)
    assert refund["amount_minor"] == 699
    gone = desk.post(f"/payments/{first}/refund", json={"amount_minor": 1})
    assert gone.status_code == 409 and gone.json()["error"] == "conflict"
    # a chargeback on the other is the admin's; a refund that ends access ends the subscription
    assert desk.post(f"/payments/{second}/chargeback").status_code == 403
    chargeback = ok(admin.post(f"/payments/{second}/chargeback", json={"amount_minor": 500}), 201)
    assert chargeback["payment"]["charged_back_minor"] == 500
    ok(desk.post(f"/payments/{second}/refund", json={"end_access": True}), 201)
    sub = ok(desk.get(f"/subscriptions/{sub['id']}"))
    assert (sub["status"], sub["ended_reason"]) == ("ended", "refunded")
    access = ok(desk.get(f"/customers/{customer_id}/access", params={"offer_id": "basic_monthly"}))
    assert access == access | {"access": False, "entitlement": None}

    # the audit log names the support key as the actor of what it did
    entries = ok(admin.get("/audit", params={"target_type": "payment", "target_id": first}))
    assert {(e["actor"], e["role"]) for e in entries["entries"]} == {(created["id"], "support")}


def test_purchases_campaigns_tickets_activity_and_erasure(
    core: Core, clock: FixedClock, admin: TestClient
):
    ok(admin.post("/offers", json=MONTHLY), 201)
    pass_offer = {"id": "pass_30", "title": "30 days", "offer_type": "pass",
                  "prices": {"EUR": 1500}, "access_period": "P30D", "platforms": ["web", "ios"]}  # fmt: skip
    ok(admin.post("/offers", json=pass_offer), 201)
    customer_id, _ = new_customer(admin, email="bo@example.org", external_ref="crm-1")

    purchase = ok(admin.post("/purchases", json={"customer_id": customer_id,
                  "offer_id": "pass_30", "platform": "web", "currency": "EUR"}), 201)  # fmt: skip
    assert purchase["access_until"] == "2026-01-31T09:00:00Z"
    assert ok(admin.get(f"/purchases/{purchase['id']}"))["status"] == "completed"
    query = {"offer_id": "pass_30", "platform": "roku"}
    assert ok(admin.get(f"/customers/{customer_id}/access", params=query))["access"] is False
    query["platform"] = "ios"
    assert ok(admin.get(f"/customers/{customer_id}/access", params=query))["access"] is True

    # a new version: new price for new sign-ups
    version = ok(admin.post("/offers/basic_monthly/versions", json={"prices": {"EUR": 1199}}), 201)
    assert (version["version"], version["prices"]) == (2, {"EUR": 1199})
    sub = subscribe(admin, customer_id, with_trial=False)
    assert (sub["price_minor"], sub["offer_version"]) == (1199, 2)

    coupon = {"id": "winback20", "discount_type": "percent", "percent_off": 20, "duration": "once"}
    ok(admin.post("/coupons", json=coupon), 201)
    other_id, _ = new_customer(admin)
    campaign = ok(admin.post("/campaigns", json={"name": "win-back", "coupon_id": "winback20",
                  "customer_ids": [customer_id, other_id], "control_share": 0.5, "seed": 7}), 201)  # fmt: skip
    groups = {g["group"]: g for g in campaign["campaign_result"]}
    assert groups["treatment"]["members"] == groups["control"]["members"] == 1
    assert ok(admin.get(f"/campaigns/{campaign['id']}"))["seed"] == 7
    listed = ok(admin.get("/campaigns"))["campaigns"]
    assert [(c["id"], c["name"], c["coupon_id"]) for c in listed] == [
        (campaign["id"], "win-back", "winback20")
    ]
    assert "seed" not in listed[0]  # the list is a summary
    assert [c["id"] for c in ok(admin.get("/coupons"))["coupons"]] == ["winback20"]
    assert ok(admin.get("/coupons/winback20"))["redemptions"] in (0, 1)

    ticket = ok(admin.post("/tickets", json={"customer_id": customer_id, "channel": "chat",
                "category": "billing", "subject": "Why was I charged?"}), 201)  # fmt: skip
    clock.advance(timedelta(minutes=42))
    resolved = ok(admin.post(f"/tickets/{ticket['id']}/resolve", json={"csat": 4}))
    assert (resolved["status"], resolved["csat"]) == ("resolved", 4)
    again = admin.post(f"/tickets/{ticket['id']}/resolve")
    assert again.status_code == 409

    activity = {"period_start": "2026-01-01T09:00:00Z", "period_end": "2026-01-01T09:40:00+00:00",
                "minutes_watched": 35, "sessions": 2, "platform": "web"}  # fmt: skip
    event = ok(admin.post(f"/customers/{customer_id}/activity", json=activity), 201)
    assert event["event_id"].startswith("core-") and event["period_end"] == "2026-01-01T09:40:00Z"

    patched = ok(admin.patch(f"/customers/{customer_id}", json={"name": "Bo", "country": "AT"}))
    assert (patched["name"], patched["country"], patched["email"]) == ("Bo", "AT", "bo@example.org")

    # erasure blanks personal data, and the stored idempotent responses that held it
    key_headers = {"Idempotency-Key": "pm-1"}
    body = {"card_number": CARD_OK, "exp_month": 1, "exp_year": 2031}
    ok(admin.post(f"/customers/{customer_id}/payment-methods", json=body, headers=key_headers), 201)
    erased = ok(admin.post(f"/customers/{customer_id}/erase"))
    assert erased["erased_at"] is not None
    assert (erased["email"], erased["name"], erased["external_ref"]) == (None, None, None)
    with core.unit() as u:
        bodies = u.session.scalars(select(IdempotencyRecord.response_body)).all()
        assert not [b for b in bodies if customer_id in b]
    refused = admin.patch(f"/customers/{customer_id}", json={"name": "Bo"})
    assert refused.status_code == 409 and "erased" in refused.json()["message"]


def test_declined_sign_up_dunning_that_fails_and_one_that_recovers(
    core: Core, clock: FixedClock, admin: TestClient
):
    ok(admin.post("/offers", json=MONTHLY), 201)

    # a declined first payment refuses the sign-up: 402, nothing written
    declined_id, _ = new_customer(admin, card=CARD_DECLINED)
    body = {"customer_id": declined_id, "offer_id": "basic_monthly", "platform": "web",
            "currency": "EUR", "with_trial": False}  # fmt: skip
    refused = admin.post("/subscriptions", json=body)
    assert refused.status_code == 402, refused.text
    assert refused.json() == {
        "error": "payment_declined",
        "message": "the first payment was declined: insufficient_funds",
        "failure_code": "insufficient_funds",
    }
    with core.unit() as u:
        assert u.session.scalar(select(func.count()).select_from(Subscription)) == 0

    # with a trial the same card signs up; the conversion fails, dunning ends it
    failing = subscribe(admin, declined_id)
    recovering_id, _ = new_customer(admin, card=CARD_RETRY_RECOVERS)
    recovering = subscribe(admin, recovering_id)
    ended_id, _ = new_customer(admin)
    to_end = subscribe(admin, ended_id, with_trial=False)

    clock.advance(7 * DAY)
    assert run_billing(admin) == {"failed": 1, "converted": 1}
    failing = ok(admin.get(f"/subscriptions/{failing['id']}"))
    assert (failing["status"], failing["dunning_attempt"]) == ("past_due", 1)
    assert failing["next_retry_at"] == "2026-01-09T09:00:00Z"
    access = ok(admin.get(f"/customers/{declined_id}/access", params={"offer_id": "basic_monthly"}))
    assert access["access"] is True  # within the grace period

    # the recovering card: its first renewal attempt is declined, the retry approved
    clock.advance(31 * DAY)
    outcomes = run_billing(admin)
    assert outcomes == {"failed": 1, "retry_failed": 3, "ended_unpaid": 1, "renewed": 1}
    failing = ok(admin.get(f"/subscriptions/{failing['id']}"))
    assert (failing["status"], failing["ended_reason"]) == ("ended", "payment_failed")
    assert ok(admin.get(f"/subscriptions/{recovering['id']}"))["status"] == "past_due"
    clock.advance(DAY)
    assert run_billing(admin) == {"recovered": 1}
    recovering = ok(admin.get(f"/subscriptions/{recovering['id']}"))
    assert (recovering["status"], recovering["dunning_attempt"]) == ("active", 0)

    # the merchant ends one
    ended = ok(admin.post(f"/subscriptions/{to_end['id']}/end", json={"reason": "merchant"}))
    assert (ended["status"], ended["ended_reason"]) == ("ended", "merchant")


def test_invalid_transitions_and_conflicts_are_409(core: Core, admin: TestClient):
    ok(admin.post("/offers", json=MONTHLY), 201)
    customer_id, _ = new_customer(admin, external_ref="crm-7")
    sub = subscribe(admin, customer_id, with_trial=False)
    path = f"/subscriptions/{sub['id']}"

    for action in ("resume", "reactivate"):
        refused = admin.post(f"{path}/{action}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"] == "invalid_transition"
        assert "it is active" in refused.json()["message"]
    assert ok(admin.post(f"{path}/pause"))["status"] == "paused"
    assert admin.post(f"{path}/pause").status_code == 409
    assert ok(admin.post(f"{path}/resume"))["status"] == "active"
    cancelled = ok(admin.post(f"{path}/cancel", json={"reason": "too_expensive"}))
    assert cancelled["status"] == "cancellation_pending"
    assert ok(admin.post(f"{path}/reactivate"))["status"] == "active"
    assert ok(admin.post(f"{path}/cancel", json={"immediately": True}))["status"] == "ended"
    assert admin.post(f"{path}/cancel").status_code == 409

    # existing data: the same offer id, and (a unique constraint) an external ref taken
    assert admin.post("/offers", json=MONTHLY).json()["error"] == "conflict"
    other_id, _ = new_customer(admin, card=None)
    taken = admin.patch(f"/customers/{other_id}", json={"external_ref": "crm-7"})
    assert taken.status_code == 409 and taken.json()["error"] == "conflict", taken.text
    missing = admin.get("/subscriptions/sub_0000")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


def test_idempotent_retries(core: Core, admin: TestClient):
    body = {"country": "FR", "signup_platform": "ios", "email": "cy@example.org"}
    key = {"Idempotency-Key": "create-cy-1"}
    first = admin.post("/customers", json=body, headers=key)
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # same key, same request (key order does not matter): the stored response, not a new one
    again = admin.post("/customers", json=dict(reversed(body.items())), headers=key)
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    # same key, another request: refused, naming the key
    other = admin.post("/customers", json=body | {"country": "BE"}, headers=key)
    assert other.status_code == 422 and other.json()["error"] == "idempotency_key_reused"
    assert "create-cy-1" in other.json()["message"]
    # keys are per API key: another caller's same key is a new request
    _, secret = make_key(core, "support")
    mine = admin.post("/customers", json=body, headers=key | bearer(secret))
    assert mine.status_code == 201 and mine.json()["id"] != first.json()["id"]
    with core.unit() as u:
        assert u.session.scalar(select(func.count()).select_from(Customer)) == 2

    # a refusal stores nothing: the retry is evaluated afresh
    ok(admin.post("/offers", json=MONTHLY), 201)
    customer_id = first.json()["id"]
    signup = {"customer_id": customer_id, "offer_id": "basic_monthly", "platform": "web",
              "currency": "EUR"}  # fmt: skip
    key = {"Idempotency-Key": "signup-1"}
    refused = admin.post("/subscriptions", json=signup, headers=key)
    assert refused.status_code == 422 and "payment_method_id" in refused.json()["message"]
    card = {"card_number": CARD_OK, "exp_month": 12, "exp_year": 2030}
    ok(admin.post(f"/customers/{customer_id}/payment-methods", json=card), 201)
    started = ok(admin.post("/subscriptions", json=signup, headers=key), 201)
    replay = admin.post("/subscriptions", json=signup, headers=key)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json() == started

    # an invalid key is a 422 naming the header
    bad = admin.post("/customers", json=body, headers={"Idempotency-Key": "x" * 129})
    assert bad.status_code == 422 and bad.json()["message"].startswith("Idempotency-Key: ")


def test_concurrent_duplicates_execute_once(core: Core, admin: TestClient):
    body = {"country": "IT", "signup_platform": "android"}
    barrier = threading.Barrier(4)
    responses = []

    def post() -> None:
        barrier.wait()
        responses.append(admin.post("/customers", json=body, headers={"Idempotency-Key": "dup"}))

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.status_code for r in responses) == [201] * 4, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 3
    with core.unit() as u:
        assert u.session.scalar(select(func.count()).select_from(Customer)) == 1


# (method, path, body, the field the message must start with)
BAD_REQUESTS = [
    ("POST", "/customers", {"signup_platform": "web"}, "country: Field required"),
    ("POST", "/customers", {"country": "XX", "signup_platform": "web"}, "country: not an ISO"),
    ("POST", "/customers", {"country": "DE", "signup_platform": "vcr"}, "signup_platform: "),
    ("POST", "/customers", {"country": "DE", "signup_platform": "web", "plan": 1}, "plan: "),
    (
        "POST",
        "/customers",
        {"country": "DE", "signup_platform": "web", "name": "a\x00b"},
        "name: must not contain NUL",
    ),  # fmt: skip
    (
        "POST",
        "/customers",
        {"country": "DE", "signup_platform": "web", "name": "é" * 201},
        "name: String should have at most 200",
    ),  # fmt: skip
    ("POST", "/customers", {"country": "DE", "signup_platform": "web", "email": "nope"}, "email: "),
    ("POST", "/customers", [1, 2], "body: "),
    ("POST", "/offers", MONTHLY | {"prices": {"EUR": 10**30}}, "prices.EUR: "),
    ("POST", "/offers", MONTHLY | {"prices": {"EURO": 1}}, "prices.EURO.[key]: not an ISO 4217"),
    ("POST", "/offers", MONTHLY | {"prices": {"EUR": -1}}, "prices.EUR: "),
    ("POST", "/offers", MONTHLY | {"billing_period": "P0M"}, "billing_period: String should match"),
    ("POST", "/offers", MONTHLY | {"billing_period": "P999999999Y"}, "billing_period: "),
    ("POST", "/offers", MONTHLY | {"billing_period": "monthly"}, "billing_period: "),
    ("POST", "/offers", MONTHLY | {"id": "no spaces"}, "id: "),
    ("POST", "/offers", MONTHLY | {"offer_type": "pass"}, "billing_period: one-time offers"),
    (
        "POST",
        "/offers",
        MONTHLY | {"event_starts_at": "2026-03-01T20:00:00"},
        "event_starts_at: Input should have timezone info",
    ),  # fmt: skip
    (
        "POST",
        "/offers",
        MONTHLY | {"event_starts_at": "9999-12-31T23:59:59-23:59"},
        "event_starts_at: ",
    ),  # fmt: skip
    (
        "POST",
        "/coupons",
        {"id": "c1", "discount_type": "percent", "percent_off": 101},
        "percent_off: ",
    ),  # fmt: skip
    (
        "POST",
        "/coupons",
        {"id": "c1", "discount_type": "amount", "amount_off_minor": 100},
        "currency: an amount coupon",
    ),  # fmt: skip
    ("POST", "/campaigns", {"name": "x", "coupon_id": "c1", "customer_ids": []}, "customer_ids: "),
    (
        "POST",
        "/campaigns",
        {"name": "x", "coupon_id": "c1", "customer_ids": ["a"], "seed": 2**70},
        "seed: ",
    ),  # fmt: skip
    ("POST", "/api-keys", {"role": "root"}, "role: "),
    ("GET", "/audit?limit=0", None, "limit: "),
    ("GET", "/customers/%00", None, "customer_id: "),
    ("GET", "/customers/c_1/access", None, "offer_id: Field required"),
    ("POST", "/subscriptions/s_1/pause", {"resume_at": "2026-02-01"}, "resume_at: "),
]


def test_bad_input_is_422_naming_the_field(admin: TestClient):
    for method, path, body, expected in BAD_REQUESTS:
        response = admin.request(method, path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        answer = response.json()
        assert answer["error"] == "invalid_input", answer
        assert answer["message"].startswith(expected), (body, answer["message"])


def test_malformed_bodies_are_422_never_500(admin: TestClient):
    raw = [
        b'{"country": ',  # not JSON
        b'{"country": "DE", "signup_platform": "web", "name": "\\ud800"}',  # lone surrogate
        b'{"country": "DE", "signup_platform": "web", "name": "\\u0000"}',  # escaped NUL
        '{"country": "DE", "signup_platform": "web", "name": "\u0000"}'.encode(),
    ]
    for content in raw:
        response = admin.post(
            "/customers", content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (content, response.text)
    no_type = admin.post("/customers", content=b'{"country": "DE", "signup_platform": "web"}')
    assert no_type.status_code == 422
    card = admin.post("/customers/c_1/payment-methods", json={"card_number": "4242 42x"})
    assert card.status_code == 422 and "4242" not in card.text  # never echoed back
    huge = admin.post(
        "/customers", content=b"[" * 100_000, headers={"Content-Type": "application/json"}
    )
    assert huge.status_code in (400, 422), huge.text
    assert admin.post("/customers", content=b"x" * (5 * 1024 * 1024)).status_code == 413
    assert admin.get("/nowhere").json()["error"] == "not_found"
    assert admin.put("/customers").status_code == 405


def test_health_and_openapi_need_no_key(core: Core):
    anonymous = client(core)
    assert ok(anonymous.get("/health")) == {"status": "ok", "database": "ok"}
    document = ok(anonymous.get("/openapi.json"))
    assert document["info"]["title"] == "churniq core"
    create = document["paths"]["/customers"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in create["parameters"]]
    assert anonymous.get("/docs").status_code == 200
