"""`marts.customer_timeline` against an independent computation on a small hand-written history.

The warehouse is the hand-written scenario of ``dbt_warehouse_fixture.py`` plus a few events of
the families it lacks (retention action, chargeback, erasure, an event without a customer).
Expected rows are computed here in Python straight from the event payloads (not from any dbt
model): one row per event of a customer except engagement reports, with its ids, its money in
minor units and in the reporting currency at the fixture's rates. Also checked: hand-written
summaries, the physical order by customer (what makes a lookup fast), no personal data of an
erased customer, and the as-of date (``as_of`` var) cutting later events.
"""

from __future__ import annotations

import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from dbt_warehouse_fixture import (  # noqa: E402
    _utc_naive,
    build_warehouse,
    customer,
    ev,
    scenario_events,
)

from pipelines.dbt_project import dbt_vars  # noqa: E402
from tests.dbt_support import copy_project, failures, run_dbt  # noqa: E402

SELECT = [
    "build",
    "--select",
    "+customer_timeline",
    "--exclude",
    "resource_type:unit_test",
    "--indirect-selection",
    "cautious",  # not the tests that also read models outside the selection
]
MINOR_UNIT = {"EUR": Decimal("0.01"), "USD": Decimal("0.01"), "JPY": Decimal("1")}
FAMILIES_WITH_SUBSCRIPTION = ("subscription", "payment", "coupon")
PRICED = ("subscription.started", "subscription.changed", "subscription.renewed")


def extra_events() -> list[dict]:
    return [
        ev(
            "retention.action_taken",
            "2025-03-02T10:00:00Z",
            "c5",
            campaign_id="winback_1",
            action="coupon_offered",
            group="treatment",
            coupon_id="STAY20",
        ),
        ev(
            "payment.chargeback",
            "2025-03-03T10:00:00Z",
            "c2",
            payment_id="p2s",
            amount_minor=1299,
            currency="USD",
            reason="fraudulent",
        ),
        ev(
            "coupon.redeemed",
            "2025-03-02T11:00:00Z",
            "c5",
            coupon_id="STAY20",
            campaign_id="winback_1",
            subscription_id="s5",
            discount_type="percent",
            discount_value=12.5,
            duration="P3M",
        ),
        # an erased customer: the sign-up line must not show their country any more
        customer("c12", "2025-01-02T08:00:00Z", "FR", "android"),
        ev("customer.erased", "2025-03-04T08:00:00Z", "c12"),
        # an offer (no customer) is not a customer's event
        ev(
            "offer.published",
            "2025-03-05T00:00:00Z",
            None,
            offer_id="x",
            title="X",
            offer_type="subscription",
            billing_period="P1M",
            price_minor=100,
            currency="EUR",
        ),
    ]


def rate(currency: str, day: dt.date) -> Decimal:
    """The fixture's rates (dbt_warehouse_fixture.fx_rows)."""
    if currency == "USD":
        return Decimal("0.9") if day < dt.date(2025, 2, 10) else Decimal("0.8")
    return {"EUR": Decimal("1"), "JPY": Decimal("0.0065")}[currency]


def expected_rows(events: list[dict], as_of: dt.date) -> set[tuple]:
    rows = set()
    for e in events:
        family = e["event_type"].split(".")[0]
        occurred = _utc_naive(e["occurred_at"])
        if e["customer_id"] is None or family in ("engagement", "offer") or occurred.date() > as_of:
            continue
        data = e["data"]
        minor = currency = None
        if family in ("payment", "purchase"):
            minor, currency = data.get("amount_minor"), data.get("currency")
        elif e["event_type"] in PRICED and data.get("price_minor") is not None:
            minor = data["price_minor"] - data.get("discount_minor", 0)
            currency = data.get("currency")
        amount = (
            None
            if minor is None
            else (minor * MINOR_UNIT[currency] * rate(currency, occurred.date())).quantize(
                Decimal("1e-16")
            )
        )
        rows.add(
            (
                e["customer_id"],
                occurred,
                e["event_id"],
                e["event_type"],
                family,
                data.get("subscription_id") if family in FAMILIES_WITH_SUBSCRIPTION else None,
                data.get("offer_id") if family in ("subscription", "purchase") else None,
                data.get("ticket_id") if family == "support" else None,
                minor,
                currency,
                amount,
            )
        )
    return rows


COLUMNS = (
    "customer_id, occurred_at, event_id, event_type, event_family, subscription_id, offer_id,"
    " ticket_id, amount_minor, currency, amount"
)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return scenario_events() + extra_events()


