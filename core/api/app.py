"""The core's HTTP API (FastAPI): `create_app(core)`; the OpenAPI document is at
/openapi.json, its interactive docs at /docs."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from ..unit import Core
from . import errors
from .auth import PERMISSIONS, PUBLIC, SIGNED, authorize
from .idempotency import document_replays
from .routes import (
    admin,
    catalog,
    customers,
    health,
    purchases,
    retention,
    subscriptions,
    webhooks,
)

MAX_BODY = 4 * 1024 * 1024  # a campaign of 100,000 customers fits

DESCRIPTION = """\
The operational subscription core of churniq: customers, offers and coupons, subscriptions
and their state machine, one-time purchases, payments, refunds, entitlements, retention
campaigns and support tickets. Every state change writes its contract events to the outbox
in the same transaction.

**Authentication**: `Authorization: Bearer <API key>` (or `X-API-Key`). Roles: `readonly`
(reads), `support`, `retention`, `admin` (everything).

**Idempotency**: POSTs that create or charge accept an `Idempotency-Key` header; a retry with
the same key and request gets the first response back (`Idempotent-Replayed: true`).

**Provider webhooks**: `POST /webhooks/stripe` takes Stripe's signed events (no API key: the
`Stripe-Signature` header is checked with the endpoint's signing secret,
`CHURNIQ_STRIPE_WEBHOOK_SECRET`); it is not listed below, its body is Stripe's.

**Conventions**: ids are strings, timestamps RFC 3339 in UTC, money integer minor units
(cents). Errors are `{"error": code, "message": text}`.
"""


def _version() -> str:
    try:
        return version("churniq")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "0.0.0"


def _calls(dependant: Dependant) -> set:
    found = {dependant.call}
    for sub in dependant.dependencies:
        found |= _calls(sub)
    return found


def check_permissions(app: FastAPI) -> None:
    """Every route is public, signed by a provider or in the role table, guarded by
    `authorize`, and every entry of the table is a route: a route cannot be added without
    deciding who may call it."""
    seen = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        if context.path != route.path:  # `authorize` looks the route's own path up
            raise RuntimeError(f"{route.path} is served at {context.path}: include no prefix")
        for method in route.methods:
            key = (method, route.path)
            seen.add(key)
            if key in PUBLIC:
                continue
            if key in SIGNED:
                if route.include_in_schema:
                    raise RuntimeError(f"{method} {route.path} is signed: keep it out of the docs")
                continue
            if key not in PERMISSIONS:
                raise RuntimeError(f"{method} {route.path} is missing from auth.PERMISSIONS")
            if authorize not in _calls(route.dependant):
                raise RuntimeError(f"{method} {route.path} does not depend on authorize")
    missing = set(PERMISSIONS) - seen
    if missing:
        raise RuntimeError(f"auth.PERMISSIONS lists routes that do not exist: {sorted(missing)}")


def create_app(core: Core, stripe_webhook_secret: str | None = None) -> FastAPI:
    """The API of `core`; `POST /webhooks/stripe` verifies signatures with
    `stripe_webhook_secret` (unset: it answers 503)."""
    app = FastAPI(
        title="churniq core",
        version=_version(),
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        max_body_size=MAX_BODY,
    )
    app.state.core = core
    app.state.stripe_webhook_secret = stripe_webhook_secret or None
    errors.install(app)
    for module in (
        health,
        customers,
        catalog,
        subscriptions,
        purchases,
        retention,
        admin,
        webhooks,
    ):
        app.include_router(module.router)
    check_permissions(app)
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return app.openapi_schema or document_replays(generate())

    app.openapi = openapi  # type: ignore[method-assign]
    return app
