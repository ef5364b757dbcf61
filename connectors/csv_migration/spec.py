"""The declarative column mapping of a CSV migration (TOML, `tomllib`).

```toml
[defaults]                       # for every record kind unless the kind says otherwise
date_format = ["%Y-%m-%d %H:%M", "iso"]   # strftime patterns, or "iso"; the first that parses
amount_unit = "major"            # "major" (9.99) or "minor" (999)
currency = "EUR"                 # when no currency column is mapped
country = "DE"                   # customers without a country
platform = "web"
exported_at = "2025-04-25T00:00:00Z"   # only without current_period_start: when the export was
                                 # taken (its terms are that day's; earlier months approximate)

[subscriptions]
files = "subscriptions*.csv"     # which files hold this kind (glob on the file name)
subscription_id = "id"           # a field from a column,
platform = { value = "ios" }     # a constant,
interval_count = { column = "Interval Count", optional = true }   # a column that may be absent,
currency = { lookup = "invoices", by = "invoice_external_id", column = "currency" }  # or a lookup

[lookups.invoices]               # another file, keyed by one column, read by `lookup` fields
files = "invoices*.csv"
key = "external_id"
```

The record kinds are `customers`, `subscriptions` and `payments`; `FIELDS` lists each kind's
fields, their type and whether they are required.
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from .values import ISO

Kind = Literal["customers", "subscriptions", "payments"]
KINDS: tuple[Kind, ...] = ("customers", "subscriptions", "payments")

# field -> (type, required). Types: id, text, date, amount, currency, interval, count, flag.
FIELDS: dict[str, dict[str, tuple[str, bool]]] = {
    "customers": {
        "customer_id": ("id", True),
        "country": ("text", False),
        "created_at": ("date", False),
        "platform": ("text", False),
        "acquisition_channel": ("text", False),
    },
    "subscriptions": {
        "subscription_id": ("id", True),
        "customer_id": ("id", True),
        "offer_id": ("id", True),
        "price": ("amount", True),
        "quantity": ("count", False),
        "discount": ("amount", False),
        "currency": ("currency", True),
        "interval": ("interval", True),
        "interval_count": ("text", False),
        "status": ("text", False),
        "started_at": ("date", True),
        "current_period_start": ("date", False),
        "current_period_end": ("date", False),
        "trial_end": ("date", False),
        "canceled_at": ("date", False),
        "cancel_at_period_end": ("flag", False),
        "ended_at": ("date", False),
        "cancellation_reason": ("text", False),
        "platform": ("text", False),
    },
    "payments": {
        "payment_id": ("id", True),
        "customer_id": ("id", True),
        "subscription_id": ("id", True),
        "amount": ("amount", True),
        "currency": ("currency", True),
        "paid_at": ("date", True),
        "status": ("text", False),
        "refunded_amount": ("amount", False),
        "refunded_at": ("date", False),
        "payment_method": ("text", False),
    },
}
# Fields a kind may leave unmapped because a default fills them.
_DEFAULTED = {"currency": "currency", "platform": "platform", "country": "country"}
_KIND_OPTIONS = {"files", "date_format", "amount_unit", "skip_when", "paid_statuses"}
_DEFAULT_OPTIONS = {
    "date_format",
    "amount_unit",
    "currency",
    "country",
    "platform",
    "provider",
    "exported_at",
}


class MappingError(ValueError):
    """A mapping that cannot be used; the message is one line a person can act on."""


@dataclass(frozen=True)
class Source:
    """Where a field's value comes from: a column, a constant, or a column of a lookup file
    found by this file's `by` column."""

    column: str | None = None
    value: str | None = None
    optional: bool = False
    lookup: str | None = None
    by: str | None = None
    date_format: tuple[str, ...] | None = None

    def columns(self) -> list[str]:
        """Columns of the record's own file this source reads."""
        if self.lookup:
            return [self.by] if self.by else []
        return [self.column] if self.column else []


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    files: tuple[str, ...]
    fields: Mapping[str, Source]
    date_formats: tuple[str, ...]
    amount_unit: str
    skip_when: tuple[str, frozenset[str]] | None = None  # rows whose column holds one of these
    paid_statuses: frozenset[str] | None = None

    def matches(self, name: str) -> bool:
        return not self.files or any(
            fnmatch.fnmatch(name.lower(), pattern.lower()) for pattern in self.files
        )

    def required_columns(self, header: Sequence[str]) -> list[str]:
        """The mapped columns absent from `header` (optional sources excepted)."""
        present = set(header)
        needed = [c for s in self.fields.values() if not s.optional for c in s.columns()]
        if self.skip_when:
            needed.append(self.skip_when[0])
        return [column for column in dict.fromkeys(needed) if column not in present]


@dataclass(frozen=True)
class LookupSpec:
    name: str
    files: tuple[str, ...]
    key: str

    def matches(self, name: str) -> bool:
        return any(fnmatch.fnmatch(name.lower(), pattern.lower()) for pattern in self.files)


@dataclass(frozen=True)
class MappingSpec:
    kinds: Mapping[str, KindSpec]
    lookups: Mapping[str, LookupSpec] = field(default_factory=dict)
    currency: str | None = None
    country: str | None = None
    platform: str = "web"
    provider: str = "import"
    exported_at: str | None = None
    name: str = "mapping"


