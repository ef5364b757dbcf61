"""`POST /webhooks/stripe`: Stripe's real event payloads (../shared/reference/fixtures/
stripe_events, their zero-filled event ids made unique), signed here the way Stripe signs
(`t=<unix time>,v1=<HMAC-SHA256 of "<t>.<body>" with the endpoint secret>`, computed with
hmac, not with the SDK that verifies them).

A verified event is stored once in the inbox with the lines of `translate_event` in the outbox
and an audit entry by `stripe`; a redelivery, or two deliveries at the same moment, store it
once; every refused request (no secret configured, a missing, malformed, wrong, tampered,
replayed or expired signature, a signed body that is not an event) stores nothing in any table;
and the outbox reader moves the lines into raw.events, the untranslatable one into
raw.quarantine with reason `untranslatable`. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from connectors.stripe import translate_event
from connectors.translation import (
    Translation,
    contract_event,
    derived_event_id,
    without_personal_data,
)
from core.api import create_app
from core.api.auth import PERMISSIONS, SIGNED
from core.api.serve import URL_ENV, app_from_env
from core.clock import FixedClock
from core.migrate import upgrade
from core.schema import OUTBOX, PROVIDER_WEBHOOKS, AuditEntry, Base
from core.unit import Core
from core.webhooks import receive_webhook
from foundation.home import Home
from foundation.settings import get_settings
from ingestion.loader import connect
from ingestion.sources.core_outbox import pull_outbox

EVENTS = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "reference"
    / "fixtures"
    / "stripe_events"
)
SECRET = "whsec_test_0123456789abcdefghijklmnopqrstuv"
URL = "/webhooks/stripe"


# --- Stripe's events and signatures ----------------------------------------------------------


def fixture_event(name: str, event_id: str) -> dict[str, Any]:
    """The captured event `name` (e.g. `charge.succeeded`) with the event id `event_id` (the
    captures all share one zero-filled id)."""
    path = EVENTS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"reference data absent: {path} (expects ../shared/reference next to the repo)")
    event = json.loads(path.read_text())
    assert event["object"] == "event" and set(event["id"]) <= set("evt_0")
    return event | {"id": event_id}


def fixture_names() -> list[str]:
    return sorted(p.name.removesuffix(".json") for p in EVENTS.glob("*.json"))


def body(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def sign(payload: bytes, secret: str = SECRET, at: float | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends for `payload` at time `at` (default now)."""
    t = int(time.time() if at is None else at)
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def post(api: TestClient, payload: bytes, signature: str | None = None, headers=None):
    headers = {"Content-Type": "application/json", **(headers or {})}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    return api.post(URL, content=payload, headers=headers)


# --- the database ----------------------------------------------------------------------------


def row_counts(core: Core) -> dict[str, int]:
    """Rows in every table of the core."""
    with core.engine.connect() as conn:
        return {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def outbox_lines(core: Core) -> list[dict[str, Any]]:
    with core.engine.connect() as conn:
        rows = conn.execute(sa.select(OUTBOX.c.envelope).order_by(OUTBOX.c.seq)).scalars()
        return [json.loads(r) for r in rows]


def inbox(core: Core) -> dict[str, dict[str, Any]]:
    with core.engine.connect() as conn:
        rows = conn.execute(sa.select(PROVIDER_WEBHOOKS)).mappings().all()
    return {r["provider_event_id"]: dict(r) for r in rows}


def audit(core: Core) -> list[tuple[str, str | None, str, str | None]]:
    with core.sessions() as session:
        rows = session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(a.actor, a.role, a.action, a.target_id) for a in rows]


@pytest.fixture
def api(core: Core) -> Iterator[TestClient]:
    with TestClient(create_app(core, SECRET)) as client:
        yield client


# --- the inbox service, with a translation written here --------------------------------------


def translate_charge(event: Mapping[str, Any]) -> Translation:
    """A translation for the service's tests: a charge event becomes one payment event whose id
    derives from the charge (two events of one charge: one fact); anything else is ignored."""
    obj = event["data"]["object"]
    if obj.get("object") != "charge":
        return Translation(ignored={event["type"]: 1})  # type: ignore[arg-type]
    paid = contract_event(
        event_id=derived_event_id("stripe", obj["id"], "paid"),
        event_type="payment.succeeded",
        occurred_at=obj["created"],
        source="stripe",
        customer_id=obj["customer"] or "cus_anonymous",
        data={
            "payment_id": obj["id"],
            "purchase_id": obj["id"],
            "amount_minor": obj["amount"],
            "currency": obj["currency"].upper(),
            "provider": "stripe",
        },
    )
    return Translation(events=[paid])


