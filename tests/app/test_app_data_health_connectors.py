"""Data health's "Connected sources" and "Reconciliation with the provider" sections (AppTest),
on conftest's snapshot with the page's ``ops`` tables and hand-made connector tables.

| table | content (expected on the page) |
|---|---|
| ops.connectors | stripe: API backfill 3.0 h ago, webhook 0.5 h ago, 2 of 3 customers differ |
| ops.connector_ignored | stripe: payout.paid 2 (webhooks), balance.available 1 (import) |
| ops.reconciliation | cus_b JPY +1000, cus_c EUR -5.00 (largest difference first) |
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from app.data import data_health as health_data
from app.users import save_user
from app.views.data_health import NO_CONNECTOR, NO_RECONCILIATION, behind_text, ignored_text
from tests.app.page_support import Runner, download_labels, open_page, source
from tests.app.test_app_data_health import OPS_SQL, PAGE

Builder = Callable[..., Path]

CONNECTORS_SQL = """
create table ops.connectors as select * from (values
    ('stripe', 'api', true, timestamp '2024-03-31 23:00', timestamp '2024-04-01 01:30',
     timestamp '2024-03-31 23:30', 3.0, 0.5, 2.5, 120, 97, 95, 14, 2, 1, 3,
     timestamp '2024-03-31 23:00', date '2024-03-30', 3, 2, timestamp '2024-03-31 23:00')
) t(source, kind, complete, last_backfill_at, last_webhook_at, last_event_at,
    hours_since_backfill, hours_since_webhook, hours_since_event, objects_read, events_written,
    events_stored, webhooks, untranslatable, quarantined_open, quarantined_total,
    reconciled_as_of, churniq_as_of_date, customers_compared, customers_differing,
    state_updated_at);
create table ops.connector_ignored as select * from (values
    ('stripe', 'payout.paid', 2, 0, 2), ('stripe', 'balance.available', 1, 1, 0)
) t(source, provider_type, ignored, in_imports, in_webhooks);
create table ops.reconciliation as select * from (values
    ('stripe', timestamp '2024-03-31 23:00', 'cus_c', 'EUR', 1, 1, 20.0::decimal(38, 6),
     15.0::decimal(38, 6), -5.0::decimal(38, 6)),
    ('stripe', timestamp '2024-03-31 23:00', 'cus_b', 'JPY', 0, 1, 0::decimal(38, 6),
     1000::decimal(38, 6), 1000::decimal(38, 6))
) t(source, as_of, customer_id, currency, provider_subscriptions, churniq_subscriptions,
    provider_mrr, churniq_mrr, mrr_difference);
"""


def _home(home: Path, snapshot_builder: Builder, sql: str) -> Path:
    path = snapshot_builder(home)
    with duckdb.connect(str(path)) as con:
        con.execute(OPS_SQL)
        con.execute(sql)
    save_user(home, "vera", "viewer-password", "viewer")
    return home


@pytest.fixture
def connected_home(home: Path, snapshot_builder: Builder) -> Path:
    return _home(home, snapshot_builder, CONNECTORS_SQL)


def test_connected_source_and_differing_customers(connected_home: Path, app_runner: Runner):
    at = open_page(app_runner, PAGE)  # tester: admin, may export
    subheaders = [s.value for s in at.subheader]
    assert "Connected sources" in subheaders and "Reconciliation with the provider" in subheaders
    connectors = next(df.value for df in at.dataframe if "hours_since_backfill" in df.value)
    assert list(connectors["source"]) == ["stripe"]
    assert list(connectors["ignored_types"]) == ["payout.paid (2), balance.available (1)"]
    assert list(connectors["quarantined_open"]) == [1]
    # churniq's figures stop the day before the view's (an as-of setting): the page says so
    assert at.warning[0].value == (
        "stripe: 2 of 3 customers differ from the provider's view of 2024-03-31 23:00. "
        "churniq's figures are as of 2024-03-30 (the `CHURNIQ_AS_OF` setting), before the "
        "view's day: a change scheduled in between, such as a trial's end, is not in them; "
        "`CHURNIQ_AS_OF=2024-03-31` (or no setting) compares on the view's day."
    )
    differences = next(df.value for df in at.dataframe if "mrr_difference" in df.value)
    assert list(differences["customer_id"]) == ["cus_b", "cus_c"]  # largest difference first
    labels = download_labels(at)
    assert "Download connectors (CSV)" in labels and "Download differences (CSV)" in labels


def test_viewer_sees_differences_without_export(connected_home: Path, app_runner: Runner):
    at = open_page(app_runner, PAGE, user="vera")
    assert not any("mrr_difference" in df.value for df in at.dataframe)  # a static table
    [static] = [t.value for t in at.table if "Customer" in t.value]
    assert list(static["Customer"]) == ["cus\\_b", "cus\\_c"]  # Markdown-escaped text
    assert list(static["Difference"]) == ["\\+1000\\.00", "\\-5\\.00"]
    assert "Download differences (CSV)" not in download_labels(at)


def test_every_customer_matches(home: Path, snapshot_builder: Builder, app_runner: Runner):
    sql = CONNECTORS_SQL + (
        "update ops.connectors set customers_differing = 0; delete from ops.reconciliation;"
    )
    _home(home, snapshot_builder, sql)
    at = open_page(app_runner, PAGE)
    assert any(
        s.value == "stripe: the marts match the provider's view of 2024-03-31 23:00 for all 3 "
        "customers."
        for s in at.success
    )
    assert not any("mrr_difference" in df.value for df in at.dataframe)


def test_no_connector_explains_how_to_connect(
    home: Path, snapshot_builder: Builder, app_runner: Runner
):
    sql = CONNECTORS_SQL + (
        "delete from ops.connectors; delete from ops.connector_ignored;"
        " delete from ops.reconciliation;"
    )
    _home(home, snapshot_builder, sql)
    at = open_page(app_runner, PAGE)
    assert NO_CONNECTOR in [i.value for i in at.info]
    assert "churniq import stripe --api-key-env" in NO_CONNECTOR
    assert NO_RECONCILIATION in [c.value for c in at.caption]


def test_connector_data_functions(connected_home: Path) -> None:
    src = source()
    assert list(health_data.connectors(src)["customers_differing"]) == [2]
    ignored = health_data.connector_ignored(src)
    assert ignored_text(ignored, "stripe") == "payout.paid (2), balance.available (1)"
    assert ignored_text(ignored, "import") == ""
    assert list(health_data.reconciliation(src)["mrr_difference"]) == [1000, -5]


def test_behind_text_only_when_churniq_is_before_the_view() -> None:
    assert behind_text("2024-03-31 23:00", "2024-03-31") == ""
    assert behind_text("2024-03-31 23:00", None) == ""
    assert "as of 2024-03-29" in behind_text("2024-03-31 00:10", "2024-03-29")
