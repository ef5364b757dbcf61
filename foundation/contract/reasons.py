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
    # a provider object a connector could not translate (`connector.untranslatable` lines)
    UNTRANSLATABLE = "untranslatable"
    # found by the file readers, before any validation
    MALFORMED_ROW = "malformed_row"  # a CSV row: wrong number of fields, unterminated quote
    LINE_TOO_LONG = "line_too_long"
    # a whole file (source_line 0): nothing of it is loaded
    UNREADABLE_FILE = "unreadable_file"  # truncated gzip, corrupt Parquet, missing columns
    FILE_TOO_LARGE = "file_too_large"  # over the limit of bytes or lines per file
    TOO_MANY_BAD_LINES = "too_many_bad_lines"  # over the limit of quarantined lines per file


#: The event type of a line that carries a provider object a connector could not translate
#: (`connectors.translation`): always quarantined, with the connector's reason and detail.
UNTRANSLATABLE_EVENT_TYPE = "connector.untranslatable"

#: Reasons a replay cannot change: the validator never sees these lines (or files); the file
#: must be fixed and landed again.
READER_REASONS = frozenset(
    {
        Reason.MALFORMED_ROW,
        Reason.LINE_TOO_LONG,
        Reason.UNREADABLE_FILE,
        Reason.FILE_TOO_LARGE,
        Reason.TOO_MANY_BAD_LINES,
    }
)
