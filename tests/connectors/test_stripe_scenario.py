"""A dozen Stripe customers through the whole path: Stripe event objects → translate_event →
a landing file → the loader → dbt. The monthly MRR, movements and churn are computed by hand
from `stripe_scenario.py` (the arithmetic is in the comments), to the cent.

Reporting currency EUR. Every customer pays in EUR but c06 (1200 JPY a month), whose MRR is
checked in yen and whose euro value is added at the ECB rate the warehouse holds."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from connectors.stripe import provider_view, translate_event, translate_objects
from connectors.translation import Translation, ndjson
from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from tests.connectors.stripe_scenario import scenario
from tests.dbt_support import all_marts, copy_project, failures, run_dbt

# the marts this file reads and what they are built from (the whole project would double the
# time: customer months, cohorts and the ML features say nothing more about the translation)
BUILD = [
    "build",
    "--select",
    "+metrics_monthly +fct_subscriptions +fct_mrr_movements +payment_recovery_monthly",
    "--exclude",
    "resource_type:unit_test",
]
AS_OF = datetime(2025, 4, 25, 10, tzinfo=UTC)  # the scenario's last event
MONTHS = [date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)]


def build(root: Path, batches: list[list[dict]]) -> Path:
    """Load each batch of contract lines as one landing file, then build the marts."""
    root.mkdir(parents=True)
    warehouse = root / "warehouse.duckdb"
    files = []
    for n, lines in enumerate(batches):
        path = root / f"stripe-{n:05d}.ndjson"
        path.write_bytes(ndjson(lines))
        files.append(path)
    con = connect(warehouse)
    ingest(con, files)
    refresh_reference_tables(con, "EUR")
    con.execute("checkpoint")
    con.close()
    result = run_dbt(BUILD, copy_project(root), {"CHURNIQ_WAREHOUSE": str(warehouse)})
    assert not failures(result), failures(result)
    return warehouse


def lines_of(translation: Translation) -> list[dict]:
    assert not translation.untranslatable, translation.untranslatable
    return translation.lines("stripe")


@pytest.fixture(scope="module")
def account():
    return scenario()


@pytest.fixture(scope="module")
def webhooks(account) -> list[dict]:
    """The contract lines of every webhook, in the order Stripe sent them."""
    out: list[dict] = []
    for event in account.events:
        out += lines_of(translate_event(event))
    return out


@pytest.fixture(scope="module")
def warehouse(webhooks, tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("stripe") / "webhooks", [webhooks])


@pytest.fixture(scope="module")
def con(warehouse):
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def jpy_in_eur(con, day: date, yen: int = 1200) -> Decimal:
    """c06's 1200 JPY at the warehouse's ECB rate of `day` (the rate is data, not the code
    under test)."""
    rate = con.execute(
        "select rate from raw.fx_rates where currency = 'JPY' and rate_date = ?", [day]
    ).fetchone()[0]
    return Decimal(yen) * rate  # JPY has no minor unit: 1200 minor units are 1200 yen


def cents(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


MONTH_ENDS = [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), AS_OF.date()]

# EUR MRR at each month end (the as-of date in April), by hand:
#   Jan: c01 10 + c02 10 + c03 20 + c04 27/3=9 + c09 10 + c10 20 + c11 10 + c12 10 + c13 10 = 109
#   Feb: 109 + c02 upgrade (20-10) + c05 120/12=10 + c07 trial converts 10 + c14 20-25% = 15 = 154
#   Mar: 154 - c03 downgrade 10 - churn (c09 10 + c10 20 + c12 10) - c13 paused 10 = 94
#   Apr: 94 + c13 resumed 10 + c14 coupon ends (20-15) 5 = 109
EUR_MRR = ["109.00", "154.00", "94.00", "109.00"]
# movements in EUR (c06, the yen customer, is new in January and steady afterwards)
EUR_NEW = ["109.00", "35.00", "0.00", "0.00"]  # Feb: c05 10 + c07 10 + c14 15
EXPANSION = ["0.00", "10.00", "0.00", "5.00"]  # Feb: c02 +10; Apr: c14's coupon ends +5
CONTRACTION = ["0.00", "0.00", "-10.00", "0.00"]  # Mar: c03 20 -> 10
CHURNED = ["0.00", "0.00", "-40.00", "0.00"]  # Mar: c09 -10, c10 -20, c12 -10
PAUSE = ["0.00", "0.00", "-10.00", "0.00"]  # Mar: c13
RESUME = ["0.00", "0.00", "0.00", "10.00"]  # Apr: c13
REACTIVATION = ["0.00"] * 4
# customers: Jan c01 c02 c03 c04 c06 c09 c10 c11 c12 c13; Feb c05 c07 c14 (c08's trial never paid)
NEW_CUSTOMERS = [10, 3, 0, 0]
CHURNED_CUSTOMERS = [0, 0, 3, 0]  # Mar: c09 (scheduled), c10 (immediate), c12 (payment failed)
VOLUNTARY = [0, 0, 2, 0]  # c09, c10
INVOLUNTARY = [0, 0, 1, 0]  # c12: ended for payment_failed, no cancellation asked
PAYING = [10, 13, 9, 10]  # Mar: 13 - 3 churned - c13 paused; Apr: c13 back
REFUNDS = ["0.00", "5.00", "0.00", "0.00"]  # c01's partial refund of 5.00 on 10 Feb


def test_monthly_mrr_movements_and_churn_match_the_hand_computation(con):
    rows = con.execute(
        "select month, mrr, new_mrr, expansion_mrr, contraction_mrr, churned_mrr, pause_mrr, "
        "resume_mrr, reactivation_mrr, new_customers, churned_customers, "
        "voluntary_churned_customers, involuntary_churned_customers, paying_customers, refunds "
        "from marts.metrics_monthly order by month"
    ).fetchall()
    assert [r[0] for r in rows] == MONTHS
    for n, row in enumerate(rows):
        yen = jpy_in_eur(con, MONTH_ENDS[n])
        assert cents(row[1]) == cents(Decimal(EUR_MRR[n]) + yen), (row[0], "mrr")
        new = Decimal(EUR_NEW[n]) + (jpy_in_eur(con, date(2025, 1, 8)) if n == 0 else 0)
        assert cents(row[2]) == cents(new), (row[0], "new")
        assert [cents(v) for v in row[3:9]] == [
            Decimal(x[n]) for x in (EXPANSION, CONTRACTION, CHURNED, PAUSE, RESUME, REACTIVATION)
        ], row[0]
        assert list(row[9:14]) == [
            NEW_CUSTOMERS[n],
            CHURNED_CUSTOMERS[n],
            VOLUNTARY[n],
            INVOLUNTARY[n],
            PAYING[n],
        ], row[0]
        assert cents(row[14]) == Decimal(REFUNDS[n]), (row[0], "refunds")


def test_the_yen_customer_in_yen(con):
    # 1200 JPY a month: JPY has no minor unit, Stripe's 1200 is 1200 contract minor units
    rows = con.execute(
        "select distinct mrr_local, currency from intermediate.int_subscription_states "
        "where subscription_id = 'sub_06' and valid_from >= '2025-01-08'"
    ).fetchall()
    assert rows == [(Decimal("1200.000000"), "JPY")]


def test_subscription_facts(con):
    rows = dict(
        (r[0], r[1:])
        for r in con.execute(
            "select subscription_id, cancel_reason, ended_reason, churn_type, trial_ends_at "
            "from marts.fct_subscriptions"
        ).fetchall()
    )
    assert rows["sub_09"][:3] == ("switched_service", "cancelled", "voluntary")
    assert rows["sub_10"][:3] == ("too_expensive", "cancelled", "voluntary")
    assert rows["sub_12"][:3] == ("payment_failed", "payment_failed", "involuntary")
    assert rows["sub_07"][3] == datetime(2025, 2, 17, 10)


def test_failed_renewals_and_recovery(con):
    rows = con.execute(
        "select subscription_id, failure_code, is_recovered from intermediate.int_payment_failures order by 1"
    ).fetchall()
    # c11 declined for insufficient funds and recovered 3 days later; c12 never recovered
    # (its first attempt's decline code is not in Stripe's webhook: other)
    assert rows == [("sub_11", "insufficient_funds", True), ("sub_12", "other", False)]


def test_the_same_stream_twice_shuffled_and_split_gives_the_same_marts(
    account, warehouse, tmp_path_factory
):
    rng = random.Random(16)
    # Split: the facts only events can state (changes, pauses, reactivations, failed attempts)
    # come by webhook, the other events by webhook or not at all, at random; the backfill of
    # every object's final state comes beside them.
    events_only = {
        "invoice.payment_failed",
        "customer.subscription.updated",
    }
    webhook_part = [e for e in account.events if e["type"] in events_only or rng.random() < 0.3]
    lines = []
    for event in webhook_part:
        lines += lines_of(translate_event(event))
    lines += lines_of(translate_objects(account.objects(), as_of=AS_OF))
    twice = lines + lines  # every line delivered twice
    rng.shuffle(twice)
    cuts = sorted(rng.sample(range(1, len(twice)), 4))
    batches = [twice[a:b] for a, b in zip([0, *cuts], [*cuts, len(twice)], strict=True)]
    other = build(tmp_path_factory.mktemp("stripe") / "split", batches)
    assert all_marts(other) == all_marts(warehouse)


def test_stripes_own_view_matches_the_marts(account, con):
    """provider_view (what Stripe's objects say is live on the as-of date) against the marts'
    current MRR per subscription, and against the hand figures."""
    view = {
        r["subscription_id"]: (r["currency"], r["mrr"])
        for r in provider_view(account.objects(), as_of=AS_OF)
    }
    assert view == {
        "sub_01": ("EUR", Decimal("10.000000")),
        "sub_02": ("EUR", Decimal("20.000000")),  # upgraded
        "sub_03": ("EUR", Decimal("10.000000")),  # downgraded
        "sub_04": ("EUR", Decimal("9.000000")),  # 27.00 / 3
        "sub_05": ("EUR", Decimal("10.000000")),  # 120.00 / 12
        "sub_06": ("JPY", Decimal("1200.000000")),
        "sub_07": ("EUR", Decimal("10.000000")),
        "sub_11": ("EUR", Decimal("10.000000")),
        "sub_13": ("EUR", Decimal("10.000000")),  # resumed
        "sub_14": ("EUR", Decimal("20.000000")),  # coupon over
    }
    marts = dict(
        con.execute(
            "select subscription_id, current_mrr from marts.fct_subscriptions "
            "where current_mrr > 0 and subscription_id <> 'sub_06'"
        ).fetchall()
    )
    assert {k: cents(v) for k, v in marts.items()} == {
        k: cents(mrr) for k, (currency, mrr) in view.items() if currency == "EUR"
    }