def _list(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise MappingError(f"{what} must be a string or a list of strings")


def _source(kind: str, name: str, raw: Any, lookups: Mapping[str, Any]) -> Source:
    where = f"[{kind}] {name}"
    if isinstance(raw, str):
        if not raw:
            raise MappingError(f"{where}: empty column name")
        return Source(column=raw)
    if not isinstance(raw, dict):
        raise MappingError(f"{where}: expected a column name or a table")
    unknown = set(raw) - {"column", "value", "optional", "lookup", "by", "format"}
    if unknown:
        raise MappingError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    formats = _list(raw["format"], f"{where} format") if "format" in raw else None
    if "value" in raw:
        if not isinstance(raw["value"], str | int | bool):
            raise MappingError(f"{where}: value must be text, a number or true/false")
        value = raw["value"]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        return Source(value=text, date_format=formats)
    column = raw.get("column")
    if not isinstance(column, str) or not column:
        raise MappingError(f"{where}: needs `column` (or `value`)")
    if "lookup" in raw:
        if raw["lookup"] not in lookups:
            raise MappingError(f"{where}: unknown lookup {raw['lookup']!r}")
        if not isinstance(raw.get("by"), str):
            raise MappingError(f"{where}: a lookup needs `by` (the column holding the key)")
    return Source(
        column=column,
        optional=bool(raw.get("optional", False)),
        lookup=raw.get("lookup"),
        by=raw.get("by"),
        date_format=formats,
    )


def _amount_unit(value: Any, what: str) -> str:
    if value not in ("major", "minor"):
        raise MappingError(f'{what} must be "major" or "minor", got {value!r}')
    return value


def _skip_when(kind: str, raw: Any) -> tuple[str, frozenset[str]] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("column"), str) or "values" not in raw:
        raise MappingError(f"[{kind}] skip_when needs `column` and `values`")
    values = _list(raw["values"], f"[{kind}] skip_when values")
    return raw["column"], frozenset(v.strip().lower() for v in values)


def _moment(value: Any) -> str | None:
    """`exported_at` as ISO text: TOML gives a bare date-time as a datetime (UTC if naive)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00+00:00"
    raise MappingError("[defaults] exported_at must be a date or a date-time")


def parse_mapping(document: Mapping[str, Any], name: str = "mapping") -> MappingSpec:
    """A `MappingSpec` from a parsed TOML document; `MappingError` on anything it cannot use."""
    unknown = set(document) - {*KINDS, "defaults", "lookups"}
    if unknown:
        raise MappingError(f"unknown section [{sorted(unknown)[0]}] (expected {', '.join(KINDS)})")
    defaults = document.get("defaults", {})
    unknown = set(defaults) - _DEFAULT_OPTIONS
    if unknown:
        raise MappingError(f"[defaults]: unknown key {sorted(unknown)[0]!r}")
    default_formats = _list(defaults.get("date_format", ISO), "[defaults] date_format")
    default_unit = _amount_unit(defaults.get("amount_unit", "major"), "[defaults] amount_unit")
    raw_lookups = document.get("lookups", {})
    lookups = {}
    for lookup_name, table in raw_lookups.items():
        if not isinstance(table, dict) or "files" not in table or "key" not in table:
            raise MappingError(f"[lookups.{lookup_name}] needs `files` and `key`")
        lookups[lookup_name] = LookupSpec(
            lookup_name, _list(table["files"], f"[lookups.{lookup_name}] files"), table["key"]
        )
    kinds: dict[str, KindSpec] = {}
    for kind in KINDS:
        if kind not in document:
            continue
        table = document[kind]
        known = FIELDS[kind]
        unknown = set(table) - set(known) - _KIND_OPTIONS
        if unknown:
            raise MappingError(f"[{kind}]: unknown field {sorted(unknown)[0]!r}")
        fields = {n: _source(kind, n, v, raw_lookups) for n, v in table.items() if n in known}
        for field_name, (_, required) in known.items():
            defaulted = field_name in _DEFAULTED and _DEFAULTED[field_name] in defaults
            if required and field_name not in fields and not defaulted:
                raise MappingError(f"[{kind}]: field {field_name!r} is not mapped")
        kinds[kind] = KindSpec(
            kind=kind,
            files=_list(table["files"], f"[{kind}] files") if "files" in table else (),
            fields=fields,
            date_formats=_list(table.get("date_format", list(default_formats)), f"[{kind}]"),
            amount_unit=_amount_unit(
                table.get("amount_unit", default_unit), f"[{kind}] amount_unit"
            ),
            skip_when=_skip_when(kind, table.get("skip_when")),
            paid_statuses=(
                frozenset(s.lower() for s in table["paid_statuses"])
                if "paid_statuses" in table
                else None
            ),
        )
    if not kinds:
        raise MappingError(f"the mapping maps none of {', '.join(KINDS)}")
    return MappingSpec(
        kinds=kinds,
        lookups=lookups,
        currency=defaults.get("currency"),
        country=defaults.get("country"),
        platform=defaults.get("platform", "web"),
        provider=defaults.get("provider", "import"),
        exported_at=_moment(defaults.get("exported_at")),
        name=name,
    )


def load_mapping(path: Path) -> MappingSpec:
    """The mapping in a TOML file; `MappingError` when it is missing or malformed."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping file {path}: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{path}: not valid TOML: {exc}") from None
    return parse_mapping(document, name=path.name)
