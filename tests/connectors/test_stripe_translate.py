"""The Stripe translation, case by case (issue 16, "mapping"): Stripe objects written from
Stripe's documented shapes (`fixtures/stripe/`, `stripe_world.py`) and the real payloads of
`../shared/reference/fixtures/stripe*/`, checked against contract events written out by hand."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.stripe import provider_view, translate_event, translate_objects
from connectors.stripe.vocabulary import contract_minor
from connectors.translation import Translation
from foundation.contract.validate import validate_event
from tests.connectors.stripe_world import StripeAccount, coupon, iso, price, ts

FIXTURES = Path(__file__).parent / "fixtures" / "stripe"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "fixtures"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASIC = price("price_basic", 1000)
DAY1 = ts("2025-01-05")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def events_of(translation: Translation, event_type: str | None = None) -> list[dict]:
    for event in translation.events:
        verdict = validate_event(event, now=NOW)
        assert verdict.ok, (event, verdict)
    return [e for e in translation.events if event_type in (None, e["event_type"])]


def only(translation: Translation, event_type: str) -> dict:
    found = events_of(translation, event_type)
    assert len(found) == 1, (event_type, translation.events)
    return found[0]


def all_of(acct: StripeAccount) -> Translation:
    """Every webhook's translation, each event id once (redeliveries must be identical)."""
    out = Translation()
    seen: dict[str, dict] = {}
    for event in acct.events:
        t = translate_event(event)
        for e in t.events:
            assert seen.setdefault(e["event_id"], e) == e, e["event_id"]
        t.events = [e for e in t.events if seen[e["event_id"]] is e]
        out.extend(t)
    return out


def started(items, **kw) -> tuple[StripeAccount, dict]:
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, items, **kw)
    return acct, only(translate_event(acct.events[0]), "subscription.started")


# -- prices, periods, quantities, items -----------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "count", "period", "mrr"),
    [
        # METRICS.md: price x 1 month / period; a month = 1/12 of a 365-day year
        ("day", 1, "P1D", "304.166667"),  # 10.00 x 365/12
        ("week", 1, "P1W", "43.333333"),  # 10.00 x 52/12
        ("week", 2, "P2W", "21.666667"),  # 10.00 x 52/24
        ("month", 1, "P1M", "10.000000"),
        ("month", 3, "P3M", "3.333333"),  # 10.00 / 3
        ("month", 6, "P6M", "1.666667"),  # 10.00 / 6
        ("year", 1, "P1Y", "0.833333"),  # 10.00 / 12
        ("year", 2, "P2Y", "0.416667"),  # 10.00 / 24
    ],
)
def test_any_interval_and_count_become_a_billing_period(interval, count, period, mrr):
    p = price("price_x", 1000, interval=interval, interval_count=count)
    acct, event = started([(p, 1)])
    assert event["data"]["billing_period"] == period
    assert event["data"]["price_minor"] == 1000
    offer = only(translate_event(acct.events[0]), "offer.published")["data"]
    assert offer == {
        "offer_id": "price_x",
        "title": "prod_price_x",
        "offer_type": "subscription",
        "billing_period": period,
        "price_minor": 1000,
        "currency": "EUR",
    }
    (row,) = provider_view([acct.latest["sub_A"]], as_of=datetime(2025, 1, 6, tzinfo=UTC))
    assert row["mrr"] == Decimal(mrr)


def test_quantities_and_several_items_are_one_subscription():
    addon = price("price_addon", 250)
    _, event = started([(BASIC, 3), (addon, 2)])
    # 3 x 10.00 + 2 x 2.50 = 35.00, the offer of the first item
    assert event["data"]["price_minor"] == 3500
    assert event["data"]["offer_id"] == "price_basic"


