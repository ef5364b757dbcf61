"""Erasure in the core beyond the customer's row: stored API responses, the outbox, and the
bytes a database keeps after an update.

- When the erasure commits through the API, the stored responses of idempotent POSTs that
  name the customer are deleted (`core.api.idempotency.forget_customer`).
- Once the warehouse has loaded a customer's `customer.erased` (so every earlier event of the
  customer has been read from the outbox), `scrub_outbox` rewrites their envelopes with only
  the keys an erased customer's event keeps (`foundation.contract.personal`). Not earlier: an
  envelope scrubbed before it is read would reach the warehouse invalid.
- `compact` rewrites the database so that the blanked values are gone from its files too:
  SQLite `VACUUM` then `wal_checkpoint(TRUNCATE)` (the WAL would keep the old pages);
  PostgreSQL `VACUUM` of the tables an erasure touches (dead rows become free space, reused by
  later writes; `VACUUM FULL`, which rewrites the files, takes an exclusive lock and is left to
  the operator).

The audit log records actions and ids, never personal values, and is left whole.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, inspect, select, update
from sqlalchemy.orm import Session

from foundation.contract.personal import scrub_payload

from .schema import OUTBOX, Customer

ERASURE_TABLES = (
    "customers", "payment_methods", "support_tickets", "idempotency_keys", OUTBOX.name,
)  # fmt: skip


def erased_in_core(session: Session, customer_ids: Iterable[str]) -> list[str]:
    """Those of `customer_ids` that the core has erased (others are left alone: an erasure
    brought by another producer does not blank the core's live customer)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    query = select(Customer.id).where(Customer.id.in_(ids), Customer.erased_at.is_not(None))
    return sorted(session.scalars(query))


def scrub_outbox(session: Session, customer_ids: Iterable[str]) -> int:
    """Rewrite the outbox envelopes of `customer_ids` (erased in the core) with only the keys
    an erased customer's event keeps; returns how many changed."""
    erased = erased_in_core(session, customer_ids)
    if not erased:
        return 0
    rows = session.execute(
        select(OUTBOX.c.seq, OUTBOX.c.envelope).where(OUTBOX.c.customer_id.in_(erased))
    ).all()
    changes = []
    for seq, text_ in rows:
        envelope = json.loads(text_)
        data = envelope.get("data") or {}
        kept = scrub_payload(envelope.get("event_type", ""), data)
        if kept != data:
            changes.append({"s": seq, "e": json.dumps(envelope | {"data": kept})})
    if changes:
        session.execute(
            update(OUTBOX).where(OUTBOX.c.seq == bindparam("s")).values(envelope=bindparam("e")),
            changes,
        )
    return len(changes)


@dataclass
class Compaction:
    dialect: str
    statements: list[str]
    wal_truncated: bool | None = None  # SQLite: False when a reader kept the WAL busy


def compact(engine: Engine) -> Compaction:
    """Rewrite the core database so that values blanked by erasures leave its files. Run
    outside any transaction, on a DB-API connection of its own."""
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        statements = ["VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"]
    else:
        present = set(inspect(engine).get_table_names())
        statements = [f'VACUUM ANALYZE "{t}"' for t in ERASURE_TABLES if t in present]
    result = Compaction(engine.dialect.name, statements)
    raw = engine.raw_connection()
    dbapi = raw.driver_connection
    try:
        if not sqlite:
            dbapi.autocommit = True  # VACUUM cannot run inside a transaction
        cursor = dbapi.cursor()
        for statement in statements:
            cursor.execute(statement)
        if sqlite:
            busy = cursor.fetchone()[0]  # (busy, wal pages, checkpointed pages)
            result.wal_truncated = not busy
        cursor.close()
    finally:
        if not sqlite:
            dbapi.autocommit = False
        raw.close()
    return result
