"""`churniq import stripe`: the API backfill against a local stand-in for Stripe's list endpoints
(the official SDK pointed at it), and the import of an events export file.

The account (tests/connectors/fixtures/stripe_api/, current API shapes from Stripe's reference)
has 6 customers, 7 prices (one graduated-tiered, whose tiers Stripe lists only when expanded and
never inside a subscription), 6 subscriptions (one canceled, one trialing, one past_due with
three items of which Stripe embeds two), 9 invoices (one with three lines, two embedded),
10 charges, 2 refunds (one in November of a July charge) and a dispute. Its events are the real captures of ../shared/reference/fixtures/
stripe_events/ with their repeated ids replaced, 2 to 34 days old.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pyarrow.parquet as pq
import pytest
from stripe_fixture_server import FakeStripe, Request, serving

import connectors.stripe as stripe_connector
from cli.main import main
from foundation.home import Home
from ingestion.sources import stripe_api, stripe_export
from ingestion.sources.connector_files import ConnectorState, land
from ingestion.sources.stripe_api import StripeImportError, backfill

FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures" / "stripe_api"
SHARED_EVENTS = (
    Path(__file__).resolve().parents[2].parent / "shared/reference/fixtures/stripe_events"
)
OBJECT_FILES = stripe_api.OBJECT_RESOURCES
NOW = datetime(2026, 12, 1, tzinfo=UTC)
KEY = "rk_test_51Fixture0000000000000000"
PAGE = 2  # small pages, so every resource but refunds and disputes spans several


def account_objects() -> dict[str, list[dict[str, Any]]]:
    """The base account (also the pipeline's connector tests') with `additions.json` over it:
    a tiered price and Fay's subscription to it, and Ada's July charge refunded in November."""
    account = {n: json.loads((FIXTURES / f"{n}.json").read_text()) for n in OBJECT_FILES}
    for name, objects in json.loads((FIXTURES / "additions.json").read_text()).items():
        merged = by_id(account[name]) | by_id(objects)
        account[name] = list(merged.values())
    return account


def shared_events() -> list[dict[str, Any]]:
    """The real event captures, each 2, 4, … 34 days old, with their zero-filled ids (which
    repeat across captures, SOURCES.md) made their own: `evt_0…0` of the 3rd file becomes
    `evt_TFix0002`, its `cus_0…0` `cus_TFix0002`."""
    if not SHARED_EVENTS.is_dir():
        pytest.skip(f"reference fixtures absent: {SHARED_EVENTS}")
    events = []
    for i, path in enumerate(sorted(SHARED_EVENTS.glob("*.json"))):
        text = re.sub(r"\b([A-Za-z]+)_0{14,}\b", rf"\1_TFix{i:04d}", path.read_text())
        event = json.loads(text)
        event["created"] = int((NOW - timedelta(days=2 * (i + 1))).timestamp())
        events.append(event)
    return events


def in_window(events: list[dict[str, Any]], start: datetime) -> list[dict[str, Any]]:
    return [e for e in events if e["created"] >= start.timestamp()]


@pytest.fixture
def account() -> dict[str, list[dict[str, Any]]]:
    return account_objects() | {"events": shared_events()}


@pytest.fixture
def fake(account, monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # the SDK's HTTP client honours proxy settings
    with serving(FakeStripe(account, KEY)) as server:
        yield server


@pytest.fixture
def seen(monkeypatch) -> dict[str, list]:
    """What the backfill hands to the real translation (a spy, the translation itself runs)."""
    calls: dict[str, list] = {"objects": [], "events": []}

    def objects(items, *, as_of):
        items = list(items)
        calls["objects"].append((items, as_of))
        return stripe_connector.translate_objects(items, as_of=as_of)

    def event(item):
        calls["events"].append(item)
        return stripe_connector.translate_event(item)

    monkeypatch.setattr(stripe_api, "translate_objects", objects)
    monkeypatch.setattr(stripe_api, "translate_event", event)
    return calls


def expected_lines(objects: list[dict[str, Any]], events: list[dict[str, Any]]) -> Counter:
    """The contract lines of translating the whole account at once, without any paging."""
    translation = stripe_connector.translate_objects(objects, as_of=NOW)
    for event in events:
        translation.extend(stripe_connector.translate_event(event))
    return Counter(orjson.dumps(line) for line in translation.lines("stripe"))


def landed(home: Home) -> dict[str, list[bytes]]:
    return {
        p.name: p.read_bytes().splitlines() for p in sorted(home.landing.glob("stripe-*.ndjson"))
    }


def landed_lines(home: Home) -> Counter:
    return Counter(line for lines in landed(home).values() for line in lines)


def state_of(home: Home) -> dict[str, Any]:
    return json.loads(home.connector_state("stripe").read_text())


def run(home: Home, fake: FakeStripe, **kw) -> Any:
    return backfill(
        home, KEY, api_base=fake.url, now=NOW, page_size=PAGE, max_network_retries=0, **kw
    )


def by_id(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["id"]: o for o in objects}


def test_a_full_backfill_lands_the_whole_account_and_the_last_30_days_of_events(
    tmp_path: Path, account, fake: FakeStripe, seen
) -> None:
    home = Home(tmp_path)
    progress: list[tuple[str, int]] = []
    summary = run(home, fake, on_progress=lambda resource, n: progress.append((resource, n)))
    assert progress[-1] == (stripe_api.TRANSLATING, 41 + 15)
    assert [n for resource, n in progress if resource == "invoices"] == [0, 2, 4, 6, 8, 9]

    # every object, whole: Emil's third item and his invoice's third line were not embedded,
    # Fay's item came without its price's tiers; refunds and disputes with their charge expanded
    everything = [o for name in OBJECT_FILES for o in account[name]]
    charges = by_id(account["charges"])
    for o in account["refunds"] + account["disputes"]:
        o["charge"] = charges[o["charge"]]
    [(objects, as_of)] = seen["objects"]
    assert as_of == NOW
    assert by_id(objects) == by_id(everything) and len(objects) == 41
    recent = in_window(account["events"], NOW - timedelta(days=30))
    assert len(recent) == 15  # 2 … 30 days old; the 32- and 34-day-old ones are past Stripe's
    assert sorted(e["id"] for e in seen["events"]) == sorted(e["id"] for e in recent)
    assert fake.lists("subscriptions")[0].query["status"] == "all"
    assert {r.query["limit"] for r in fake.requests} == {str(PAGE)}
    # the three items and lines, two a page
    assert [r.path for r in fake.requests if "/lines" in r.path or "items" in r.path] == [
        "/v1/subscription_items",
        "/v1/subscription_items",
        "/v1/invoices/in_TEmil000000000/lines",
        "/v1/invoices/in_TEmil000000000/lines",
    ]
    assert len(fake.lists("invoices")) == 5  # 9 invoices, 2 a page

    assert landed_lines(home) == expected_lines(everything, recent)
    assert list(landed(home)) == ["stripe-20261201T000000Z-00001.ndjson"]
    assert not any(p.name.startswith(".") for p in home.landing.iterdir())

    state = state_of(home)
    assert state["source"] == "stripe" and state["kind"] == "api" and state["complete"]
    assert state["last_backfill_at"] == "2026-12-01T00:00:00Z" and state["since"] is None
    assert state["objects_read"] == summary.objects_read == 41 + 15
    assert state["events_written"] == summary.events_written
    assert state["untranslatable"] == summary.untranslatable
    assert state["events_written"] + state["untranslatable"] == sum(landed_lines(home).values())
    assert state["ignored"] == dict(summary.ignored)
    assert state["files"] == ["stripe-20261201T000000Z-00001.ndjson"]
    assert not home.connector_spool("stripe").exists()

    # Stripe's own view, computed by hand: Ada 1 × 9.99 USD, Yuki 1 × 1200 JPY (zero-decimal),
    # Emil (past_due is dunning, not churn) 2 × 9.99 + 1 × 3.00 + 2 × 3.00 USD, Fay 7 seats
    # graduated: 5 × 4.00 + 2 × 3.00 USD; Carl canceled
    view = pq.read_table(home.provider_view("stripe"))
    assert [str(t) for t in view.schema.types] == [
        "string",
        "timestamp[us]",
        "string",
        "string",
        "string",
        "string",
        "decimal128(18, 6)",
    ]
    rows = {r["subscription_id"]: r for r in view.to_pylist()}
    assert (rows["sub_TAda0000000001"]["currency"], rows["sub_TAda0000000001"]["mrr"]) == (
        "USD",
        Decimal("9.99"),
    )
    assert rows["sub_TYuki000000002"]["mrr"] == Decimal("1200")
    assert rows["sub_TEmil000000005"]["mrr"] == Decimal("28.98")
    assert rows["sub_TFay0000000006"]["mrr"] == Decimal("26.00")
    assert rows["sub_TEmil000000005"]["status"] == "past_due"
    assert "sub_TCarl000000003" not in rows
    assert {r["as_of"] for r in rows.values()} == {datetime(2026, 12, 1)}
    assert {r["source"] for r in rows.values()} == {"stripe"}


#: the last invoice of the second page (newest first: Emil, Ada 4 | Ada 3, Ada 2 | …)
SECOND_PAGE_END = "in_TAda0000000002"


def fail_on_third_invoice_page(request: Request) -> bool:
    return request.path == "/v1/invoices" and request.query.get("starting_after") == SECOND_PAGE_END


class Interrupt:
    """Ctrl-C in the middle of the charges, after their second page was written."""

    def __init__(self) -> None:
        self.armed = True

    def __call__(self, resource: str, fetched: int) -> None:
        if self.armed and resource == "charges" and fetched == 2 * PAGE:
            self.armed = False
            raise KeyboardInterrupt


@pytest.mark.parametrize(
    "how",
    [
        "server error on page 3 of invoices",
        "ctrl-c in charges",
        "killed between page 3 of invoices in the spool and its cursor",
    ],
)
def test_an_interrupted_backfill_resumes_to_the_same_landing_without_refetching(
    tmp_path: Path, account, fake: FakeStripe, how: str, monkeypatch
) -> None:
    whole = Home(tmp_path / "whole")
    run(whole, fake)
    fake.requests.clear()

    home = Home(tmp_path / "interrupted")
    if how.startswith("server"):
        fake.fail = fail_on_third_invoice_page
        with pytest.raises(StripeImportError, match=r"listing invoices \(500\).*resume"):
            run(home, fake)
        resource, after, count, in_spool = "invoices", SECOND_PAGE_END, 4, 4
    elif how.startswith("ctrl-c"):
        with pytest.raises(KeyboardInterrupt):
            run(home, fake, on_progress=Interrupt())
        newest_first = sorted(account["charges"], key=lambda o: (-o["created"], o["id"]))
        resource, after, count = "charges", newest_first[2 * PAGE - 1]["id"], 2 * PAGE
        in_spool = count
    else:
        save = ConnectorState.save

        def killed_before_saving(state: ConnectorState, home: Home, now=None) -> None:
            if state.cursor["api"]["resources"]["invoices"]["count"] == 6:
                raise KeyboardInterrupt
            save(state, home, now)

        monkeypatch.setattr(ConnectorState, "save", killed_before_saving)
        with pytest.raises(KeyboardInterrupt):
            run(home, fake)
        monkeypatch.setattr(ConnectorState, "save", save)
        # the third page reached the spool; the cursor on disk still ends at the second
        resource, after, count, in_spool = "invoices", SECOND_PAGE_END, 4, 6
    state = state_of(home)
    assert not state["complete"] and not landed(home)
    cursor = state["cursor"]["api"]["resources"][resource]
    assert (cursor["after"], cursor["count"], cursor["done"]) == (after, count, False)
    spooled = (home.connector_spool("stripe") / f"{resource}.ndjson").read_bytes().splitlines()
    assert len(spooled) == in_spool
    fetched_before = {name: len(fake.lists(name)) for name in ("customers", "invoices")}

    fake.fail = lambda request: False
    fake.requests.clear()
    summary = run(home, fake)
    assert summary.resumed
    assert landed(home) == landed(whole)  # same files, same lines, in the same order
    assert state_of(home)["objects_read"] == state_of(whole)["objects_read"]
    assert pq.read_table(home.provider_view("stripe")).equals(
        pq.read_table(whole.provider_view("stripe"))
    )
    # the finished resources are not listed again; the interrupted one continues after `after`
    assert fake.lists("customers") == [] and fetched_before["customers"] > 0
    assert fake.lists(resource)[0].query["starting_after"] == after
    if resource == "charges":
        assert fake.lists("invoices") == []


def test_a_backfill_interrupted_while_landing_writes_only_the_missing_parts(
    tmp_path: Path, fake: FakeStripe, monkeypatch
) -> None:
    monkeypatch.setattr(stripe_api, "PART_LINES", 10)
    whole = Home(tmp_path / "whole")
    run(whole, fake)
    assert len(landed(whole)) >= 3

    written: list[str] = []

    def land_then_fail(home: Home, name: str, lines) -> Path:
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(name)
        return land(home, name, lines)

    home = Home(tmp_path / "interrupted")
    monkeypatch.setattr(stripe_api, "land", land_then_fail)
    with pytest.raises(KeyboardInterrupt):
        run(home, fake)
    assert list(landed(home)) == written and not state_of(home)["complete"]

    fake.requests.clear()
    first = list(written)
    resumed: list[str] = []
    monkeypatch.setattr(
        stripe_api,
        "land",
        lambda home, name, lines: resumed.append(name) or land(home, name, lines),
    )
    run(home, fake)
    assert fake.requests == []  # everything was spooled: nothing fetched again
    assert resumed == list(landed(whole))[len(first) :]  # the parts not landed before, only
    assert landed(home) == landed(whole)
    assert state_of(home)["files"] == state_of(whole)["files"] == list(landed(whole))
    assert state_of(home)["events_written"] == state_of(whole)["events_written"]


def test_a_key_without_a_permission_says_which(tmp_path: Path, fake: FakeStripe) -> None:
    fake.forbidden = {"/v1/disputes"}
    with pytest.raises(StripeImportError, match=r"^the key in \$K may not read disputes: give"):
        run(Home(tmp_path), fake, key_name="the key in $K")
    assert state_of(Home(tmp_path))["cursor"]["api"]["resources"]["refunds"]["done"]


def test_another_since_starts_the_backfill_over(tmp_path: Path, fake: FakeStripe) -> None:
    home = Home(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run(home, fake, on_progress=lambda resource, n: _interrupt_at(resource, n, "prices"))
    fake.requests.clear()
    summary = run(home, fake, since=datetime(2026, 10, 1, tzinfo=UTC))
    assert not summary.resumed
    assert "starting_after" not in fake.lists("customers")[0].query
    assert state_of(home)["complete"] and state_of(home)["since"] == "2026-10-01T00:00:00Z"


def _interrupt_at(resource: str, fetched: int, where: str) -> None:
    if resource == where and fetched > 0:
        raise KeyboardInterrupt


def test_since_limits_the_history_not_the_current_state(
    tmp_path: Path, account, fake: FakeStripe, seen
) -> None:
    home = Home(tmp_path)
    since = datetime(2026, 10, 1, tzinfo=UTC)
    run(home, fake, since=since)

    [(objects, _)] = seen["objects"]
    got = Counter(o["object"] for o in objects)
    # customers, prices, subscriptions whole; from October 1: Emil's invoice and failed charges,
    # the late refund, and the July charge it refunds (expanded on it) for its customer
    assert got == {
        "customer": 6,
        "price": 7,
        "subscription": 6,
        "invoice": 1,
        "charge": 3,
        "refund": 1,
    }
    assert {o["id"] for o in objects if o["object"] == "invoice"} == {"in_TEmil000000000"}
    assert {o["id"] for o in objects if o["object"] == "charge"} == {
        "ch_TEmil000000000a",
        "ch_TEmil000000000b",
        "ch_TAda0000000001",
    }
    [refund] = [
        orjson.loads(line)
        for line in landed_lines(home)
        if orjson.loads(line)["event_type"] == "payment.refunded"
    ]
    assert (refund["customer_id"], refund["data"]["amount_minor"]) == ("cus_TAda0000000001", 500)
    stamp = str(int(since.timestamp()))
    for name in ("invoices", "charges", "refunds", "disputes", "events"):
        assert {r.query.get("created[gte]") for r in fake.lists(name)} == {stamp}
    assert "created[gte]" not in fake.lists("customers")[0].query
    assert sorted(e["id"] for e in seen["events"]) == sorted(
        e["id"] for e in in_window(account["events"], since)
    )
    assert state_of(home)["since"] == "2026-10-01T00:00:00Z"


def test_the_command_needs_its_key_and_never_prints_it(
    tmp_path: Path, fake: FakeStripe, monkeypatch, capsys
) -> None:
    home = ["--home", str(tmp_path)]
    monkeypatch.delenv("CHURNIQ_TEST_STRIPE_KEY", raising=False)
    assert main([*home, "import", "stripe", "--api-key-env", "CHURNIQ_TEST_STRIPE_KEY"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "CHURNIQ_TEST_STRIPE_KEY is not set or empty" in err

    events_too = ["import", "stripe", "--events", "x.jsonl", "--since", "2026-01-01"]
    assert main([*home, *events_too]) == 2
    assert "--since and --api-base go with --api-key-env" in capsys.readouterr().err

    monkeypatch.setenv("CHURNIQ_TEST_STRIPE_KEY", "  ")
    assert main([*home, "import", "stripe", "--api-key-env", "CHURNIQ_TEST_STRIPE_KEY"]) == 2
    assert "is not set or empty" in capsys.readouterr().err

    wrong = "rk_test_51WrongKey000000000000000"
    monkeypatch.setenv("CHURNIQ_TEST_STRIPE_KEY", wrong)
    args = ["import", "stripe", "--api-key-env", "CHURNIQ_TEST_STRIPE_KEY", "--api-base", fake.url]
    assert main([*home, *args]) == 2
    out = capsys.readouterr()
    assert out.err.count("\n") == 1 and "rejected the key in $CHURNIQ_TEST_STRIPE_KEY" in out.err
    assert wrong not in out.err + out.out
    assert fake.requests[-1].path == "/v1/customers"

    monkeypatch.setenv("CHURNIQ_TEST_STRIPE_KEY", KEY)
    assert main([*home, *args]) == 0
    out = capsys.readouterr()
    assert KEY not in out.err + out.out
    [line] = out.out.splitlines()
    read = state_of(Home(tmp_path))["objects_read"]
    assert read > 41  # the account and the events of the 30 days before the real clock's now
    assert line.startswith(f"stripe backfill: {read} objects read, ") and "churniq run" in line
    state = state_of(Home(tmp_path))
    assert state["complete"]

    # what `churniq run` does first: the landing files load as valid contract events, and each
    # untranslatable object is quarantined with the connector's reason
    assert main([*home, "ingest"]) == 0
    capsys.readouterr()
    lines = [orjson.loads(line) for line in landed_lines(Home(tmp_path))]
    events = {line["event_id"] for line in lines if line["occurred_at"] is not None}
    with duckdb.connect(str(Home(tmp_path).warehouse), read_only=True) as con:
        loaded = con.execute("select event_id from raw.events where source = 'stripe'").fetchall()
        quarantined = con.execute(
            "select reason_code, count(*) from raw.quarantine group by all"
        ).fetchall()
    assert {event_id for (event_id,) in loaded} == events
    assert quarantined == (
        [("untranslatable", state["untranslatable"])] if state["untranslatable"] else []
    )


def write_export(path: Path, events: list[dict[str, Any]], malformed_at: int) -> None:
    lines = [orjson.dumps(e) for e in events]
    lines.insert(malformed_at - 1, b'{"id": "evt_broken", "object": "event", "type": ')
    lines.insert(malformed_at, b"")  # a blank line is nothing, not an error
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_an_events_file_with_a_malformed_line_imports_the_rest_once(tmp_path: Path, capsys) -> None:
    events = shared_events()
    export = tmp_path / "events.jsonl"
    write_export(export, events, malformed_at=3)
    home = Home(tmp_path / "home")
    args = ["--home", str(home.root), "import", "stripe", "--events", str(export)]

    assert main(args) == 0
    [summary] = capsys.readouterr().out.splitlines()
    translated = [stripe_connector.translate_event(e) for e in events]
    untranslatable = 1 + sum(len(t.untranslatable) for t in translated)
    assert summary.startswith(f"stripe events file: {len(events) + 1} objects read, ")
    assert f" {untranslatable} untranslatable" in summary and "churniq run" in summary

    lines = [orjson.loads(line) for lines in landed(home).values() for line in lines]
    broken = [line for line in lines if line["data"].get("reason") == "malformed_json"]
    assert len(broken) == 1
    assert broken[0]["event_type"] == "connector.untranslatable"
    assert broken[0]["data"]["detail"].startswith("line 3 of events.jsonl: not JSON")
    assert broken[0]["data"]["payload"]["line"] == 3
    good = [line for line in lines if line["data"].get("reason") != "malformed_json"]
    assert Counter(orjson.dumps(line) for line in good) == Counter(
        orjson.dumps(line) for t in translated for line in t.lines("stripe")
    )
    state = state_of(home)
    assert state["kind"] == "events_file" and state["complete"]
    assert state["objects_read"] == len(events) + 1
    assert state["untranslatable"] == untranslatable
    assert state["events_written"] == sum(len(t.events) for t in translated)

    # a state file damaged by hand: one line, nothing imported
    good_state = home.connector_state("stripe").read_bytes()
    home.connector_state("stripe").write_bytes(b'{"source": "stri')
    assert main(args) == 2
    assert "stripe.json is unreadable" in capsys.readouterr().err
    home.connector_state("stripe").write_bytes(good_state)

    # again: nothing new, nothing landed
    files = landed(home)
    assert main(args) == 0
    assert "imported already; nothing new" in capsys.readouterr().out
    assert landed(home) == files and state_of(home)["objects_read"] == len(events) + 1

    # the export grows: only the new line is read
    extra = dict(events[0], id="evt_TFixLate")
    with open(export, "ab") as f:
        f.write(orjson.dumps(extra) + b"\n")
    assert main(args) == 0
    assert capsys.readouterr().out.startswith("stripe events file: 1 objects read, ")
    new = set(landed(home)) - set(files)
    assert len(new) == 1 and state_of(home)["objects_read"] == len(events) + 2


def test_an_interrupted_events_file_import_resumes_without_landing_twice(
    tmp_path: Path, monkeypatch
) -> None:
    events = shared_events()
    export = tmp_path / "events.jsonl"
    write_export(export, events, malformed_at=5)
    monkeypatch.setattr(stripe_export, "CHUNK_LINES", 4)
    whole = Home(tmp_path / "whole")
    stripe_export.import_events_file(whole, export, now=NOW)

    calls = {"n": 0}

    def failing(event):
        calls["n"] += 1
        if calls["n"] == 10:  # in the third chunk: two parts landed
            raise KeyboardInterrupt
        return stripe_connector.translate_event(event)

    home = Home(tmp_path / "interrupted")
    monkeypatch.setattr(stripe_export, "translate_event", failing)
    with pytest.raises(KeyboardInterrupt):
        stripe_export.import_events_file(home, export, now=NOW)
    entry = state_of(home)["cursor"]["events_files"][str(export.resolve())]
    assert (entry["line"], entry["parts"]) == (8, 2) and not state_of(home)["complete"]

    monkeypatch.setattr(stripe_export, "translate_event", stripe_connector.translate_event)
    summary = stripe_export.import_events_file(home, export, now=NOW)
    assert summary.resumed
    assert landed(home) == landed(whole)
    assert state_of(home)["objects_read"] == state_of(whole)["objects_read"] == len(events) + 1