def test_documented_2025_subscription_items_metered_and_a_forever_amount_coupon():
    t = translate_event(fixture("subscription_multi_item_basil.json"))
    data = only(t, "subscription.started")["data"]
    # licensed: 3 seats x 15.00 + 2 x 9.99 = 64.98; the metered item adds nothing until invoiced
    assert data == {
        "subscription_id": "sub_1QmultiItem",
        "offer_id": "price_seat",
        "platform": "web",
        "price_minor": 6498,
        "currency": "USD",
        "billing_period": "P1M",
        "discount_minor": 500,  # LOYAL5: 5.00 off, forever
        "coupon_id": "LOYAL5",
        "current_period_end": iso(1741078400),  # from the items (API 2025-03-31)
    }
    redeemed = only(t, "coupon.redeemed")["data"]
    assert redeemed == {
        "coupon_id": "LOYAL5",
        "subscription_id": "sub_1QmultiItem",
        "discount_type": "amount",
        "discount_value": 500,
        "duration": "forever",
    }
    assert {e["data"]["offer_id"] for e in events_of(t, "offer.published")} == {
        "price_seat",
        "price_storage",
        "price_api_calls",
    }


def test_metered_usage_reaches_mrr_through_the_last_finalized_invoice():
    t = translate_event(fixture("invoice_metered_cycle_basil.json"))
    renewed = only(t, "subscription.renewed")["data"]
    # 45.00 seats + 19.98 storage + 17 896 calls x 0.25 = 44.74 usage; 5.00 forever coupon
    assert renewed == {
        "subscription_id": "sub_1QmultiItem",
        "period_start": iso(1738400000),
        "period_end": iso(1743497600),
        "price_minor": 10972,
        "discount_minor": 500,
        "currency": "USD",
    }
    assert not events_of(t, "payment.succeeded")  # open, not paid yet


def test_a_price_without_interval_is_untranslatable():
    one_time = price("price_once", 500, interval=None)
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    event = copy.deepcopy(acct.events[0])
    event["data"]["object"]["items"]["data"][0]["price"] = one_time
    t = translate_event(event)
    assert not events_of(t, "subscription.started")
    assert [u.reason for u in t.untranslatable] == ["price_without_interval"]
    line = t.lines("stripe")[-1]
    assert line["event_type"] == "connector.untranslatable"
    assert line["data"]["payload"] == event["data"]["object"]


# -- currencies ------------------------------------------------------------------------------


def test_zero_decimal_currencies_are_already_minor_units():
    yen = price("price_yen", 1200, currency="jpy")
    won = price("price_won", 9900, currency="krw")
    assert started([(yen, 1)])[1]["data"]["price_minor"] == 1200
    assert started([(won, 1)])[1]["data"]["currency"] == "KRW"
    assert started([(won, 1)])[1]["data"]["price_minor"] == 9900


def test_three_decimal_and_special_currencies():
    # Stripe's thousandths are ISO 4217 minor units of BHD / KWD; ISK comes with two decimals
    assert contract_minor(12340, "BHD") == 12340
    assert contract_minor(12340, "KWD") == 12340
    assert contract_minor(99900, "ISK") == 999
    assert contract_minor(1000, "EUR") == 1000
    # ... but the ECB publishes no BHD rate: untranslatable, with the object kept
    bhd = price("price_bhd", 12340, currency="bhd")
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(bhd, 1)])
    t = translate_event(acct.events[0])
    assert [u.reason for u in t.untranslatable] == ["currency_without_rates"]
    assert not t.events


# -- trials, coupons -------------------------------------------------------------------------


def test_trial_end_becomes_trial_ends_at():
    _, event = started([(BASIC, 1)], trial_days=14)
    assert event["data"]["trial_ends_at"] == iso(DAY1 + 14 * 86400)
    assert event["data"]["current_period_end"] == iso(DAY1 + 14 * 86400)


