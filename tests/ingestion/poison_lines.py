"""Poison lines of issue 14: each used to pass validation (or reach quarantine) and then stop
every later run. Each maps to the reason the contract now refuses it with."""

from __future__ import annotations

import json

from foundation.contract.examples import example

NESTED = "[" * 2000 + "]" * 2000


def _with_data(event_type: str, **data) -> str:
    e = example(event_type)
    e["data"].update(data)
    return json.dumps(e)


POISON = {
    "year 1": (
        json.dumps(example("customer.created", occurred_at="0001-01-01T00:00:00Z")),
        "invalid_timestamp",
    ),
    "epoch zero": (
        json.dumps(example("customer.created", occurred_at="1970-01-01T00:00:00Z")),
        "invalid_timestamp",
    ),
    "year 9999 in data": (
        _with_data("subscription.started", current_period_end="9999-12-31T23:59:59Z"),
        "invalid_timestamp",
    ),
    "price 1e30": (
        _with_data("subscription.started", price_minor=1).replace(
            '"price_minor": 1', '"price_minor": 1e30'
        ),
        "wrong_type",
    ),
    "price beyond bigint": (
        _with_data("subscription.started", price_minor=2**63),
        "invalid_value",
    ),
    "price beyond the money bound": (
        _with_data("subscription.started", price_minor=10**12 + 1),
        "invalid_value",
    ),
    "compound billing period": (
        _with_data("subscription.started", billing_period="P1Y6M"),
        "invalid_duration",
    ),
    "zero billing period": (
        _with_data("offer.published", billing_period="P0M"),
        "invalid_duration",
    ),
    "negative minutes": (_with_data("engagement.activity", minutes_watched=-5), "invalid_value"),
    "sessions beyond INTEGER": (
        _with_data("engagement.activity", sessions=2**31),
        "invalid_value",
    ),
    "nested brackets": (NESTED, "malformed_json"),
}
