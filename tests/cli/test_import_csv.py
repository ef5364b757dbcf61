"""`churniq import csv`: the dry run reports and writes nothing, bad input is one line and a
non-zero exit, and a real run lands contract files that `ingest` and dbt turn into the migrated
MRR of `marts.metrics_monthly` (figures computed by hand here), with the months before the
export marked approximate. A second run adds nothing."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from cli.main import main
from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect, ingest
from tests.dbt_support import copy_project, failures, run_dbt

FIXTURES = Path(__file__).resolve().parents[1] / "connectors" / "fixtures" / "csv"
STRIPE = FIXTURES / "stripe"


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_dry_run_reports_and_writes_nothing(tmp_path: Path, capsys) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "keep.txt").write_text("untouched")
    before = _tree(home)
    report = tmp_path / "report.json"
    code = main(
        [
            "--home",
            str(home),
            "import",
            "csv",
            "--preset",
            "stripe",
            str(STRIPE),
            "--dry-run",
            "--report",
            str(report),
        ]
    )
    assert code == 0
    assert _tree(home) == before  # no landing file, no state file, no folder
    assert sorted(os.listdir(home)) == ["keep.txt"]
    out = capsys.readouterr().out
    assert "subscriptions.csv (subscriptions): 5 rows, 1 skipped" in out
    assert "figures exact from 2025-05" in out
    assert "dry run: nothing written" in out
    written = json.loads(report.read_text())
    assert written["events"] == {
        "customer.created": 4,
        "offer.published": 3,
        "subscription.cancelled": 1,
        "subscription.ended": 1,
        "subscription.started": 4,
    }
    assert written["rows_read"] == 9 and written["rejected"] == []
    assert written["exact_from_month"] == "2025-05-01"


def test_dry_run_lists_rejected_rows(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "subscriptions.csv"
    lines = (STRIPE / "subscriptions.csv").read_text().splitlines()
    lines[2] = lines[2].replace(
        "2025-02-03 12:00,2025-02-03 12:00,2025-02-17", "2025-02-03 12:00,someday,2025-02-17"
    )
    bad.write_text("\n".join(lines) + "\n")
    report = tmp_path / "r.json"
    assert (
        main(
            ["import", "csv", "--preset", "stripe", str(bad), "--dry-run", "--report", str(report)]
        )
        == 0
    )
    assert "subscriptions.csv line 3: bad date 'someday'" in capsys.readouterr().out
    assert json.loads(report.read_text())["rejected"][0]["line"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mapping", "missing.toml"], "mapping file not found: missing.toml"),
        (["--preset", "recurly"], "unknown preset 'recurly'"),
    ],
)
def test_bad_mapping_is_one_line_and_exit_2(tmp_path, capsys, args, message) -> None:
    assert (
        main(["--home", str(tmp_path / "h"), "import", "csv", *args, str(STRIPE), "--dry-run"]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith(f"churniq: error: {message}") and err.count("\n") == 1
    assert not (tmp_path / "h").exists()  # the home is not even created


def test_bad_files_are_one_line_and_exit_2(tmp_path, capsys) -> None:
    unreadable = tmp_path / "subscriptions.csv"
    unreadable.write_bytes(b"id,Plan\n\xff\xfe\n")
    no_plan = tmp_path / "more" / "subscriptions.csv"
    no_plan.parent.mkdir()
    no_plan.write_text("id,Customer ID\nsub_1,cus_1\n")
    for path, message in [
        (unreadable, "not UTF-8 text"),
        (no_plan, "subscriptions.csv: mapped column 'Plan' is not in the header"),
        (tmp_path / "nowhere.csv", "no such file or folder"),
    ]:
        assert main(["import", "csv", "--preset", "stripe", str(path), "--dry-run"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("churniq: error: ") and message in err and err.count("\n") == 1


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> tuple[Path, Path]:
    """A real run of the Stripe preset into a home, the landing files ingested and the marts
    built (`+metrics_monthly`, without unit tests)."""
    root = tmp_path_factory.mktemp("import_csv")
    home = root / "home"
    assert main(["--home", str(home), "import", "csv", "--preset", "stripe", str(STRIPE)]) == 0
    warehouse = root / "warehouse.duckdb"
    con = connect(warehouse)
    report = ingest(con, [home / "landing"])
    assert report.summary().startswith("1 file(s): 13 loaded, 0 duplicate, 0 quarantined"), (
        report.summary()
    )
    refresh_reference_tables(con, "EUR")
    con.execute("checkpoint")
    con.close()
    result = run_dbt(
        [
            "build",
            "--select",
            "+metrics_monthly",
            "--exclude",
            "resource_type:unit_test",
            "--indirect-selection",
            "cautious",
        ],
        copy_project(root),
        {"CHURNIQ_WAREHOUSE": str(warehouse)},
    )
    assert result.exception is None, result.exception
    assert not failures(result), failures(result)
    return home, warehouse


def test_a_real_run_lands_contract_files_and_the_state(migrated) -> None:
    home, _ = migrated
    landed = sorted((home / "landing").iterdir())
    assert [p.name.startswith("import-") and p.name.endswith("-00001.ndjson") for p in landed] == [
        True
    ]
    assert landed[0].read_bytes() == (FIXTURES / "stripe.expected.ndjson").read_bytes()
    state = json.loads((home / "connectors" / "import.json").read_text())
    assert (state["source"], state["kind"], state["complete"]) == ("import", "csv", True)
    assert (state["objects_read"], state["events_written"], state["untranslatable"]) == (9, 13, 0)
    assert state["files"] == [landed[0].name]
    assert state["cursor"]["exact_from_month"] == "2025-05-01"


def test_a_second_run_adds_nothing(migrated, tmp_path) -> None:
    home, warehouse = migrated
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    again = tmp_path / "home"
    assert main(["--home", str(again), "import", "csv", "--preset", "stripe", str(STRIPE)]) == 0
    con = connect(copy)
    try:
        report = ingest(con, [again / "landing"])
    finally:
        con.close()
    assert report.summary().startswith("1 file(s): 0 loaded"), report.summary()


def test_migrated_mrr_in_metrics_monthly(migrated) -> None:
    _, warehouse = migrated
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select month, mrr, paying_customers, exact_from_month, is_exact "
            "from marts.metrics_monthly order by month"
        ).fetchall()

        def rate(currency: str, day: str) -> Decimal:
            return con.execute(
                "select rate from raw.fx_rates where currency = ? and rate_date = ?",
                [currency, day],
            ).fetchone()[0]

        # By hand, at each month end (the as-of date 2025-04-20 for April): sub_A 9.99 EUR from
        # Jan 10; sub_C 1,200 JPY a month from Jan 20 until Apr 20 08:00; sub_B 2 x 120.00 USD a
        # year = 20.00 USD a month from its trial end Feb 17; sub_D 9.99 EUR from Mar 1.
        expected = {
            date(2025, 1, 1): (Decimal("9.99") + 1200 * rate("JPY", "2025-01-31"), 2),
            date(2025, 2, 1): (
                Decimal("9.99") + 1200 * rate("JPY", "2025-02-28") + 20 * rate("USD", "2025-02-28"),
                3,
            ),
            date(2025, 3, 1): (
                Decimal("19.98")
                + 1200 * rate("JPY", "2025-03-31")
                + 20 * rate("USD", "2025-03-31"),
                4,
            ),
            date(2025, 4, 1): (Decimal("19.98") + 20 * rate("USD", "2025-04-20"), 3),
        }
    finally:
        con.close()
    assert [r[0] for r in rows] == list(expected)
    for month, mrr, paying, exact_from, is_exact in rows:
        assert (mrr, paying) == expected[month], month
        # the export held only the current periods: every month is approximate, May the first exact
        assert (exact_from, is_exact) == (date(2025, 5, 1), False)


def test_rejected_rows_reach_the_quarantine(tmp_path: Path) -> None:
    bad = tmp_path / "subscriptions.csv"
    lines = (STRIPE / "subscriptions.csv").read_text().splitlines()
    lines[4] = lines[4].replace(",9.99,", ",-9.99,")  # sub_D, line 5
    bad.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", "csv", "--preset", "stripe", str(bad)]) == 0
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        ingest(con, [home / "landing"])
        quarantined = con.execute(
            "select reason_code, reason_detail from raw.quarantine"
        ).fetchall()
        started = con.execute(
            "select count(*) from raw.events where event_type = 'subscription.started'"
        ).fetchone()[0]
    finally:
        con.close()
    assert quarantined == [
        ("untranslatable", "rejected_row: subscriptions.csv line 5: negative amount '-9.99'")
    ]
    assert started == 3  # A, B and C
    state = json.loads((home / "connectors" / "import.json").read_text())
    assert state["untranslatable"] == 1
