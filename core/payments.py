"""Payment providers behind one interface, and the sandbox gateway for local use and tests.

The sandbox behaves like a card gateway's test mode: it tokenizes test card numbers (the
number itself is never stored) and approves or declines deterministically by card, with the
contract's failure codes. The same sandbox stands in for the app stores (`app_store`,
`google_play`, `roku`, `amazon`), whose real adapters verify store receipts instead.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .errors import InvalidInput

# test card → behaviour: "approve", a failure code (always declined), or a renewal pattern
TEST_CARDS: dict[str, str] = {
    "4242424242424242": "approve",
    "5555555555554444": "approve",
    "378282246310005": "approve",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "card_expired",
    "4000000000000002": "do_not_honor",
    "4100000000000019": "fraud_suspected",
    "4000002500003155": "authentication_required",
    "4000000000000119": "technical",
    # approved when first charged, then every renewal is declined (insufficient funds)
    "4000000000000341": "renewals_fail",
    # each renewal's first attempt is declined, every retry approved (dunning recovers)
    "4000000000003220": "retry_recovers",
}
FAILURE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "card_expired": "Your card has expired.",
    "do_not_honor": "Your card was declined.",
    "fraud_suspected": "Your card was declined as suspected fraud.",
    "authentication_required": "The bank requires authentication (3-D Secure).",
    "technical": "A processing error occurred; try again later.",
}
BEHAVIOURS = ("approve", *FAILURE_MESSAGES, "renewals_fail", "retry_recovers")
PLATFORM_PROVIDERS = {
    "web": "sandbox",
    "other": "sandbox",
    "ios": "app_store",
    "tvos": "app_store",
    "android": "google_play",
    "roku": "roku",
    "firetv": "amazon",
}


@dataclass(frozen=True)
class Tokenized:
    token: str
    kind: str
    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None


@dataclass(frozen=True)
class ChargeResult:
    approved: bool
    provider_ref: str
    failure_code: str | None = None
    message: str = ""


class PaymentProvider(Protocol):
    name: str

    def tokenize(
        self, card_number: str | None, exp_month: int | None, exp_year: int | None
    ) -> Tokenized: ...

    def charge(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        at: datetime,
        renewal: bool,
        attempt: int,
        exp: tuple[int, int] | None,
    ) -> ChargeResult: ...

    def refund(self, *, provider_ref: str, amount_minor: int, currency: str) -> str: ...


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or number[:2] == "22":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "card"


class SandboxGateway:
    """Deterministic test-mode gateway; `name` is the provider it stands in for."""

    def __init__(self, name: str = "sandbox") -> None:
        self.name = name

    def tokenize(
        self, card_number: str | None, exp_month: int | None, exp_year: int | None
    ) -> Tokenized:
        if card_number is None:  # a store account or wallet: approved unless told otherwise
            return Tokenized(
                f"sbx_approve_{secrets.token_hex(6)}", "store_account", None, None, None, None
            )
        number = card_number.replace(" ", "").replace("-", "")
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            raise InvalidInput("card_number: not a valid card number (Luhn check failed)")
        if exp_month is None or exp_year is None or not 1 <= exp_month <= 12:
            raise InvalidInput("exp_month/exp_year: a card needs its expiry month (1-12) and year")
        behaviour = TEST_CARDS.get(number, "approve")
        return Tokenized(
            f"sbx_{behaviour}_{number[-4:]}_{secrets.token_hex(6)}",
            "card",
            _brand(number),
            number[-4:],
            exp_month,
            exp_year,
        )

    @staticmethod
    def behaviour(token: str) -> str:
        for b in sorted(BEHAVIOURS, key=len, reverse=True):
            if token.startswith(f"sbx_{b}_"):
                return b
        return "do_not_honor"  # a token this gateway never issued

    def charge(
        self,
        *,
        token: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        at: datetime,
        renewal: bool,
        attempt: int,
        exp: tuple[int, int] | None,
    ) -> ChargeResult:
        ref = "ch_" + hashlib.sha256(f"{self.name}|{idempotency_key}".encode()).hexdigest()[:20]
        behaviour = self.behaviour(token)
        if exp is not None and (exp[1], exp[0]) < (at.year, at.month):
            behaviour = "card_expired"
        if behaviour == "renewals_fail":
            behaviour = "insufficient_funds" if renewal else "approve"
        elif behaviour == "retry_recovers":
            behaviour = "insufficient_funds" if renewal and attempt == 1 else "approve"
        if behaviour == "approve":
            return ChargeResult(True, ref)
        return ChargeResult(False, ref, behaviour, FAILURE_MESSAGES[behaviour])

    def refund(self, *, provider_ref: str, amount_minor: int, currency: str) -> str:
        return "re_" + hashlib.sha256(f"{provider_ref}|{amount_minor}".encode()).hexdigest()[:20]


class ProviderRegistry:
    def __init__(self, providers: list[PaymentProvider]) -> None:
        self._by_name = {p.name: p for p in providers}

    def get(self, name: str) -> PaymentProvider:
        try:
            return self._by_name[name]
        except KeyError:
            raise InvalidInput(f"provider: unknown payment provider {name!r}") from None

    def for_platform(self, platform: str) -> PaymentProvider:
        return self.get(PLATFORM_PROVIDERS.get(platform, "sandbox"))

    @property
    def names(self) -> list[str]:
        return sorted(self._by_name)


def default_providers() -> ProviderRegistry:
    names = ["sandbox", "adyen", "stripe", "paypal", "app_store", "google_play", "roku", "amazon"]
    return ProviderRegistry([SandboxGateway(n) for n in names])
