"""The command line as a user types it: `churniq demo --via-core` (the simulator driving the
core, every event from its outbox), then later runs, into a temporary home. The plain demo's
two halves (simulate into landing, `churniq run`) are the end-to-end tests' own path."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main


@pytest.mark.slow
def test_demo_then_an_incremental_run_then_a_full_refresh(tmp_path: Path, capsys):
    home = str(tmp_path / "home")
    demo = ["--home", home, "demo", "--via-core", "--customers", "80", "--months", "3"]
    assert main([*demo, "--no-serve"]) == 0
    out = capsys.readouterr().out
    outbox = int(out.split(" events in the core outbox")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert f"{outbox:,} events loaded, 0 duplicate, 0 quarantined" in out, out
    assert not list((tmp_path / "home" / "landing").glob("*.parquet"))  # nothing but the core
    # the dashboards may launch campaigns into that core: a retention key, owner-only
    connection = tmp_path / "home" / "core_api.json"
    assert "saved for the dashboards" in out and connection.stat().st_mode & 0o777 == 0o600
    with duckdb.connect(str(tmp_path / "home" / "serving.duckdb"), read_only=True) as snap:
        groups = snap.execute(
            "select experiment_group, members from marts.campaign_results order by 1"
        ).fetchall()
    assert [g for g, _ in groups] == ["control", "treatment"]  # the demo's own campaign

    assert main(["--home", home, "run"]) == 0  # exactly once: the outbox cursor moved past all
    assert "0 events loaded" in capsys.readouterr().out
    assert main([*demo, "--no-serve"]) == 2  # the core already holds a business
    assert "offers" in capsys.readouterr().err

    assert main(["--home", home, "run", "--full-refresh"]) == 0
    con = duckdb.connect(str(tmp_path / "home" / "warehouse.duckdb"), read_only=True)
    try:
        # a full refresh records full builds (no count of rebuilt customers)
        rebuilt = con.execute(
            "select rebuilt_customers from dbt_state.build_state where model = 'customer_months'"
        ).fetchone()
    finally:
        con.close()
    assert rebuilt == (None,)
