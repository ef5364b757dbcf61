"""Rows of a migration's CSV files → contract events of source `import`, pure and deterministic.

A migrated subscription becomes the events of its known history: `offer.published` for each
plan version it used, `customer.created`, `subscription.started` (price × quantity, billing
period, trial end), `subscription.changed` where a later row (a later service period) has another
plan or price, `subscription.cancelled` (the request, effective at the period end or at once) and
`subscription.ended`. Payments become `payment.succeeded` and `payment.refunded`. Every event id
derives from the source ids and the change, so re-running a migration adds nothing.

Where the rows do not reach back to a subscription's start (an export holds only the current
period), `subscription.started` carries `history_known_from`: the moment from which its events
are complete. The marts mark the months before as approximate (`metrics_monthly.is_exact`).

A row that cannot be translated is rejected with its file, line and reason; the rest of the file
is still translated.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from foundation.contract.types import COUNTRIES
from foundation.contract.validate import EMAIL_PATTERN
from foundation.vocabulary import CANCEL_REASONS

from ..translation import (
    Translation,
    Untranslatable,
    contract_event,
    derived_event_id,
    utc_timestamp,
)
from .reading import CsvTable
from .spec import FIELDS, KindSpec, MappingError, MappingSpec, Source
from .values import (
    BadValue,
    billing_period,
    parse_amount,
    parse_count,
    parse_currency,
    parse_date,
    parse_flag,
)

SOURCE = "import"
PLATFORMS = ("web", "ios", "android", "roku", "firetv", "tvos", "other")
_ENDED_STATUSES = {"canceled", "cancelled", "ended", "expired"}
_PAYMENT_FAILURE = re.compile(r"payment|dunning|unpaid|failed", re.IGNORECASE)


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    reason: str


@dataclass
class FileReport:
    file: str
    kind: str  # customers, subscriptions, payments or lookup:<name>
    rows: int = 0
    rejected: int = 0
    skipped: int = 0


@dataclass
class Migration:
    """What a migration would land: the events, the rejected rows and the counts."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    files: list[FileReport] = field(default_factory=list)
    notes: Counter[str] = field(default_factory=Counter)  # what was left out, and why
    history_known_from: datetime | None = None  # the latest moment before which history is partial

    @property
    def events_by_type(self) -> dict[str, int]:
        return dict(sorted(Counter(e["event_type"] for e in self.events).items()))

    @property
    def exact_from_month(self) -> date | None:
        """The first month whose figures are exact: the month starting at or after the latest
        `history_known_from` (None when every migrated history is complete)."""
        return month_ceiling(self.history_known_from) if self.history_known_from else None

    def lines(self) -> list[dict[str, Any]]:
        """The contract lines to land: the events, then one `connector.untranslatable` line per
        rejected row (its file, line and reason; no cell values, which may be personal), so the
        warehouse's quarantine lists them too."""
        rejected = Translation(
            untranslatable=[
                Untranslatable(
                    reason="rejected_row",
                    detail=f"{r.file} line {r.line}: {r.reason}",
                    provider_id=f"{r.file}:{r.line}",
                    payload={"file": r.file, "line": r.line},
                )
                for r in self.rejects
            ]
        )
        return self.events + rejected.lines(SOURCE)

    def report(self) -> dict[str, Any]:
        """The dry run's report, JSON-ready."""
        exact = self.exact_from_month
        return {
            "files": [vars(f) for f in self.files],
            "rows_read": sum(f.rows for f in self.files),
            "events": self.events_by_type,
            "events_total": len(self.events),
            "rejected": [vars(r) for r in self.rejects],
            "left_out": dict(sorted(self.notes.items())),
            "exact_from_month": exact.isoformat() if exact else None,
        }


def month_ceiling(moment: datetime) -> date:
    """The first day of the first month that starts at or after `moment`."""
    first = moment.date().replace(day=1)
    at_month_start = moment == datetime(first.year, first.month, 1, tzinfo=moment.tzinfo)
    return first if at_month_start else first + relativedelta(months=1)


class _Row:
    """One record's typed values; `BadValue` for the first field that cannot be read."""

    def __init__(self, file: str, line: int, values: dict[str, Any]) -> None:
        self.file, self.line, self.values = file, line, values

    def __getattr__(self, name: str) -> Any:
        return self.values.get(name)


