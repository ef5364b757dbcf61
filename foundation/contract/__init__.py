"""The churniq event contract, version 1 (CONTRACT.md): schemas, reasons, validation."""

from .events import (
    CATALOGUE_EVENT_TYPES,
    EVENT_FAMILIES,
    EVENT_MODELS,
    EVENT_TYPES,
    SCHEMA_VERSION,
    Envelope,
)
from .reasons import UNTRANSLATABLE_EVENT_TYPE, Reason
from .schema import SCHEMA_PATH, contract_json_schema, field_rules, write_json_schema
from .validate import DEFAULT_CLOCK_SKEW, Verdict, validate_event, validate_line

__all__ = [
    "CATALOGUE_EVENT_TYPES",
    "DEFAULT_CLOCK_SKEW",
    "EVENT_FAMILIES",
    "EVENT_MODELS",
    "EVENT_TYPES",
    "SCHEMA_PATH",
    "SCHEMA_VERSION",
    "Envelope",
    "Reason",
    "UNTRANSLATABLE_EVENT_TYPE",
    "Verdict",
    "contract_json_schema",
    "field_rules",
    "validate_event",
    "validate_line",
    "write_json_schema",
]
