"""The core demo: a simulated business driving the core's service layer writes a living,
contract-valid history to the outbox, which ingestion loads whole; the same seed gives the same
business; and the money and periods in the events add up, checked from the events alone."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from core.clock import FixedClock, SystemClock
from core.migrate import upgrade
from core.schema import OUTBOX, Payment
from core.unit import Core
from foundation.contract import validate_event
from ingestion.loader import connect
from ingestion.simulator.through_core import CoreDemoSummary, demo_window, simulate_via_core
from ingestion.sources.core_outbox import pull_outbox

CUSTOMERS, MONTHS, SEED = 150, 4, 7
END = datetime(2026, 6, 1, tzinfo=UTC)


@dataclass
class Demo:
    url: str
    summary: CoreDemoSummary
    events: list[dict]  # the outbox, in write (seq) order


def run_demo(folder: Path, seed: int = SEED, customers: int = CUSTOMERS) -> Demo:
    url = f"sqlite:///{folder / 'core.db'}"
    upgrade(url)
    core = Core(url, clock=FixedClock(demo_window(MONTHS, END)[0]))
    try:
        summary = simulate_via_core(core, customers=customers, months=MONTHS, seed=seed, end=END)
    finally:
        core.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            texts = conn.execute(select(OUTBOX.c.envelope).order_by(OUTBOX.c.seq)).scalars()
            events = [json.loads(t) for t in texts]
    finally:
        engine.dispose()
    return Demo(url, summary, events)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Demo:
    return run_demo(tmp_path_factory.mktemp("core-demo"))


def of_type(demo: Demo, event_type: str) -> list[dict]:
    return [e for e in demo.events if e["event_type"] == event_type]


def by_subscription(demo: Demo) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for e in demo.events:
        if "subscription_id" in e["data"]:
            out[e["data"]["subscription_id"]].append(e)
    return out


def test_every_event_is_valid_and_the_business_is_alive(demo: Demo):
    now = datetime.now(UTC)
    bad = [(e["event_type"], validate_event(e, now=now).detail) for e in demo.events]
    assert [b for b in bad if b[1]] == []
    start, end = demo.summary.start, demo.summary.end
    occurred = [datetime.fromisoformat(e["occurred_at"]) for e in demo.events]
    assert start <= min(occurred) and max(occurred) <= end == END

    counts = demo.summary.by_type
    assert counts["customer.created"] == CUSTOMERS
    for event_type in (
        "offer.published", "subscription.started", "subscription.renewed", "payment.succeeded",
        "payment.failed", "payment.refunded", "subscription.cancelled", "subscription.ended",
        "subscription.changed", "subscription.reactivated", "purchase.completed",
        "coupon.redeemed", "retention.action_taken", "support.ticket_opened",
        "support.ticket_resolved", "engagement.activity",
    ):  # fmt: skip
        assert counts.get(event_type, 0) > 0, event_type

    trials = [e for e in of_type(demo, "subscription.started") if "trial_ends_at" in e["data"]]
    assert trials and demo.summary.billing["converted"] > 0
    ended = {e["data"]["ended_reason"] for e in of_type(demo, "subscription.ended")}
    assert {"cancelled", "payment_failed"} <= ended
    voluntary = [
        e["data"] for e in of_type(demo, "subscription.cancelled")
        if e["data"]["initiated_by"] == "customer" and e["data"]["reason"] != "payment_failed"
    ]  # fmt: skip
    assert len({v["reason"] for v in voluntary}) >= 3

    # dunning both ways: a declined renewal paid on a retry, and retries that run out
    recovered = []
    for sid, events in by_subscription(demo).items():
        payments = [e["event_type"] for e in events if e["event_type"].startswith("payment.")]
        first_failure = payments.index("payment.failed") if "payment.failed" in payments else None
        if first_failure is not None and "payment.succeeded" in payments[first_failure:]:
            recovered.append(sid)
    assert recovered and demo.summary.billing["recovered"] > 0
    assert demo.summary.billing["ended_unpaid"] > 0
    codes = {e["data"]["failure_code"] for e in of_type(demo, "payment.failed")}
    assert "insufficient_funds" in codes

    kinds = {e["data"]["offer_type"] for e in of_type(demo, "purchase.completed")}
    assert kinds == {"pass", "tvod", "live_ppv"}
    assert any("csat" in e["data"] for e in of_type(demo, "support.ticket_resolved"))
    groups = {e["data"]["group"] for e in of_type(demo, "retention.action_taken")}
    assert groups == {"treatment", "control"}
    assert any(e["data"].get("campaign_id") for e in of_type(demo, "coupon.redeemed"))
    for e in of_type(demo, "engagement.activity"):
        span = datetime.fromisoformat(e["data"]["period_end"]) - datetime.fromisoformat(
            e["data"]["period_start"]
        )
        assert timedelta(0) < span <= timedelta(days=7)


def test_the_outbox_loads_whole_into_the_warehouse(demo: Demo, tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        report = pull_outbox(con, demo.url, now=datetime.now(UTC))
        assert (report.quarantined, report.duplicates) == (0, 0)
        raw = con.execute("select count(*) from raw.events").fetchone()[0]
        quarantined = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    finally:
        con.close()
    assert raw == report.loaded == demo.summary.events == len(demo.events)
    assert quarantined == 0


def test_the_same_seed_gives_the_same_business(demo: Demo, tmp_path: Path):
    again = run_demo(tmp_path / "again").summary
    assert again.by_type == demo.summary.by_type
    assert (again.billing, again.refused) == (demo.summary.billing, demo.summary.refused)
    other = run_demo(tmp_path / "other", seed=SEED + 1).summary
    assert other.by_type != demo.summary.by_type


def test_periods_are_contiguous_and_nothing_follows_an_end(demo: Demo):
    """Recomputed from the events: each renewal starts where the paid (or trial) period
    before it ended (later only after a pause), is paid its price less discount at once, and
    no subscription event or payment follows the subscription's end."""
    for sid, events in by_subscription(demo).items():
        assert events[0]["event_type"] in ("subscription.started", "coupon.redeemed"), sid
        started = next(e for e in events if e["event_type"] == "subscription.started")
        period_end = started["data"]["current_period_end"]
        paused = False
        for k, e in enumerate(events):
            kind, data = e["event_type"], e["data"]
            if kind == "subscription.resumed":
                paused = True
            elif kind == "subscription.renewed":
                assert data["period_start"] == period_end or (
                    paused and data["period_start"] > period_end
                ), sid
                period_end, paused = data["period_end"], False
                due = data["price_minor"] - data["discount_minor"]
                if due > 0:
                    paid = events[k + 1]
                    assert paid["event_type"] == "payment.succeeded", sid
                    assert paid["data"]["amount_minor"] == due, sid
            elif kind == "subscription.ended":
                assert k == len(events) - 1, f"{sid}: {[x['event_type'] for x in events[k:]]}"


