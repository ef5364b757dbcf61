"""Idempotency keys: a POST with `Idempotency-Key: <1-128 characters>` is executed at most once
per API key. Its response (status and body) is stored in `idempotency_keys` in the same
transaction as the state change, so a retry with the same key and the same request (method,
path and body) gets the stored response back (`Idempotent-Replayed: true`), and the same key
with another request is refused (422).

A record is inserted *before* the work: a concurrent duplicate waits on that row's primary
key (PostgreSQL) or on the write lock (SQLite) and, once the first commits, replays its
response instead of executing again. Only successes are stored: a refused request changed
nothing and may be retried with the same key. The key that created an API key is never
honoured (the stored response would be the secret itself).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header, Request
from sqlalchemy import delete
from sqlalchemy.orm import Session

from ..schema import IdempotencyRecord
from .errors import ApiError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    method: str
    path: str
    request_hash: str

    def matches(self, record: IdempotencyRecord) -> bool:
        return (record.method, record.path, record.request_hash) == (
            self.method,
            self.path,
            self.request_hash,
        )

    def mismatch(self, record: IdempotencyRecord) -> ApiError:
        return ApiError(
            422,
            "idempotency_key_reused",
            f"{HEADER} {self.key!r} was already used for another request "
            f"({record.method} {record.path} with a different body): use a new key",
        )


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 of the request; a JSON body is hashed in canonical form (key order and
    whitespace do not make a different request)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode()
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


async def idempotent_request(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes a retry safe: the first response is stored and replayed for "
            "every retry with this key and the same request (1-128 visible ASCII characters).",
        ),
    ] = None,
) -> IdempotentRequest | None:
    if idempotency_key is None:
        return None
    body = await request.body()
    path = request.url.path
    query = request.url.query
    return IdempotentRequest(
        idempotency_key, request.method, path, request_hash(request.method, path, query, body)
    )


def document_replays(document: dict[str, Any]) -> dict[str, Any]:
    """Declare `Idempotent-Replayed` on the success answers of every operation that takes an
    `Idempotency-Key` (the OpenAPI document, changed in place and returned)."""
    header = {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same key",
        "schema": {"type": "string", "enum": ["true"]},
    }
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            names = {
                p.get("name") for p in operation.get("parameters", []) if p.get("in") == "header"
            }
            if HEADER not in names:
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    response.setdefault("headers", {})[REPLAYED] = header
    return document


def forget_customer(session: Session, customer_id: str) -> int:
    """Delete the stored responses that mention a customer (erasure: they may hold the
    e-mail, name or card's last digits)."""
    result = session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.response_body.contains(f'"{customer_id}"', autoescape=True)
        )
    )
    return result.rowcount or 0