@pytest.mark.parametrize(
    ("kw", "discount", "redeemed"),
    [
        # 25 % of 20.00 for 3 months: 5.00 off while it lasts
        (
            dict(percent_off=25, duration="repeating", duration_in_months=3),
            500,
            ("percent", 25.0, "P3M"),
        ),
        (dict(amount_off=300, currency="eur", duration="forever"), 300, ("amount", 300, "forever")),
        # once: one invoice cheaper, MRR unchanged
        (dict(percent_off=50, duration="once"), 0, ("percent", 50.0, "once")),
        # more off than the price: at most the price
        (
            dict(amount_off=5000, currency="eur", duration="forever"),
            2000,
            ("amount", 5000, "forever"),
        ),
    ],
)
def test_coupons(kw, discount, redeemed):
    premium = price("price_premium", 2000)
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(premium, 1)], discount_coupon=coupon("C1", **kw))
    t = all_of(acct)
    data = only(t, "subscription.started")["data"]
    assert (data["price_minor"], data["discount_minor"], data["coupon_id"]) == (
        2000,
        discount,
        "C1",
    )
    red = only(t, "coupon.redeemed")["data"]
    assert (red["discount_type"], red["discount_value"], red["duration"]) == redeemed


def test_a_coupon_that_expires_is_a_change_back_to_the_full_price():
    acct = StripeAccount()
    welcome = coupon("W", percent_off=25, duration="repeating", duration_in_months=1)
    acct.subscribe("sub_A", "cus_A", DAY1, [(price("p2", 2000), 1)], discount_coupon=welcome)
    acct.renew("sub_A", ts("2025-02-05"))
    t = all_of(acct)
    changed = only(t, "subscription.changed")["data"]
    assert (changed["price_minor"], changed["discount_minor"]) == (2000, 0)
    assert changed["effective_at"] == iso(ts("2025-02-05"))
    renewed = only(t, "subscription.renewed")["data"]
    assert (renewed["price_minor"], renewed["discount_minor"]) == (2000, 0)


# -- cancellations, pauses -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "feedback", "expected"),
    [
        ("cancellation_requested", "too_expensive", ("too_expensive", "customer")),
        ("cancellation_requested", "unused", ("not_using", "customer")),
        ("cancellation_requested", "switched_service", ("switched_service", "customer")),
        ("cancellation_requested", "low_quality", ("content", "customer")),
        ("cancellation_requested", "missing_features", ("content", "customer")),
        ("cancellation_requested", "customer_service", ("other", "customer")),
        ("cancellation_requested", "too_complex", ("technical", "customer")),
        ("cancellation_requested", "other", ("other", "customer")),
        ("cancellation_requested", None, ("unknown", "customer")),
        ("payment_failed", None, ("payment_failed", "system")),
        ("payment_disputed", None, ("other", "system")),
        (None, None, ("unknown", "merchant")),
    ],
)
def test_immediate_cancellation_reasons(reason, feedback, expected):
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    acct.delete("sub_A", ts("2025-01-20"), reason=reason, feedback=feedback)
    t = translate_event(acct.events[-1])
    cancelled = only(t, "subscription.cancelled")["data"]
    assert (cancelled["reason"], cancelled["initiated_by"]) == expected
    assert cancelled["effective_at"] == iso(ts("2025-01-20"))
    ended = only(t, "subscription.ended")
    assert ended["occurred_at"] == iso(ts("2025-01-20"))
    assert ended["data"]["ended_reason"] == (
        "payment_failed"
        if reason == "payment_failed"
        else "merchant"
        if reason == "payment_disputed"
        else "cancelled"
    )


def test_cancel_at_period_end_is_scheduled_churn_and_withdrawing_it_a_reactivation():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    period_end = acct.latest["sub_A"]["current_period_end"]
    acct.update("sub_A", ts("2025-01-10"), cancel_at_period_end=True, canceled_at=ts("2025-01-10"))
    acct.update("sub_A", ts("2025-01-12"), cancel_at_period_end=False, canceled_at=None)
    cancel = only(translate_event(acct.events[-2]), "subscription.cancelled")
    assert cancel["occurred_at"] == iso(ts("2025-01-10"))
    assert cancel["data"]["effective_at"] == iso(period_end)
    assert not events_of(translate_event(acct.events[-2]), "subscription.ended")
    back = translate_event(acct.events[-1])
    assert only(back, "subscription.reactivated")["data"] == {"subscription_id": "sub_A"}
    assert not events_of(back, "subscription.cancelled")


