"""The inbox of provider webhooks: a verified provider event is stored once, by the provider's
event id, in the transaction that writes its contract events to the outbox.

The caller (the API route) has verified the signature. Here the event is translated (pure,
before the transaction begins: the transaction stays short), then one unit of work, under the
provider's name as the audit actor:

- the contract lines go to the outbox (`Unit.relay`): translated events, and the
  `connector.untranslatable` line of what has no contract meaning, which the loader quarantines
  with its reason; a line whose event id the outbox holds already (the same provider fact by
  another webhook) is skipped;
- the inbox row (`provider_webhooks`): the event without personal values
  (`connectors.translation.without_personal_data`: its shape and ids), its status (`translated`,
  `ignored`, `untranslatable`) and how many lines it wrote;
- an audit entry `webhook.received`.

The inbox row is written with ON CONFLICT DO NOTHING: a redelivery finds the row there, writes
nothing and rolls its transaction back (its outbox lines, already there, were skipped anyway).
Of two deliveries at the same moment the second waits for the first to commit (PostgreSQL: on
the first's uncommitted keys; SQLite: at BEGIN), then does the same: stored once, no error.

A translation that raises (a bug of the connector, or a payload it never expected) does not
lose the event: it becomes an untranslatable line with reason `translation_failed`, and Stripe
is not asked to retry something that would fail again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.translation import Translation, Untranslatable, without_personal_data

from .db import insert_new
from .periods import naive
from .schema import PROVIDER_WEBHOOKS as INBOX
from .unit import Core

log = logging.getLogger("churniq.core.webhooks")

Translate = Callable[[Mapping[str, Any]], Translation]

MAX_EVENT_ID = 255  # the inbox's key column
MAX_EVENT_TYPE = 128
MAX_DETAIL = 500


class InvalidWebhook(ValueError):
    """A verified body that is not a provider event the inbox can key: no id or no type."""


@dataclass(frozen=True)
class Received:
    """What one delivery did: its status and lines written, or that it was a redelivery."""

    provider_event_id: str
    event_type: str
    duplicate: bool
    status: str | None = None  # translated | ignored | untranslatable; None for a duplicate
    events_written: int = 0


def event_identity(event: Mapping[str, Any]) -> tuple[str, str]:
    """The provider's event id and type, or `InvalidWebhook`."""
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        raise InvalidWebhook(f"the event has no id (a string of 1 to {MAX_EVENT_ID} characters)")
    if not isinstance(event_type, str) or not 0 < len(event_type) <= MAX_EVENT_TYPE:
        raise InvalidWebhook(
            f"the event has no type (a string of 1 to {MAX_EVENT_TYPE} characters)"
        )
    return event_id, event_type


def translate_safely(
    provider: str, event: Mapping[str, Any], event_id: str, translate: Translate
) -> Translation:
    """The translation of `event`; a translation that raises becomes one untranslatable object
    (reason `translation_failed`), logged with its traceback."""
    try:
        return translate(event)
    except Exception as exc:  # noqa: BLE001 - kept and quarantined, never lost
        log.exception("%s event %s: the translation failed", provider, event_id)
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:MAX_DETAIL]
        failed = Untranslatable("translation_failed", detail, event_id, event)
        return Translation(untranslatable=[failed])


def status_of(translation: Translation) -> str:
    """`untranslatable` when anything could not be translated, else `translated` when events
    came out, else `ignored`."""
    if translation.untranslatable:
        return "untranslatable"
    return "translated" if translation.events else "ignored"


class _Redelivery(Exception):
    """Rolls the unit of a redelivered event back."""


def receive_webhook(
    core: Core,
    provider: str,
    event: Mapping[str, Any],
    payload: bytes,
    translate: Translate,
) -> Received:
    """Store the verified `event` (its raw body `payload`) once, with its contract lines in the
    outbox, in one transaction; a redelivery adds nothing (`Received.duplicate`)."""
    event_id, event_type = event_identity(event)
    translation = translate_safely(provider, event, event_id, translate)
    lines = translation.lines(provider)
    status = status_of(translation)
    # the inbox keeps the event's shape and ids, not the person it names (the contract events
    # carry what the marts need; the core's customers are erasable, Stripe's are not ours)
    body = orjson.dumps(without_personal_data(event)).decode()
    row = {"provider": provider, "provider_event_id": event_id, "event_type": event_type,
           "status": status, "payload": body}  # fmt: skip
    try:
        with core.unit(actor=provider) as u:
            written = u.relay(lines)
            row |= {"events_written": written, "received_at": naive(u.now)}
            dialect = u.session.get_bind().dialect.name
            claim = insert_new(dialect, INBOX, ("provider", "provider_event_id"))
            if u.session.execute(claim, [row]).first() is None:
                raise _Redelivery  # stored before, or by a concurrent delivery just committed
            detail: dict[str, Any] = {"type": event_type, "status": status, "written": written}
            if translation.ignored:
                detail["ignored"] = dict(translation.ignored)
            u.audit("webhook.received", f"{provider}_event", event_id[:64], **detail)
    except _Redelivery:
        return Received(event_id, event_type, duplicate=True)
    return Received(event_id, event_type, False, status, written)
