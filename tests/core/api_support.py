"""Helpers of the API tests: API keys, clients, and a database with one of everything."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select

from core import campaigns, catalog, customers, purchases, subscriptions, support
from core.api import create_app
from core.clock import Clock
from core.keys import create_key
from core.migrate import upgrade
from core.schema import Payment
from core.unit import Core

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000009995"  # insufficient funds, always
CARD_RETRY_RECOVERS = "4000000000003220"  # each renewal's first attempt declined


@contextmanager
def sqlite_core(directory: Path, clock: Clock) -> Iterator[Core]:
    """A migrated core on a SQLite file in `directory`: for the API tests whose subject (request
    validation, the OpenAPI document) does not depend on the database."""
    url = f"sqlite:///{directory / 'core.db'}"
    upgrade(url)
    core = Core(url, clock=clock)
    try:
        yield core
    finally:
        core.close()


def make_key(core: Core, role: str, name: str | None = None) -> tuple[str, str]:
    """A new API key (its id, its secret), made through the domain (the bootstrap)."""
    with core.unit() as u:
        row, secret = create_key(u, role, name or f"test {role}")
        return row.id, secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def client(core: Core, secret: str | None = None) -> TestClient:
    return TestClient(create_app(core), headers=bearer(secret) if secret else None)


MONTHLY = {
    "id": "basic_monthly",
    "title": "Basic monthly",
    "offer_type": "subscription",
    "prices": {"EUR": 999, "USD": 1099},
    "billing_period": "P1M",
    "trial_period": "P7D",
}


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


def new_customer(api: TestClient, card: str | None = CARD_OK, **fields) -> tuple[str, str | None]:
    body = {"country": "DE", "signup_platform": "web"} | fields
    customer = ok(api.post("/customers", json=body), 201)
    method_id = None
    if card is not None:
        card_body = {"card_number": card, "exp_month": 12, "exp_year": 2030}
        method = ok(api.post(f"/customers/{customer['id']}/payment-methods", json=card_body), 201)
        method_id = method["id"]
    return customer["id"], method_id


def subscribe(api: TestClient, customer_id: str, **fields) -> dict:
    body = {"customer_id": customer_id, "offer_id": "basic_monthly", "platform": "web",
            "currency": "EUR"} | fields  # fmt: skip
    return ok(api.post("/subscriptions", json=body), 201)


def run_billing(api: TestClient) -> dict[str, int]:
    return ok(api.post("/billing/run"))["outcomes"]


@dataclass(frozen=True)
class World:
    """Ids of one live object of each kind, made through the domain."""

    customer_id: str
    payment_method_id: str
    offer_id: str
    pass_offer_id: str
    coupon_id: str
    subscription_id: str
    purchase_id: str
    payment_id: str
    campaign_id: str
    ticket_id: str

    def ids(self) -> dict[str, str]:
        return dict(vars(self))


def build_world(core: Core, tag: str = "w") -> World:
    with core.unit() as u:
        catalog.create_offer(
            u, offer_id=f"{tag}_monthly", title="Monthly", offer_type="subscription",
            prices={"EUR": 999, "USD": 1099}, billing_period="P1M", trial_period="P7D",
        )  # fmt: skip
        catalog.create_offer(
            u, offer_id=f"{tag}_pass", title="30-day pass", offer_type="pass",
            prices={"EUR": 1500}, access_period="P30D",
        )  # fmt: skip
        catalog.create_coupon(u, coupon_id=f"{tag}_10off", discount_type="percent", percent_off=10)
        customer = customers.create_customer(u, country="DE", signup_platform="web")
        method = customers.add_payment_method(
            u, customer.id, card_number=CARD_OK, exp_month=12, exp_year=2030
        )
        sub = subscriptions.start_subscription(
            u, customer_id=customer.id, offer_id=f"{tag}_monthly", platform="web",
            currency="EUR", with_trial=False,
        )  # fmt: skip
        purchase = purchases.buy(
            u, customer_id=customer.id, offer_id=f"{tag}_pass", platform="web", currency="EUR"
        )
        ticket = support.open_ticket(u, customer_id=customer.id, channel="chat", category="billing")
    with core.unit() as u:
        campaign = campaigns.launch_campaign(
            u, name="win-back", coupon_id=f"{tag}_10off", customer_ids=[customer.id], seed=1
        )
        payment = u.session.scalars(select(Payment).where(Payment.purchase_id == purchase.id)).one()
    return World(
        customer_id=customer.id,
        payment_method_id=method.id,
        offer_id=f"{tag}_monthly",
        pass_offer_id=f"{tag}_pass",
        coupon_id=f"{tag}_10off",
        subscription_id=sub.id,
        purchase_id=purchase.id,
        payment_id=payment.id,
        campaign_id=campaign.id,
        ticket_id=ticket.id,
    )
