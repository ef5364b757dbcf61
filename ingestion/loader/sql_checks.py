"""Vectorised validation of a batch of raw lines in DuckDB, derived from the contract schema.

Each line is parsed once (`json_transform` into a struct of raw JSON values) and checked field by field in the
order of the pydantic models, so the first failing rule gives the same reason as
`foundation.contract.validate_line` for that event.
"""

from __future__ import annotations

import json
import re
from functools import cache

from foundation.contract import (
    CATALOGUE_EVENT_TYPES,
    EVENT_MODELS,
    UNTRANSLATABLE_EVENT_TYPE,
    Reason,
)
from foundation.contract.events import Envelope
from foundation.contract.schema import FieldRule, field_rules
from foundation.contract.types import EARLIEST, LATEST, TIMESTAMP_PATTERN
from foundation.contract.validate import EMAIL_PATTERN

_JSON_TYPES = {
    "string": ("VARCHAR",),
    "integer": ("BIGINT", "UBIGINT"),
    "number": ("BIGINT", "UBIGINT", "DOUBLE"),
    "boolean": ("BOOLEAN",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
}


def _lit(value: object) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def _fail(reason: Reason, detail: str) -> str:
    return _lit(f"{reason.value}|{detail}")


def _x(path: str, struct: str = "j") -> str:
    """The value at `$.a.b` as a member of a transformed struct: `j` holds raw JSON text,
    `v` the same values as VARCHAR (strings unquoted). Null if absent or JSON null."""
    return f"{struct}." + ".".join(f'"{p}"' for p in path.removeprefix("$.").split("."))


# Every field is read once into columns (JSON type t_k, text s_k, timestamp ts_k) that the
# checks then share: repeating the JSON functions in each check costs more than the parse.
_COLUMNS: dict[str, int] = {}
_TIMESTAMPS: dict[str, str] = {}


def _col(path: str) -> int:
    return _COLUMNS.setdefault(path, len(_COLUMNS) + 1)


def _text(path: str) -> str:
    return f"s_{_col(path)}"


def _type(path: str) -> str:
    """The first character of the raw JSON value: its JSON type, without parsing it again."""
    return f"k_{_col(path)}"


_DIGITS = ", ".join(_lit(c) for c in "-0123456789")
# A JSON integer is a literal without fraction or exponent (DuckDB renders every float with a
# `.` or an `e`) within 64 bits, signed or unsigned: what orjson reads as an int (beyond, a
# float, which the pydantic validator refuses as the wrong type).
_INTEGER_RANGE = f"between {-(2**63)} and {2**64 - 1}"


def _is_json_type(path: str, json_type: str) -> str:
    k = _type(path)
    return {
        "string": f"{k} = '\"'",
        "integer": f"({k} in ({_DIGITS}) and regexp_full_match({_text(path)}, '-?[0-9]+') "
        f"and try_cast({_text(path)} as hugeint) {_INTEGER_RANGE})",
        "number": f"{k} in ({_DIGITS})",
        "boolean": f"{k} in ('t', 'f')",
        "object": f"{k} = '{{'",
        "array": f"{k} = '['",
    }[json_type]


def _missing(path: str) -> str:
    # json_transform maps both an absent key and JSON null to NULL; tell them apart only then.
    return (
        f"case when {_type(path)} is null then not json_exists(text, {_lit(path)}) else false end"
    )


def _timestamp(path: str) -> str:
    _TIMESTAMPS.setdefault(path, TIMESTAMP_PATTERN)
    return f"ts_{_col(path)}"


def _field_columns() -> str:
    """The projection computing every registered field's columns once."""
    out = []
    for path, k in _COLUMNS.items():
        out.append(f"left({_x(path)}::varchar, 1) as k_{k}")
        out.append(f"{_x(path, 'v')} as s_{k}")
        if path in _TIMESTAMPS:
            out.append(
                f"case when regexp_full_match(s_{k}, {_lit(_TIMESTAMPS[path])}) "
                f"then try_cast(upper(s_{k}) as timestamptz) end as tr_{k}"
            )
            out.append(
                f"case when tr_{k} >= {_lit(EARLIEST.isoformat())}::timestamptz "
                f"and tr_{k} < {_lit(LATEST.isoformat())}::timestamptz then tr_{k} end as ts_{k}"
            )
    return ",\n         ".join(out)


def _field_checks(rule: FieldRule, x: str, where: str) -> list[tuple[str, str]]:
    """(condition that means failure, reason|detail) pairs for one field, in check order."""
    checks: list[tuple[str, str]] = []
    if rule.required:
        checks.append((_missing(x), _fail(Reason.MISSING_FIELD, f"{where}: Field required")))
    present = f"{_type(x)} is not null"
    if not rule.nullable:
        # absent is fine for an optional field (its default applies); JSON null never is
        null = f"{_type(x)} is null" + (
            "" if rule.required else f" and json_exists(text, {_lit(x)})"
        )
        checks.append((null, _fail(Reason.WRONG_TYPE, f"{where}: must not be null")))
    if rule.json_types:
        allowed = " or ".join(_is_json_type(x, t) for t in rule.json_types)
        checks.append(
            (
                f"{present} and not ({allowed})",
                _fail(Reason.WRONG_TYPE, f"{where}: should be {' or '.join(rule.json_types)}"),
            )
        )
    is_text = rule.json_types == ("string",)
    if rule.kind == "timestamp":
        checks.append(
            (
                f"{present} and {_timestamp(x)} is null",
                _fail(Reason.INVALID_TIMESTAMP, f"{where}: not RFC 3339 or out of range"),
            )
        )
    if rule.enum is not None:
        reason = {"currency": Reason.UNKNOWN_CURRENCY, "country": Reason.UNKNOWN_COUNTRY}.get(
            rule.kind or "", Reason.INVALID_VALUE
        )
        value = _text(x) if is_text else f"try_cast({_text(x)} as hugeint)"
        members = ", ".join(_lit(v) for v in rule.enum)
        checks.append(
            (
                f"{present} and coalesce({value} not in ({members}), true)",
                _fail(reason, f"{where}: not allowed"),
            )
        )
    if is_text and (rule.min_length is not None or rule.max_length is not None):
        lo, hi = rule.min_length or 0, rule.max_length or 1_000_000
        reason = Reason.INVALID_ID if rule.kind == "id" else Reason.INVALID_VALUE
        checks.append(
            (
                f"{present} and length({_text(x)}) not between {lo} and {hi}",
                _fail(reason, f"{where}: length must be {lo} to {hi}"),
            )
        )
    if rule.minimum is not None:
        reason = Reason.NEGATIVE_AMOUNT if rule.kind == "amount" else Reason.INVALID_VALUE
        checks.append(
            (
                f"{present} and try_cast({_text(x)} as double) < {rule.minimum}",
                _fail(reason, f"{where}: must be >= {rule.minimum}"),
            )
        )
    if rule.maximum is not None:
        checks.append(
            (
                f"{present} and try_cast({_text(x)} as double) > {rule.maximum}",
                _fail(Reason.INVALID_VALUE, f"{where}: must be <= {rule.maximum}"),
            )
        )
    if rule.pattern is not None and rule.kind != "timestamp":
        reason = Reason.INVALID_DURATION if rule.kind == "duration" else Reason.INVALID_VALUE
        checks.append(
            (
                f"{present} and not regexp_full_match({_text(x)}, {_lit(rule.pattern)})",
                _fail(reason, f"{where}: does not match {rule.pattern}"),
            )
        )
    return checks


def _case(checks: list[tuple[str, str]]) -> str:
    whens = "\n      ".join(f"when {cond} then {out}" for cond, out in checks)
    return f"case\n      {whens}\n    end"


def _structure(data_fields: list[str], as_type: str) -> str:
    """The json_transform structure: envelope and the given payload fields, all as `as_type`."""
    envelope = {name: as_type for name in Envelope.model_fields if name != "data"}
    data = {"data": dict.fromkeys(data_fields, as_type)} if data_fields else {}
    return json.dumps(envelope | data)


def _envelope_checks(known_type: bool) -> list[tuple[str, str]]:
    checks_out: list[tuple[str, str]] = []
    for rule in field_rules(Envelope):
        if rule.name == "event_type" and known_type:
            continue  # the branch is chosen by a valid event_type
        checks = [] if rule.name == "data" else _field_checks(rule, f"$.{rule.name}", rule.name)
        if rule.name == "event_type":  # its enum check has a reason of its own
            checks = [
                (c, _fail(Reason.UNKNOWN_EVENT_TYPE, "event_type: unknown"))
                if o.startswith("'invalid_value")
                else (c, o)
                for c, o in checks
            ]
        if rule.name == "schema_version":
            checks = [
                (c, _fail(Reason.UNSUPPORTED_SCHEMA_VERSION, "schema_version: must be 1"))
                if o.startswith("'invalid_value")
                else (c, o)
                for c, o in checks
            ]
        if rule.name == "data":  # read its JSON type from the text (it may be no object)
            checks = [
                (
                    "json_type(text, '$.data') is null",
                    _fail(Reason.MISSING_FIELD, "data: Field required"),
                ),
                (
                    "json_type(text, '$.data') <> 'OBJECT'",
                    _fail(Reason.WRONG_TYPE, "data: should be object"),
                ),
            ]
        checks_out += checks
    customer = _text("$.customer_id")
    catalogue = ", ".join(_lit(t) for t in sorted(CATALOGUE_EVENT_TYPES))
    return checks_out + [
        (
            f"{_timestamp('$.occurred_at')} > $1",
            _fail(Reason.FUTURE_TIMESTAMP, "occurred_at is in the future"),
        ),
        (
            f"ev_type in ({catalogue}) and {customer} <> ''",
            _fail(Reason.INVALID_ID, "customer_id must be empty for catalogue events"),
        ),
        (
            f"ev_type not in ({catalogue}) and {customer} = ''",
            _fail(Reason.MISSING_FIELD, "customer_id: required for subscriber events"),
        ),
        (
            f"contains({customer}, '@') and "
            f"regexp_full_match({customer}, {_lit(EMAIL_PATTERN.strip('^$'))})",
            _fail(Reason.PERSONAL_DATA, "customer_id looks like an e-mail address"),
        ),
    ]


def _payload_checks(model) -> list[tuple[str, str]]:
    checks: list[tuple[str, str]] = []
    typed: dict[str, str] = {}
    for rule in field_rules(model):
        path = f"$.data.{rule.name}"
        checks += _field_checks(rule, path, f"data.{rule.name}")
        typed[rule.name] = _timestamp(path) if rule.kind == "timestamp" else _text(path)
    for cond, reason, detail in model.sql_rules:
        expr = re.sub(r"\b[a-z_]+\b", lambda m, t=typed: t.get(m.group(0), m.group(0)), cond)
        checks.append((f"not coalesce({expr}, false)", _lit(f"{reason}|{detail}")))
    return checks


def _branch(event_type: str | None) -> str:
    """Validate the pre-parsed lines of one event type (or, for None, of no known type)."""
    _COLUMNS.clear()
    _TIMESTAMPS.clear()
    checks = _envelope_checks(known_type=event_type is not None)
    data_fields: list[str] = []
    if event_type is not None:
        model = EVENT_MODELS[event_type]
        checks += _payload_checks(model)
        data_fields = list(model.model_fields)
        rows = f"ev_type = {_lit(event_type)}"
    else:
        # a connector's untranslatable provider object: quarantined with the connector's reason
        detail = (
            "rtrim(coalesce(json_extract_string(text, '$.data.reason'), 'unknown') || ': ' || "
            "coalesce(json_extract_string(text, '$.data.detail'), ''), ': ')"
        )
        untranslatable = _lit(f"{Reason.UNTRANSLATABLE.value}|")
        checks.insert(
            0, (f"ev_type = {_lit(UNTRANSLATABLE_EVENT_TYPE)}", f"{untranslatable} || {detail}")
        )
        known = ", ".join(_lit(t) for t in EVENT_MODELS)
        rows = f"ev_type is null or ev_type not in ({known})"
    customer = _text("$.customer_id")
    final_columns = f"""
       case when failure is not null then rtrim(text, chr(13) || chr(10)) end as text,
       {_text("$.event_id")} as event_id,
       case when failure is null then ev_type end as event_type,
       case when failure is null then cast({_text("$.schema_version")} as integer) end
         as schema_version,
       case when failure is null then cast(timezone('UTC', {_timestamp("$.occurred_at")})
         as timestamp) end as occurred_at,
       case when failure is null then {_text("$.source")} end as source,
       case when failure is null then nullif({customer}, '') end as customer_id,
       case when failure is null then json_extract(text, '$.data') end as data"""
    fields = _field_columns()  # after every check has registered the fields it reads
    raw, text = _lit(_structure(data_fields, "JSON")), _lit(_structure(data_fields, "VARCHAR"))
    return f"""
select line_no, failure,{final_columns}
from (
  select *,
    case
      when text is null then {_fail(Reason.INVALID_ENCODING, "line is not valid UTF-8")}
      when top is null then {_fail(Reason.MALFORMED_JSON, "line is not valid JSON")}
      when top <> 'OBJECT' then {_fail(Reason.NOT_AN_OBJECT, "an event must be a JSON object")}
      else {_case(checks)}
    end as failure
  from (
    select line_no, text, top, ev_type,
           {fields}
    from (
      select *, case when top = 'OBJECT' then json_transform(text, {raw}) end as j,
                case when top = 'OBJECT' then json_transform(text, {text}) end as v
      from pre where {rows}
    )
  )
)"""


# JSON that DuckDB reads but orjson (the pydantic validator's parser) refuses is malformed for
# both: a number beyond a double (1e400) and nesting deeper than orjson's 1024 levels. The cheap
# tests (a long exponent or mantissa; a line long enough to nest that deep) guard the exact ones.
_OUTSIDE_STRINGS = """regexp_replace(text, '"(?:[^"\\\\]|\\\\.)*"', '""', 'g')"""
# A number that may not fit a double: an exponent of three digits or more, or 40 digits before
# it (an exponent under 100 needs 209 digits to overflow); a number starts after `:`, `,`, `[`.
_LONG_NUMBER = r"(?:^|[:,\[])[ \t\n\r]*-?(?:[0-9]+(?:[.][0-9]+)?[eE][+]?[0-9]{3}|[0-9]{40})"
_INFINITE_NUMBER = f"""list_bool_or(list_transform(
    regexp_extract_all({_OUTSIDE_STRINGS}, '-?[0-9]+(?:[.][0-9]+)?(?:[eE][-+]?[0-9]+)?'),
    lambda n: isinf(try_cast(n as double))))"""
ORJSON_MAX_DEPTH = 1024
# The fold carries (deepest so far, depth now) packed in one BIGINT: deepest * base + now. The
# base is above any depth a line within the line-length limit can reach, and base² fits BIGINT.
_DEPTH_BASE = 10**8
_TOO_DEEP = f"""list_reduce(
    list_transform(string_split(regexp_replace({_OUTSIDE_STRINGS}, '[^\\[\\]{{}}]', '', 'g'), ''),
                   lambda c: case when c in ('[', '{{') then 1 else -1 end),
    lambda acc, x: greatest(acc // {_DEPTH_BASE}, acc % {_DEPTH_BASE} + x) * {_DEPTH_BASE}
                   + acc % {_DEPTH_BASE} + x,
    0::bigint) // {_DEPTH_BASE} > {ORJSON_MAX_DEPTH}"""
# DuckDB also reads the literals inf, infinity and nan (any case, with a minus) as numbers.
_NON_FINITE_LITERAL = r"(?i)(?:^|[:,\[])[ \t\n\r]*-?(?:inf|infinity|nan)[ \t\n\r]*(?:[,}\]]|$)"
# CASE evaluates the exact tests only on the rows the cheap ones select (AND would not).
_UNREADABLE_BY_ORJSON = f"""case
      when regexp_matches(text, {_lit(_LONG_NUMBER)}) then {_INFINITE_NUMBER}
      else false end
    or case when regexp_matches(text, '(?i)(inf|nan)')
            then regexp_matches({_OUTSIDE_STRINGS}, {_lit(_NON_FINITE_LITERAL)}) else false end
    or case when length(text) > {2 * ORJSON_MAX_DEPTH} then {_TOO_DEEP} else false end"""


@cache
def validation_sql(relation: str) -> str:
    """SQL over `relation(line_no, text)` yielding every line with its verdict.

    Output columns: line_no, failure ('reason|detail' or null), text (bad lines only), event_id,
    event_type, schema_version, occurred_at (UTC timestamp), source, customer_id, data.
    Takes one parameter: the latest acceptable occurred_at (now + clock skew), a timestamptz.

    Lines are split by event type first, so each is checked against its own fields only:
    one branch per type, and one for lines without a known type.
    """
    branches = "\nunion all\n".join([_branch(None)] + [_branch(t) for t in EVENT_MODELS])
    return f"""
with pre as materialized (
  -- Lines keep their line end (JSON whitespace); blank lines are not events. Routing by the
  -- event_type text is safe: a value of another JSON type never spells a known type name.
  select line_no, text, top,
         case when top = 'OBJECT' then json_extract_string(text, '$.event_type') end as ev_type
  from (
    select line_no, text,
           case when coalesce({_UNREADABLE_BY_ORJSON}, false) then null
                else try(json_type(text)) end as top
    from {relation}
    where text is null or case when length(text) > 2 then true else trim(text) <> '' end
  )
)
{branches}
"""
