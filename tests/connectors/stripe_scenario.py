"""Fourteen Stripe customers over January to April 2025, as the Stripe event objects their
account sent (see test_stripe_scenario.py for the figures computed by hand from it)."""

from __future__ import annotations

from tests.connectors.stripe_world import StripeAccount, coupon, price, ts

BASIC = price("price_basic", 1000, nickname="Basic monthly")  # 10.00 EUR / month
PREMIUM = price("price_premium", 2000, nickname="Premium monthly")  # 20.00 EUR / month
QUARTERLY = price("price_quarterly", 2700, interval_count=3)  # 27.00 EUR / 3 months
YEARLY = price("price_yearly", 12000, interval="year")  # 120.00 EUR / year
YEN = price("price_yen", 1200, currency="jpy")  # 1200 JPY / month (zero-decimal)
WELCOME = coupon("WELCOME25", percent_off=25, duration="repeating", duration_in_months=2)


def scenario() -> StripeAccount:
    acct = StripeAccount()
    for p in (BASIC, PREMIUM, QUARTERLY, YEARLY, YEN):
        acct.publish(p)

    def start(cus, sub, day, items, country="DE", **kw):
        acct.customer(cus, ts(day), country)
        return acct.subscribe(sub, cus, ts(day), items, **kw)

    # c01 new, monthly basic, renews every month
    start("cus_01", "sub_01", "2025-01-05", [(BASIC, 1)])
    for day in ("2025-02-05", "2025-03-05", "2025-04-05"):
        acct.renew("sub_01", ts(day))
    # a partial refund of February's payment: revenue, not MRR
    acct.refund(_charge_of(acct, "sub_01", "2025-02-05"), ts("2025-02-10"), 500)

    # c02 upgrade basic -> premium on 20 Feb
    start("cus_02", "sub_02", "2025-01-10", [(BASIC, 1)])
    acct.renew("sub_02", ts("2025-02-10"))
    acct.update("sub_02", ts("2025-02-20"), items=[(PREMIUM, 1)])
    for day in ("2025-03-10", "2025-04-10"):
        acct.renew("sub_02", ts(day))

    # c03 downgrade premium -> basic on 15 Mar
    start("cus_03", "sub_03", "2025-01-12", [(PREMIUM, 1)], country="FR")
    for day in ("2025-02-12", "2025-03-12"):
        acct.renew("sub_03", ts(day))
    acct.update("sub_03", ts("2025-03-15"), items=[(BASIC, 1)])
    acct.renew("sub_03", ts("2025-04-12"))

    # c04 quarterly plan
    start("cus_04", "sub_04", "2025-01-20", [(QUARTERLY, 1)])
    acct.renew("sub_04", ts("2025-04-20"))

    # c05 yearly plan from 1 Feb
    start("cus_05", "sub_05", "2025-02-01", [(YEARLY, 1)])

    # c06 JPY monthly
    start("cus_06", "sub_06", "2025-01-08", [(YEN, 1)], country="JP")
    for day in ("2025-02-08", "2025-03-08", "2025-04-08"):
        acct.renew("sub_06", ts(day))

    # c07 14-day trial from 3 Feb that converts on 17 Feb
    start("cus_07", "sub_07", "2025-02-03", [(BASIC, 1)], trial_days=14)
    for day in ("2025-02-17", "2025-03-17", "2025-04-17"):
        acct.renew("sub_07", ts(day))

    # c08 14-day trial from 1 Mar that does not convert: cancelled at the trial end
    start("cus_08", "sub_08", "2025-03-01", [(BASIC, 1)], trial_days=14)
    acct.delete("sub_08", ts("2025-03-15"), reason="cancellation_requested", feedback="unused")

    # c09 scheduled cancellation on 10 Feb, effective at the period end (3 Mar)
    start("cus_09", "sub_09", "2025-01-03", [(BASIC, 1)])
    acct.renew("sub_09", ts("2025-02-03"))
    acct.update(
        "sub_09",
        ts("2025-02-10"),
        cancel_at_period_end=True,
        canceled_at=ts("2025-02-10"),
        cancel_at=ts("2025-03-03"),
        cancellation_details={
            "comment": None,
            "feedback": "switched_service",
            "reason": "cancellation_requested",
        },
    )
    acct.delete("sub_09", ts("2025-03-03"))

    # c10 immediate cancellation on 20 Mar
    start("cus_10", "sub_10", "2025-01-15", [(PREMIUM, 1)])
    for day in ("2025-02-15", "2025-03-15"):
        acct.renew("sub_10", ts(day))
    acct.delete(
        "sub_10", ts("2025-03-20"), reason="cancellation_requested", feedback="too_expensive"
    )

    # c11 a failed renewal (insufficient funds) recovered three days later
    start("cus_11", "sub_11", "2025-01-25", [(BASIC, 1)])
    inv = acct.renew("sub_11", ts("2025-02-25"), fails=True, decline_code="insufficient_funds")
    acct.pay(inv, ts("2025-02-28"))
    acct.update("sub_11", ts("2025-02-28"), status="active")
    for day in ("2025-03-25", "2025-04-25"):
        acct.renew("sub_11", ts(day))

    # c12 a failed renewal never recovered: Stripe cancels after the third attempt
    start("cus_12", "sub_12", "2025-01-28", [(BASIC, 1)])
    inv = acct.renew("sub_12", ts("2025-02-28"), fails=True)
    acct.fail(inv, ts("2025-03-03"), None)
    acct.fail(inv, ts("2025-03-07"), "expired_card")
    acct.delete("sub_12", ts("2025-03-14"), reason="payment_failed")

    # c13 paused on 6 Mar (pause_collection), resumed on 6 Apr
    start("cus_13", "sub_13", "2025-01-06", [(BASIC, 1)])
    acct.renew("sub_13", ts("2025-02-06"))
    acct.update(
        "sub_13", ts("2025-03-06"), pause_collection={"behavior": "void", "resumes_at": None}
    )
    acct.update("sub_13", ts("2025-04-06"), pause_collection=None)
    acct.renew("sub_13", ts("2025-04-06"))

    # c14 premium with 25 % off for two months (repeating), from 14 Feb
    start("cus_14", "sub_14", "2025-02-14", [(PREMIUM, 1)], discount_coupon=WELCOME)
    for day in ("2025-03-14", "2025-04-14"):
        acct.renew("sub_14", ts(day))
    return acct


def _charge_of(acct: StripeAccount, sub_id: str, day: str) -> str:
    for event in acct.events:
        obj = event["data"]["object"]
        if (
            event["type"] == "invoice.paid"
            and obj["subscription"] == sub_id
            and obj["created"] == ts(day)
        ):
            return obj["charge"]
    raise LookupError(f"no paid invoice of {sub_id} on {day}")
