"""One validator of record: the vectorised SQL validator gives the same verdict and the same
first reason as the contract's pydantic validator on generated events.

Valid events are drawn from the contract's field rules; hostile ones change one or more fields
(or the envelope) to wrong JSON types, floats and exponents where integers belong, huge and
negative numbers, extreme and malformed dates, odd durations, nulls, unicode and extra keys.
Each hypothesis example is one batch of lines validated in one DuckDB query.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from foundation.contract import EVENT_MODELS, Envelope, field_rules, validate_line
from foundation.contract.examples import example
from foundation.contract.schema import FieldRule
from foundation.contract.types import COUNTRIES, CURRENCIES
from ingestion.loader.sql_checks import validation_sql

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SKEW = timedelta(minutes=5)
_RAW = "\x00raw:"  # a string value standing for a raw JSON literal (numbers json cannot write)

# ---- hostile values --------------------------------------------------------------------------

RAW_NUMBERS = [
    "9.99", "1.0", "-0.0", "0.5e1", "1e20", "1E2", "1e-7", "1e308", "1e400", "-1e400",
    "2e+2", str(2**31 - 1), str(2**31), str(2**53 + 1), str(2**63 - 1), str(2**63),
    str(2**64 - 1), str(2**64), str(-(2**63)), str(-(2**63) - 1), "1" + "0" * 30,
    "1" + "0" * 400, "-1", "-5", "0", "-0", "1000000000000", "1000000000001", "10080",
    "NaN", "-Infinity", "inf", "-nan", "INFINITY",  # DuckDB reads these as numbers, orjson not
]  # fmt: skip
TIMESTAMPS = [
    "0001-01-01T00:00:00Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z", "1999-12-31T23:59:59Z", "1999-12-31T23:00:00-01:00",
    "2000-01-01T00:00:00Z", "2000-01-01T00:30:00+01:00", "2026-02-29T00:00:00Z",
    "2024-02-29T12:00:00Z", "2026-01-01T24:00:00Z", "2025-12-31T23:59:60Z",
    "2026-01-01T00:00:00+25:00", "2026-01-01T00:00:00+23:59", "2026-01-01T00:00:00-00:00",
    "2026-01-01T00:00:00.123456789Z", "2026-01-01T00:00:00.1234567Z", "2026-01-01t00:00:00z",
    "2026-01-01 00:00:00Z", "2026-01-01T00:00:00+0100", "2026-01-01T00:00Z", "2026-01-01",
    "2026-13-01T00:00:00Z", "2026-06-01T00:04:59Z", "2026-06-01T00:05:01Z",
    "2199-12-31T23:59:59Z", "2200-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
    "2026-01-01T00:00:00.Z", "+2026-01-01T00:00:00Z", "２０２６-01-01T00:00:00Z",
    "2026-01-01T00:00:00\u200bZ", "",
]  # fmt: skip
DURATIONS = [
    "P1M", "P3M", "P1Y", "P7D", "P2W", "P12M", "P999D", "P1000D", "P0M", "P0D", "P00M",
    "P01M", "P1Y6M", "P1M1D", "P", "P1.5M", "PT1H", "P1H", "p1m", "P1m", "P-1M", "P١M",
    "P1M ", " P1M", "once", "forever", "Once", "P99999999999999999999M",
]  # fmt: skip
STRINGS = [
    "", "x", "x" * 64, "x" * 65, "x" * 128, "x" * 129, "é" * 128, "é" * 129, "🙂" * 128,
    "🙂" * 129, "e\u0301" * 100, "a@b.cd", "a@b.c\u3000d", "a\u00a0@b.cd", "a@b.c\x1cd",
    "a\x0b@b.cd", "\u202eRTL", "zero\u200bwidth", "nul\x00byte", "line\nbreak", "EUR", "DE",
    "web", "1", "true", "null", "{}", "'; drop table raw.events; --",
]  # fmt: skip
WRONG_TYPES: list[Any] = [None, True, False, [], [1], {}, {"a": 1}, 0, 1.5, "1"]


def raw(text: str) -> str:
    return _RAW + text


def dumps(obj: Any) -> str:
    """JSON text in which `raw(...)` strings become the literal they carry."""
    return _unraw(json.dumps(obj, ensure_ascii=False))


def _unraw(text: str) -> str:
    marker = '"\\u0000raw:'
    out, i = [], 0
    while (j := text.find(marker, i)) >= 0:
        end = text.index('"', j + len(marker))
        out += [text[i:j], text[j + len(marker) : end]]
        i = end + 1
    return "".join(out + [text[i:]])


# ---- valid values from the contract's rules -------------------------------------------------

_TS_RANGE = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2199, 12, 31), timezones=st.just(UTC)
)


def _timestamp_text(dt: datetime, offset_minutes: int) -> str:
    local = dt.astimezone(UTC) + timedelta(minutes=offset_minutes)
    sign = "+" if offset_minutes >= 0 else "-"
    hh, mm = divmod(abs(offset_minutes), 60)
    zone = "Z" if offset_minutes == 0 else f"{sign}{hh:02d}:{mm:02d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + zone


valid_timestamp = st.builds(
    _timestamp_text, _TS_RANGE, st.sampled_from([0, 0, 60, -300, 330, 13 * 60 + 45])
)


def valid_value(rule: FieldRule) -> st.SearchStrategy[Any]:
    kind, types = rule.kind, rule.json_types
    if rule.enum is not None:
        return st.sampled_from(rule.enum)
    if kind == "currency":
        return st.sampled_from(CURRENCIES)
    if kind == "country":
        return st.sampled_from(COUNTRIES)
    if kind == "timestamp":
        return valid_timestamp
    if kind == "duration":
        units = st.sampled_from("DWMY")
        single = st.builds(lambda n, u: f"P{n}{u}", st.integers(1, 999), units)
        if rule.pattern and "once" in rule.pattern:
            return st.one_of(single, st.sampled_from(["once", "forever"]))
        return single
    lo = rule.minimum if rule.minimum is not None else -(2**31)
    hi = rule.maximum if rule.maximum is not None else 2**31 - 1
    if types == ("integer",):
        return st.integers(int(lo), int(hi))
    if "number" in types:
        return st.one_of(
            st.integers(int(lo), int(hi)),
            st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        )
    if types == ("boolean",):
        return st.booleans()
    if types == ("string",):
        return st.text(min_size=rule.min_length or 0, max_size=min(rule.max_length or 40, 40))
    return st.just(None)


RULES = {event_type: field_rules(model) for event_type, model in EVENT_MODELS.items()}
# strategies are built once: building them inside a draw costs more than drawing
VALUES = {(t, r.name): valid_value(r) for t, rules in RULES.items() for r in rules}
OCCURRED_AT = st.builds(
    _timestamp_text,
    st.datetimes(datetime(2000, 1, 1), datetime(2026, 6, 1), timezones=st.just(UTC)),
    st.just(0),
)


@st.composite
def valid_event(draw: st.DrawFn) -> dict[str, Any]:
    event_type = draw(st.sampled_from(list(EVENT_MODELS)))
    event = example(event_type)
    for rule in RULES[event_type]:
        if draw(st.booleans()):
            event["data"][rule.name] = draw(VALUES[event_type, rule.name])
        elif not rule.required and draw(st.integers(0, 3)) == 0:
            event["data"].pop(rule.name, None)
    if draw(st.booleans()):
        event["occurred_at"] = draw(OCCURRED_AT)
    return event


# ---- hostile changes -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

hostile_value = st.one_of(
    st.sampled_from(WRONG_TYPES),
    st.sampled_from(RAW_NUMBERS).map(raw),
    st.sampled_from(TIMESTAMPS),
    st.sampled_from(DURATIONS),
    st.sampled_from(STRINGS),
    # "XXX" is ISO 4217's "no currency" code and "XAU" gold: neither a currency of payment
    st.sampled_from(CURRENCIES[:5] + ("EURO", "eur", "XXX", "XAU")),
    st.sampled_from(COUNTRIES[:5] + ("XX", "de", "UK")),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    json_values,
)

_ENVELOPE_FIELDS = list(Envelope.model_fields)


PAYLOAD_FIELD = {t: st.sampled_from([r.name for r in rules] or ["x"]) for t, rules in RULES.items()}
ENVELOPE_FIELD = st.sampled_from(_ENVELOPE_FIELDS + ["event_type", "occurred_at"])
TARGET = st.sampled_from(["data", "data", "data", "envelope", "extra"])
EXTRA_KEY = st.text(min_size=1, max_size=8)


@st.composite
def hostile_event(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_event())
    payload_field = PAYLOAD_FIELD[event["event_type"]]
    for _ in range(draw(st.integers(1, 3))):
        target = draw(TARGET)
        if target == "envelope":
            name, scope = draw(ENVELOPE_FIELD), event
        elif target == "extra":
            name = draw(EXTRA_KEY)
            in_data = draw(st.booleans()) and isinstance(event.get("data"), dict)
            scope = event["data"] if in_data else event
        else:
            name = draw(payload_field)
            scope = event["data"] if isinstance(event.get("data"), dict) else event
        if draw(st.integers(0, 5)) == 0:
            scope.pop(name, None)
        else:
            scope[name] = draw(hostile_value)
    return event


lines = st.lists(
    st.one_of(valid_event(), hostile_event(), hostile_event()), min_size=20, max_size=40
)


# ---- the two validators ----------------------------------------------------------------------


def pydantic_verdicts(texts: list[str]) -> list[str | None]:
    out = []
    for text in texts:
        verdict = validate_line(text, now=NOW, clock_skew=SKEW)
        out.append(None if verdict.ok else verdict.reason.value)
    return out


_CON = duckdb.connect()


def sql_verdicts(texts: list[str]) -> list[str | None]:
    table = pa.table(
        {"line_no": pa.array(range(1, len(texts) + 1), pa.int64()), "text": pa.array(texts)}
    )
    _CON.register("lines", table)
    try:
        rows = _CON.execute(
            f"select line_no, failure from ({validation_sql('lines')})", [NOW + SKEW]
        ).fetchall()
    finally:
        _CON.unregister("lines")
    by_line = {n: (f.split("|")[0] if f else None) for n, f in rows}
    return [by_line.get(i + 1, "dropped") for i in range(len(texts))]


def assert_same_verdicts(texts: list[str]) -> None:
    py, sql = pydantic_verdicts(texts), sql_verdicts(texts)
    differ = [(t, p, s) for t, p, s in zip(texts, py, sql, strict=True) if p != s]
    assert not differ, "\n".join(f"pydantic={p} sql={s}: {t}" for t, p, s in differ[:5])


def test_both_validators_give_the_same_verdict_and_first_reason():
    """Hypothesis draws the batches; all their lines are then judged in one DuckDB query."""
    drawn: list[str] = []

    @settings(
        derandomize=True,
        max_examples=100,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # nothing to shrink: the lines are judged after
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(lines)
    def draw(events: list[dict[str, Any]]) -> None:
        drawn.extend(dumps(e) for e in events)

    draw()
    assert len(drawn) > 2000
    assert_same_verdicts(drawn)


def test_every_hostile_value_in_every_field_gets_the_same_reason():
    """Each listed hostile value in each field of each event type (and the envelope),
    deterministically: the corners hypothesis may not draw in its budget."""
    values: list[Any] = (
        WRONG_TYPES + [raw(n) for n in RAW_NUMBERS] + TIMESTAMPS + DURATIONS + STRINGS
    )
    texts = []
    for event_type in EVENT_MODELS:
        for name in [r.name for r in RULES[event_type]]:
            for value in values:
                e = example(event_type)
                e["data"][name] = value
                texts.append(dumps(e))
    for name in _ENVELOPE_FIELDS:
        for value in values:
            texts.append(dumps({**example("subscription.started"), name: value}))
    assert_same_verdicts(texts)
