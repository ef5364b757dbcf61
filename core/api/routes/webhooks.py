"""Provider webhooks: `POST /webhooks/stripe`, authenticated by Stripe's signature of the body.

Answers (Stripe retries anything but a 2xx, for up to three days):
- 200 `{"received": true, "duplicate": false, "status": …, "events_written": n}`: verified and
  stored, its contract events in the outbox (`status` translated, ignored or untranslatable:
  an ignored type is received too, or Stripe would retry it);
- 200 `{"received": true, "duplicate": true}`: a redelivery of a stored event, nothing added;
- 400 `invalid_signature` (missing, malformed, wrong or older than five minutes) or
  `invalid_payload` (signed, but not JSON or not an event): nothing stored;
- 503 `not_configured`: no signing secret (`CHURNIQ_STRIPE_WEBHOOK_SECRET`): nothing stored.

The signature is checked on the event loop (an HMAC: microseconds); the translation and the
one short transaction run in the thread pool, like every other route's work.
"""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from connectors.stripe import SOURCE, SignatureError, translate_event, verify_webhook

from ...webhooks import InvalidWebhook, Received, event_identity, receive_webhook
from ..context import json_response
from ..errors import error_response

router = APIRouter(tags=["webhooks"])

SIGNATURE_HEADER = "Stripe-Signature"
NOT_CONFIGURED = (
    "Stripe webhooks are not configured: set CHURNIQ_STRIPE_WEBHOOK_SECRET to the endpoint's "
    "signing secret and restart the core"
)


def received_body(received: Received) -> bytes:
    if received.duplicate:
        return orjson.dumps({"received": True, "duplicate": True})
    return orjson.dumps(
        {
            "received": True,
            "duplicate": False,
            "status": received.status,
            "events_written": received.events_written,
        }
    )


@router.post("/webhooks/stripe", include_in_schema=False)
async def stripe_webhook(request: Request) -> Response:
    secret = request.app.state.stripe_webhook_secret
    if secret is None:
        return error_response(503, "not_configured", NOT_CONFIGURED)
    payload = await request.body()
    try:
        event = verify_webhook(payload, request.headers.get(SIGNATURE_HEADER), secret)
    except SignatureError as exc:
        return error_response(400, "invalid_signature", str(exc))
    except ValueError as exc:  # signed, but not JSON or not an event object
        return error_response(400, "invalid_payload", str(exc).splitlines()[0])
    try:
        event_identity(event)
    except InvalidWebhook as exc:  # no id or type to key it by
        return error_response(400, "invalid_payload", str(exc))
    received = await run_in_threadpool(
        receive_webhook,
        request.app.state.core,
        SOURCE,
        event,
        payload,
        translate_event,
    )
    return json_response(received_body(received).decode(), 200)
