"""The command line as a user types it: `churniq demo` (the simulator driving the core, every
event from its outbox; the dashboards' key to the core), then a later run, into a temporary
home. The file demo's two halves (simulate into landing, `churniq run`) and a full refresh are
the end-to-end tests' own path."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from cli.main import main


@pytest.mark.slow
def test_demo_through_the_core_then_a_later_run(tmp_path: Path, capsys):
    home = str(tmp_path / "home")
    demo = ["--home", home, "demo", "--customers", "80", "--months", "3"]
    assert main([*demo, "--no-serve"]) == 0
    out = capsys.readouterr().out
    outbox = int(out.split(" events in the core outbox")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert f"{outbox:,} events loaded, 0 duplicate, 0 quarantined" in out, out
    assert not list((tmp_path / "home" / "landing").glob("*.parquet"))  # nothing but the core
    # the dashboards may launch campaigns into that core: a retention key, owner-only
    connection = tmp_path / "home" / "core_api.json"
    assert "saved for the dashboards" in out and connection.stat().st_mode & 0o777 == 0o600
    # the home and everything the demo wrote in it (core.db, the DuckDB files, Dagster's
    # storage, the users file) are the owner's alone, whatever the umask of the shell
    home_path = tmp_path / "home"
    assert {"core.db", "warehouse.duckdb", "serving.duckdb", "app_users.json"} <= {
        p.name for p in home_path.iterdir()
    }
    readable = [str(p) for p in [home_path, *home_path.rglob("*")] if p.stat().st_mode & 0o077]
    assert not readable and home_path.stat().st_mode & 0o777 == 0o700
    with duckdb.connect(str(tmp_path / "home" / "serving.duckdb"), read_only=True) as snap:
        groups = snap.execute(
            "select experiment_group, members from marts.campaign_results order by 1"
        ).fetchall()
    assert [g for g, _ in groups] == ["control", "treatment"]  # the demo's own campaign

    assert main(["--home", home, "run"]) == 0  # exactly once: the outbox cursor moved past all
    assert "0 events loaded" in capsys.readouterr().out
    assert main([*demo, "--no-serve"]) == 0  # a second demo keeps the business it made
    again = capsys.readouterr().out
    assert "already holds a business" in again and "0 events loaded" in again
    assert "reach the core API with the key in" in again  # the same key, not a new one
