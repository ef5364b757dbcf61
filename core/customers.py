"""Customers and their payment methods. Personal data (e-mail, name, ticket subjects) stays in
the core; events carry only the pseudonymous id. Erasure blanks it and emits `customer.erased`."""

from __future__ import annotations

from sqlalchemy import select

from foundation.contract.types import COUNTRIES

from .errors import Conflict, InvalidInput, NotFound
from .ids import new_id
from .schema import Customer, PaymentMethod, SupportTicket
from .unit import Unit

PLATFORMS = ("web", "ios", "android", "roku", "firetv", "tvos", "other")
_ATTRIBUTES = ("country", "signup_platform", "acquisition_channel", "marketing_consent")


def get_customer(u: Unit, customer_id: str, *, live: bool = True, lock: bool = False) -> Customer:
    """The customer; `live` refuses an erased one (Conflict). `lock` holds the row until the
    transaction ends (FOR NO KEY UPDATE on PostgreSQL, which still lets other transactions
    insert rows that reference it; SQLite's writers are serialised already), so that what is
    checked here is still true at commit: an erasure and an edit, or two sign-ups, of one
    customer run one after the other."""
    customer = u.session.get(
        Customer, customer_id, with_for_update={"key_share": True} if lock else None
    )
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    if live and customer.erased_at is not None:
        raise Conflict(f"customer {customer_id} was erased")
    return customer


def _check_attributes(country: str | None, platform: str | None) -> None:
    if country is not None and country not in COUNTRIES:
        raise InvalidInput(f"country: {country!r} is not an ISO 3166-1 alpha-2 code")
    if platform is not None and platform not in PLATFORMS:
        raise InvalidInput(f"signup_platform: {platform!r} is not one of {', '.join(PLATFORMS)}")


def create_customer(
    u: Unit,
    *,
    country: str,
    signup_platform: str,
    email: str | None = None,
    name: str | None = None,
    acquisition_channel: str | None = None,
    marketing_consent: bool | None = None,
    external_ref: str | None = None,
    customer_id: str | None = None,
) -> Customer:
    _check_attributes(country, signup_platform)
    if external_ref is not None:
        found = u.session.scalar(select(Customer).where(Customer.external_ref == external_ref))
        if found is not None:
            raise Conflict(f"external_ref {external_ref!r} already belongs to {found.id}")
    customer = Customer(
        id=customer_id or new_id("c"),
        external_ref=external_ref,
        email=email,
        name=name,
        country=country,
        signup_platform=signup_platform,
        acquisition_channel=acquisition_channel,
        marketing_consent=marketing_consent,
        created_at=u.now,
    )
    u.session.add(customer)
    data = {"country": country, "signup_platform": signup_platform}
    if acquisition_channel is not None:
        data["acquisition_channel"] = acquisition_channel
    if marketing_consent is not None:
        data["marketing_consent"] = marketing_consent
    u.emit("customer.created", customer.id, data)
    u.audit("customer.create", "customer", customer.id)
    return customer


def update_customer(u: Unit, customer_id: str, **changes) -> Customer:
    """Change a live customer; an erased one stays erased (Conflict), also when the erasure
    commits while this change waits for the row."""
    customer = get_customer(u, customer_id, lock=True)
    _check_attributes(changes.get("country"), changes.get("signup_platform"))
    changed = {}
    for key, value in changes.items():
        if value is None or getattr(customer, key) == value:
            continue
        setattr(customer, key, value)
        if key in _ATTRIBUTES:
            changed[key] = value
    if changed:
        u.emit("customer.updated", customer.id, changed)
    u.audit("customer.update", "customer", customer.id, fields=sorted(changes))
    return customer


def erase_customer(u: Unit, customer_id: str) -> Customer:
    """Right to erasure: personal data blanked here, `customer.erased` for the warehouse.
    Payments and subscriptions stay (aggregate revenue), keyed by the pseudonymous id."""
    customer = get_customer(u, customer_id, live=False, lock=True)
    if customer.erased_at is not None:  # final: the database refuses personal data back
        return customer
    for key in ("email", "name", "external_ref", *_ATTRIBUTES):
        setattr(customer, key, None)
    customer.erased_at = u.now
    for ticket in u.session.scalars(
        select(SupportTicket).where(SupportTicket.customer_id == customer_id)
    ):
        ticket.subject = None
    for method in u.session.scalars(
        select(PaymentMethod).where(PaymentMethod.customer_id == customer_id)
    ):
        method.last4 = method.brand = None
    u.emit("customer.erased", customer.id, {})
    u.audit("customer.erase", "customer", customer.id)
    return customer


def add_payment_method(
    u: Unit,
    customer_id: str,
    *,
    provider: str = "sandbox",
    card_number: str | None = None,
    exp_month: int | None = None,
    exp_year: int | None = None,
) -> PaymentMethod:
    get_customer(u, customer_id, lock=True)  # no card digits added beside an erasure
    tokenized = u.providers.get(provider).tokenize(card_number, exp_month, exp_year)
    method = PaymentMethod(
        id=new_id("pm"),
        customer_id=customer_id,
        provider=provider,
        token=tokenized.token,
        kind=tokenized.kind,
        brand=tokenized.brand,
        last4=tokenized.last4,
        exp_month=tokenized.exp_month,
        exp_year=tokenized.exp_year,
        created_at=u.now,
    )
    u.session.add(method)
    u.audit("payment_method.add", "customer", customer_id, payment_method=method.id)
    return method


def get_payment_method(u: Unit, customer_id: str, method_id: str | None) -> PaymentMethod:
    """The named method of this customer, or their latest one."""
    if method_id is not None:
        method = u.session.get(PaymentMethod, method_id)
        if method is None or method.customer_id != customer_id:
            raise NotFound(f"payment method {method_id} not found for customer {customer_id}")
        return method
    method = u.session.scalar(
        select(PaymentMethod)
        .where(PaymentMethod.customer_id == customer_id)
        .order_by(PaymentMethod.created_at.desc(), PaymentMethod.id.desc())
        .limit(1)
    )
    if method is None:
        raise InvalidInput(f"payment_method_id: customer {customer_id} has no payment method")
    return method
