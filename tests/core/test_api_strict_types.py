"""Request bodies take JSON as it is typed: an integer must be a JSON integer, a boolean a JSON
boolean, a number a JSON number, a timestamp a string; nothing is coerced ("100" is not a
price, true is not 1, 0 is not false, 9.5 is not an integer). Each refusal is a 422 naming the
field. A number without fraction (999.0) is an integer, as JSON Schema, and so the API's own
document, counts it. Validation happens before the database, so SQLite alone is enough."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.clock import FixedClock
from core.unit import Core
from tests.core.api_support import MONTHLY, build_world, client, make_key, ok, sqlite_core


@pytest.fixture
def core(tmp_path: Path, clock: FixedClock) -> Iterator[Core]:
    with sqlite_core(tmp_path, clock) as c:
        yield c


@pytest.fixture
def admin(core: Core) -> TestClient:
    return client(core, make_key(core, "admin")[1])


CUSTOMER = {"country": "DE", "signup_platform": "web"}
COUPON = {"id": "c10", "discount_type": "percent", "percent_off": 10}
ACTIVITY = {
    "period_start": "2025-12-31T00:00:00Z",
    "period_end": "2026-01-01T00:00:00Z",
    "minutes_watched": 30,
    "sessions": 2,
    "platform": "web",
}


def cases(world: dict) -> list[tuple[str, dict, str]]:
    """(path, body, the field the 422 must name): one coerced value each."""
    customer = world["customer_id"]
    sub = world["subscription_id"]
    payment = world["payment_id"]
    campaign = {"name": "x", "coupon_id": "c", "customer_ids": [customer]}
    ticket = {"customer_id": customer, "channel": "chat", "category": "billing"}
    subscription = {"customer_id": customer, "offer_id": "w_monthly", "platform": "web",
                    "currency": "EUR"}  # fmt: skip
    return [
        ("/offers", MONTHLY | {"prices": {"EUR": "100"}}, "prices.EUR"),
        ("/offers", MONTHLY | {"prices": {"EUR": True}}, "prices.EUR"),
        ("/offers", MONTHLY | {"prices": {"EUR": 999.5}}, "prices.EUR"),
        ("/offers", MONTHLY | {"title": 7}, "title"),
        ("/offers", MONTHLY | {"event_starts_at": 1767225600}, "event_starts_at"),
        ("/offers", MONTHLY | {"event_starts_at": "1767225600"}, "event_starts_at"),
        ("/customers", CUSTOMER | {"marketing_consent": 0}, "marketing_consent"),
        ("/customers", CUSTOMER | {"marketing_consent": "true"}, "marketing_consent"),
        ("/customers", CUSTOMER | {"external_ref": 12}, "external_ref"),
        ("/coupons", COUPON | {"percent_off": "10"}, "percent_off"),
        ("/coupons", COUPON | {"max_redemptions": 5.5}, "max_redemptions"),
        ("/coupons", COUPON | {"max_redemptions": [5]}, "max_redemptions"),
        (f"/customers/{customer}/payment-methods", {"exp_month": "12"}, "exp_month"),
        (f"/customers/{customer}/activity", ACTIVITY | {"sessions": True}, "sessions"),
        (f"/customers/{customer}/activity", ACTIVITY | {"minutes_watched": "3"}, "minutes_watched"),
        (f"/subscriptions/{sub}/cancel", {"immediately": 1}, "immediately"),
        (f"/subscriptions/{sub}/cancel", {"immediately": "false"}, "immediately"),
        (f"/payments/{payment}/refund", {"end_access": 0}, "end_access"),
        (f"/payments/{payment}/refund", {"amount_minor": "100"}, "amount_minor"),
        ("/campaigns", campaign | {"control_share": "0.2"}, "control_share"),
        ("/campaigns", campaign | {"seed": 1.5}, "seed"),
        ("/tickets", ticket | {"subject": 5}, "subject"),
        (f"/tickets/{world['ticket_id']}/resolve", {"csat": "5"}, "csat"),
        ("/subscriptions", subscription | {"with_trial": "no"}, "with_trial"),
    ]


def test_coerced_values_are_refused_naming_the_field(core: Core, admin: TestClient):
    world = build_world(core).ids()
    for path, body, field in cases(world):
        response = admin.post(path, json=body)
        assert response.status_code == 422, (path, body, response.text)
        answer = response.json()
        assert answer["error"] == "invalid_input", answer
        assert answer["message"].startswith(f"{field}: "), (body, answer["message"])
        assert [issue["loc"][1:] for issue in answer["detail"]] == [field.split(".")], answer


def test_json_typed_values_are_still_accepted(core: Core, admin: TestClient):
    """The strict types refuse coercion, not JSON: an integer where a number is meant, a number
    without fraction where an integer is, RFC 3339 timestamps with any offset, null for an
    optional field."""
    world = build_world(core).ids()
    offer = MONTHLY | {"id": "live", "offer_type": "live_ppv", "billing_period": None,
                       "prices": {"EUR": 1500.0},
                       "trial_period": None, "event_starts_at": "2026-03-01T20:00:00+01:00",
                       "event_ends_at": "2026-03-01T23:00:00.5Z"}  # fmt: skip
    created = ok(admin.post("/offers", json=offer), 201)
    assert created["event_starts_at"] == "2026-03-01T19:00:00Z"
    assert created["prices"] == {"EUR": 1500}
    body = {"name": "x", "coupon_id": "w_10off", "customer_ids": [world["customer_id"]]}
    for share in (0, 0.5):
        ok(admin.post("/campaigns", json=body | {"control_share": share}), 201)
    customer = ok(admin.post("/customers", json=CUSTOMER | {"marketing_consent": False}), 201)
    assert customer["marketing_consent"] is False


def test_email_pattern_means_the_same_to_the_document_and_the_api(admin: TestClient):
    """`\\s` is a different set in ECMA-262 (the document's readers), Rust (the validator) and
    Python: the document's pattern names the characters, and the API refuses each of them."""
    document = admin.get("/openapi.json").json()
    email = document["components"]["schemas"]["CustomerCreate"]["properties"]["email"]
    pattern = email["anyOf"][0]["pattern"]
    for space in ("\x1c", "\x1f", "\x85", "\ufeff", "\u2028", "\u3000", " "):
        address = f"a{space}b@example.com"
        assert re.fullmatch(pattern, address) is None, repr(space)
        response = admin.post("/customers", json=CUSTOMER | {"email": address})
        assert response.status_code == 422, (repr(space), response.text)
    ok(admin.post("/customers", json=CUSTOMER | {"email": "jörg@exämple.de"}), 201)


def test_timestamps_outside_the_contracts_range_are_refused_not_a_server_error(
    core: Core, admin: TestClient
):
    """The API takes the contract's timestamp range (2000 to before 2200): a 1990 activity
    period would otherwise pass the API and be refused by the event contract, a 500."""
    customer = build_world(core).ids()["customer_id"]
    period = {"period_start": "1990-01-01T00:00:00Z", "period_end": "1990-01-02T00:00:00Z"}
    response = admin.post(f"/customers/{customer}/activity", json=ACTIVITY | period)
    assert response.status_code == 422, response.text
    assert response.json()["message"].startswith("period_start: "), response.text