class _Lookups:
    def __init__(self, spec: MappingSpec, tables: Sequence[CsvTable]) -> None:
        self.rows: dict[str, dict[str, dict[str, str]]] = {}
        for table in tables:
            for lookup in spec.lookups.values():
                if lookup.matches(table.name):
                    if lookup.key not in table.header:
                        raise MappingError(
                            f"{table.name}: column {lookup.key!r} (key of lookup "
                            f"{lookup.name!r}) is not in the header"
                        )
                    found = self.rows.setdefault(lookup.name, {})
                    for _, cells in table.rows:
                        found.setdefault(cells.get(lookup.key, "").strip(), cells)

    def get(self, source: Source, cells: Mapping[str, str]) -> str | None:
        assert source.lookup and source.by and source.column
        if source.lookup not in self.rows:
            if source.optional:
                return None
            raise MappingError(f"no file for lookup {source.lookup!r} among the files given")
        key = (cells.get(source.by) or "").strip()
        if not key:
            return None
        found = self.rows.get(source.lookup, {}).get(key)
        if found is None:
            if source.optional:
                return None
            raise BadValue(f"no {source.lookup} row with key {key!r} (column {source.by!r})")
        if source.column not in found:
            raise MappingError(f"lookup {source.lookup!r} has no column {source.column!r}")
        return found[source.column]


def _text(spec: MappingSpec, kind: KindSpec, name: str, cells: Mapping[str, str], lookups):
    source = kind.fields.get(name)
    if source is None:
        default = {"currency": spec.currency, "platform": spec.platform, "country": spec.country}
        return default.get(name)
    if source.value is not None:
        text = source.value
    elif source.lookup:
        text = lookups.get(source, cells)
    else:
        text = cells.get(source.column or "")
    if text is None or not text.strip():
        return None
    return text.strip()


def _read_row(
    spec: MappingSpec, kind: KindSpec, cells: Mapping[str, str], lookups: _Lookups
) -> dict[str, Any]:
    """The typed values of one record. Currency first: amounts are read in its minor units."""
    fields = FIELDS[kind.kind]
    texts = {name: _text(spec, kind, name, cells, lookups) for name in fields}
    for name, (_, required) in fields.items():
        if required and texts[name] is None:
            source = kind.fields.get(name)
            column = f" (column {source.column!r})" if source and source.column else ""
            raise BadValue(f"missing value for {name}{column}")
    values: dict[str, Any] = {}
    currency = parse_currency(texts["currency"]) if texts.get("currency") else None
    for name, (kind_of, _) in fields.items():
        text = texts[name]
        if text is None:
            continue
        source = kind.fields.get(name)
        if kind_of == "date":
            formats = source.date_format if source and source.date_format else kind.date_formats
            values[name] = parse_date(text, formats)
        elif kind_of == "amount":
            assert currency is not None
            values[name] = parse_amount(text, currency, kind.amount_unit)
        elif kind_of == "currency":
            values[name] = currency
        elif kind_of == "count":
            values[name] = parse_count(text)
        elif kind_of == "flag":
            values[name] = parse_flag(text)
        elif kind_of == "interval":
            values[name] = billing_period(text, texts.get("interval_count"))
        elif kind_of == "id":
            if len(text) > 100:
                raise BadValue(f"{name} {text[:20]!r}… is longer than 100 characters")
            if re.fullmatch(EMAIL_PATTERN, text):
                raise BadValue(
                    f"{name} looks like an e-mail address: personal data never enters events"
                )
            values[name] = text
        else:
            values[name] = text
    return values


def _country(text: str | None) -> str | None:
    if text is None:
        return None
    code = text.strip().upper()
    if code not in COUNTRIES:
        raise BadValue(f"unknown country {text.strip()!r} (expected ISO 3166 alpha-2)")
    return code


def _platform(text: str | None, default: str) -> str:
    value = (text or default).strip().lower()
    if value not in PLATFORMS:
        raise BadValue(f"unknown platform {value!r} (expected one of {', '.join(PLATFORMS)})")
    return value


