"""API keys with roles. A key is shown once at creation; only its SHA-256 is stored (a
256-bit random secret needs no slow hash), with a short prefix to recognise it."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import InvalidInput, NotFound
from .ids import new_id
from .schema import ApiKey
from .unit import Unit

ROLES = ("admin", "support", "retention", "readonly")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(u: Unit, role: str, name: str | None = None) -> tuple[ApiKey, str]:
    """A new key for `role`; returns the stored row and the key itself (never stored)."""
    if role not in ROLES:
        raise InvalidInput(f"role: must be one of {', '.join(ROLES)}")
    secret = "ck_" + secrets.token_urlsafe(32)
    row = ApiKey(
        id=new_id("key"),
        prefix=secret[:10],
        key_hash=hash_key(secret),
        role=role,
        name=name,
        created_at=u.now,
    )
    u.session.add(row)
    u.audit("api_key.create", "api_key", row.id, role=role)
    return row, secret


def find_key(session: Session, secret: str) -> ApiKey | None:
    """The live key with this secret, or None (unknown or revoked)."""
    if not secret or len(secret) > 200:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if row is None or row.revoked_at is not None:
        return None
    return row


def revoke_key(u: Unit, key_id: str) -> ApiKey:
    row = u.session.get(ApiKey, key_id)
    if row is None:
        raise NotFound(f"api key {key_id} not found")
    row.revoked_at = row.revoked_at or u.now
    u.audit("api_key.revoke", "api_key", key_id)
    return row
