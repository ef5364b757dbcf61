"""What an erasure removes from an event (CONTRACT.md, `customer.erased`): every personal
attribute, and every key the contract does not define (payloads accept extensions, and an
extension may hold an e-mail, a name or a phone number). One definition for the warehouse's
raw layer and the core's outbox."""

from __future__ import annotations

from typing import Any

from .events import EVENT_MODELS

PERSONAL_ATTRIBUTES = ("country", "signup_platform", "acquisition_channel", "marketing_consent")


def kept_keys(event_type: str) -> list[str]:
    """The payload keys an erased customer's event keeps: the contract's, less the personal."""
    model = EVENT_MODELS.get(event_type)
    if model is None:
        return []
    return [k for k in model.model_fields if k not in PERSONAL_ATTRIBUTES]


def scrub_payload(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """`data` of an erased customer's event, with only the keys it may keep."""
    kept = kept_keys(event_type)
    return {k: v for k, v in data.items() if k in kept}
