"""What every connector's translation returns, and how its contract events are built.

`Translation` holds the contract events, the provider objects that could not be translated (with
a machine-readable reason and the original payload) and the count of ignored provider types.
Untranslatable objects travel as contract-shaped lines of type `connector.untranslatable`
(`untranslatable_event`): the loader's one validation path quarantines them with reason
`untranslatable` and the connector's reason in the detail, so nothing is dropped and the
quarantine shows the provider's payload.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from foundation.contract import UNTRANSLATABLE_EVENT_TYPE

MAX_EVENT_ID = 128


@dataclass(frozen=True)
class Untranslatable:
    """A provider object that has no contract meaning we can state exactly."""

    reason: str  # machine-readable: unknown_event_type, price_without_interval, ...
    detail: str  # one line a person can act on
    provider_id: str  # the provider's id of the event or object
    payload: Mapping[str, Any]  # the original object, as received


@dataclass
class Translation:
    """Contract events, untranslatable objects and ignored provider types, from one or many
    provider objects."""

    events: list[dict[str, Any]] = field(default_factory=list)
    untranslatable: list[Untranslatable] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)

    def extend(self, other: Translation) -> Translation:
        self.events.extend(other.events)
        self.untranslatable.extend(other.untranslatable)
        self.ignored.update(other.ignored)
        return self

    def lines(self, source: str) -> list[dict[str, Any]]:
        """The contract lines to land: the events, then one quarantine line per untranslatable
        object."""
        return self.events + [untranslatable_event(source, u) for u in self.untranslatable]


def derived_event_id(source: str, *parts: str) -> str:
    """The contract `event_id` of a provider fact: `<source>:<part>:<part>…` from the provider's
    own ids and the kind of change (e.g. `stripe:sub_123:started`), so every path that sees the
    fact derives the same id. Ids longer than the contract's 128 characters keep their start
    and end a digest of the whole."""
    event_id = ":".join((source, *parts))
    if len(event_id) <= MAX_EVENT_ID:
        return event_id
    digest = hashlib.sha256(event_id.encode()).hexdigest()[:32]
    return f"{event_id[: MAX_EVENT_ID - 33]}~{digest}"


def utc_timestamp(value: int | float | datetime) -> str:
    """RFC 3339 UTC text of a Unix timestamp (what providers send) or an aware datetime."""
    if isinstance(value, datetime):
        moment = value.astimezone(UTC)
    else:
        moment = datetime.fromtimestamp(int(value), UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def contract_event(
    *,
    event_id: str,
    event_type: str,
    occurred_at: int | float | datetime | str,
    source: str,
    customer_id: str,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    """One contract envelope (CONTRACT.md), schema version 1."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else utc_timestamp(occurred_at),
        "source": source,
        "customer_id": customer_id,
        "data": dict(data),
    }


#: Keys of providers' objects whose values name or locate a person (Stripe's customer, charge,
#: invoice and shipping details, billing details, free-text descriptions and metadata). A
#: provider payload kept anywhere (the core's webhook inbox, a quarantine line) keeps its shape
#: and ids but not these values; `country` stays (an aggregate attribute, as in the contract).
PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "phone",
        "description",
        "line1",
        "line2",
        "city",
        "postal_code",
        "state",
        "customer_email",
        "customer_name",
        "customer_phone",
        "receipt_email",
        "ip_address",
        "tax_ids",
        "customer_tax_ids",
        "metadata",
    }
)
REDACTED = "[redacted]"


def without_personal_data(value: Any) -> Any:
    """`value` (a provider payload) with the values of `PERSONAL_KEYS` replaced by
    `[redacted]` at every depth; empty values stay as they are."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if k in PERSONAL_KEYS and v not in (None, "", {}, []) else
                without_personal_data(v))
            for k, v in value.items()
        }  # fmt: skip
    if isinstance(value, list):
        return [without_personal_data(v) for v in value]
    return value


def untranslatable_event(source: str, item: Untranslatable) -> dict[str, Any]:
    """The quarantine line of an untranslatable object: its id derives from the provider id and
    the reason, so a redelivery is a duplicate, not a second quarantine entry. The payload keeps
    no personal values (`without_personal_data`): the warehouse never holds them."""
    return {
        "event_id": derived_event_id(source, item.provider_id, "untranslatable", item.reason),
        "event_type": UNTRANSLATABLE_EVENT_TYPE,
        "schema_version": 1,
        "occurred_at": None,
        "source": source,
        "customer_id": "",
        "data": {
            "reason": item.reason,
            "detail": item.detail,
            "provider_id": item.provider_id,
            "payload": without_personal_data(item.payload),
        },
    }


def ndjson(lines: Iterable[Mapping[str, Any]]) -> bytes:
    """Contract lines as NDJSON bytes (what the landing folder and the outbox hold)."""
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)