def test_pause_collection_and_stripe_pauses():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    resumes = ts("2025-03-01")
    acct.update(
        "sub_A", ts("2025-02-01"), pause_collection={"behavior": "void", "resumes_at": resumes}
    )
    acct.update("sub_A", ts("2025-03-01"), pause_collection=None)
    paused = only(translate_event(acct.events[-2]), "subscription.paused")
    assert paused["data"] == {"subscription_id": "sub_A", "resume_at": iso(resumes)}
    assert only(translate_event(acct.events[-1]), "subscription.resumed")["occurred_at"] == iso(
        resumes
    )
    native = copy.deepcopy(acct.events[-1])
    native["type"] = "customer.subscription.paused"
    native["id"] = "evt_native"
    assert only(translate_event(native), "subscription.paused")["event_id"] == (
        "stripe:sub_A:paused:evt_native"
    )


# -- dunning, recovery, money ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("decline", "code"),
    [
        ("insufficient_funds", "insufficient_funds"),
        ("expired_card", "card_expired"),
        ("do_not_honor", "do_not_honor"),
        ("fraudulent", "fraud_suspected"),
        ("stolen_card", "fraud_suspected"),
        ("authentication_required", "authentication_required"),
        ("processing_error", "technical"),
        ("generic_decline", "other"),
        (None, "other"),
    ],
)
def test_failed_invoices_carry_the_decline_code_and_attempt(decline, code):
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    inv = acct.renew("sub_A", ts("2025-02-05"), fails=True, decline_code=decline)
    acct.fail(inv, ts("2025-02-08"), decline)
    failed = [
        only(translate_event(e), "payment.failed")
        for e in acct.events
        if e["type"] == "invoice.payment_failed"
    ]
    assert [f["data"]["attempt"] for f in failed] == [1, 2]
    assert {f["data"]["failure_code"] for f in failed} == {code}
    assert failed[0]["data"]["subscription_id"] == "sub_A"
    assert failed[0]["data"]["amount_minor"] == 1000
    assert failed[1]["occurred_at"] == iso(ts("2025-02-08"))


def test_a_later_paid_invoice_is_the_recovering_payment():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    inv = acct.renew("sub_A", ts("2025-02-05"), fails=True)
    acct.pay(inv, ts("2025-02-07"))
    paid = [
        only(translate_event(e), "payment.succeeded")
        for e in acct.events
        if e["type"] == "invoice.paid"
    ]
    assert paid[-1]["event_id"] == f"stripe:{inv['id']}:paid"
    assert paid[-1]["occurred_at"] == iso(ts("2025-02-07"))
    assert paid[-1]["data"]["payment_id"] == inv["charge"]


def test_refunds_one_event_per_refund():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    charge = next(e["data"]["object"]["id"] for e in acct.events if e["type"] == "charge.succeeded")
    acct.refund(charge, ts("2025-01-07"), 300)
    acct.refund(charge, ts("2025-01-09"), 200)
    refunds = events_of(translate_event(acct.events[-1]), "payment.refunded")
    assert [(r["data"]["amount_minor"], r["occurred_at"]) for r in refunds] == [
        (300, iso(ts("2025-01-07"))),
        (200, iso(ts("2025-01-09"))),
    ]
    assert {r["data"]["payment_id"] for r in refunds} == {charge}


