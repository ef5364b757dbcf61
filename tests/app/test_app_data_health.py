"""Data health page through the whole app (AppTest) and its data functions, on hand-made
``ops`` tables added to conftest's snapshot.

| table | content (expected figures) |
|---|---|
| ops.sources | landing files (event lag 5.0 h), core-outbox (event lag 2.5 h): newest event 2.5 h |
| ops.quarantine_reasons | malformed_json 4 open + 1 replayed, future_timestamp 2 open, personal_data 3 replayed: 6 open |
| ops.check_results | 4 checks: 1 error (dbt test), 1 WARN (score drift), 1 from an earlier run: 2 / 4 pass |
| ops.loads | 60 batches: 2 pages of 50 |
| ops.replay_requests | one executed request (replay-old, by admin1) |
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from app.charts.data_health import HELP
from app.data import data_health as health_data
from app.users import save_user
from app.views.data_health import NO_FILTERS, hours_text
from tests.app.page_support import Runner, captions, csv_files, download_labels, open_page, source

Builder = Callable[..., Path]
PAGE = "views/data_health.py"

OPS_SQL = """
create schema ops;
create table ops.run as select 'run-7' as run_id, 'test-v1' as version,
    timestamp '2024-04-01 02:00:00' as published_at;
create table ops.sources as select * from (values
    ('landing files', 3, 1000, 990, 4, 6, 990, timestamp '2024-03-01 01:00',
     timestamp '2024-03-31 22:00', timestamp '2024-03-31 22:00', timestamp '2024-03-31 21:00',
     5.0, 4.0),
    ('core-outbox', 2, 200, 200, 0, 0, 200, timestamp '2024-03-02 01:00',
     timestamp '2024-03-31 20:00', timestamp '2024-03-31 20:00', timestamp '2024-03-31 23:30',
     2.5, 6.0)
) t(source, batches, lines, loaded, duplicates, quarantined, events_stored, first_load_at,
    last_load_at, last_load_with_events_at, last_event_at, event_lag_hours,
    hours_since_last_load);
create table ops.event_sources as select * from (values
    ('core', 200, timestamp '2024-01-01', timestamp '2024-03-31 23:30',
     timestamp '2024-03-31 20:00', 2.5),
    ('simulator', 990, timestamp '2024-01-01', timestamp '2024-03-31 21:00',
     timestamp '2024-03-31 22:00', 5.0)
) t(source, events, first_event_at, last_event_at, last_loaded_at, event_lag_hours);
create table ops.quarantine_reasons as select * from (values
    ('malformed_json', 4, 1, 5, timestamp '2024-03-01', timestamp '2024-03-30', timestamp '2024-03-31'),
    ('future_timestamp', 2, 0, 2, timestamp '2024-03-10', timestamp '2024-03-20', null),
    ('personal_data', 0, 3, 3, timestamp '2024-03-05', timestamp '2024-03-06', timestamp '2024-03-31')
) t(reason_code, open_lines, replayed_lines, total_lines, first_quarantined_at,
    last_quarantined_at, last_replayed_at);
create table ops.quarantine_samples as select * from (values
    ('malformed_json', 'line is not valid JSON', null, null, null, 'a.ndjson', 7, 'b-1',
     '{oops', timestamp '2024-03-30', null),
    ('malformed_json', 'line is not valid JSON', null, null, null, 'a.ndjson', 3, 'b-1',
     '{"event_id": ', timestamp '2024-03-01', timestamp '2024-03-31'),
    ('future_timestamp', 'occurred_at is in the future', 'customer.created', 'occurred_at',
     'e-9', 'b.ndjson', 2, 'b-2', '{"event_id": "e-9"}', timestamp '2024-03-20', null)
) t(reason_code, reason_detail, event_type, field, event_id, source_file, source_line, batch_id,
    excerpt, quarantined_at, replayed_at);
create table ops.table_rows as select * from (values
    ('marts.dim_customers', 0), ('marts.metrics_monthly', 3)) t(table_name, rows);
create table ops.check_results as select * from (values
    ('run-7', 'asset_check', 'quarantine_ratio', 'raw/events', true, 'WARN', 'ratio=0.001',
     timestamp '2024-04-01 01:00', true),
    ('run-7', 'asset_check', 'score_drift', 'ml/churn_scores', false, 'WARN', 'psi=0.3',
     timestamp '2024-04-01 01:30', true),
    ('run-7', 'dbt_test', 'not_null_dim_customers_customer_id', 'marts/dim_customers', false,
     'ERROR', 'status=fail', timestamp '2024-04-01 01:10', true),
    ('run-6', 'asset_check', 'mrr_bridge_balances', 'serving_snapshot', true, null, 'months=3',
     timestamp '2024-03-31 02:10', false)
) t(run_id, kind, check_name, asset, passed, severity, detail, evaluated_at, this_run);
create table ops.loads as
select case when i % 2 = 0 then 'landing files' else 'core-outbox' end as source,
       'b-' || lpad(i::varchar, 3, '0') as batch_id, 'f' || i || '.ndjson' as source_file,
       'ndjson' as file_format, 10 as lines, 9 as loaded, 0 as duplicates, 1 as quarantined,
       timestamp '2024-03-01' + to_minutes(i::bigint) as started_at,
       timestamp '2024-03-01' + to_minutes(i::bigint) + interval 1 second as finished_at,
       1.0 as seconds
