"""The role matrix: every route of `core.api.auth.PERMISSIONS` called with a key of every role
is refused (403) exactly when the table says so; without a key, or with an unknown or revoked
one, every route is 401; the audit log records the key and role that acted."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from core.api.auth import PERMISSIONS, PUBLIC
from core.keys import ROLES
from core.unit import Core
from tests.core.api_support import bearer, client, make_key

# what the brief grants beyond reading, per role (admin: everything)
SUPPORT_WRITES = {
    ("POST", "/customers"),
    ("PATCH", "/customers/{customer_id}"),
    ("POST", "/customers/{customer_id}/payment-methods"),
    ("POST", "/customers/{customer_id}/activity"),
    ("POST", "/subscriptions"),
    *(
        ("POST", f"/subscriptions/{{subscription_id}}/{a}")
        for a in ("cancel", "reactivate", "pause", "resume", "change", "payment-method")
    ),
    ("POST", "/purchases"),
    ("POST", "/tickets"),
    ("POST", "/tickets/{ticket_id}/resolve"),
    ("POST", "/payments/{payment_id}/refund"),
}
RETENTION_WRITES = {
    ("POST", "/coupons"),
    ("POST", "/campaigns"),
    ("POST", "/subscriptions/{subscription_id}/coupon"),
}
ADMIN_READS = {("GET", "/audit"), ("GET", "/api-keys")}


def concrete(path: str) -> str:
    """A request path for a route: ids that exist nowhere (a 404 past the role check)."""
    return re.sub(r"\{[a-z_]+\}", "x_1", path)


def call(api: TestClient, method: str, path: str, headers: dict[str, str] | None = None):
    body = {} if method in ("POST", "PATCH") else None
    return api.request(method, concrete(path), json=body, headers=headers)


@pytest.fixture
def keys(core: Core) -> dict[str, tuple[str, str]]:
    return {role: make_key(core, role) for role in ROLES}


def test_the_table_is_the_brief():
    """The table grants what the brief says, derived here independently of it."""
    for (method, path), roles in PERMISSIONS.items():
        key = (method, path)
        expected = {"admin"}
        if method == "GET" and key not in ADMIN_READS:
            expected |= set(ROLES)
        if key in SUPPORT_WRITES:
            expected.add("support")
        if key in RETENTION_WRITES:
            expected.add("retention")
        assert set(roles) == expected, (method, path)


def test_every_route_is_in_the_table(core: Core):
    document = client(core).get("/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert routes == set(PERMISSIONS) | PUBLIC


def test_every_route_for_every_role(core: Core, keys: dict[str, tuple[str, str]]):
    api = client(core)
    wrong = []
    for (method, path), allowed in sorted(PERMISSIONS.items()):
        for role, (_, secret) in keys.items():
            response = call(api, method, path, bearer(secret))
            assert response.status_code < 500, (method, path, role, response.text)
            refused = response.status_code == 403
            if refused != (role not in allowed) or response.status_code == 401:
                wrong.append((method, path, role, response.status_code))
            if refused:
                assert response.json()["error"] == "forbidden"
    assert not wrong


def test_no_key_unknown_key_and_revoked_key_are_401(core: Core, keys):
    api = client(core)
    key_id, secret = keys["admin"]
    assert api.get("/offers", headers={"X-API-Key": secret}).status_code == 200
    revoked_id, revoked = make_key(core, "support")
    assert api.delete(f"/api-keys/{revoked_id}", headers=bearer(secret)).status_code == 200
    for headers in (
        {},
        bearer("ck_not-a-key"),
        bearer(revoked),
        {"X-API-Key": revoked},
        {"Authorization": f"Basic {secret}"},
        {"Authorization": "Bearer " + "x" * 10_000},
    ):
        for method, path in sorted(PERMISSIONS):
            response = call(api, method, path, headers)
            assert response.status_code == 401, (headers, method, path, response.text)
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert response.json()["error"] == "unauthorized"
    assert api.get("/health").status_code == 200


def test_the_audit_log_records_the_actor(core: Core, keys):
    support_id, support = keys["support"]
    retention_id, retention = keys["retention"]
    admin = client(core, keys["admin"][1])
    customer = client(core, support).post(
        "/customers", json={"country": "SE", "signup_platform": "roku"}
    )
    assert customer.status_code == 201
    coupon = {"id": "ten", "discount_type": "percent", "percent_off": 10}
    assert client(core, retention).post("/coupons", json=coupon).status_code == 201

    entries = admin.get("/audit", params={"target_id": customer.json()["id"]}).json()["entries"]
    assert [(e["action"], e["actor"], e["role"]) for e in entries] == [
        ("customer.create", support_id, "support")
    ]
    entries = admin.get("/audit", params={"actor": retention_id}).json()["entries"]
    assert [(e["action"], e["target_id"], e["role"]) for e in entries] == [
        ("coupon.create", "ten", "retention")
    ]
