"""The contract: every event type's example is valid, every kind of bad input has its reason,
and the vectorised validator agrees with the pydantic one on each case."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import duckdb
import jsonschema
import pyarrow as pa
import pytest

from foundation.contract import (
    EVENT_MODELS,
    EVENT_TYPES,
    SCHEMA_PATH,
    Reason,
    contract_json_schema,
    field_rules,
    validate_line,
)
from foundation.contract.examples import all_examples, example
from foundation.contract.schema import render_json_schema
from ingestion.loader.sql_checks import validation_sql

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def sql_reasons(lines: list[str | None]) -> list[str | None]:
    """Reasons from the vectorised validator, one per line (None = valid)."""
    con = duckdb.connect()
    table = pa.table(
        {"line_no": pa.array(range(1, len(lines) + 1), pa.int64()), "text": pa.array(lines)}
    )
    con.register("lines", table)
    rows = con.execute(
        f"select line_no, failure from ({validation_sql('lines')}) order by line_no",
        [NOW + timedelta(minutes=5)],
    ).fetchall()
    by_line = {n: (f.split("|")[0] if f else None) for n, f in rows}
    return [by_line.get(i + 1, "skipped") for i in range(len(lines))]


def py_reason(line: str) -> str | None:
    verdict = validate_line(line, now=NOW)
    return None if verdict.ok else verdict.reason.value


def test_every_event_type_has_a_valid_example():
    examples = all_examples()
    assert [e["event_type"] for e in examples] == list(EVENT_TYPES)
    lines = [json.dumps(e) for e in examples]
    assert [py_reason(x) for x in lines] == [None] * len(lines)
    assert sql_reasons(lines) == [None] * len(lines)


def test_published_json_schema_is_current_and_accepts_the_examples():
    assert SCHEMA_PATH.read_text() == render_json_schema(), "run `churniq schema`"
    schema = contract_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for event in all_examples():
        validator.validate(event)
    bad = example("subscription.started")
    bad["data"]["price_minor"] = -1
    assert not validator.is_valid(bad)
    bad = example("payment.failed")
    del bad["data"]["failure_code"]
    assert not validator.is_valid(bad)


def _mutations() -> list[tuple[str, str, str]]:
    """(case name, line, expected reason) for single faults of every kind and type."""
    cases: list[tuple[str, str, str]] = []
    for event_type, model in EVENT_MODELS.items():
        base = example(event_type)
        for rule in field_rules(model):
            if rule.required:
                e = copy.deepcopy(base)
                del e["data"][rule.name]
                cases.append((f"{event_type}: no {rule.name}", json.dumps(e), "missing_field"))
            e = copy.deepcopy(base)
            e["data"][rule.name] = [] if rule.json_types != ("array",) else 1
            cases.append((f"{event_type}: {rule.name} list", json.dumps(e), "wrong_type"))
            if rule.kind == "amount":
                e = copy.deepcopy(base)
                e["data"][rule.name] = -5
                cases.append((f"{event_type}: {rule.name} < 0", json.dumps(e), "negative_amount"))
            if rule.kind == "currency":
                e = copy.deepcopy(base)
                e["data"][rule.name] = "EURO"
                cases.append((f"{event_type}: currency", json.dumps(e), "unknown_currency"))
            if rule.kind == "country":
                e = copy.deepcopy(base)
                e["data"][rule.name] = "XX"
                cases.append((f"{event_type}: country", json.dumps(e), "unknown_country"))
            if rule.kind == "duration":
                e = copy.deepcopy(base)
                e["data"][rule.name] = "1 month"
                cases.append((f"{event_type}: duration", json.dumps(e), "invalid_duration"))
            if rule.kind == "timestamp":
                e = copy.deepcopy(base)
                e["data"][rule.name] = "2026-01-15 10:00"
                cases.append((f"{event_type}: {rule.name}", json.dumps(e), "invalid_timestamp"))
            if rule.enum is not None and rule.kind not in ("currency", "country"):
                e = copy.deepcopy(base)
                e["data"][rule.name] = "no_such_value"
                cases.append((f"{event_type}: {rule.name} enum", json.dumps(e), "invalid_value"))
    ok = example("subscription.started")
    envelope_cases = {
        "unknown type": ({**ok, "event_type": "subscription.exploded"}, "unknown_event_type"),
        "schema 2": ({**ok, "schema_version": 2}, "unsupported_schema_version"),
        "schema as text": ({**ok, "schema_version": "1"}, "wrong_type"),
        "no event_id": ({k: v for k, v in ok.items() if k != "event_id"}, "missing_field"),
        "empty event_id": ({**ok, "event_id": ""}, "invalid_id"),
        "long event_id": ({**ok, "event_id": "x" * 129}, "invalid_id"),
        "naive time": ({**ok, "occurred_at": "2026-01-15T10:00:00"}, "invalid_timestamp"),
        "not a time": ({**ok, "occurred_at": "yesterday"}, "invalid_timestamp"),
        "future": ({**ok, "occurred_at": "2026-06-02T00:00:00Z"}, "future_timestamp"),
        "data is text": ({**ok, "data": "{}"}, "wrong_type"),
        "null source": ({**ok, "source": None}, "wrong_type"),
        "e-mail id": ({**ok, "customer_id": "jane@example.com"}, "personal_data"),
        "no customer": ({**ok, "customer_id": ""}, "missing_field"),
        "offer with customer": (
            {**example("offer.published"), "customer_id": "c_1"},
            "invalid_id",
        ),
        "payment without target": (
            {
                **example("payment.succeeded"),
                "data": {
                    k: v
                    for k, v in example("payment.succeeded")["data"].items()
                    if k != "subscription_id"
                },
            },
            "missing_field",
        ),
        "engagement over a week": (
            {
                **example("engagement.activity"),
                "data": {
                    **example("engagement.activity")["data"],
                    "period_start": "2026-01-01T00:00:00Z",
                },
            },
            "invalid_period",
        ),
        "csat 6": (
            {
                **example("support.ticket_resolved"),
                "data": {"ticket_id": "t", "resolution_minutes": 1, "csat": 6},
            },
            "invalid_value",
        ),
    }
    cases += [(name, json.dumps(e), reason) for name, (e, reason) in envelope_cases.items()]
    cases += [
        ("malformed", '{"event_id": "x",', "malformed_json"),
        ("array", "[1, 2]", "not_an_object"),
        ("scalar", "42", "not_an_object"),
    ]
    return cases


CASES = _mutations()


@pytest.mark.parametrize(("name", "line", "reason"), CASES, ids=[c[0] for c in CASES])
def test_pydantic_reason(name: str, line: str, reason: str):
    assert py_reason(line) == reason


def test_vectorised_validator_agrees_on_every_case():
    got = sql_reasons([line for _, line, _ in CASES])
    wrong = [(n, r, g) for (n, _, r), g in zip(CASES, got, strict=True) if g != r]
    assert not wrong, wrong


def test_invalid_utf8_is_its_own_reason():
    assert validate_line(b'{"event_id": "\xff"}').reason == Reason.INVALID_ENCODING
    assert sql_reasons([None]) == ["invalid_encoding"]


def test_timestamps_with_offsets_are_stored_in_utc():
    con = duckdb.connect()
    e = example("customer.created", occurred_at="2026-01-15T12:30:00+02:00")
    con.register("lines", pa.table({"line_no": [1], "text": [json.dumps(e)]}))
    got = con.execute(f"select occurred_at from ({validation_sql('lines')})", [NOW]).fetchall()[0][
        0
    ]
    assert got == datetime(2026, 1, 15, 10, 30)
