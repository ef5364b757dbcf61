"""The connectors in the Dagster definitions: one `churniq run` (in-process) on a home with two
sources, then the warehouse, the reconciliation mart and check and the snapshot's `ops` tables.
Also the definitions of a configured source and the connector sensor's decisions.

- `stripe`: the Stripe asset itself, materialized against a local stand-in of Stripe's API
  serving the account of tests/connectors/fixtures/stripe_api/ (5 customers, in USD and JPY,
  one of them trialing past its trial end), lands the real translation, its state and Stripe's
  own view; the core's webhook inbox holds three Stripe webhooks. Every customer matches Stripe's
  own figures to the cent.
- `acme` (hand-made files, as an importer leaves them; hand-computed): cus_1 pays USD 30.00 a
  quarter (MRR 10.00) since 2026-01-05 and cus_2 EUR 12.00 a year (MRR 1.00) since 2026-01-06;
  acme's view of 2026-01-20 reports cus_1 at USD 10.00 (a match), cus_2 at EUR 1.50 (churniq
  0.50 less), and cus_3, whom churniq does not have, at USD 5.00 with one subscription.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from foundation.contract.webhooks import provider_webhooks_table
from foundation.settings import get_settings
from ingestion.sources.stripe_api import OBJECT_RESOURCES
from pipelines.assets.connectors import StripeApi, connector_key, next_since, stripe_import
from pipelines.dbt_project import prepare_manifest
from pipelines.definitions import build_definitions
from pipelines.resources import ChurniqConfig
from pipelines.run import run_pipeline
from pipelines.sensors import build_connector_sensor, connector_due
from tests.ingestion.stripe_fixture_server import FakeStripe, serving

LANDING = "acme-20260120T120000Z-00001.ndjson"
FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures" / "stripe_api"
KEY = "rk_test_51Fixture0000000000000000"


def _event(n: int, event_type: str, customer: str, at: str, data: dict) -> dict:
    return {
        "event_id": f"acme-test-{n}",
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": at,
        "source": "acme",
        "customer_id": customer,
        "data": data,
    }


def _subscription(
    n: int, customer: str, at: str, price: int, currency: str, period: str, period_end: str
):
    return _event(
        n,
        "subscription.started",
        customer,
        at,
        {
            "subscription_id": f"sub_{customer}",
            "offer_id": f"price_{customer}",
            "platform": "web",
            "price_minor": price,
            "currency": currency,
            "billing_period": period,
            "discount_minor": 0,
            "current_period_end": period_end,
        },
    )


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "landing").mkdir(parents=True)
    (home / "connectors").mkdir()
    created = {"country": "US", "signup_platform": "web", "acquisition_channel": "direct"}
    lines = [
        _event(1, "customer.created", "cus_1", "2026-01-05T10:00:00Z", created),
        _event(2, "customer.created", "cus_2", "2026-01-06T10:00:00Z", created),
        _subscription(
            3, "cus_1", "2026-01-05T10:00:00Z", 3000, "USD", "P3M", "2026-04-05T10:00:00Z"
        ),
        _subscription(
            4, "cus_2", "2026-01-06T10:00:00Z", 1200, "EUR", "P1Y", "2027-01-06T10:00:00Z"
        ),
        _event(5, "customer.updated", "cus_2", "2026-01-20T11:00:00Z", {"country": "DE"}),
    ]
    # an untranslatable object of the import, quarantined under the acme source
    untranslatable = {
        "event_id": "acme-untranslatable-1",
        "event_type": "connector.untranslatable",
        "schema_version": 1,
        "occurred_at": None,
        "source": "acme",
        "customer_id": "",
        "data": {"reason": "price_without_interval", "detail": "price_9", "provider_id": "p"},
    }
    text = "\n".join(json.dumps(e) for e in [*lines, untranslatable]) + "\n"
    (home / "landing" / LANDING).write_text(text)
    state = {
        "source": "acme",
        "kind": "api",
        "updated_at": "2026-01-20T12:00:00Z",
        "last_backfill_at": "2026-01-20T12:00:00Z",
        "since": None,
        "complete": True,
        "objects_read": 9,
        "events_written": 5,
        "untranslatable": 1,
        "ignored": {"balance.available": 2},
        "files": [LANDING],
        "cursor": {},
    }
    (home / "connectors" / "acme.json").write_text(json.dumps(state))
    as_of = datetime(2026, 1, 20, 12)
    pq.write_table(
        pa.table(
            {
                "source": ["acme"] * 3,
                "as_of": pa.array([as_of] * 3, pa.timestamp("us")),
                "customer_id": ["cus_1", "cus_2", "cus_3"],
                "subscription_id": ["sub_cus_1", "sub_cus_2", "sub_cus_3"],
                "status": ["active"] * 3,
                "currency": ["USD", "EUR", "USD"],
                "mrr": pa.array(
                    [Decimal("10"), Decimal("1.5"), Decimal("5")], pa.decimal128(18, 6)
                ),
            }
        ),
        home / "connectors" / "acme_provider_view.parquet",
    )
    engine = sa.create_engine(f"sqlite:///{home / 'core.db'}")
    table = provider_webhooks_table(sa.MetaData())
    table.create(engine)
    with engine.begin() as conn:
        for i, (event_type, status) in enumerate(
            [("invoice.paid", "translated"), ("payout.paid", "ignored"), ("payout.paid", "ignored")]
        ):
            conn.execute(
                table.insert().values(
                    provider="stripe",
                    provider_event_id=f"evt_{i}",
                    event_type=event_type,
                    status=status,
                    events_written=1 if status == "translated" else 0,
                    received_at=datetime(2026, 1, 20, 13, i),
                    payload="{}",
                )
            )
    engine.dispose()
    return home


def _import_stripe(home: Path) -> dict:
    """The Stripe asset, materialized in-process against the stand-in; its metadata."""
    account = {n: json.loads((FIXTURES / f"{n}.json").read_text()) for n in OBJECT_RESOURCES}
    with serving(FakeStripe(account | {"events": []}, KEY)) as fake:
        result = dg.materialize(
            [stripe_import],
            resources={
                "churniq": ChurniqConfig(home=str(home)),
                "stripe_api": StripeApi(api_key=KEY, api_base=fake.url),
            },
        )
    assert result.success
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, dict]:
    home = _home(tmp_path_factory.mktemp("connectors"))
    imported = _import_stripe(home)
    # no as-of setting: the fixtures' events are older than Stripe's view, and the complete
    # backfill moves the watermark to its own moment (int_as_of), so the trial that ended in
    # between is paying on the view's day, as Stripe says
    meta = run_pipeline(get_settings(home=home), models=False)
    return home, meta | {"imported": imported}


def _rows(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_run_records_state_webhooks_and_the_provider_views(ran) -> None:
    home, meta = ran
    imported = meta["imported"]
    assert imported["kind"] == "api" and imported["complete"] is True
    assert [Path(f).name for f in imported["landed"]] == sorted(
        p.name for p in (home / "landing" / "archive").rglob("stripe-*.ndjson")
    )
    assert meta["raw/events"]["connectors"] == ["acme", "stripe"]
    assert meta["raw/events"]["webhooks"] == 3
    assert meta["raw/provider_views"]["subscriptions"] == {"acme": 3, "stripe": 4}
    warehouse = home / "warehouse.duckdb"
    assert _rows(
        warehouse,
        """select source, kind, objects_read, files::varchar from raw.connector_state
           where source = 'acme'""",
    ) == [("acme", "api", 9, f'["{LANDING}"]')]
    assert _rows(
        warehouse,
        "select source, objects_read, events_written from raw.connector_state"
        " where source = 'stripe'",
    ) == [("stripe", imported["objects_read"], imported["events_written"])]
    assert _rows(
        warehouse,
        "select event_type, status, webhooks from raw.webhook_counts order by all",
    ) == [("invoice.paid", "translated", 1), ("payout.paid", "ignored", 2)]


def test_stripe_figures_match_stripe_to_the_cent(ran) -> None:
    """The real translation of the fixture account against Stripe's own view on the same day:
    USD 9.99 monthly; USD 99.00 a year (8.25), its trial over; USD 28.98 (two items);
    JPY 1,200 (no minor unit). The canceled subscription is on neither side."""
    home, _ = ran
    assert _rows(
        home / "warehouse.duckdb",
        """select customer_id, currency, provider_subscriptions, churniq_subscriptions,
                  provider_mrr, mrr_difference, matches
           from marts.reconciliation_provider where provider_source = 'stripe'
           order by customer_id""",
    ) == [
        ("cus_TAda0000000001", "USD", 1, 1, Decimal("9.99"), Decimal("0"), True),
        ("cus_TDora000000004", "USD", 1, 1, Decimal("8.25"), Decimal("0"), True),
        ("cus_TEmil000000005", "USD", 1, 1, Decimal("28.98"), Decimal("0"), True),
        ("cus_TYuki000000002", "JPY", 1, 1, Decimal("1200"), Decimal("0"), True),
    ]


def test_reconciliation_mart_and_check(ran) -> None:
    home, meta = ran
    assert _rows(
        home / "warehouse.duckdb",
        """select customer_id, currency, provider_subscriptions, churniq_subscriptions,
                  provider_mrr, churniq_mrr, mrr_difference, matches
           from marts.reconciliation_provider where provider_source = 'acme'
           order by customer_id""",
    ) == [
        ("cus_1", "USD", 1, 1, Decimal("10"), Decimal("10"), Decimal("0"), True),
        ("cus_2", "EUR", 1, 1, Decimal("1.5"), Decimal("1"), Decimal("-0.5"), False),
        ("cus_3", "USD", 1, 0, Decimal("5"), Decimal("0"), Decimal("-5"), False),
    ]
    # a warning, not a failed run: two customers differ, by EUR -0.50 and USD -5.00
    assert meta["checks"]["reconciliation_matches"] is False
    [(passed, severity, detail)] = _rows(
        home / "warehouse.duckdb",
        """select passed, severity, detail from ops.check_results
           where check_name = 'reconciliation_matches'""",
    )
    assert not passed and severity == "WARN"
    assert "customers=7" in detail and "customers_differing=2" in detail
    assert "as_of_behind_view" not in detail  # churniq's as-of is the Stripe view's day
    view_at = pq.read_table(home / "connectors" / "stripe_provider_view.parquet")["as_of"][0]
    [(watermark, as_of_date)] = _rows(
        home / "warehouse.duckdb", "select watermark_at, as_of_date from intermediate.int_as_of"
    )
    assert (watermark, as_of_date) == (view_at.as_py(), view_at.as_py().date())
    # and the dashboards say so ("data as of … (watermark)")
    assert _rows(home / "serving.duckdb", "select watermark from meta.snapshot") == [(watermark,)]
    assert "'EUR': '-0.500000'" in detail and "'USD': '-5.000000'" in detail


def test_snapshot_ops_tables_of_the_connectors(ran) -> None:
    home, meta = ran
    serving = home / "serving.duckdb"
    rows = _rows(
        serving,
        """select source, kind, last_backfill_at, last_webhook_at, last_event_at, objects_read,
                  events_written, events_stored, webhooks, untranslatable, quarantined_open,
                  customers_compared, customers_differing
           from ops.connectors order by source""",
    )
    assert rows[0] == (
        "acme",
        "api",
        datetime(2026, 1, 20, 12),
        None,  # the webhooks are Stripe's
        datetime(2026, 1, 20, 11),
        9,
        5,
        5,
        0,
        1,
        1,  # the untranslatable line of the acme landing file
        3,
        2,
    )
    stripe = rows[1]
    assert stripe[:2] == ("stripe", "api") and stripe[3] == datetime(2026, 1, 20, 13, 2)
    assert stripe[8] == 3 and stripe[11:] == (4, 0)
    imported = meta["imported"]
    # what the import wrote is what is stored (no line of it quarantined but untranslatables)
    assert stripe[6] == stripe[7] == imported["events_written"]
    assert stripe[10] == imported["untranslatable"]
    ignored = _rows(
        serving,
        "select source, provider_type, ignored, in_imports, in_webhooks from ops.connector_ignored",
    )
    assert ("stripe", "payout.paid", 2, 0, 2) in ignored
    assert ("acme", "balance.available", 2, 2, 0) in ignored
    assert _rows(serving, "select customer_id, mrr_difference from ops.reconciliation") == [
        ("cus_3", Decimal("-5")),
        ("cus_2", Decimal("-0.5")),
    ]


def test_next_import_starts_a_day_before_the_last_backfill(ran) -> None:
    home, _ = ran
    settings = get_settings(home=home)
    state = json.loads(settings.paths.connector_state("stripe").read_text())
    last = datetime.fromisoformat(state["last_backfill_at"].replace("Z", "+00:00"))
    assert next_since(settings, "stripe") == last - timedelta(days=1)
    assert next_since(settings, "nothing") is None


def test_configured_source_has_an_asset_outside_the_daily_job(tmp_path: Path) -> None:
    prepare_manifest()
    plain = build_definitions(get_settings(home=tmp_path))
    assert connector_key("stripe") not in plain.resolve_asset_graph().get_all_asset_keys()
    assert {s.name for s in plain.sensors} == {"landing_sensor", "core_outbox_sensor"}
    defs = build_definitions(get_settings(home=tmp_path, stripe_api_key="sk_test_1"))
    assert connector_key("stripe") in defs.resolve_asset_graph().get_all_asset_keys()
    daily = defs.resolve_job_def("churniq").asset_layer.executable_asset_keys
    assert connector_key("stripe") not in daily
    assert "connector_sensor" in {s.name for s in defs.sensors}


def test_connector_sensor_requests_an_import_when_old_or_webhooks_arrive(tmp_path: Path) -> None:
    home = _home(tmp_path)  # Stripe's webhooks in the core; a Stripe state of 12:00 below
    state = json.loads((home / "connectors" / "acme.json").read_text()) | {"source": "stripe"}
    (home / "connectors" / "stripe.json").write_text(json.dumps(state))
    settings = get_settings(home=home, connector_sync_minutes=60)
    fresh = datetime(2026, 1, 20, 12, 30, tzinfo=UTC)
    assert connector_due(settings, "stripe", fresh) is None
    key, why = connector_due(settings, "stripe", fresh + timedelta(minutes=30))
    assert key.startswith("stripe-stale-") and "2026-01-20 12:00" in why
    assert connector_due(settings, "import", fresh)[1] == "no state yet"

    sensor = build_connector_sensor(["stripe"])
    assert build_connector_sensor([]) is None
    resources = {"churniq": build_definitions(settings).resources["churniq"]}
    # the state file is from January: seen from now, stale; make it fresh
    state["updated_at"] = datetime.now(UTC).isoformat()
    (home / "connectors" / "stripe.json").write_text(json.dumps(state))
    with dg.build_sensor_context(resources=resources) as context:
        [request] = sensor(context)  # three webhooks never seen: an import
        assert request.asset_selection == [connector_key("stripe")]
        assert request.run_key.startswith("stripe-webhooks-")
        cursor = context.cursor
    with dg.build_sensor_context(resources=resources, cursor=cursor) as context:
        assert isinstance(sensor(context), dg.SkipReason)  # nothing new since