def test_the_service_stores_an_event_once_and_skips_facts_already_in_the_outbox(core: Core):
    first = fixture_event("charge.succeeded", "evt_service_1")
    again = fixture_event("charge.succeeded", "evt_service_2")  # the same charge: the same fact
    other = fixture_event("customer.deleted", "evt_service_3")

    got = receive_webhook(core, "stripe", first, body(first), translate_charge)
    assert (got.duplicate, got.status, got.events_written) == (False, "translated", 1)
    assert receive_webhook(core, "stripe", first, body(first), translate_charge).duplicate
    got = receive_webhook(core, "stripe", again, body(again), translate_charge)
    assert (got.duplicate, got.status, got.events_written) == (False, "translated", 0)
    got = receive_webhook(core, "stripe", other, body(other), translate_charge)
    assert (got.duplicate, got.status, got.events_written) == (False, "ignored", 0)

    assert outbox_lines(core) == translate_charge(first).lines("stripe")
    stored = inbox(core)
    assert {k: (v["status"], v["events_written"]) for k, v in stored.items()} == {
        "evt_service_1": ("translated", 1),
        "evt_service_2": ("translated", 0),
        "evt_service_3": ("ignored", 0),
    }
    assert orjson.loads(stored["evt_service_1"]["payload"]) == without_personal_data(first)
    assert audit(core) == [
        ("stripe", None, "webhook.received", f"evt_service_{n}") for n in (1, 2, 3)
    ]


def test_a_translation_that_raises_is_kept_as_untranslatable(core: Core):
    event = fixture_event("invoice.paid", "evt_broken_translation")

    def broken(_: Mapping[str, Any]) -> Translation:
        raise KeyError("lines")

    got = receive_webhook(core, "stripe", event, body(event), broken)
    assert (got.status, got.events_written) == ("untranslatable", 1)
    [line] = outbox_lines(core)
    assert line["event_type"] == "connector.untranslatable"
    assert line["event_id"] == "stripe:evt_broken_translation:untranslatable:translation_failed"
    assert line["data"]["reason"] == "translation_failed"
    assert line["data"]["detail"] == "KeyError: 'lines'"
    assert line["data"]["payload"] == without_personal_data(event)


def test_the_same_event_at_the_same_moment_is_stored_once(core: Core):
    """Two deliveries of one event inside their transactions at once. On PostgreSQL a barrier
    holds each at its first INSERT until the other is there too: the second then waits on the
    first's uncommitted keys and, once they are committed, writes nothing and answers as a
    redelivery. SQLite serialises them at BEGIN: the second finds the first's rows."""
    event = fixture_event("charge.succeeded", "evt_race")
    payload = body(event)
    postgres = core.engine.dialect.name == "postgresql"
    at_first_write = threading.Barrier(2, timeout=10)
    waited = threading.local()

    def hold(conn, cursor, statement, *_args) -> None:
        if statement.lstrip().lower().startswith("insert") and not getattr(waited, "done", 0):
            waited.done = 1
            at_first_write.wait()  # raises BrokenBarrierError if the other never gets there

    if postgres:
        sa.event.listen(core.engine, "before_cursor_execute", hold)
    start = threading.Barrier(2, timeout=10)
    results: list[Any] = []

    def deliver() -> None:
        start.wait()
        results.append(receive_webhook(core, "stripe", event, payload, translate_charge))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    if postgres:
        sa.event.remove(core.engine, "before_cursor_execute", hold)
        assert not at_first_write.broken  # both were inside their transactions at once
    assert sorted(r.duplicate for r in results) == [False, True]
    assert len(inbox(core)) == 1 and len(outbox_lines(core)) == 1
    assert [a[2] for a in audit(core)] == ["webhook.received"]


# --- the route: what is refused stores nothing ------------------------------------------------


def test_without_a_secret_the_route_answers_503_and_stores_nothing(core: Core):
    event = fixture_event("charge.succeeded", "evt_unconfigured")
    payload = body(event)
    before = row_counts(core)
    with TestClient(create_app(core)) as api:
        response = post(api, payload, sign(payload))
    assert response.status_code == 503
    assert response.json()["error"] == "not_configured"
    assert "CHURNIQ_STRIPE_WEBHOOK_SECRET" in response.json()["message"]
    assert "\n" not in response.json()["message"]
    assert row_counts(core) == before


def one_byte_changed(payload: bytes, event: Mapping[str, Any]) -> bytes:
    """`payload` with the last digit of the event's `created` changed: still a JSON event."""
    at = payload.index(str(event["created"]).encode()) + len(str(event["created"])) - 1
    digit = (payload[at] - ord("0") + 1) % 10 + ord("0")
    changed = payload[:at] + bytes([digit]) + payload[at + 1 :]
    assert sum(a != b for a, b in zip(changed, payload, strict=True)) == 1
    return changed


