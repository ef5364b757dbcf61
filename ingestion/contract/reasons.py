"""Machine-readable reasons why an event is refused (CONTRACT.md, Bad input)."""

from enum import StrEnum


class Reason(StrEnum):
    INVALID_ENCODING = "invalid_encoding"
    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    UNSUPPORTED_SCHEMA_VERSION = "unsupported_schema_version"
    INVALID_ID = "invalid_id"
    PERSONAL_DATA = "personal_data"
    INVALID_TIMESTAMP = "invalid_timestamp"
    FUTURE_TIMESTAMP = "future_timestamp"
    UNKNOWN_CURRENCY = "unknown_currency"
    UNKNOWN_COUNTRY = "unknown_country"
    INVALID_VALUE = "invalid_value"
    NEGATIVE_AMOUNT = "negative_amount"
    INVALID_DURATION = "invalid_duration"
    INVALID_PERIOD = "invalid_period"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
