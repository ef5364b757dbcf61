"""Small builders for core tests: a catalogue and customers with sandbox cards."""

from __future__ import annotations

from sqlalchemy import func, select

from core import catalog, customers
from core.schema import OUTBOX
from core.unit import Core, Unit

GOOD_CARD = "4242424242424242"
CARDS = {
    "approve": GOOD_CARD,
    "insufficient_funds": "4000000000009995",
    "retry_recovers": "4000000000003220",
    "renewals_fail": "4000000000000341",
    "do_not_honor": "4000000000000002",
}


def catalogue(core: Core) -> None:
    """Monthly with a 7-day trial, yearly, a 30-day pass, a rental and two coupons."""
    with core.unit() as u:
        catalog.create_offer(
            u, offer_id="monthly", title="Monthly", offer_type="subscription",
            prices={"EUR": 999, "USD": 1099}, billing_period="P1M", trial_period="P7D",
        )  # fmt: skip
        catalog.create_offer(
            u, offer_id="premium", title="Premium", offer_type="subscription",
            prices={"EUR": 1499, "USD": 1599}, billing_period="P1M",
        )  # fmt: skip
        catalog.create_offer(
            u, offer_id="yearly", title="Yearly", offer_type="subscription",
            prices={"EUR": 9900}, billing_period="P1Y",
        )  # fmt: skip
        catalog.create_offer(
            u, offer_id="pass30", title="30-day pass", offer_type="pass",
            prices={"EUR": 1299}, access_period="P30D",
        )  # fmt: skip
        catalog.create_offer(
            u, offer_id="film", title="Rental", offer_type="tvod",
            prices={"EUR": 499}, access_period="P2D",
        )  # fmt: skip
        catalog.create_coupon(
            u, coupon_id="half3", discount_type="percent", percent_off=50,
            duration="repeating", duration_months=3,
        )  # fmt: skip
        catalog.create_coupon(
            u, coupon_id="twoeuros", discount_type="amount", amount_off_minor=200,
            currency="EUR", duration="once",
        )  # fmt: skip


def customer(u: Unit, card: str = "approve", country: str = "DE") -> str:
    c = customers.create_customer(u, country=country, signup_platform="web")
    customers.add_payment_method(u, c.id, card_number=CARDS[card], exp_month=12, exp_year=2040)
    return c.id


def outbox_count(core: Core) -> int:
    with core.unit() as u:
        return u.session.scalar(select(func.count()).select_from(OUTBOX))
