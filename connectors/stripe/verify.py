"""A Stripe webhook's signature, checked with `stripe.Webhook.construct_event`."""

from __future__ import annotations

from typing import Any

import orjson
import stripe

#: Stripe's own default: a signature older than five minutes is a replay.
TOLERANCE_SECONDS = 300


class SignatureError(ValueError):
    """The `Stripe-Signature` header is missing, malformed, wrong or too old."""


def verify_webhook(
    payload: bytes, signature: str | None, secret: str, tolerance: int = TOLERANCE_SECONDS
) -> dict[str, Any]:
    """The verified Stripe event of a webhook's raw body, as plain JSON data.

    Raises `SignatureError` (one line, no secret in it) when the header is missing or does not
    match `secret` within `tolerance` seconds, and `ValueError` when the body is not JSON."""
    if not signature:
        raise SignatureError("missing Stripe-Signature header")
    try:
        stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(f"invalid Stripe-Signature: {exc.user_message or exc}") from None
    except (AttributeError, TypeError):  # signed JSON that is not an object: [1], "x", null
        raise ValueError("the body is not a Stripe event object") from None
    # the SDK's StripeObject is a view for API calls; translation reads the plain JSON
    event = orjson.loads(payload)
    if not isinstance(event, dict) or event.get("object") != "event":
        raise ValueError("the body is not a Stripe event object")
    return event
