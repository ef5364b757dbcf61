"""the inbox of provider webhooks: each verified webhook stored once by the provider's event id

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08 00:00:00

`POST /webhooks/stripe` (issue 16) stores the verified body here, keyed by (provider, provider
event id), in the transaction that writes its contract events to the outbox: a redelivery finds
the row and adds nothing. A frozen copy of `foundation.contract.webhooks` at this revision.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_webhooks",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("events_written", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provider", "provider_event_id"),
    )
    with op.batch_alter_table("provider_webhooks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_provider_webhooks_received", ["provider", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("provider_webhooks", schema=None) as batch_op:
        batch_op.drop_index("ix_provider_webhooks_received")
    op.drop_table("provider_webhooks")