def test_refused_deliveries_store_nothing_in_any_table(core: Core, api: TestClient):
    event = fixture_event("customer.subscription.created", "evt_refused")
    payload = body(event)
    now = time.time()
    mac = sign(payload).partition(",v1=")[2]
    t = int(now)
    not_an_event = json.dumps({"object": "customer", "id": "cus_1"}).encode()
    no_id = json.dumps({"object": "event", "type": "charge.succeeded", "data": {}}).encode()
    no_type = json.dumps({"object": "event", "id": "evt_typeless", "data": {}}).encode()
    signature = {
        "no header": (payload, None),
        "an empty header": (payload, ""),
        "the wrong secret": (payload, sign(payload, "whsec_someone_elses_secret_0000000000")),
        "a tampered body (one byte changed)": (one_byte_changed(payload, event), sign(payload)),
        "expired (signed 301 s ago)": (payload, sign(payload, at=now - 301)),
        "replayed (a header captured an hour ago)": (payload, sign(payload, at=now - 3600)),
        "malformed: no timestamp": (payload, f"v1={mac}"),
        "malformed: no signature": (payload, f"t={t}"),
        "malformed: a timestamp that is no number": (payload, f"t=yesterday,v1={mac}"),
        "malformed: another scheme only": (payload, f"t={t},v0={mac}"),
        "malformed: not a header at all": (payload, "garbage"),
        "malformed: a signature that is no hex": (payload, f"t={t},v1=zz{mac[2:]}"),
    }
    content = {
        "signed, but not JSON": b"{not json",
        "signed, but not UTF-8": b"\xff\xfe{}",
        "signed JSON, but an array": b"[1, 2]",
        "signed JSON, but null": b"null",
        "signed JSON, but not an event": not_an_event,
        "signed event without an id": no_id,
        "signed event without a type": no_type,
    }
    cases = {k: (*v, "invalid_signature") for k, v in signature.items()}
    cases |= {k: (v, sign(v), "invalid_payload") for k, v in content.items()}
    before = row_counts(core)
    for case, (sent, header, code) in cases.items():
        response = post(api, sent, header)
        assert response.status_code == 400, (case, response.text)
        assert response.json()["error"] == code, (case, response.text)
        message = response.json()["message"]
        assert message and "\n" not in message and SECRET not in response.text, case
        assert row_counts(core) == before, case
    assert sum(before.values()) == 0  # a new database: nothing anywhere, before or after


# --- the route: Stripe's events, stored once ---------------------------------------------------


def expected_status(translation: Translation) -> str:
    if translation.untranslatable:
        return "untranslatable"
    return "translated" if translation.events else "ignored"


def deliver_every_capture(api: TestClient) -> tuple[list[dict[str, Any]], dict[str, tuple]]:
    """Post every captured event (ids made unique); the outbox lines they must have written
    (each contract event id once: the captures' object ids repeat) and, per Stripe event id,
    the expected (status, lines written)."""
    lines: list[dict[str, Any]] = []
    expected: dict[str, tuple] = {}
    for n, name in enumerate(fixture_names()):
        event = fixture_event(name, f"evt_capture_{n:02d}")
        payload = body(event)
        translation = translate_event(event)
        seen = {line["event_id"] for line in lines}
        new = [line for line in translation.lines("stripe") if line["event_id"] not in seen]
        lines += new
        expected[event["id"]] = (expected_status(translation), len(new))
        response = post(api, payload, sign(payload))
        assert response.status_code == 200, (name, response.text)
        assert response.json() == {
            "received": True,
            "duplicate": False,
            "status": expected[event["id"]][0],
            "events_written": len(new),
        }, name
    return lines, expected


def test_every_captured_event_is_stored_once_with_its_translation(core: Core, api: TestClient):
    lines, expected = deliver_every_capture(api)
    statuses = {status for status, _ in expected.values()}
    assert statuses == {"translated", "ignored", "untranslatable"}  # the captures have each
    assert outbox_lines(core) == lines
    stored = inbox(core)
    assert {k: (v["status"], v["events_written"]) for k, v in stored.items()} == expected
    for name, (event_id, row) in zip(fixture_names(), sorted(stored.items()), strict=True):
        assert row["event_type"] == name and row["provider"] == "stripe"
        assert json.loads(row["payload"])["id"] == event_id
    # the captures name a person (charge.succeeded: "Jenny Rosen", "510 Townsend St"): the
    # inbox and the quarantine lines keep the shape and ids, not the person
    everything = " ".join(row["payload"] for row in stored.values()) + json.dumps(lines)
    assert "Jenny Rosen" not in everything and "510 Townsend St" not in everything
    assert '"name": "[redacted]"' in json.dumps([json.loads(r["payload"]) for r in stored.values()])
    assert audit(core) == [
        ("stripe", None, "webhook.received", event_id) for event_id in sorted(expected)
    ]


