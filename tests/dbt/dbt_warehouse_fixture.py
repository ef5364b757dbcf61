"""A tiny hand-written warehouse (raw.events, raw.fx_rates, raw.currencies) for the dbt tests.

Expected values in test_dbt_project.py are computed by hand from these events.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.loader.warehouse import RAW_DDL as WAREHOUSE_DDL

RAW_DDL = (
    WAREHOUSE_DDL
    + """
create table raw.fx_rates (
    rate_date          date           not null,
    currency           varchar        not null,
    reporting_currency varchar        not null,
    rate               decimal(18,10) not null
);
create table raw.currencies (
    currency         varchar      not null,
    minor_units      integer      not null,
    minor_unit_value decimal(10,6) not null
);
"""
)

_counter = 0


def ev(event_type: str, occurred_at: str, customer_id: str | None, **data) -> dict:
    global _counter
    _counter += 1
    return {
        "event_id": f"t-{_counter:05d}",
        "event_type": event_type,
        "occurred_at": occurred_at,
        "customer_id": customer_id,
        "data": data,
    }


def start(
    cid,
    sid,
    at,
    price,
    period="P1M",
    currency="EUR",
    trial_ends_at=None,
    platform="web",
    offer="monthly",
):
    data = dict(
        subscription_id=sid,
        offer_id=offer,
        platform=platform,
        price_minor=price,
        currency=currency,
        billing_period=period,
        discount_minor=0,
        current_period_end=at,
    )
    if trial_ends_at:
        data["trial_ends_at"] = trial_ends_at
    return ev("subscription.started", at, cid, **data)


def customer(cid, at, country, platform):
    return ev(
        "customer.created",
        at,
        cid,
        country=country,
        signup_platform=platform,
        acquisition_channel="organic",
    )


def offer(offer_id: str, title: str, billing_period: str, price_minor: int) -> dict:
    return ev(
        "offer.published",
        "2025-01-01T00:00:00Z",
        None,
        offer_id=offer_id,
        title=title,
        offer_type="subscription",
        billing_period=billing_period,
        price_minor=price_minor,
        currency="EUR",
    )


def scenario_events() -> list[dict]:
    """Ten paying customers in January 2025, then movements of every kind in February and March."""
    e = [offer("monthly", "Monthly", "P1M", 999), offer("annual", "Annual", "P1Y", 11988)]
    for cid, country, platform in [
        ("c1", "DE", "web"),
        ("c2", "US", "ios"),
        ("c3", "FR", "android"),
        ("c4", "DE", "web"),
        ("c5", "DE", "web"),
        ("c6", "JP", "ios"),
        ("c7", "GB", "web"),
        ("c8", "DE", "web"),
        ("c9", "DE", "web"),
        ("c10", "DE", "web"),
        ("c11", "DE", "web"),
    ]:
        e.append(customer(cid, "2025-01-01T08:00:00Z", country, platform))
    e += [
        # c1: P1Y 119.88 EUR => 9.99 / month
        start("c1", "s1", "2025-01-10T09:00:00Z", 11988, "P1Y", offer="annual"),
        # c2: USD 12.99 / month; USD rate 0.9 then 0.8 from 2025-02-10 (FX only)
        start("c2", "s2", "2025-01-05T09:00:00Z", 1299, currency="USD", platform="ios"),
        # c3: 7-day trial, paid from 2025-01-10, ends for payment_failed => involuntary churn
        start(
            "c3",
            "s3",
            "2025-01-03T09:00:00Z",
            999,
            trial_ends_at="2025-01-10T09:00:00Z",
            platform="android",
        ),
        ev(
            "payment.failed",
            "2025-02-10T09:00:00Z",
            "c3",
            payment_id="p3",
            subscription_id="s3",
            amount_minor=999,
            currency="EUR",
            provider="adyen",
            failure_code="insufficient_funds",
            attempt=1,
        ),
        ev(
            "subscription.ended",
            "2025-02-15T09:00:00Z",
            "c3",
            subscription_id="s3",
            ended_reason="payment_failed",
        ),
        # c4: cancels during dunning => voluntary although ended for payment_failed
        start("c4", "s4", "2025-01-20T09:00:00Z", 999),
        ev(
            "payment.failed",
            "2025-02-20T09:00:00Z",
            "c4",
            payment_id="p4",
            subscription_id="s4",
            amount_minor=999,
            currency="EUR",
            provider="adyen",
            failure_code="card_expired",
            attempt=1,
        ),
        ev(
            "subscription.cancelled",
            "2025-02-21T09:00:00Z",
            "c4",
            subscription_id="s4",
            effective_at="2025-02-25T09:00:00Z",
            reason="too_expensive",
            initiated_by="customer",
        ),
        ev(
            "subscription.ended",
            "2025-02-25T09:00:00Z",
            "c4",
            subscription_id="s4",
            ended_reason="payment_failed",
        ),
        # c5: upgrade to 14.99 on 2025-02-01 (+5.00), downgrade to 7.99 on 2025-03-01 (-7.00)
        start("c5", "s5", "2025-01-02T09:00:00Z", 999),
        ev(
            "subscription.changed",
            "2025-01-31T20:00:00Z",
            "c5",
            subscription_id="s5",
            effective_at="2025-02-01T00:00:00+01:00",
            offer_id="premium",
            price_minor=1499,
            discount_minor=0,
            currency="EUR",
            billing_period="P1M",
        ),  # 2025-01-31T23:00Z: the change is on 2025-01-31 UTC
        ev(
            "subscription.changed",
            "2025-02-20T10:00:00Z",
            "c5",
            subscription_id="s5",
            effective_at="2025-03-01T10:00:00Z",
            offer_id="premium",
            price_minor=1499,
            discount_minor=700,
            currency="EUR",
            billing_period="P1M",
        ),
        # c6: JPY 1200 / month at 0.0065 => 7.80 EUR
        start("c6", "s6", "2025-01-15T09:00:00Z", 1200, currency="JPY", platform="ios"),
        # c7: pause on 2025-02-05, resume on 2025-03-05
        start("c7", "s7", "2025-01-05T09:00:00Z", 999),
        ev(
            "subscription.paused",
            "2025-02-05T09:00:00Z",
            "c7",
            subscription_id="s7",
            resume_at="2025-03-05T09:00:00Z",
        ),
        ev("subscription.resumed", "2025-03-05T09:00:00Z", "c7", subscription_id="s7"),
        # c8: voluntary churn on 2025-02-06, reactivation with a new subscription on 2025-03-10
        start("c8", "s8", "2025-01-06T09:00:00Z", 999),
        ev(
            "subscription.cancelled",
            "2025-01-20T09:00:00Z",
            "c8",
            subscription_id="s8",
            effective_at="2025-02-06T09:00:00Z",
            reason="not_using",
            initiated_by="customer",
        ),
        ev(
            "subscription.ended",
            "2025-02-06T09:00:00Z",
            "c8",
            subscription_id="s8",
            ended_reason="cancelled",
        ),
        start("c8", "s8b", "2025-03-10T09:00:00Z", 999),
        # c9: P3M 29.97 => 9.99; paid 29.97, refunded 10.00; a 5.00 pass in February
        start("c9", "s9", "2025-01-08T09:00:00Z", 2997, "P3M"),
        ev(
            "payment.succeeded",
            "2025-01-08T09:00:01Z",
            "c9",
            payment_id="p9",
            subscription_id="s9",
            amount_minor=2997,
            currency="EUR",
            provider="stripe",
        ),
        ev(
            "payment.refunded",
            "2025-01-20T09:00:00Z",
            "c9",
            payment_id="p9",
            refund_id="r9",
            amount_minor=1000,
            currency="EUR",
        ),
        ev(
            "purchase.completed",
            "2025-02-02T09:00:00Z",
            "c9",
            purchase_id="pu9",
            offer_id="pass30",
            offer_type="pass",
            platform="web",
            amount_minor=500,
            currency="EUR",
        ),
        # c10: paused on 2025-02-10, ends while paused on 2025-03-12 => churn row with mrr_change 0
        start("c10", "s10", "2025-01-04T09:00:00Z", 999),
        ev("subscription.paused", "2025-02-10T09:00:00Z", "c10", subscription_id="s10"),
        ev(
            "subscription.ended",
            "2025-03-12T09:00:00Z",
            "c10",
            subscription_id="s10",
            ended_reason="cancelled",
        ),
        # c11: in trial at the watermark => trial MRR, no MRR
        start("c11", "s11", "2025-03-20T09:00:00Z", 999, trial_ends_at="2025-04-03T09:00:00Z"),
        # --- metric-layer additions (no MRR effect, so every earlier expected value holds) ---
        # c2: a failed renewal recovered 7 days later (inside the 14-day dunning window)
        ev(
            "payment.failed",
            "2025-02-05T09:00:00Z",
            "c2",
            payment_id="p2f",
            subscription_id="s2",
            amount_minor=1299,
            currency="USD",
            provider="adyen",
            failure_code="insufficient_funds",
            attempt=1,
        ),
        ev(
            "payment.succeeded",
            "2025-02-12T09:00:00Z",
            "c2",
            payment_id="p2s",
            subscription_id="s2",
            amount_minor=1299,
            currency="USD",
            provider="adyen",
        ),
        # c6: a failed renewal paid 19 days later (outside the window: not recovered)
        ev(
            "payment.failed",
            "2025-03-01T09:00:00Z",
            "c6",
            payment_id="p6f",
            subscription_id="s6",
            amount_minor=1200,
            currency="JPY",
            provider="app_store",
            failure_code="card_expired",
            attempt=1,
        ),
        ev(
            "payment.succeeded",
            "2025-03-20T09:00:00Z",
            "c6",
            payment_id="p6s",
            subscription_id="s6",
            amount_minor=1200,
            currency="JPY",
            provider="app_store",
        ),
        # c1: a cancellation withdrawn (not scheduled churn); c9: a cancellation pending at the watermark
        ev(
            "subscription.cancelled",
            "2025-03-01T09:00:00Z",
            "c1",
            subscription_id="s1",
            effective_at="2026-01-10T09:00:00Z",
            reason="too_expensive",
            initiated_by="customer",
        ),
        ev("subscription.reactivated", "2025-03-05T09:00:00Z", "c1", subscription_id="s1"),
        ev(
            "subscription.cancelled",
            "2025-03-15T09:00:00Z",
            "c9",
            subscription_id="s9",
            effective_at="2025-04-08T09:00:00Z",
            reason="too_expensive",
            initiated_by="customer",
        ),
        # c8: a billing ticket in January (before its February churn)
        ev(
            "support.ticket_opened",
            "2025-01-20T10:00:00Z",
            "c8",
            ticket_id="k8",
            channel="email",
            category="billing",
            priority="normal",
        ),
        ev(
            "support.ticket_resolved",
            "2025-01-21T11:00:00Z",
            "c8",
            ticket_id="k8",
            resolution_minutes=60,
            csat=4,
        ),
        # the watermark
        ev(
            "engagement.activity",
            "2025-03-31T12:00:00Z",
            "c1",
            period_start="2025-03-24T00:00:00Z",
            period_end="2025-03-31T00:00:00Z",
            minutes_watched=300,
            sessions=7,
            platform="web",
        ),
    ]
    return e


def fx_rows(first: dt.date, last: dt.date) -> list[tuple]:
    rows = []
    d = first
    while d <= last:
        rows.append((d, "EUR", "EUR", Decimal("1")))
        rows.append(
            (d, "USD", "EUR", Decimal("0.9") if d < dt.date(2025, 2, 10) else Decimal("0.8"))
        )
        rows.append((d, "JPY", "EUR", Decimal("0.0065")))
        d += dt.timedelta(days=1)
    return rows


def _utc_naive(ts: str) -> dt.datetime:
    return (
        dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(dt.UTC).replace(tzinfo=None)
    )


def build_warehouse(path: Path, events: list[dict] | None = None) -> Path:
    events = scenario_events() if events is None else events
    con = duckdb.connect(str(path))
    try:
        con.execute(RAW_DDL)
        now = dt.datetime(2025, 4, 1)
        rows = [
            (
                e["event_id"],
                e["event_type"],
                1,
                _utc_naive(e["occurred_at"]),
                "simulator",
                e["customer_id"],
                json.dumps(e["data"]),
                "batch-1",
                "fixture.ndjson",
                i + 1,
                now,
            )
            for i, e in enumerate(events)
        ]
        con.executemany("insert into raw.events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        first = min(_utc_naive(e["occurred_at"]).date() for e in events) - dt.timedelta(days=1)
        last = max(_utc_naive(e["occurred_at"]).date() for e in events)
        con.executemany("insert into raw.fx_rates values (?, ?, ?, ?)", fx_rows(first, last))
        con.execute(
            "insert into raw.currencies values ('EUR', 2, 0.01), ('USD', 2, 0.01), ('JPY', 0, 1), ('GBP', 2, 0.01)"
        )
        con.execute("checkpoint")
    finally:
        con.close()
    return path


def leakage_and_coupon_events() -> list[dict]:
    """A second small history: a coupon that expires (price back up: an expansion) and two twin
    customers, t1 and t2, identical up to 2025-01-31 23:59:59; t1 then has events of every kind at
    2025-02-01 00:00:00, one second after the January month end (one backdated to 2025-01-20)."""
    e = [offer("monthly", "Monthly", "P1M", 999)]
    for cid in ("k1", "t1", "t2"):
        e.append(customer(cid, "2025-01-01T08:00:00Z", "DE", "web"))
    coupon_start = start("k1", "ks1", "2025-01-10T09:00:00Z", 999)
    coupon_start["data"].update(discount_minor=500, coupon_id="WELCOME50")
    e += [
        coupon_start,
        ev(
            "coupon.redeemed",
            "2025-01-10T09:00:01Z",
            "k1",
            coupon_id="WELCOME50",
            campaign_id="welcome",
            subscription_id="ks1",
            discount_type="percent",
            discount_value=50,
            duration="once",
        ),
        # the coupon ends after one period: the price goes back to 9.99
        ev(
            "subscription.changed",
            "2025-02-10T09:00:00Z",
            "k1",
            subscription_id="ks1",
            effective_at="2025-02-10T09:00:00Z",
            offer_id="monthly",
            price_minor=999,
            discount_minor=0,
            currency="EUR",
            billing_period="P1M",
        ),
    ]
    for cid in ("t1", "t2"):
        e += [
            start(cid, f"{cid}s", "2025-01-05T09:00:00Z", 999),
            ev(
                "engagement.activity",
                "2025-01-31T23:59:59Z",
                cid,
                period_start="2025-01-24T00:00:00Z",
                period_end="2025-01-31T00:00:00Z",
                minutes_watched=120,
                sessions=4,
                platform="web",
            ),
        ]
    after = "2025-02-01T00:00:00Z"  # one second after 2025-01-31 23:59:59
    e += [
        ev(
            "engagement.activity",
            after,
            "t1",
            period_start="2025-01-25T00:00:00Z",
            period_end="2025-02-01T00:00:00Z",
            minutes_watched=999,
            sessions=9,
            platform="web",
        ),
        ev(
            "payment.failed",
            after,
            "t1",
            payment_id="pt1",
            subscription_id="t1s",
            amount_minor=999,
            currency="EUR",
            provider="adyen",
            failure_code="insufficient_funds",
            attempt=1,
        ),
        ev(
            "support.ticket_opened",
            after,
            "t1",
            ticket_id="kt1",
            channel="chat",
            category="technical",
            priority="high",
        ),
        ev(
            "support.ticket_resolved",
            after,
            "t1",
            ticket_id="kt1",
            resolution_minutes=1,
            csat=1,
        ),
        ev(
            "subscription.cancelled",
            after,
            "t1",
            subscription_id="t1s",
            effective_at="2025-03-05T09:00:00Z",
            reason="too_expensive",
            initiated_by="customer",
        ),
        # reported after the month end but effective (backdated) on 2025-01-20
        ev(
            "subscription.changed",
            after,
            "t1",
            subscription_id="t1s",
            effective_at="2025-01-20T00:00:00Z",
            offer_id="monthly",
            price_minor=1499,
            discount_minor=0,
            currency="EUR",
            billing_period="P1M",
        ),
        # the watermark
        ev(
            "engagement.activity",
            "2025-03-31T12:00:00Z",
            "t2",
            period_start="2025-03-24T00:00:00Z",
            period_end="2025-03-31T00:00:00Z",
            minutes_watched=10,
            sessions=1,
            platform="web",
        ),
    ]
    return e
