"""The core's inbox of provider webhooks (`foundation.contract.webhooks`), read only and counted.

The core stores each verified webhook once and writes its contract events to the outbox, which
`ingestion.sources.core_outbox` pulls; here the inbox itself is only counted (per provider,
event type and status, with the newest `received_at`) for Data health and the connector sensor.
No core database, or one without the `provider_webhooks` table (a core migrated before the
connectors), means no webhook yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from foundation.contract.webhooks import PROVIDER_WEBHOOKS, provider_webhooks_table

from .core_outbox import read_only_engine

_WEBHOOKS = provider_webhooks_table(sa.MetaData())


@dataclass(frozen=True)
class WebhookCount:
    provider: str
    event_type: str
    status: str  # translated | ignored | untranslatable
    webhooks: int
    events_written: int
    last_received_at: datetime | None


def _has_inbox(conn: sa.Connection) -> bool:
    return sa.inspect(conn).has_table(PROVIDER_WEBHOOKS)


def webhook_counts(core_db_url: str) -> list[WebhookCount] | None:
    """The inbox counted per provider, event type and status; None without an inbox."""
    t = _WEBHOOKS.c
    query = (
        sa.select(
            t.provider,
            t.event_type,
            t.status,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(t.events_written), 0),
            sa.func.max(t.received_at),
        )
        .group_by(t.provider, t.event_type, t.status)
        .order_by(t.provider, t.event_type, t.status)
    )
    with read_only_engine(core_db_url) as engine:
        if engine is None:
            return None
        with engine.connect() as conn:
            if not _has_inbox(conn):
                return None
            rows = conn.execute(query).all()
    return [
        WebhookCount(str(p), str(e), str(s), int(n), int(w), last) for p, e, s, n, w, last in rows
    ]


def webhook_frontier(core_db_url: str) -> dict[str, tuple[datetime, int]]:
    """Per provider: the newest `received_at` and the number of webhooks stored (for the
    connector sensor: new rows since its last request). Empty without an inbox."""
    t = _WEBHOOKS.c
    query = sa.select(t.provider, sa.func.max(t.received_at), sa.func.count()).group_by(t.provider)
    with read_only_engine(core_db_url) as engine:
        if engine is None:
            return {}
        with engine.connect() as conn:
            if not _has_inbox(conn):
                return {}
            rows = conn.execute(query).all()
    return {str(p): (last, int(n)) for p, last, n in rows}