def test_disputes_need_their_charge_for_the_customer():
    t = translate_event(fixture("dispute_expanded_charge.json"))
    assert only(t, "payment.chargeback")["data"] == {
        "payment_id": "ch_1Qdisputed",
        "amount_minor": 2000,
        "currency": "EUR",
        "reason": "fraudulent",
    }
    bare = fixture("dispute_expanded_charge.json")
    dispute = bare["data"]["object"]
    charge = dispute["charge"]
    dispute["charge"] = charge["id"]
    assert [u.reason for u in translate_event(bare).untranslatable] == ["dispute_without_customer"]
    # a backfill lists the charge beside the dispute
    backfill = translate_objects([dispute, charge], as_of=NOW)
    assert only(backfill, "payment.chargeback")["customer_id"] == "cus_Rdispute"
    warning = copy.deepcopy(bare)
    warning["data"]["object"]["status"] = "warning_needs_response"
    assert translate_event(warning).ignored == {"dispute(warning)": 1}


def test_upgrades_change_the_price_and_proration_is_revenue_only():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    acct.update("sub_A", ts("2025-01-20"), items=[(price("price_premium", 2000), 1)])
    changed = only(translate_event(acct.events[-1]), "subscription.changed")
    assert changed["event_id"] == f"stripe:{acct.events[-1]['id']}:changed"
    assert changed["data"]["offer_id"] == "price_premium"
    assert changed["data"]["price_minor"] == 2000
    assert changed["data"]["effective_at"] == iso(ts("2025-01-20"))
    t = translate_event(fixture("invoice_proration_upgrade.json"))
    assert not events_of(t, "subscription.renewed")
    assert only(t, "payment.succeeded")["data"] == {
        "payment_id": "ch_1Qproration",
        "subscription_id": "sub_Rupgrade",
        "amount_minor": 643,
        "currency": "EUR",
        "provider": "stripe",
    }


def test_one_off_invoices_are_payments_for_a_purchase():
    t = translate_event(fixture("invoice_one_off_basil.json"))
    assert only(t, "payment.succeeded")["data"] == {
        "payment_id": "in_1QoneOff",
        "purchase_id": "in_1QoneOff",
        "amount_minor": 4900,
        "currency": "GBP",
        "provider": "stripe",
    }
    assert not events_of(t, "purchase.completed")


# -- customers -------------------------------------------------------------------------------


def test_customer_country_from_address_shipping_or_invoices():
    acct = StripeAccount()
    cus = acct.customer("cus_A", DAY1, "fr")
    assert only(translate_event(acct.events[-1]), "customer.created")["data"] == {
        "country": "FR",
        "signup_platform": "web",
    }
    nowhere = acct.customer("cus_B", DAY1, None)
    assert translate_event(acct.events[-1]).events == []
    shipped = dict(nowhere, shipping={"address": {"country": "DE"}})
    assert (
        only(translate_objects([shipped], as_of=NOW), "customer.created")["data"]["country"] == "DE"
    )
    invoice = fixture("invoice_one_off_basil.json")["data"]["object"]
    billed = dict(nowhere, id="cus_RoneOff")
    t = translate_objects([billed, invoice], as_of=NOW)
    assert only(t, "customer.created")["data"]["country"] == "GB"
    assert cus["id"] == "cus_A"


# -- what is not translated ------------------------------------------------------------------


def test_unknown_harmless_and_unexpected():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    base = acct.events[0]
    for harmless in (
        "invoice.upcoming",
        "invoice.updated",
        "charge.updated",
        "payment_intent.succeeded",
        "customer.deleted",
    ):
        assert translate_event(dict(base, type=harmless)).ignored == {harmless: 1}
    unknown = translate_event(dict(base, type="treasury.received_credit.created"))
    assert [u.reason for u in unknown.untranslatable] == ["unknown_event_type"]
    wrong = translate_event(dict(base, type="invoice.paid"))
    assert [u.reason for u in wrong.untranslatable] == ["unexpected_object"]
    objects = translate_objects([{"object": "terminal.reader", "id": "tmr_1"}], as_of=NOW)
    assert [u.reason for u in objects.untranslatable] == ["unknown_object"]


# -- the two paths, the real payloads --------------------------------------------------------


