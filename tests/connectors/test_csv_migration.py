"""The CSV migration library (`connectors.csv_migration`): the presets' golden files, bad rows
rejected with their line and reason while the rest of the file is translated, exact money in
minor units, dates in stated formats, pseudonymous ids only, and stable event ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from connectors.csv_migration import (
    MappingError,
    UnreadableFile,
    load_preset,
    month_ceiling,
    parse_csv,
    parse_mapping,
    read_csv,
    translate_tables,
)
from connectors.csv_migration.values import BadValue, parse_amount, parse_date
from connectors.translation import ndjson
from foundation.contract import validate_line

FIXTURES = Path(__file__).parent / "fixtures" / "csv"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _migrate_preset(name: str):
    tables = [read_csv(p) for p in sorted((FIXTURES / name).glob("*.csv"))]
    return translate_tables(load_preset(name), tables)


@pytest.mark.parametrize("preset", ["stripe", "chartmogul"])
def test_preset_golden_file(preset: str) -> None:
    expected = (FIXTURES / f"{preset}.expected.ndjson").read_bytes()
    migration = _migrate_preset(preset)
    assert ndjson(migration.lines()) == expected
    # every line is a valid contract event, and none carries a name or an e-mail
    for line in expected.splitlines():
        verdict = validate_line(line, now=NOW)
        assert verdict.ok, (verdict, line)
        assert b"@" not in line and b"Example" not in line
    # the files in another order give the same lines
    tables = [read_csv(p) for p in sorted((FIXTURES / preset).glob("*.csv"), reverse=True)]
    assert ndjson(translate_tables(load_preset(preset), tables).lines()) == expected


def test_stripe_preset_figures_by_hand() -> None:
    m = _migrate_preset("stripe")
    events = {e["event_id"]: e for e in m.events}
    b = events["import:sub:sub_B:started"]["data"]
    assert b["price_minor"] == 2 * 12000  # 2 seats of 120.00 USD a year
    assert b["trial_ends_at"] == b["current_period_end"] == "2025-02-17T12:00:00Z"
    assert "history_known_from" not in b  # its current period is its first paid one
    c = events["import:sub:sub_C:started"]["data"]
    assert (c["price_minor"], c["currency"]) == (1200, "JPY")  # no minor unit
    assert c["history_known_from"] == "2025-03-20T08:00:00Z"
    cancelled = events["import:sub:sub_C:cancelled"]
    assert cancelled["occurred_at"] == "2025-03-25T10:00:00Z"
    assert cancelled["data"]["effective_at"] == "2025-04-20T08:00:00Z"
    assert events["import:sub:sub_C:ended"]["occurred_at"] == "2025-04-20T08:00:00Z"
    assert not any("sub_E" in i for i in events)  # incomplete_expired: never active
    # sub_A's export period began 2025-04-10: April is approximate, May is the first exact month
    assert m.exact_from_month == date(2025, 5, 1)
    report = m.report()
    assert report["rows_read"] == 9
    assert report["left_out"] == {"subscriptions: Status = incomplete_expired": 1}


def test_chartmogul_line_items_give_the_whole_history() -> None:
    m = _migrate_preset("chartmogul")
    assert m.exact_from_month is None  # the first line item of each subscription is its start
    types = [(e["event_type"], e["customer_id"]) for e in m.events if e["customer_id"]]
    assert ("subscription.changed", "cus_1") in types  # basic monthly -> pro quarterly
    assert m.report()["exact_from_month"] is None


BAD = """id,Customer ID,Plan,Quantity,Currency,Interval,Amount,Status,Start (UTC),Current Period Start (UTC),Current Period End (UTC)
sub_1,cus_1,basic,1,eur,month,9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_2,,basic,1,eur,month,9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_3,cus_3,basic,1,eur,month,9.99,active,2025-31-01 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_4,cus_4,basic,1,eur,month,-9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_5,cus_5,basic,1,XYZ,month,9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_6,ann@example.com,basic,1,eur,month,9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_7,cus_7,basic,1,jpy,month,9.99,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
sub_8,cus_8,basic,2,jpy,month,1500,active,2025-01-10 09:00,2025-01-10 09:00,2025-02-10 09:00
"""


def test_bad_rows_are_rejected_with_line_and_reason_and_the_rest_translated() -> None:
    migration = translate_tables(load_preset("stripe"), [parse_csv("subscriptions.csv", BAD)])
    rejects = [(r.file, r.line, r.reason) for r in migration.rejects]
    assert rejects == [
        ("subscriptions.csv", 3, "missing value for customer_id (column 'Customer ID')"),
        (
            "subscriptions.csv",
            4,
            "bad date '2025-31-01 09:00': expected '%Y-%m-%d %H:%M:%S' or '%Y-%m-%d %H:%M' or "
            "'%Y-%m-%d' or 'iso'",
        ),
        ("subscriptions.csv", 5, "negative amount '-9.99'"),
        ("subscriptions.csv", 6, "unknown currency 'XYZ'"),
        (
            "subscriptions.csv",
            7,
            "customer_id looks like an e-mail address: personal data never enters events",
        ),
        (
            "subscriptions.csv",
            8,
            "amount '9.99' is not a whole number of minor units (JPY has 0 decimals)",
        ),
    ]
    started = {
        e["data"]["subscription_id"]: e["data"] for e in migration.events if "sub" in e["event_id"]
    }
    assert set(started) == {"sub_1", "sub_8"}
    assert (started["sub_8"]["price_minor"], started["sub_8"]["currency"]) == (3000, "JPY")
    # the rejected rows land as quarantine lines naming file, line and reason, without cell values
    quarantine = [
        line for line in migration.lines() if line["event_type"] == "connector.untranslatable"
    ]
    assert len(quarantine) == 6
    assert quarantine[0]["data"]["detail"].startswith("subscriptions.csv line 3: missing value")
    assert b"example.com" not in ndjson(quarantine)
    assert migration.report()["files"] == [
        {
            "file": "subscriptions.csv",
            "kind": "subscriptions",
            "rows": 8,
            "rejected": 6,
            "skipped": 0,
        }
    ]


@pytest.mark.parametrize(
    ("text", "currency", "unit", "minor"),
    [
        ("9.99", "EUR", "major", 999),
        ("1,234.50", "USD", "major", 123450),
        ("1200", "JPY", "major", 1200),
        ("1.234", "KWD", "major", 1234),  # three decimals
        ("999", "EUR", "minor", 999),
        ("0", "EUR", "major", 0),
    ],
)
def test_amounts_become_exact_minor_units(text, currency, unit, minor) -> None:
    assert parse_amount(text, currency, unit) == minor


@pytest.mark.parametrize(
    ("text", "currency", "unit"),
    [
        ("9.999", "EUR", "major"),
        ("12.5", "JPY", "major"),
        ("9.5", "EUR", "minor"),
        ("abc", "EUR", "major"),
        ("-1", "EUR", "minor"),
        ("NaN", "EUR", "major"),
    ],
)
def test_amounts_that_are_not_exact_minor_units_are_refused(text, currency, unit) -> None:
    with pytest.raises(BadValue):
        parse_amount(text, currency, unit)


def test_dates_in_a_stated_format_or_iso() -> None:
    assert parse_date("15/01/2025", ["%d/%m/%Y"]) == datetime(2025, 1, 15, tzinfo=UTC)
    assert parse_date("2025-01-15T10:00:00+02:00", ["iso"]) == datetime(2025, 1, 15, 8, tzinfo=UTC)
    with pytest.raises(BadValue, match="outside"):
        parse_date("1970-01-01", ["%Y-%m-%d"])


def test_month_ceiling() -> None:
    assert month_ceiling(datetime(2025, 4, 1, tzinfo=UTC)) == date(2025, 4, 1)
    assert month_ceiling(datetime(2025, 4, 1, 0, 0, 1, tzinfo=UTC)) == date(2025, 5, 1)
    assert month_ceiling(datetime(2025, 12, 31, tzinfo=UTC)) == date(2026, 1, 1)


CUSTOM = """
[defaults]
date_format = "%d.%m.%Y"
amount_unit = "minor"
currency = "GBP"
country = "GB"