@pytest.fixture(scope="module")
def built(events, tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("timeline")
    project = copy_project(root)
    warehouse = build_warehouse(root / "warehouse.duckdb", events)
    result = run_dbt(SELECT, project, {"CHURNIQ_WAREHOUSE": str(warehouse)})
    assert result.exception is None, result.exception
    assert not failures(result), failures(result)  # the mart's data tests included
    return project, warehouse


@pytest.fixture(scope="module")
def con(built):
    con = duckdb.connect(str(built[1]), read_only=True)
    yield con
    con.close()


def test_rows_match_an_independent_computation(con, events) -> None:
    got = set(con.execute(f"select {COLUMNS} from marts.customer_timeline").fetchall())
    want = expected_rows(events, dt.date(2025, 3, 31))  # the watermark's day
    assert got == want
    # the history has events of every family but engagement, which is left out
    families = con.execute("select distinct event_family from marts.customer_timeline").fetchall()
    assert {f for (f,) in families} == {
        "customer",
        "subscription",
        "payment",
        "purchase",
        "coupon",
        "retention",
        "support",
    }


@pytest.mark.parametrize(
    "customer_id, event_type, summary",
    [
        (
            "c3",
            "subscription.started",
            "Subscription started: offer monthly (P1M) on android, trial until 2025-01-10",
        ),
        ("c3", "payment.failed", "Payment failed (insufficient_funds), attempt 1"),
        ("c3", "subscription.ended", "Subscription ended (payment_failed)"),
        (
            "c4",
            "subscription.cancelled",
            "Cancellation requested by customer (too_expensive), effective 2025-02-25",
        ),
        ("c7", "subscription.paused", "Paused until 2025-03-05"),
        ("c8", "support.ticket_opened", "Ticket opened: billing via email (normal priority)"),
        ("c8", "support.ticket_resolved", "Ticket resolved in 60 min, CSAT 4/5"),
        ("c9", "payment.refunded", "Refunded"),
        ("c9", "purchase.completed", "Purchased pass: offer pass30"),
        ("c2", "payment.chargeback", "Chargeback (fraudulent)"),
        (
            "c5",
            "retention.action_taken",
            "Retention action: coupon_offered (campaign winback_1, treatment)",
        ),
        ("c5", "coupon.redeemed", "Coupon redeemed: STAY20 (percent 12.5, P3M)"),
        ("c1", "customer.created", "Signed up on web in DE via organic"),
        ("c12", "customer.created", "Signed up"),  # erased: no country, platform or channel
        ("c12", "customer.erased", "Personal data erased (right to erasure)"),
    ],
)
def test_summaries(con, customer_id: str, event_type: str, summary: str) -> None:
    got = con.execute(
        "select summary from marts.customer_timeline where customer_id = ? and event_type = ?",
        [customer_id, event_type],
    ).fetchall()
    assert got == [(summary,)]


def test_money_in_minor_units_and_reporting_currency(con) -> None:
    # c2 pays 12.99 USD on 2025-02-12, after the rate fell to 0.8: 10.392 EUR
    assert con.execute(
        "select amount_minor, currency, amount from marts.customer_timeline"
        " where customer_id = 'c2' and event_type = 'payment.succeeded'"
    ).fetchall() == [(1299, "USD", Decimal("10.392"))]
    # c6's failed renewal of 1,200 JPY at 0.0065: 7.80 EUR
    assert con.execute(
        "select amount from marts.customer_timeline"
        " where customer_id = 'c6' and event_type = 'payment.failed'"
    ).fetchall() == [(Decimal("7.8"),)]


def test_physically_ordered_by_customer(con) -> None:
    """Rows in storage order (no ORDER BY) come sorted by customer: zone maps can skip."""
    stored = [
        r[0] for r in con.execute("select customer_id from marts.customer_timeline").fetchall()
    ]
    assert stored == sorted(stored)


def test_no_personal_columns(con) -> None:
    columns = {
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = 'marts' and table_name = 'customer_timeline'"
        ).fetchall()
    }
    assert not columns & {"email", "name", "first_name", "last_name", "phone", "address"}


def test_as_of_date_cuts_later_events(built, events) -> None:
    project, warehouse = built
    copy = warehouse.with_name("as_of.duckdb")
    copy.write_bytes(warehouse.read_bytes())
    result = run_dbt(
        [*SELECT, "--vars", dbt_vars(as_of="2025-02-14")], project, {"CHURNIQ_WAREHOUSE": str(copy)}
    )
    assert not failures(result), failures(result)
    with duckdb.connect(str(copy), read_only=True) as con:
        got = set(con.execute(f"select {COLUMNS} from marts.customer_timeline").fetchall())
    assert got == expected_rows(events, dt.date(2025, 2, 14))
    assert max(r[1] for r in got).date() <= dt.date(2025, 2, 14)