def test_webhook_and_backfill_state_each_shared_fact_with_one_id_and_one_body():
    from tests.connectors.stripe_scenario import scenario

    acct = scenario()
    webhook = {e["event_id"]: e for e in all_of(acct).events}
    backfill = translate_objects(acct.objects(), as_of=datetime(2025, 4, 25, 10, tzinfo=UTC))
    assert not backfill.untranslatable
    shared = [e for e in backfill.events if e["event_id"] in webhook]
    assert len(shared) == len(backfill.events)  # the paused-at-as-of fact aside, none here
    assert all(webhook[e["event_id"]] == e for e in shared)
    # ... including the upgraded subscription's start, rebuilt from its creating invoice
    assert webhook["stripe:sub_02:started"]["data"]["offer_id"] == "price_basic"
    assert acct.latest["sub_02"]["items"]["data"][0]["price"]["id"] == "price_premium"


def test_translation_is_deterministic():
    from tests.connectors.stripe_scenario import scenario

    a, b = scenario(), scenario()
    assert all_of(a).events == all_of(b).events
    # a backfill's objects in any order: the same events
    forward = translate_objects(a.objects(), as_of=NOW).events
    backward = translate_objects(list(reversed(b.objects())), as_of=NOW).events
    assert sorted(forward, key=lambda e: e["event_id"]) == sorted(
        backward, key=lambda e: e["event_id"]
    )


REAL_EVENTS = sorted((REFERENCE / "stripe_events").glob("*.json"))
needs_reference = pytest.mark.skipif(
    not REFERENCE.is_dir(),
    reason=f"reference data absent: {REFERENCE} (../shared next to the repo)",
)
# What the real captures cannot give: their charges and disputes name no customer (anonymised)
EXPECTED_UNTRANSLATABLE = {
    "charge.dispute.closed": "dispute_without_customer",
    "charge.dispute.funds_withdrawn": "dispute_without_customer",
    "charge.failed": "charge_without_customer",
    "charge.refunded": "charge_without_customer",
    "charge.succeeded": "charge_without_customer",
}


@needs_reference
@pytest.mark.parametrize("path", REAL_EVENTS, ids=lambda p: p.stem)
def test_real_stripe_events(path: Path):
    event = json.loads(path.read_text())
    t = translate_event(event)
    events_of(t)  # every event valid against the contract
    assert [u.reason for u in t.untranslatable] == (
        [EXPECTED_UNTRANSLATABLE[path.stem]] if path.stem in EXPECTED_UNTRANSLATABLE else []
    )
    assert t.events or t.untranslatable or t.ignored or path.stem == "customer.subscription.updated"
    assert all(e["source"] == "stripe" for e in t.events)


@needs_reference
def test_real_stripe_payloads_as_events_and_as_objects():
    seen: Counter[str] = Counter()
    for path in sorted((REFERENCE / "stripe").glob("*.json")):
        payload = json.loads(path.read_text())
        obj = payload.get("object") if isinstance(payload.get("object"), dict) else payload
        kind = path.stem if "." in path.stem else f"{obj['object']}.paid"
        event_type = {"subscription": "customer.subscription"}.get(
            kind.split(".")[0], kind.split(".")[0]
        )
        event = {
            "id": f"evt_{path.stem}",
            "object": "event",
            "created": 1700000000,
            "type": f"{event_type}.{kind.split('.', 1)[1]}",
            "data": {"object": obj, "previous_attributes": payload.get("previous_attributes")},
        }
        t = translate_event(event)
        events_of(t)
        backfill = translate_objects([obj], as_of=NOW)
        events_of(backfill)
        seen.update(e["event_type"] for e in t.events + backfill.events)
    # the subscriptions' old plan shapes (price.interval at the top) are read as prices
    assert seen["subscription.started"] >= 1
    assert seen["offer.published"] >= 1


