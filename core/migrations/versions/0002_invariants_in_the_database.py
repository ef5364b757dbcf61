"""the core's invariants in the database: one live subscription per customer and offer, one
trial per customer and offer, erased customers stay blank

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 18:00:00

Before this revision the service checked these rules alone, and parallel requests on
PostgreSQL could break them (issue 14). Upgrading:

- refuses to run, naming them, where a customer has two live subscriptions to one offer (which
  one to end, and whether to refund, is a business decision);
- records one trial per customer and offer from the subscriptions that had one (the first);
- blanks the personal data of erased customers that an edit wrote back.

On SQLite the CHECK needs the customers table rebuilt (the migration environment turns foreign
key enforcement off around it and checks the keys afterwards).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# frozen copies of core.schema's rules at this revision
LIVE = "status <> 'ended'"
BLANKED = (
    "email",
    "name",
    "external_ref",
    "country",
    "signup_platform",
    "acquisition_channel",
    "marketing_consent",
)
ERASED_IS_BLANK = "erased_at IS NULL OR (" + " AND ".join(f"{c} IS NULL" for c in BLANKED) + ")"


def _refuse_duplicate_live_subscriptions() -> None:
    duplicates = (
        op.get_bind()
        .execute(
            sa.text(
                f"select customer_id, offer_id, count(*) from subscriptions where {LIVE} "
                "group by customer_id, offer_id having count(*) > 1 order by customer_id, offer_id"
            )
        )
        .all()
    )
    if duplicates:
        shown = ", ".join(f"{c}/{o} ({n})" for c, o, n in duplicates[:5])
        more = f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else ""
        raise RuntimeError(
            f"{len(duplicates)} customer(s) have more than one live subscription to one offer: "
            f"{shown}{more}; end the extra ones (churniq core API: POST /subscriptions/{{id}}/end) "
            "and migrate again"
        )


def upgrade() -> None:
    _refuse_duplicate_live_subscriptions()
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index(
            "uq_subscriptions_live_offer",
            ["customer_id", "offer_id"],
            unique=True,
            sqlite_where=sa.text(LIVE),
            postgresql_where=sa.text(LIVE),
        )

    op.create_table(
        "trial_grants",
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=64), nullable=False),
        sa.Column("granted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"]),
        sa.ForeignKeyConstraint(["offer_id"], ["offers.id"]),
        sa.ForeignKeyConstraint(["subscription_id"], ["subscriptions.id"]),
        sa.PrimaryKeyConstraint("customer_id", "offer_id"),
    )
    op.execute(
        "insert into trial_grants (customer_id, offer_id, subscription_id, granted_at) "
        "select customer_id, offer_id, id, started_at from ("
        "  select customer_id, offer_id, id, started_at, row_number() over ("
        "    partition by customer_id, offer_id order by started_at, id) as n"
        "  from subscriptions where trial_ends_at is not null) as trials "
        "where n = 1"
    )

    blank = ", ".join(f"{c} = NULL" for c in BLANKED)
    op.execute(f"update customers set {blank} where erased_at is not null")
    with op.batch_alter_table("customers", schema=None, recreate="auto") as batch_op:
        batch_op.create_check_constraint("ck_customers_erased_blank", ERASED_IS_BLANK)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint("ck_customers_erased_blank", type_="check")
    op.drop_table("trial_grants")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("uq_subscriptions_live_offer")
