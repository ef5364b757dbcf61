"""Erasure end to end: after `customer.erased` and the next `churniq run`, no personal value of
the customer is left in any file under the home — the core database and its WAL, the warehouse,
the serving snapshot, the archived landing files, Dagster's storage, the models.

A customer signs up through the core's API (e-mail, name, acquisition channel; the sign-up with
an Idempotency-Key, whose stored response repeats them), changes them, opens a support ticket
and subscribes. An import file in the landing folder brings the same customer with extra keys
(e-mail, phone, full name) on `customer.created` and on an engagement event, and one line that
is quarantined. A second customer, never erased, is the control: the same search finds their
values, so the search can see into every file. The erasure goes through the API; the next run
must leave none of the erased strings, as UTF-8, JSON-escaped or UTF-16 bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import subscriptions, support
from core.migrate import upgrade
from core.unit import Core
from foundation.settings import get_settings
from pipelines.run import run_pipeline
from tests.core.api_support import CARD_OK, MONTHLY, client, make_key, ok

pytestmark = pytest.mark.slow

# personal values of the customer who is erased (each distinctive, some not ASCII)
EMAIL = "erin.zqvexley@example.org"
NAME = "Zoë Zqvexley"
CHANNEL = "partner-zqvexley"  # acquisition_channel: a contract attribute, personal
NEW_EMAIL = "zoe.new.zqvexley@example.org"
NEW_CHANNEL = "podcast-zqvexley"
SUBJECT = "Zqvexley-Ticket: cannot sign in"
IMPORT_EMAIL = "import.zqvexley@example.net"
PHONE = "+44 7700 900417"
FULL_NAME = "Zoë Q. Zqvexley-Import"
DEVICE = "Zoë’s iPhone (zqvexley)"
QUARANTINED_EMAIL = "quarantined.zqvexley@example.net"
ERASED_VALUES = (
    EMAIL, NAME, CHANNEL, NEW_EMAIL, NEW_CHANNEL, SUBJECT,
    IMPORT_EMAIL, PHONE, FULL_NAME, DEVICE, QUARANTINED_EMAIL,
)  # fmt: skip
CONTROL_EMAIL = "control.kept@example.com"  # the customer never erased
CONTROL_CHANNEL = "partner-control-kept"
CONTROL_DEVICE = "control-kept-device"


def forms(value: str) -> set[bytes]:
    """The byte forms a stored string may take: UTF-8, JSON-escaped, UTF-16."""
    return {
        value.encode(),
        json.dumps(value)[1:-1].encode(),
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
    }


def files_holding(home: Path, value: str) -> list[str]:
    found = []
    needles = forms(value)
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(n in data for n in needles):
            found.append(str(path.relative_to(home)))
    return found


def event(n: int, event_type: str, customer_id: str, data: dict, when: datetime) -> dict:
    return {
        "event_id": f"import-{n}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source": "import",
        "customer_id": customer_id,
        "data": data,
    }


def write_landing(landing: Path, erased_id: str, control_id: str) -> None:
    """An NDJSON import (with a quarantined line) and a Parquet one, both holding both
    customers."""
    when = datetime.now(UTC) - timedelta(days=2)
    lines = [
        event(1, "customer.created", erased_id,
              {"country": "GB", "signup_platform": "web", "email": IMPORT_EMAIL,
               "phone": PHONE, "full_name": FULL_NAME}, when),
        event(2, "customer.created", control_id,
              {"country": "FR", "signup_platform": "ios", "email": CONTROL_EMAIL}, when),
        # quarantined (no such country): its original text names the customer
        event(3, "customer.updated", erased_id,
              {"country": "XX", "email": QUARANTINED_EMAIL}, when),
    ]  # fmt: skip
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "crm_import.ndjson").write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    )
    start = when.replace(hour=0, minute=0, second=0, microsecond=0)
    engagement = [
        event(10 + i, "engagement.activity", customer,
              {"period_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "period_end": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "minutes_watched": 42, "sessions": 3, "platform": "ios", "device_name": device},
              when)
        for i, (customer, device) in enumerate([(erased_id, DEVICE), (control_id, CONTROL_DEVICE)])
    ]  # fmt: skip
    table = pa.Table.from_pylist([e | {"data": json.dumps(e["data"])} for e in engagement])
    pq.write_table(table, landing / "engagement.parquet")


def build_core(url: str) -> tuple[str, str, object]:
    """The two customers, through the core's API and service layer; returns their ids and the
    API client (to erase with)."""
    upgrade(url)
    core = Core(url)
    _, secret = make_key(core, "admin")
    api = client(core, secret)
    ok(api.post("/offers", json=MONTHLY), 201)
    body = {"country": "DE", "signup_platform": "web", "email": EMAIL, "name": NAME,
            "acquisition_channel": CHANNEL}  # fmt: skip
    erased_id = ok(api.post("/customers", json=body, headers={"Idempotency-Key": "k1"}), 201)["id"]
    body = {"email": NEW_EMAIL, "acquisition_channel": NEW_CHANNEL}
    ok(api.patch(f"/customers/{erased_id}", json=body))
    control = {"country": "FR", "signup_platform": "ios", "email": CONTROL_EMAIL,
               "acquisition_channel": CONTROL_CHANNEL}  # fmt: skip
    control_id = ok(api.post("/customers", json=control), 201)["id"]
    card = {"card_number": CARD_OK, "exp_month": 12, "exp_year": 2030}
    for customer_id in (erased_id, control_id):
        ok(api.post(f"/customers/{customer_id}/payment-methods", json=card), 201)
    with core.unit() as u:
        for customer_id in (erased_id, control_id):
            subscriptions.start_subscription(
                u, customer_id=customer_id, offer_id=MONTHLY["id"], platform="web",
                currency="EUR", with_trial=False,
            )  # fmt: skip
        support.open_ticket(
            u, customer_id=erased_id, channel="email", category="account", subject=SUBJECT
        )
    return erased_id, control_id, (core, api)


def test_an_erased_customer_leaves_no_personal_value_in_any_file(tmp_path: Path):
    home = tmp_path / "home"
    settings = get_settings(home=home)
    erased_id, control_id, (core, api) = build_core(settings.core_url)
    write_landing(settings.paths.landing, erased_id, control_id)
    try:
        # the Dagster job of `churniq run`, without the churn models (two customers train none)
        meta = run_pipeline(settings, models=False)
        assert meta["raw/events"]["quarantined"] == 1, meta["raw/events"]
        # the search sees every value before the erasure (in the core, raw and the archive)
        missing = [v for v in ERASED_VALUES if not files_holding(home, v)]
        assert not missing, missing

        ok(api.post(f"/customers/{erased_id}/erase"))
        meta = run_pipeline(settings, models=False)
        assert meta["maintenance/erasures"]["erasures"] == 1, meta["maintenance/erasures"]
    finally:
        api.close()
        core.close()

    left = {v: files_holding(home, v) for v in ERASED_VALUES}
    assert not {v: f for v, f in left.items() if f}, left
    # the control customer keeps every value, in the core, raw and the archive
    for value in (CONTROL_EMAIL, CONTROL_CHANNEL):
        holding = files_holding(home, value)
        assert "core.db" in holding and "warehouse.duckdb" in holding, (value, holding)
    assert any(f.startswith("landing/archive/") for f in files_holding(home, CONTROL_EMAIL))
    assert any(f.startswith("landing/archive/") for f in files_holding(home, CONTROL_DEVICE))

    # the pseudonymous facts stay: both subscriptions, both customers, the engagement
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:
        customers = dict(
            con.execute("select customer_id, is_erased from marts.dim_customers").fetchall()
        )
        subs = con.execute("select count(*) from marts.fct_subscriptions").fetchall()[0][0]
    finally:
        con.close()
    assert customers == {erased_id: True, control_id: False}
    assert subs == 2
    wh = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        engagement = wh.execute(
            """select customer_id, data::varchar from raw.events
               where event_type = 'engagement.activity' order by customer_id"""
        ).fetchall()
    finally:
        wh.close()
    kept = {c: json.loads(d) for c, d in engagement}
    assert kept[erased_id]["minutes_watched"] == 42 and "device_name" not in kept[erased_id]
    assert kept[control_id]["device_name"] == CONTROL_DEVICE