from range(1, 61) r(i);
create table ops.replay_requests as select * from (values
    ('replay-old', 'admin1', 'future_timestamp', timestamp '2024-03-31 10:00',
     timestamp '2024-04-01 01:00', 'done', 2, 1, 0, 1, 'b-r', '2 replayed')
) t(request_id, requested_by, reason_codes, requested_at, executed_at, status, attempted,
    loaded, duplicates, still_quarantined, batch_id, detail);
"""


@pytest.fixture
def ops_home(home: Path, snapshot_builder: Builder) -> Path:
    path = snapshot_builder(home)
    with duckdb.connect(str(path)) as con:
        con.execute(OPS_SQL)
    save_user(home, "vera", "viewer-password", "viewer")
    save_user(home, "rita", "retention-password", "retention")
    return home


def kpis(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_no_snapshot(home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert at.info[0].value.startswith("No data yet: run `churniq run`")
    assert not at.metric


def test_snapshot_without_ops_tables(snapshot_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert at.info[0].value.startswith("The snapshot has no `ops.sources` table yet")
    assert not at.metric and not at.dataframe
    assert "snapshot test-v1" in captions(at)


def test_kpis_tables_and_captions(ops_home: Path, app_runner: Runner, downloads: dict) -> None:
    at = open_page(app_runner, PAGE)
    assert kpis(at) == {
        "Last successful run": "2024-04-01 02:00",
        "Newest event, before publication": "2.5 h",  # min(5.0, 2.5)
        "Open quarantined lines": "6",  # 4 + 2 + 0
        "Checks passing": "2 / 4",  # 4 − 1 error − 1 warning
    }
    assert [m.help for m in at.metric] == [
        HELP[k] for k in ("last_run", "freshness", "open_quarantine", "checks")
    ]
    text = captions(at)
    assert NO_FILTERS in text and "Published by run run-7." in text
    assert "4 checks · 1 failing · 1 warning · 1 from an earlier run" in text
    assert "Page 1 of 2 · loads 1–50 of 60" in text
    assert "snapshot test-v1" in text
    subheaders = {s.value: s.help for s in at.subheader}
    assert subheaders["Sources: last load and freshness"] == HELP["sources"]
    assert subheaders["Quarantined lines by reason"] == HELP["quarantine"]
    tables = [df.value for df in at.dataframe]
    sources, producers, reasons, samples, checks, rows, loads = tables[:7]
    assert list(sources["source"]) == ["landing files", "core-outbox"]  # last load first
    assert list(producers["events"]) == [200, 990]
    assert list(reasons["reason_code"]) == ["malformed_json", "future_timestamp", "personal_data"]
    # the first reason's samples: open first
    assert list(samples["source_line"]) == [7, 3]
    # failures first (ordered by passed, kind, asset, check name)
    assert list(checks["check_name"]) == [
        "score_drift",
        "not_null_dim_customers_customer_id",
        "quarantine_ratio",
        "mrr_bridge_balances",
    ]
    assert dict(zip(rows["table_name"], rows["rows"], strict=True)) == {
        "marts.dim_customers": 0,
        "marts.metrics_monthly": 3,
    }
    assert len(loads) == 50 and loads.iloc[0]["batch_id"] == "b-060"
    assert len(at.get("vega_lite_chart")) == 2  # freshness, quarantine
    assert download_labels(at) == [
        "Download sources (CSV)",
        "Download events by producer (CSV)",
        "Download quarantine by reason (CSV)",
        "Download samples (CSV)",
        "Download check results (CSV)",
        "Download row counts (CSV)",
        "Download this page of loads (CSV)",
        "Download replay outcomes (CSV)",  # tester is admin
    ]
    csvs = csv_files(downloads)
    assert list(csvs["data_health_sources.csv"]["event_lag_hours"]) == [5.0, 2.5]
    quarantine = csvs["data_health_quarantine.csv"]
    assert list(quarantine["open_lines"]) == [4, 2, 0]
    assert list(quarantine["replayed_lines"]) == [1, 0, 3]
    assert list(csvs["data_health_samples_malformed_json.csv"]["excerpt"]) == [
        "{oops",
        '{"event_id": ',
    ]
    assert len(csvs["data_health_checks.csv"]) == 4
    assert list(csvs["data_health_table_rows.csv"]["rows"]) == [0, 3]
    loads_csv = csvs["data_health_loads.csv"]
    assert len(loads_csv) == 50 and loads_csv["batch_id"].iloc[-1] == "b-011"
    assert list(csvs["data_health_replays.csv"]["requested_by"]) == ["admin1"]


def test_samples_checks_and_loads_follow_the_widgets(ops_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.selectbox(key="data_health_sample_reason").select("future_timestamp").run()
    samples = at.dataframe[3].value
    assert list(samples["event_id"]) == ["e-9"] and list(samples["field"]) == ["occurred_at"]
    at.toggle(key="data_health_only_failing").set_value(True).run()
    failing = at.dataframe[4].value
    assert sorted(failing["check_name"]) == ["not_null_dim_customers_customer_id", "score_drift"]
    at.number_input(key="data_health_loads_page").set_value(2).run()
    assert not at.exception
    assert "Page 2 of 2 · loads 51–60 of 60" in captions(at)
    assert list(at.dataframe[6].value["batch_id"])[-1] == "b-001"


@pytest.mark.parametrize("user", ["vera", "rita"])
def test_viewer_and_retention_see_no_action(ops_home: Path, app_runner: Runner, user: str) -> None:
    at = open_page(app_runner, PAGE, user=user)
    assert kpis(at)["Open quarantined lines"] == "6"
    assert "Replay quarantined lines" not in [s.value for s in at.subheader]
    assert [b.label for b in at.button] == ["Sign out"]
    assert "data_health_replay_reasons" not in [m.key for m in at.multiselect]
    assert len(at.dataframe) == 7  # no replay outcomes (audit) table either


def test_admin_files_a_replay_request(ops_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)  # tester is admin
    assert "Replay quarantined lines" in [s.value for s in at.subheader]
    # choices: reasons with open lines only
    assert at.multiselect(key="data_health_replay_reasons").options == [
        "malformed_json",
        "future_timestamp",
    ]
    outcomes = at.dataframe[-1].value
    assert list(outcomes["request_id"]) == ["replay-old"]
    assert "No pending request." in captions(at)
    # a form: the choice and the submit reach the script in the same rerun
    at.multiselect(key="data_health_replay_reasons").select("future_timestamp")
    next(b for b in at.button if b.label == "Request replay").click().run()
    assert not at.exception
    files = list((ops_home / "requests").glob("*.json"))
    assert len(files) == 1 and not list((ops_home / "requests").glob(".*"))
    body = json.loads(files[0].read_text())
    assert body["requested_by"] == "tester" and body["reason_codes"] == ["future_timestamp"]
    assert body["kind"] == "replay" and body["request_id"] == files[0].stem
    assert f"Replay request `{files[0].stem}` filed by tester" in at.success[0].value
    pending = at.dataframe[-2].value
    assert list(pending["request_id"]) == [files[0].stem]
    assert list(pending["requested_by"]) == ["tester"]
    # a request whose outcome is already in the snapshot is not pending any more
    old = {**body, "request_id": "replay-old"}
    (ops_home / "requests" / "replay-old.json").write_text(json.dumps(old))
    at.run()
    assert list(at.dataframe[-2].value["request_id"]) == [files[0].stem]


def test_data_functions(ops_home: Path) -> None:
    src = source()
    assert health_data.has_ops(src)
    assert health_data.run_info(src)["run_id"] == "run-7"
    assert health_data.check_counts(src) == {"total": 4, "failed": 1, "warned": 1, "earlier": 1}
    assert list(health_data.check_results(src, True)["passed"]) == [False, False]
    assert health_data.loads_count(src) == 60
    assert list(health_data.recent_loads(src, 2)["batch_id"])[:2] == ["b-010", "b-009"]
    assert health_data.open_reason_codes(src) == ["malformed_json", "future_timestamp"]
    assert list(health_data.quarantine_samples(src, "nope")["event_id"]) == []
    assert health_data.pending().empty
    request = health_data.file_replay_request("tester", [])
    assert list(health_data.pending()["reason_codes"]) == ["every reason"]
    assert health_data.pending({request.request_id}).empty
    with pytest.raises(ValueError):
        health_data.file_replay_request("tester", ["nope"])
    assert hours_text(2.5) == "2.5 h" and hours_text(72) == "3.0 days" and hours_text(None) is None


def test_data_functions_without_ops(snapshot_home: Path) -> None:
    src = source()
    assert not health_data.has_ops(src)
    assert health_data.sources(src) is None and health_data.check_counts(src) is None
    assert health_data.loads_count(src) == 0 and health_data.open_reason_codes(src) == []