def test_money_in_the_events_matches_the_core_payments(demo: Demo):
    """Per customer: paid − refunded − charged back from the events equals what the core's
    payments table keeps, and the declined attempts match too."""
    net: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for e in demo.events:
        kind, data, who = e["event_type"], e["data"], e["customer_id"]
        if kind == "payment.succeeded":
            net[who] += data["amount_minor"]
        elif kind in ("payment.refunded", "payment.chargeback"):
            net[who] -= data["amount_minor"]
        elif kind == "payment.failed":
            failed[who] += 1
    engine = create_engine(demo.url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Payment.customer_id, Payment.status, Payment.amount_minor,
                       Payment.refunded_minor, Payment.charged_back_minor)
            ).all()  # fmt: skip
    finally:
        engine.dispose()
    table_net: dict[str, int] = defaultdict(int)
    table_failed: dict[str, int] = defaultdict(int)
    for who, status, amount, refunded, charged_back in rows:
        if status == "succeeded":
            table_net[who] += amount - refunded - charged_back
        else:
            table_failed[who] += 1
    assert dict(net) == dict(table_net)
    assert dict(failed) == dict(table_failed)
    assert sum(net.values()) > 0


def test_refusals_and_the_default_window(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'core.db'}"
    upgrade(url)
    start, end = demo_window(1)
    assert end == datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for clock, why in ((SystemClock(), "FixedClock"), (FixedClock(end), "after the window start")):
        core = Core(url, clock=clock)
        try:
            with pytest.raises(ValueError, match=why):
                simulate_via_core(core, customers=3, months=1, seed=1)
        finally:
            core.close()
    for attempt in ("fresh", "again"):
        core = Core(url, clock=FixedClock(start))
        try:
            if attempt == "again":
                with pytest.raises(ValueError, match="empty core"):
                    simulate_via_core(core, customers=3, months=1, seed=1)
                continue
            summary = simulate_via_core(core, customers=3, months=1, seed=1)
            assert (summary.start, summary.end, core.clock.now()) == (start, end, end)
            assert summary.by_type["customer.created"] == 3
            assert str(summary).startswith("core demo: 3 customers × 1 months")
        finally:
            core.close()