def test_timestamps_are_written_as_the_framework_writes_them():
    import random

    from connectors.stripe.vocabulary import utc_text
    from connectors.translation import utc_timestamp

    rng = random.Random(16)
    moments = [0, 59, 86399, 86400, 946684800, 951782400, 4102444799]
    moments += [rng.randrange(946684800, 7258118400) for _ in range(2000)]
    assert [utc_text(m) for m in moments] == [utc_timestamp(m) for m in moments]


def test_an_interval_beyond_the_contracts_durations_is_untranslatable():
    acct = StripeAccount()
    acct.subscribe(
        "sub_A", "cus_A", DAY1, [(price("p3y", 9000, interval="day", interval_count=1095), 1)]
    )
    t = translate_event(acct.events[0])
    assert [u.reason for u in t.untranslatable] == ["interval_out_of_range"]


def test_untranslatable_objects_land_in_the_quarantine_with_their_reason(tmp_path: Path):
    from connectors.translation import ndjson
    from ingestion.loader import connect, ingest

    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    acct.subscribe("sub_B", "cus_B", DAY1, [(price("price_bhd", 12340, currency="bhd"), 1)])
    out = Translation()
    for event in acct.events:
        out.extend(translate_event(event))
    landing = tmp_path / "stripe-20250105T100000Z-00000.ndjson"
    landing.write_bytes(ndjson(out.lines("stripe")))
    con = connect(tmp_path / "warehouse.duckdb")
    ingest(con, [landing])
    rows = con.execute(
        "select distinct reason_code, reason_detail from raw.quarantine order by 2"
    ).fetchall()
    loaded = con.execute("select count(*) from raw.events where customer_id = 'cus_A'").fetchone()
    con.close()
    invoice = next(
        e["data"]["object"]["id"]
        for e in acct.events
        if e["type"] == "invoice.finalized" and e["data"]["object"]["customer"] == "cus_B"
    )
    # the subscription, and its invoice once per delivery (finalized, paid, payment_succeeded)
    assert rows == [
        (
            "untranslatable",
            f"currency_without_rates: invoice {invoice}: BHD has no ECB reference rates, its "
            "money cannot be reported",
        ),
        (
            "untranslatable",
            "currency_without_rates: subscription sub_B: BHD has no ECB reference rates, its "
            "money cannot be reported",
        ),
    ]
    assert loaded[0] > 0


def test_refunds_a_charge_does_not_list_are_untranslatable_until_a_backfill_lists_them():
    acct = StripeAccount()
    acct.subscribe("sub_A", "cus_A", DAY1, [(BASIC, 1)])
    charge = next(e["data"]["object"]["id"] for e in acct.events if e["type"] == "charge.succeeded")
    acct.refund(charge, ts("2025-01-07"), 300)
    event = copy.deepcopy(acct.events[-1])
    del event["data"]["object"]["refunds"]  # as API versions from 2022-11-15 send it
    t = translate_event(event)
    assert [u.reason for u in t.untranslatable] == ["refunds_not_listed"]
    assert not t.events
    refund = next(o for o in acct.objects() if o["object"] == "refund")
    backfill = translate_objects([event["data"]["object"], refund], as_of=NOW)
    assert only(backfill, "payment.refunded")["data"]["amount_minor"] == 300
    assert not backfill.untranslatable


def test_a_backfill_publishes_the_offers_a_subscription_bills_now_and_starts_it_as_first_billed():
    from tests.connectors.stripe_scenario import scenario

    acct = scenario()
    sub = acct.latest["sub_02"]  # upgraded from price_basic to price_premium
    creating = [
        o
        for o in acct.objects()
        if o["object"] == "invoice"
        and o.get("billing_reason") == "subscription_create"
        and o.get("subscription") == "sub_02"
    ]
    assert len(creating) == 1
    t = translate_objects([copy.deepcopy(sub), *creating], as_of=NOW)
    assert only(t, "subscription.started")["data"]["offer_id"] == "price_basic"
    offers = [e["data"]["offer_id"] for e in events_of(t, "offer.published")]
    assert offers == ["price_premium"]
