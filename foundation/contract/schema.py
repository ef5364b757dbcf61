"""JSON Schema of the contract and the per-field rules derived from it.

The pydantic models in `events` are the single source of truth: the published JSON Schema is
generated from them, and the vectorised validator reads its rules from that schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .events import EVENT_MODELS, SCHEMA_VERSION, Envelope
from .types import EARLIEST, LATEST, MAX_MINOR

SCHEMA_PATH = Path(__file__).with_name(f"contract-v{SCHEMA_VERSION}.schema.json")


@dataclass(frozen=True)
class FieldRule:
    """What one field must satisfy, in the order the validators check it."""

    name: str
    required: bool
    json_types: tuple[str, ...]  # JSON Schema types allowed besides null (when optional)
    nullable: bool
    kind: str | None = None  # currency, country, duration, timestamp, amount, id
    enum: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None


def _collapse(prop: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Split a property schema into its non-null alternatives and whether null is allowed."""
    options = prop.get("anyOf", [prop])
    nullable = any(o.get("type") == "null" for o in options)
    return [o for o in options if o.get("type") != "null"], nullable


def field_rules(model: type[BaseModel]) -> list[FieldRule]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    rules = []
    for name, prop in schema["properties"].items():
        options, nullable = _collapse(prop)
        merged: dict[str, Any] = {k: v for k, v in prop.items() if k != "anyOf"}
        for o in options:
            for key, value in o.items():
                merged.setdefault(key, value)
        types = tuple(dict.fromkeys(o["type"] for o in options if "type" in o))
        enum = merged.get("enum")
        if enum is None and "const" in merged:
            enum = [merged["const"]]
        rules.append(
            FieldRule(
                name=name,
                required=name in required,
                json_types=types,
                nullable=nullable,
                kind=prop.get("x-churniq-kind") or merged.get("x-churniq-kind"),
                enum=tuple(enum) if enum is not None else None,
                minimum=merged.get("minimum"),
                maximum=merged.get("maximum"),
                min_length=merged.get("minLength"),
                max_length=merged.get("maxLength"),
                pattern=merged.get("pattern"),
            )
        )
    return rules


def envelope_rules() -> list[FieldRule]:
    return field_rules(Envelope)


def contract_json_schema() -> dict[str, Any]:
    """One JSON Schema document for producers: the envelope, with `data` chosen by event_type."""
    envelope = Envelope.model_json_schema()
    # the document's own title and description below, not the envelope model's
    envelope.pop("title", None)
    envelope.pop("description", None)
    defs: dict[str, Any] = dict(envelope.pop("$defs", {}))
    branches = []
    for event_type, model in EVENT_MODELS.items():
        payload = model.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(payload.pop("$defs", {}))
        defs[model.__name__] = payload
        branches.append(
            {
                "if": {"properties": {"event_type": {"const": event_type}}},
                "then": {"properties": {"data": {"$ref": f"#/$defs/{model.__name__}"}}},
            }
        )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://churniq.dev/schemas/contract-v{SCHEMA_VERSION}.schema.json",
        "title": f"churniq subscriber event, contract version {SCHEMA_VERSION}",
        "description": "One event of the churniq contract (CONTRACT.md). Money in integer minor "
        f"units (at most {MAX_MINOR:,}), timestamps RFC 3339 with offset from "
        f"{EARLIEST:%Y-%m-%d} to before {LATEST:%Y-%m-%d}, durations ISO 8601 of one unit "
        "(P1M, P1Y, P7D, P2W; not P1Y6M), integers as JSON integer literals (no fraction, "
        "no exponent).",
        **envelope,
        "allOf": branches,
        "$defs": defs,
    }


def render_json_schema() -> str:
    return json.dumps(contract_json_schema(), indent=2, sort_keys=False) + "\n"


def write_json_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(render_json_schema())
    return path
