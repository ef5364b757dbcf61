"""Migration 0002 on a database that the races of issue 14 left behind: erased customers with
personal data written back, trials recorded only on subscriptions, and two live subscriptions
to one offer (which it refuses to guess about). On SQLite the customers table is rebuilt with
rows of other tables referring to it."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from core import customers, subscriptions
from core.migrate import alembic_config, current_revision, upgrade
from core.schema import Subscription
from core.unit import Core
from tests.core.builders import catalogue, customer


def _sql(core: Core, statement: str, **params) -> list[tuple]:
    with core.engine.begin() as con:
        result = con.execute(text(statement), params)
        return [tuple(r) for r in result] if result.returns_rows else []


def _downgrade(url: str) -> None:
    command.downgrade(alembic_config(url), "0001")


def test_0002_repairs_what_it_can_and_refuses_duplicate_live_subscriptions(db_url, core):
    catalogue(core)
    with core.unit() as u:
        keeps, erased = customer(u), customer(u)
    for cid in (keeps, erased):
        with core.unit() as u:
            subscriptions.start_subscription(
                u, customer_id=cid, offer_id="monthly", platform="web", currency="EUR"
            )
    with core.unit() as u:
        customers.erase_customer(u, erased)
    core.close()

    _downgrade(db_url)
    assert current_revision(db_url) == "0001"
    _sql(core, "update customers set email = 'back@example.com', country = 'DE' where id = :c",
         c=erased)  # fmt: skip
    assert upgrade(db_url, "0002") == "0002"
    assert _sql(core, "select email, country from customers where id = :c", c=erased) == [
        (None, None)
    ]
    grants = _sql(core, "select customer_id, offer_id from trial_grants order by customer_id")
    assert sorted(grants) == sorted([(keeps, "monthly"), (erased, "monthly")])
    payment_methods = _sql(core, "select count(*) from payment_methods")[0][0]
    assert payment_methods == 2  # the rows that refer to the rebuilt customers table

    _downgrade(db_url)
    sub = _sql(core, "select id from subscriptions where customer_id = :c", c=keeps)[0][0]
    columns = [c.name for c in Subscription.__table__.columns if c.name != "id"]
    _sql(core, f"insert into subscriptions (id, {', '.join(columns)}) "
               f"select 'sub_twin', {', '.join(columns)} from subscriptions where id = :s",
         s=sub)  # fmt: skip
    with pytest.raises(RuntimeError, match=f"more than one live subscription.*{keeps}/monthly"):
        upgrade(db_url, "0002")
    assert current_revision(db_url) == "0001"
