"""Identifiers: random, prefixed by kind, never derived from personal data."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"
