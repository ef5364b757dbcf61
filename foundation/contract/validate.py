"""Validation of single events with pydantic (producers, the core, tests).

Batches are validated by the equivalent vectorised checks in `ingestion.loader.sql_checks`;
both return the same first reason for an event (tested).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from .events import CATALOGUE_EVENT_TYPES, EVENT_MODELS, Envelope
from .reasons import UNTRANSLATABLE_EVENT_TYPE, Reason
from .schema import FieldRule, envelope_rules, field_rules

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)
# ASCII whitespace spelled out: `\s` means more in Python than in DuckDB's RE2.
_NOT_AT_OR_SPACE = r"[^@\t\n\x0b\f\r ]"
EMAIL_PATTERN = rf"^{_NOT_AT_OR_SPACE}+@{_NOT_AT_OR_SPACE}+\.{_NOT_AT_OR_SPACE}+$"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: Reason | None = None
    detail: str = ""
    event: dict[str, Any] | None = None


_RULES = {"envelope": {r.name: r for r in envelope_rules()}} | {
    t: {r.name: r for r in field_rules(m)} for t, m in EVENT_MODELS.items()
}
_TYPE_ERRORS = ("_type", "_parsing", "int_from_float", "bool_parsing", "is_instance")


_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def _json_type_ok(value: Any, rule: FieldRule) -> bool:
    if value is None:
        return rule.nullable
    if isinstance(value, bool) and "boolean" not in rule.json_types:
        return False
    return any(isinstance(value, _PY_TYPES[t]) for t in rule.json_types)


def _reason_for(error: dict[str, Any], rule: FieldRule | None) -> Reason:
    etype: str = error["type"]
    kind = rule.kind if rule else None
    if etype == "missing":
        return Reason.MISSING_FIELD
    if rule is not None and rule.json_types and not _json_type_ok(error.get("input"), rule):
        return Reason.WRONG_TYPE
    if etype == "value_error":
        return Reason(str(error["msg"]).split("Value error, ", 1)[-1].split(":", 1)[0])
    if kind == "timestamp":
        return Reason.INVALID_TIMESTAMP
    if etype == "literal_error":
        return {
            "currency": Reason.UNKNOWN_CURRENCY,
            "country": Reason.UNKNOWN_COUNTRY,
        }.get(kind or "", Reason.INVALID_VALUE)
    if etype.startswith(("string_too_", "too_")) and kind == "id":
        return Reason.INVALID_ID
    if etype == "greater_than_equal" and kind == "amount":
        return Reason.NEGATIVE_AMOUNT
    if etype == "string_pattern_mismatch" and kind == "duration":
        return Reason.INVALID_DURATION
    if etype.endswith(_TYPE_ERRORS) or etype in ("dict_type", "model_type"):
        return Reason.WRONG_TYPE
    return Reason.INVALID_VALUE


def _first(exc: ValidationError, rules: dict[str, FieldRule], prefix: str) -> Verdict:
    error = exc.errors()[0]
    loc = error["loc"]
    name = str(loc[0]) if loc else ""
    reason = _reason_for(error, rules.get(name))
    where = f"{prefix}{name}" if name else prefix.rstrip(".") or "event"
    return Verdict(False, reason, f"{where}: {error['msg']}")


def untranslatable_detail(data: Any) -> str:
    """`<connector reason>: <detail>` of a `connector.untranslatable` line."""
    data = data if isinstance(data, dict) else {}
    return f"{data.get('reason') or 'unknown'}: {data.get('detail') or ''}".rstrip(": ")


def validate_line(
    text: str | bytes, now: datetime | None = None, clock_skew: timedelta = DEFAULT_CLOCK_SKEW
) -> Verdict:
    """Validate one NDJSON line; returns the first reason it is refused, or the parsed event."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            return Verdict(False, Reason.INVALID_ENCODING, "line is not valid UTF-8")
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Verdict(False, Reason.MALFORMED_JSON, str(exc).split(":")[0])
    return validate_event(obj, now=now, clock_skew=clock_skew)


def validate_event(
    obj: Any, now: datetime | None = None, clock_skew: timedelta = DEFAULT_CLOCK_SKEW
) -> Verdict:
    if not isinstance(obj, dict):
        return Verdict(False, Reason.NOT_AN_OBJECT, "an event must be a JSON object")
    if obj.get("event_type") == UNTRANSLATABLE_EVENT_TYPE:
        return Verdict(False, Reason.UNTRANSLATABLE, untranslatable_detail(obj.get("data")))
    raw = orjson.dumps(obj)
    try:
        envelope = Envelope.model_validate_json(raw)
    except ValidationError as exc:
        verdict = _first(exc, _RULES["envelope"], "")
        if verdict.detail.startswith("event_type:") and verdict.reason == Reason.INVALID_VALUE:
            return Verdict(False, Reason.UNKNOWN_EVENT_TYPE, verdict.detail)
        if verdict.detail.startswith("schema_version:") and verdict.reason == Reason.INVALID_VALUE:
            return Verdict(False, Reason.UNSUPPORTED_SCHEMA_VERSION, verdict.detail)
        return verdict
    now = now or datetime.now(UTC)
    if envelope.occurred_at > now + clock_skew:
        return Verdict(False, Reason.FUTURE_TIMESTAMP, "occurred_at is in the future")
    if envelope.event_type in CATALOGUE_EVENT_TYPES:
        if envelope.customer_id:
            return Verdict(
                False, Reason.INVALID_ID, "customer_id must be empty for catalogue events"
            )
    elif not envelope.customer_id:
        return Verdict(False, Reason.MISSING_FIELD, "customer_id: required for subscriber events")
    elif re.fullmatch(EMAIL_PATTERN, envelope.customer_id):
        return Verdict(False, Reason.PERSONAL_DATA, "customer_id looks like an e-mail address")
    model = EVENT_MODELS[envelope.event_type]
    try:
        model.model_validate_json(orjson.dumps(obj["data"]))
    except ValidationError as exc:
        return _first(exc, _RULES[envelope.event_type], "data.")
    return Verdict(True, event=obj)