[subscriptions]
files = "subs*.csv"
subscription_id = "contract"
customer_id = "member"
offer_id = { value = "club" }
price = "pence"
interval = "every"
started_at = "from"
ended_at = "until"
platform = { value = "ios" }

[payments]
files = "pay*.csv"
payment_id = "receipt"
customer_id = "member"
subscription_id = "contract"
amount = "paid"
paid_at = "on"
refunded_amount = "refunded"
"""


def test_a_mapping_of_ones_own_with_constants_and_defaults() -> None:
    spec = parse_mapping(__import__("tomllib").loads(CUSTOM))
    subs = parse_csv(
        "subs.csv", "contract,member,pence,every,from,until\nk1,m1,1500,P3M,01.02.2025,\n"
    )
    pays = parse_csv(
        "payments.csv", "receipt,member,contract,paid,on,refunded\nr1,m1,k1,1500,01.02.2025,500\n"
    )
    m = translate_tables(spec, [subs, pays])
    assert not m.rejects
    by_type = {e["event_type"]: e for e in m.events}
    assert by_type["subscription.started"]["data"] == {
        "subscription_id": "k1",
        "offer_id": "club",
        "platform": "ios",
        "price_minor": 1500,
        "currency": "GBP",
        "billing_period": "P3M",
        "discount_minor": 0,
        "current_period_end": "2025-05-01T00:00:00Z",
    }
    assert by_type["customer.created"]["data"] == {"country": "GB", "signup_platform": "web"}
    assert by_type["payment.succeeded"]["data"]["amount_minor"] == 1500
    assert by_type["payment.refunded"]["data"]["amount_minor"] == 500
    # no period start mapped and no export date: the history is taken as complete
    assert m.exact_from_month is None
    # with the export's date, the months before it are approximate
    dated = parse_mapping(
        __import__("tomllib").loads(
            CUSTOM.replace('country = "GB"', 'country = "GB"\nexported_at = "2025-03-15T00:00:00Z"')
        )
    )
    migration = translate_tables(dated, [subs, pays])
    assert migration.exact_from_month == date(2025, 4, 1)
    started = [e for e in migration.events if e["event_type"] == "subscription.started"]
    assert started[0]["data"]["history_known_from"] == "2025-03-15T00:00:00Z"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "maps none"),
        ({"invoices": {}}, "unknown section"),
        ({"subscriptions": {"subscription_id": "id"}}, "is not mapped"),
        ({"customers": {"customer_id": "id", "colour": "x"}}, "unknown field"),
        ({"defaults": {"amount_unit": "cents"}, "customers": {"customer_id": "id"}}, "amount_unit"),
    ],
)
def test_bad_mappings_are_refused_in_one_line(document, message) -> None:
    with pytest.raises(MappingError, match=message):
        parse_mapping(document)


def test_a_mapped_column_absent_from_the_header_is_an_error() -> None:
    table = parse_csv("subscriptions.csv", "id,Customer ID\nsub_1,cus_1\n")
    with pytest.raises(MappingError, match="mapped column 'Plan' is not in the header"):
        translate_tables(load_preset("stripe"), [table])


def test_unreadable_csv() -> None:
    with pytest.raises(UnreadableFile, match="empty"):
        parse_csv("x.csv", "")
    with pytest.raises(UnreadableFile, match="line 2 has 3 fields"):
        parse_csv("x.csv", "a,b\n1,2,3\n")


def test_line_numbers_count_quoted_line_breaks() -> None:
    table = parse_csv("x.csv", 'a,b\n"one\ntwo",1\n\nthree,2\n')
    assert [line for line, _ in table.rows] == [2, 5]


def test_event_ids_are_stable_across_runs() -> None:
    first = [orjson.dumps(e) for e in _migrate_preset("stripe").events]
    assert first == [orjson.dumps(e) for e in _migrate_preset("stripe").events]
    assert len({orjson.loads(e)["event_id"] for e in first}) == len(first)


def test_a_lookup_without_its_file_is_an_error() -> None:
    tables = [
        read_csv(p)
        for p in sorted((FIXTURES / "chartmogul").glob("*.csv"))
        if p.name != "plans.csv"
    ]
    with pytest.raises(MappingError, match="no file for lookup 'plans'"):
        translate_tables(load_preset("chartmogul"), tables)
    # the cancellations lookup is optional: without it, nothing ends
    tables = [
        read_csv(p)
        for p in sorted((FIXTURES / "chartmogul").glob("*.csv"))
        if p.name != "cancellations.csv"
    ]
    migration = translate_tables(load_preset("chartmogul"), tables)
    assert "subscription.ended" not in migration.events_by_type
