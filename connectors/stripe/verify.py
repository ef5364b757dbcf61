"""A Stripe webhook's signature, checked with the official SDK.

`stripe.WebhookSignature.verify_header` is the check `stripe.Webhook.construct_event` makes
(the `t=…,v1=…` header, HMAC-SHA256 of `<t>.<body>` with the endpoint secret, compared in
constant time, the timestamp within the tolerance). `construct_event` then builds the SDK's
`StripeObject` tree of the event, which took 3.6 ms of a webhook's ~4 ms of work
(benchmarks/bench_stripe_webhooks.py) and which nothing here reads: the translation takes the
plain JSON. So the header is verified with `verify_header` and the body parsed with orjson."""

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
    match `secret` within `tolerance` seconds, and `ValueError` when the body is not UTF-8 JSON
    or not an event object."""
    if not signature:
        raise SignatureError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")  # what the SDK signs and checks: the body as text
    except UnicodeDecodeError:
        raise ValueError("the body is not UTF-8 text") from None
    try:
        stripe.WebhookSignature.verify_header(text, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise SignatureError(f"invalid Stripe-Signature: {exc.user_message or exc}") from None
    event = orjson.loads(payload)
    if not isinstance(event, dict) or event.get("object") != "event":
        raise ValueError("the body is not a Stripe event object")
    return event
