"""Authentication by API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`) and the
role of each route: `PERMISSIONS` is the one table of who may call what, read by the
`authorize` dependency of every route and by the tests.

    readonly   every GET except /audit and /api-keys
    support    readonly + customers (create, update, payment methods, activity),
               subscriptions (start, cancel, reactivate, pause, resume, change, payment
               method), purchases,
               tickets, refunds
    retention  readonly + coupons, campaigns, a coupon on a subscription
    admin      everything: offers, chargebacks, ending a subscription, erasure, the billing
               run, API keys, the audit log
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ..keys import ROLES, find_key
from .errors import ApiError

EVERYONE = frozenset(ROLES)
SUPPORT = frozenset({"admin", "support"})
RETENTION = frozenset({"admin", "retention"})
ADMIN = frozenset({"admin"})

# (method, route path) → the roles allowed; a route missing here fails at app creation
PERMISSIONS: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/customers"): SUPPORT,
    ("GET", "/customers/{customer_id}"): EVERYONE,
    ("PATCH", "/customers/{customer_id}"): SUPPORT,
    ("POST", "/customers/{customer_id}/erase"): ADMIN,
    ("POST", "/customers/{customer_id}/payment-methods"): SUPPORT,
    ("GET", "/customers/{customer_id}/entitlements"): EVERYONE,
    ("GET", "/customers/{customer_id}/access"): EVERYONE,
    ("POST", "/customers/{customer_id}/activity"): SUPPORT,
    ("GET", "/customers/{customer_id}/payments"): EVERYONE,
    ("POST", "/offers"): ADMIN,
    ("GET", "/offers"): EVERYONE,
    ("GET", "/offers/{offer_id}"): EVERYONE,
    ("POST", "/offers/{offer_id}/versions"): ADMIN,
    ("POST", "/coupons"): RETENTION,
    ("GET", "/coupons"): EVERYONE,
    ("GET", "/coupons/{coupon_id}"): EVERYONE,
    ("POST", "/subscriptions"): SUPPORT,
    ("GET", "/subscriptions/{subscription_id}"): EVERYONE,
    ("POST", "/subscriptions/{subscription_id}/cancel"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/reactivate"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/pause"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/resume"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/change"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/coupon"): RETENTION,
    ("POST", "/subscriptions/{subscription_id}/payment-method"): SUPPORT,
    ("POST", "/subscriptions/{subscription_id}/end"): ADMIN,
    ("POST", "/purchases"): SUPPORT,
    ("GET", "/purchases/{purchase_id}"): EVERYONE,
    ("POST", "/payments/{payment_id}/refund"): SUPPORT,
    ("POST", "/payments/{payment_id}/chargeback"): ADMIN,
    ("POST", "/campaigns"): RETENTION,
    ("GET", "/campaigns"): EVERYONE,
    ("GET", "/campaigns/{campaign_id}"): EVERYONE,
    ("POST", "/tickets"): SUPPORT,
    ("POST", "/tickets/{ticket_id}/resolve"): SUPPORT,
    ("POST", "/billing/run"): ADMIN,
    ("POST", "/api-keys"): ADMIN,
    ("GET", "/api-keys"): ADMIN,
    ("DELETE", "/api-keys/{key_id}"): ADMIN,
    ("GET", "/audit"): ADMIN,
}
# answered without a key
PUBLIC: frozenset[tuple[str, str]] = frozenset({("GET", "/health")})
# a provider's webhooks: no key, the provider's signature of the body is the authentication
# (checked by the route); their contract is the provider's, so they are not in the OpenAPI
# document
SIGNED: frozenset[tuple[str, str]] = frozenset({("POST", "/webhooks/stripe")})

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key")


@dataclass(frozen=True)
class Caller:
    """The API key a request was made with: its id is the actor of the audit log."""

    key_id: str
    role: str


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


def authorize(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    x_api_key: Annotated[str | None, Security(_header)],
) -> Caller:
    """The caller, if its key is live and its role may call this route (401 / 403)."""
    secret = bearer.credentials if bearer is not None else x_api_key
    if not secret:
        raise _unauthorized("an API key is required (Authorization: Bearer <key>)")
    core = request.app.state.core
    with core.sessions() as session:
        key = find_key(session, secret)
        caller = Caller(key.id, key.role) if key is not None else None
    if caller is None:
        raise _unauthorized("unknown or revoked API key")
    route = request.scope["route"]
    method = "GET" if request.method == "HEAD" else request.method
    if caller.role not in PERMISSIONS[(method, route.path)]:
        raise ApiError(403, "forbidden", f"role {caller.role} may not {method} {route.path}")
    return caller


CallerDep = Annotated[Caller, Depends(authorize)]