def test_a_redelivery_adds_nothing(core: Core, api: TestClient):
    event = fixture_event("invoice.payment_failed", "evt_redelivered")
    payload = body(event)
    header = sign(payload)
    first = post(api, payload, header).json()
    assert (first["status"], first["events_written"]) == ("translated", 1)
    after_first = row_counts(core)
    duplicate = {"received": True, "duplicate": True}
    # the same header again within the tolerance (a replay of a delivery) and Stripe's own
    # retry (signed anew), with a body Stripe re-serialised: stored once, by the event id
    assert post(api, payload, header).json() == duplicate
    assert post(api, payload, sign(payload, at=time.time() + 1)).json() == duplicate
    compact = json.dumps(event, separators=(",", ":")).encode()
    assert post(api, compact, sign(compact)).json() == duplicate
    assert row_counts(core) == after_first
    assert json.loads(inbox(core)["evt_redelivered"]["payload"]) == without_personal_data(event)


def test_the_outbox_reader_lands_them_in_raw_events_and_quarantine(
    tmp_path: Path, clock: FixedClock
):
    """On a temporary home: the pipeline's outbox reader moves the webhooks' contract events
    into raw.events and their untranslatable lines into raw.quarantine (reason untranslatable,
    the connector's reason in the detail, the Stripe payload kept)."""
    home = Home(tmp_path / "home")
    home.root.mkdir()
    url = f"sqlite:///{home.core_db}"
    upgrade(url)
    core = Core(url, clock=clock)
    try:
        with TestClient(create_app(core, SECRET)) as api:
            lines, _ = deliver_every_capture(api)
    finally:
        core.close()
    con = connect(home.warehouse)
    try:
        report = pull_outbox(con, url)
        raw = con.execute("select event_id, source from raw.events order by event_id").fetchall()
        quarantined = con.execute(
            "select event_id, reason_code, reason_detail, raw_text from raw.quarantine "
            "order by event_id"
        ).fetchall()
    finally:
        con.close()
    events = sorted(x["event_id"] for x in lines if x["event_type"] != "connector.untranslatable")
    untranslatable = sorted(
        (x for x in lines if x["event_type"] == "connector.untranslatable"),
        key=lambda x: x["event_id"],
    )
    assert (report.loaded, report.quarantined) == (len(events), len(untranslatable))
    assert raw == [(event_id, "stripe") for event_id in events]
    assert len(untranslatable) >= 2
    assert [(q[0], q[1], q[2]) for q in quarantined] == [
        (x["event_id"], "untranslatable", f"{x['data']['reason']}: {x['data']['detail']}")
        for x in untranslatable
    ]
    for q, line in zip(quarantined, untranslatable, strict=True):
        assert json.loads(q[3])["data"]["payload"] == line["data"]["payload"]


def test_the_signing_secret_is_a_setting_kept_out_of_reprs_and_reaches_the_workers(
    monkeypatch, tmp_path: Path
):
    monkeypatch.setenv("CHURNIQ_STRIPE_WEBHOOK_SECRET", SECRET)
    settings = get_settings(home=tmp_path)
    assert settings.stripe_webhook_secret is not None
    assert settings.stripe_webhook_secret.get_secret_value() == SECRET
    assert SECRET not in repr(settings) and SECRET not in settings.model_dump_json()
    url = f"sqlite:///{tmp_path / 'core.db'}"
    upgrade(url)
    monkeypatch.setenv(URL_ENV, url)
    app = app_from_env()  # what each of `churniq core serve --workers N` builds
    try:
        assert app.state.stripe_webhook_secret == SECRET
    finally:
        app.state.core.close()


def test_the_route_is_signed_not_keyed_and_kept_out_of_the_api_document(api: TestClient):
    assert ("POST", URL) in SIGNED and ("POST", URL) not in PERMISSIONS
    assert URL not in api.get("/openapi.json").json()["paths"]
    event = fixture_event("invoice.upcoming", "evt_no_key")
    payload = body(event)
    answer = post(api, payload, sign(payload), headers={"X-API-Key": "ck_not-a-key"})
    assert answer.status_code == 200, answer.text  # an API key is neither needed nor looked at
    assert answer.json()["status"] == "ignored"
