"""The core's inbox of provider webhooks: one definition, shared by the core (which stores each
verified webhook once, by the provider's event id, in the same transaction as the contract events
it translates to) and ingestion (which reads the counts per source and type for Data health).

`status` is `translated` (contract events written to the outbox), `ignored` (a provider type
with no contract meaning, counted by type) or `untranslatable` (a `connector.untranslatable`
line went to the outbox, to be quarantined with its reason).
"""

from __future__ import annotations

import sqlalchemy as sa

PROVIDER_WEBHOOKS = "provider_webhooks"


def provider_webhooks_table(metadata: sa.MetaData) -> sa.Table:
    """The `provider_webhooks` table, defined on `metadata`."""
    return sa.Table(
        PROVIDER_WEBHOOKS,
        metadata,
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("provider_event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("events_written", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),  # naive UTC
        sa.Column("payload", sa.Text(), nullable=False),  # the verified body, as received
        sa.Index("ix_provider_webhooks_received", "provider", "received_at"),
    )
