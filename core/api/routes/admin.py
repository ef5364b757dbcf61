"""Administration: the billing run, API keys and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from ... import keys
from ...cycle import run_billing_cycle
from ...schema import ApiKey, AuditEntry
from ...unit import Unit
from ..context import Context, json_response
from ..fields import ID_MAX, ID_PATTERN
from ..schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    ApiKeysOut,
    AuditOut,
    BillingRunOut,
)
from . import ERRORS, KeyId

router = APIRouter(responses=ERRORS)


@router.post(
    "/billing/run",
    response_model=BillingRunOut,
    tags=["billing"],
    summary="Run the billing cycle now: renewals, retries, scheduled ends and resumes",
)
def billing_run(ctx: Context):
    # each subscription is advanced in its own transaction, so this cannot be replayed
    # atomically: it takes no Idempotency-Key (running it twice does nothing new)
    as_of = ctx.core.clock.now()
    outcomes = dict(run_billing_cycle(ctx.core))
    with ctx.unit() as u:
        u.audit("billing.run", "job", "renew", **outcomes)
    body = BillingRunOut(as_of=as_of, outcomes=outcomes).model_dump_json()
    return json_response(body, 200)


@router.post(
    "/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    tags=["api keys"],
    summary="Create an API key: the key is in this response only",
)
def create_api_key(body: ApiKeyCreate, ctx: Context):
    def work(u: Unit) -> ApiKeyCreated:
        row, secret = keys.create_key(u, body.role, body.name)
        return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(),
                                             "key": secret})  # fmt: skip

    return ctx.write(work, 201)


@router.get(
    "/api-keys",
    response_model=ApiKeysOut,
    tags=["api keys"],
    summary="Every API key (never the key itself)",
)
def list_api_keys(ctx: Context):
    def work(u: Unit) -> ApiKeysOut:
        rows = u.session.scalars(select(ApiKey).order_by(ApiKey.created_at, ApiKey.id)).all()
        return ApiKeysOut.model_validate({"api_keys": rows})

    return ctx.read(work)


@router.delete(
    "/api-keys/{key_id}", response_model=ApiKeyOut, tags=["api keys"], summary="Revoke an API key"
)
def revoke_api_key(key_id: KeyId, ctx: Context):
    return ctx.write(lambda u: ApiKeyOut.model_validate(keys.revoke_key(u, key_id)))


@router.get(
    "/audit", response_model=AuditOut, tags=["audit"], summary="The audit log, newest first"
)
def audit_log(
    ctx: Context,
    target_type: Annotated[str | None, Query(max_length=32, pattern=r"^[a-z_]+$")] = None,
    target_id: Annotated[str | None, Query(max_length=ID_MAX, pattern=ID_PATTERN)] = None,
    actor: Annotated[str | None, Query(max_length=ID_MAX, pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
):
    def work(u: Unit) -> AuditOut:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        for column, value in (
            (AuditEntry.target_type, target_type),
            (AuditEntry.target_id, target_id),
            (AuditEntry.actor, actor),
        ):
            if value is not None:
                query = query.where(column == value)
        return AuditOut.model_validate({"entries": u.session.scalars(query).all()})

    return ctx.read(work)
