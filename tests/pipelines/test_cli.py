"""The command line as a user types it: `churniq demo`, then later runs, into a temporary home."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main


@pytest.mark.slow
def test_demo_then_an_incremental_run_then_a_full_refresh(tmp_path: Path, capsys):
    home = str(tmp_path / "home")
    demo = ["--home", home, "demo", "--customers", "60", "--months", "3", "--no-serve"]
    assert main(demo) == 0
    assert "snapshot" in capsys.readouterr().out

    assert main(["--home", home, "run"]) == 0
    assert "0 events loaded" in capsys.readouterr().out

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
