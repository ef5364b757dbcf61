"""End to end: simulate a small business, run the Dagster job in-process on a temporary home,
and check the published marts against the independent reference in `tests/reference`."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from foundation.settings import get_settings
from foundation.vocabulary import BRIDGE_COLUMNS
from pipelines.run import run_pipeline
from tests.dbt_support import all_marts
from tests.pipeline_support import simulated_home
from tests.reference.compare import MONTHLY_COUNTS, diff_monthly, mart_monthly
from tests.reference.metrics import compute

pytestmark = pytest.mark.slow

# The columns this test compares; tests/test_reference_seeds.py compares every column.
COLUMNS = ["mrr", *BRIDGE_COLUMNS, *MONTHLY_COUNTS]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return simulated_home(tmp_path_factory.mktemp("home"), customers=400, months=12, seed=11)


def test_marts_match_the_independent_reference(home: Path):
    reference = compute(str(home / "warehouse.duckdb"))
    mismatches = diff_monthly(reference, mart_monthly(home / "serving.duckdb"), COLUMNS)
    assert not mismatches, mismatches[:20]


def test_landing_is_archived_and_a_rerun_changes_nothing(home: Path):
    settings = get_settings(home=home)
    assert not list(settings.paths.landing.glob("*.parquet"))
    before = all_marts(home / "serving.duckdb")
    meta = run_pipeline(settings)
    assert meta["raw/events"]["loaded"] == 0
    assert all_marts(home / "serving.duckdb") == before
    # `churniq run --full-refresh` rebuilds the incremental models from scratch: same marts
    meta = run_pipeline(get_settings(home=home, full_refresh=True))
    assert all(meta["checks"].values()), meta["checks"]
    assert all_marts(home / "serving.duckdb") == before


def test_snapshot_is_readable_while_nothing_holds_the_warehouse(home: Path):
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    version, currency = con.execute(
        "select version, reporting_currency from meta.snapshot"
    ).fetchall()[0]
    assert version and currency == "EUR"
    tables = {
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    }
    con.close()
    assert {"metrics_monthly", "fct_mrr_movements", "fct_subscriptions", "dim_customers"} <= tables


def test_marts_are_the_same_whatever_the_order_and_batching(home: Path, tmp_path: Path):
    import random

    from ingestion.loader.readers import read_lines

    lines: list[str] = []
    for f in sorted((home / "landing" / "archive").rglob("*.parquet")):
        lines += read_lines(f, f.read_bytes()).column("text").to_pylist()
    rng = random.Random(2)
    shuffled = lines + rng.sample(lines, len(lines) // 20)  # some events arrive twice
    rng.shuffle(shuffled)
    other = get_settings(home=tmp_path / "other")
    other.paths.landing.mkdir(parents=True)
    cuts = sorted(rng.sample(range(1, len(shuffled)), 6))
    for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(shuffled)], strict=True)):
        (other.paths.landing / f"part-{i}.ndjson").write_text("\n".join(shuffled[a:b]) + "\n")
    meta = run_pipeline(other, models=False)  # the marts are what is compared
    assert meta["raw/events"]["loaded"] == len(lines)
    assert all_marts(home / "serving.duckdb") == all_marts(other.paths.serving)


# Phrases of METRICS.md that each metric's documentation must carry.
DEFINITIONS = {
    "arr": ["12"],
    "customer_churn_rate": ["start"],
    "gross_mrr_churn_rate": ["churn", "contraction"],
    "net_mrr_churn_rate": ["expansion", "reactivation"],
    "quick_ratio": ["new", "expansion", "reactivation", "churn", "contraction"],
    "arpu": ["paying customers"],
    "ltv": ["ARPU", "3 months"],
    "fx_adjustment": ["rate"],
    "voluntary_churned_customers": ["payment_failed"],
}


def test_every_published_column_is_documented(home: Path):
    import json

    from pipelines.dbt_project import MANIFEST

    manifest = json.loads(MANIFEST.read_text())
    docs = {
        node["name"]: {c: v.get("description", "") for c, v in node["columns"].items()}
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    columns = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'"
    ).fetchall()
    con.close()
    undocumented = [(t, c) for t, c in columns if not docs.get(t, {}).get(c, "").strip()]
    assert not undocumented, undocumented
    monthly = docs["metrics_monthly"]
    for column, phrases in DEFINITIONS.items():
        text = monthly[column].lower()
        missing = [p for p in phrases if p.lower() not in text]
        assert not missing, (column, missing, monthly[column])


def test_dbt_docs_are_generated_for_the_home(home: Path):
    from cli.main import main

    assert main(["--home", str(home), "docs", "--no-serve"]) == 0
    page = (home / "dbt_docs" / "static_index.html").read_text()
    assert "metrics_monthly" in page and "fct_mrr_movements" in page


def test_late_events_in_a_later_run_give_the_same_marts(home: Path, tmp_path: Path):
    """Staging tables are incremental: events arriving in a later run, older than what is
    already loaded, must still land in every mart exactly as if they had come first."""
    import random

    from ingestion.loader.readers import read_lines

    lines: list[str] = []
    for f in sorted((home / "landing" / "archive").rglob("*.parquet")):
        lines += read_lines(f, f.read_bytes()).column("text").to_pylist()
    rng = random.Random(9)
    rng.shuffle(lines)
    first, late = lines[: len(lines) * 7 // 10], lines[len(lines) * 7 // 10 :]
    other = get_settings(home=tmp_path / "two-runs")
    other.paths.landing.mkdir(parents=True)
    (other.paths.landing / "first.ndjson").write_text("\n".join(first) + "\n")
    run_pipeline(other, models=False)  # the marts are what is compared
    (other.paths.landing / "late.ndjson").write_text("\n".join(late) + "\n")
    meta = run_pipeline(other, models=False)
    assert meta["raw/events"]["loaded"] == len(late)
    assert all_marts(home / "serving.duckdb") == all_marts(other.paths.serving)


def test_survival_curves_and_cohort_projections_are_published(home: Path):
    import numpy as np

    from models.checks import check_interval, check_survival_curve
    from models.store import survival_input

    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    curves = con.execute("select * from ml.survival_curves").df()
    projections = con.execute("select * from ml.cohort_projections").df()
    customers = survival_input(con)
    con.close()
    assert {"all", "offer_type", "platform", "country", "cohort_month"} >= set(curves.segment_type)
    check_survival_curve(curves, t_col="t_days")
    # the whole base against the product-limit formula written out here
    everyone = curves[curves.segment_type == "all"].set_index("t_days")
    durations = customers.duration_days.to_numpy()
    churned = customers.churned.to_numpy()
    survival = 1.0
    for t in everyone.index[1:]:
        at_risk = (durations >= t).sum()
        survival *= 1 - ((durations == t) & churned).sum() / at_risk
        assert everyone.loc[t, "survival"] == pytest.approx(survival, abs=1e-12)
        assert everyone.loc[t, "at_risk"] == at_risk
    assert len(everyone) == 1 + len(np.unique(durations[durations > 0]))
    for _, cohort in projections.groupby(["cohort_type", "cohort"]):
        check_interval(cohort.projected_retention, cohort.ci_lower, cohort.ci_upper)
        assert cohort.projected_retention.is_monotonic_decreasing


def test_tables_read_one_customer_at_a_time_are_published_in_that_order(home: Path):
    """The snapshot stores them sorted (zone maps then skip every other customer's rows), and
    holds exactly the warehouse's rows."""
    from ingestion.publish import PUBLISHED_ORDER

    con = duckdb.connect()
    con.execute(f"attach '{home / 'serving.duckdb'}' as snap (read_only)")
    con.execute(f"attach '{home / 'warehouse.duckdb'}' as wh (read_only)")
    try:
        for table, order in PUBLISHED_ORDER.items():
            stored = con.execute(f"select {order} from snap.{table}").fetchall()
            assert stored and stored == sorted(stored), table
            assert len(stored) == con.execute(f"select count(*) from wh.{table}").fetchone()[0]
    finally:
        con.close()