def _add(moment: datetime, period: str) -> datetime:
    count, unit = int(period[1:-1]), period[-1]
    step = {
        "D": relativedelta(days=count),
        "W": relativedelta(weeks=count),
        "M": relativedelta(months=count),
        "Y": relativedelta(years=count),
    }[unit]
    return moment + step


class _Translator:
    def __init__(self, spec: MappingSpec, tables: Sequence[CsvTable]) -> None:
        self.spec = spec
        self.out = Migration()
        self.lookups = _Lookups(spec, tables)
        self.rows: dict[str, list[_Row]] = defaultdict(list)
        self.offers: dict[tuple[str, int, str, str], datetime] = {}
        self.customer_first_seen: dict[str, datetime] = {}
        self.reports: dict[str, FileReport] = {}
        try:
            self.exported_at = (
                parse_date(spec.exported_at, ("iso",)) if spec.exported_at is not None else None
            )
        except BadValue as exc:
            raise MappingError(f"[defaults] exported_at: {exc}") from None
        for table in tables:
            self._read_table(table)

    # -- reading ------------------------------------------------------------------------------

    def _kind_of(self, table: CsvTable) -> KindSpec | None:
        kinds = [k for k in self.spec.kinds.values() if k.matches(table.name)]
        lookups = [n for n, lk in self.spec.lookups.items() if lk.matches(table.name)]
        if len(kinds) + len(lookups) == 0:
            patterns = [p for k in self.spec.kinds.values() for p in k.files]
            raise MappingError(
                f"{table.name}: matches no record kind of the mapping ({', '.join(patterns)})"
            )
        if len(kinds) + len(lookups) > 1:
            raise MappingError(
                f"{table.name}: matches more than one record kind or lookup of the mapping"
            )
        if lookups:
            self.out.files.append(FileReport(table.name, f"lookup:{lookups[0]}", len(table.rows)))
            return None
        return kinds[0]

    def _read_table(self, table: CsvTable) -> None:
        kind = self._kind_of(table)
        if kind is None:
            return
        missing = kind.required_columns(table.header)
        if missing:
            raise MappingError(f"{table.name}: mapped column {missing[0]!r} is not in the header")
        report = FileReport(table.name, kind.kind, len(table.rows))
        self.out.files.append(report)
        self.reports[table.name] = report
        for line, cells in table.rows:
            if (
                kind.skip_when
                and cells.get(kind.skip_when[0], "").strip().lower() in (kind.skip_when[1])
            ):
                report.skipped += 1
                self.out.notes[
                    f"{kind.kind}: {kind.skip_when[0]} = {cells[kind.skip_when[0]]}"
                ] += 1
                continue
            try:
                values = _read_row(self.spec, kind, cells, self.lookups)
            except BadValue as exc:
                self._reject(report, line, str(exc))
                continue
            self.rows[kind.kind].append(_Row(table.name, line, values))

    def _reject(self, report: FileReport | str, line: int, reason: str) -> None:
        if isinstance(report, str):
            report = self.reports[report]
        report.rejected += 1
        self.out.rejects.append(Reject(report.file, line, reason))

    def _event(self, parts: Iterable[str], event_type: str, at: datetime, customer: str, data):
        self.out.events.append(
            contract_event(
                event_id=derived_event_id(SOURCE, *parts),
                event_type=event_type,
                occurred_at=at,
                source=SOURCE,
                customer_id=customer,
                data={k: v for k, v in data.items() if v is not None},
            )
        )

    # -- translation --------------------------------------------------------------------------

    def run(self) -> Migration:
        by_subscription: dict[str, list[_Row]] = defaultdict(list)
        for row in self.rows["subscriptions"]:
            by_subscription[row.subscription_id].append(row)
        for subscription_id in sorted(by_subscription):
            rows = sorted(
                by_subscription[subscription_id],
                key=lambda r: (r.current_period_start or r.started_at, r.file, r.line),
            )
            try:
                self._subscription(subscription_id, rows)
            except BadValue as exc:
                self._reject(rows[-1].file, rows[-1].line, str(exc))
        for row in self.rows["payments"]:
            self._payment(row)
        self._customers()
        for (offer_id, price, currency, period), at in sorted(self.offers.items()):
            self._event(
                ("offer", offer_id, period, currency, str(price)),
                "offer.published",
                at,
                "",
                {
                    "offer_id": offer_id,
                    "title": offer_id,
                    "offer_type": "subscription",
                    "billing_period": period,
                    "price_minor": price,
                    "currency": currency,
                },
            )
        self.out.events.sort(key=lambda e: (e["occurred_at"], e["event_id"]))
        self.out.rejects.sort(key=lambda r: (r.file, r.line))
        return self.out

    def _seen(self, customer: str, at: datetime) -> None:
        first = self.customer_first_seen.get(customer)
        if first is None or at < first:
            self.customer_first_seen[customer] = at

    def _offer(self, row: _Row, period: str, at: datetime) -> None:
        key = (row.offer_id, row.price, row.currency, period)
        if key not in self.offers or at < self.offers[key]:
            self.offers[key] = at

    def _subscription(self, subscription_id: str, rows: list[_Row]) -> None:
        first, last = rows[0], rows[-1]
        customers = {r.customer_id for r in rows}
        if len(customers) > 1:
            raise BadValue(f"subscription {subscription_id!r} has rows of several customers")
        customer = first.customer_id
        start = min(r.started_at for r in rows)
        platform = _platform(first.platform, self.spec.platform)
        trial_end = first.trial_end if first.trial_end and first.trial_end > start else None
        period = first.interval

        def terms(row: _Row) -> tuple:
            quantity = row.quantity or 1
            return (
                row.offer_id,
                row.price * quantity,
                (row.discount or 0) * quantity,
                row.currency,
                row.interval,
            )

        first_period_known = (
            first.current_period_start is None or first.current_period_start <= start
        )
        if trial_end:
            period_end = trial_end
        elif first_period_known and first.current_period_end and first.current_period_end > start:
            period_end = first.current_period_end
        else:
            period_end = _add(start, period)
        known_from = None
        if first.current_period_start is not None:
            # the rows reach back to the start (or to the end of the trial, the first period)
            if first.current_period_start > (trial_end or start):
                known_from = first.current_period_start
        elif self.exported_at is not None and self.exported_at > start:
            # no periods mapped: the terms are those of the export's date
            known_from = self.exported_at
        if known_from and (
            self.out.history_known_from is None or known_from > self.out.history_known_from
        ):
            self.out.history_known_from = known_from
        offer_id, price, discount, currency, _ = terms(first)
        self._offer(first, period, start)
        self._seen(customer, start)
        self._event(
            ("sub", subscription_id, "started"),
            "subscription.started",
            start,
            customer,
            {
                "subscription_id": subscription_id,
                "offer_id": offer_id,
                "platform": platform,
                "price_minor": price,
                "currency": currency,
                "billing_period": period,
                "discount_minor": discount,
                "trial_ends_at": utc_timestamp(trial_end) if trial_end else None,
                "current_period_end": utc_timestamp(period_end),
                "history_known_from": utc_timestamp(known_from) if known_from else None,
            },
        )
        previous = terms(first)
        for row in rows[1:]:
            current = terms(row)
            if current == previous:
                continue
            effective = row.current_period_start or row.started_at
            self._offer(row, row.interval, effective)
            offer_id, price, discount, currency, period = current
            self._event(
                ("sub", subscription_id, "changed", utc_timestamp(effective)),
                "subscription.changed",
                effective,
                customer,
                {
                    "subscription_id": subscription_id,
                    "effective_at": utc_timestamp(effective),
                    "offer_id": offer_id,
                    "price_minor": price,
                    "discount_minor": discount,
                    "currency": currency,
                    "billing_period": period,
                },
            )
            previous = current
        self._ending(subscription_id, customer, start, last)

    def _ending(self, subscription_id: str, customer: str, start: datetime, last: _Row) -> None:
        ended_at = last.ended_at
        status = (last.status or "").lower()
        if ended_at is None and status in _ENDED_STATUSES:
            ended_at = last.canceled_at or last.current_period_end
            if ended_at is None:
                raise BadValue(f"status {last.status!r} without an end or cancellation date")
        if ended_at is not None and ended_at < start:
            raise BadValue("the subscription ends before it starts")
        payment_failed = bool(
            last.cancellation_reason and _PAYMENT_FAILURE.search(last.cancellation_reason)
        )
        reason = last.cancellation_reason.lower() if last.cancellation_reason else "unknown"
        if payment_failed:
            reason = "payment_failed"
        elif reason not in CANCEL_REASONS:
            reason = "unknown"
        canceled_at = last.canceled_at
        if canceled_at is not None:
            if canceled_at < start:
                raise BadValue("the subscription is cancelled before it starts")
            if ended_at is not None:
                effective = ended_at
            elif last.cancel_at_period_end and last.current_period_end:
                effective = last.current_period_end
            else:
                effective = canceled_at
            self._event(
                ("sub", subscription_id, "cancelled"),
                "subscription.cancelled",
                canceled_at,
                customer,
                {
                    "subscription_id": subscription_id,
                    "effective_at": utc_timestamp(max(effective, canceled_at)),
                    "reason": reason,
                    "initiated_by": "system" if payment_failed else "customer",
                },
            )
        elif last.cancel_at_period_end:
            self.out.notes["subscriptions: cancel at period end without a cancellation date"] += 1
        if ended_at is not None:
            self._event(
                ("sub", subscription_id, "ended"),
                "subscription.ended",
                ended_at,
                customer,
                {
                    "subscription_id": subscription_id,
                    "ended_reason": "payment_failed" if payment_failed else "cancelled",
                },
            )

    def _payment(self, row: _Row) -> None:
        kind = self.spec.kinds["payments"]
        status = (row.status or "").lower()
        if kind.paid_statuses is not None and status not in kind.paid_statuses:
            self.out.notes[f"payments: status {row.status}"] += 1
            self.reports[row.file].skipped += 1
            return
        self._seen(row.customer_id, row.paid_at)
        self._event(
            ("pay", row.payment_id, "succeeded"),
            "payment.succeeded",
            row.paid_at,
            row.customer_id,
            {
                "payment_id": row.payment_id,
                "subscription_id": row.subscription_id,
                "amount_minor": row.amount,
                "currency": row.currency,
                "provider": self.spec.provider,
                "payment_method": row.payment_method,
            },
        )
        if row.refunded_amount:
            if row.refunded_amount > row.amount:
                self._reject(row.file, row.line, "refunded amount is above the amount paid")
                return
            refunded_at = row.refunded_at or row.paid_at
            self._event(
                ("pay", row.payment_id, "refunded"),
                "payment.refunded",
                max(refunded_at, row.paid_at),
                row.customer_id,
                {
                    "payment_id": row.payment_id,
                    "refund_id": f"{row.payment_id}:refund",
                    "amount_minor": row.refunded_amount,
                    "currency": row.currency,
                },
            )

    def _customers(self) -> None:
        rows: dict[str, _Row] = {}
        for row in self.rows["customers"]:
            rows.setdefault(row.customer_id, row)
        for customer in sorted(set(rows) | set(self.customer_first_seen)):
            row = rows.get(customer)
            try:
                country = _country(row.country if row else None) or _country(self.spec.country)
                platform = _platform(row.platform if row else None, self.spec.platform)
            except BadValue as exc:
                if row is None:
                    raise MappingError(f"[defaults]: {exc}") from None
                self._reject(row.file, row.line, str(exc))
                continue
            created = [
                d
                for d in (row.created_at if row else None, self.customer_first_seen.get(customer))
                if d is not None
            ]
            if not created:
                self._reject(row.file, row.line, "no date for the customer (created_at)")
                continue
            if country is None:
                self.out.notes["customers: no country (customer.created left out)"] += 1
                continue
            self._event(
                ("customer", customer, "created"),
                "customer.created",
                min(created),
                customer,
                {
                    "country": country,
                    "signup_platform": platform,
                    "acquisition_channel": row.acquisition_channel if row else None,
                },
            )


def translate_tables(spec: MappingSpec, tables: Sequence[CsvTable]) -> Migration:
    """The migration of `tables` under `spec`: events, rejected rows, counts. `MappingError` when
    the files do not fit the mapping (a file of no kind, a mapped column absent)."""
    return _Translator(spec, tables).run()
