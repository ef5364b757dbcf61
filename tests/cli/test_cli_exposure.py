"""What the command line exposes: one listening address for both servers (127.0.0.1 unless
`--host` or `CHURNIQ_HOST` says otherwise), an owner-only home (0700, files 0600, an older
home's modes fixed on start), and a second writer of the warehouse stopped with one line."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli import main as cli
from cli import serve_commands
from foundation.settings import get_settings
from pipelines.run import warehouse_lock


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- one address for the dashboards and the core API -----------------------------------------


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The commands `churniq app`/`demo` would start, and the address `core serve` would bind."""
    started: dict[str, list[str]] = {}

    class Popen:  # the dashboards, and the core API beside the demo's dashboards
        def __init__(self, cmd: list[str], **kw) -> None:
            started["app" if "streamlit" in cmd else "core"] = cmd

        def poll(self) -> int:
            return 0

        def terminate(self) -> None: ...
        def wait(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(serve_commands.subprocess, "Popen", Popen)
    import core.api.serve

    monkeypatch.setattr(
        core.api.serve, "serve", lambda url, port, host, workers, **_: started.update(serve=[host])
    )
    monkeypatch.delenv("CHURNIQ_HOST", raising=False)
    return started


def address(cmd: list[str]) -> str:
    flag = "--server.address" if "--server.address" in cmd else "--host"
    return cmd[cmd.index(flag) + 1]


def test_both_servers_listen_on_localhost_by_default(
    tmp_path: Path, launched: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert get_settings(home=tmp_path).host == "127.0.0.1"
    home = ["--home", str(tmp_path / "h")]
    assert cli.main([*home, "app", "--port", "8599"]) == 0
    assert address(launched["app"]) == "127.0.0.1"
    serve_commands.serve_app(
        get_settings(home=tmp_path / "h"), 8599, core_port=8098
    )  # the demo's pair
    assert address(launched["app"]) == address(launched["core"]) == "127.0.0.1"
    assert cli.main([*home, "core", "migrate"]) == 0
    assert cli.main([*home, "core", "serve", "--port", "8098"]) == 0
    assert launched["serve"] == ["127.0.0.1"]


def test_one_setting_moves_both(tmp_path: Path, launched: dict, monkeypatch) -> None:
    home = ["--home", str(tmp_path / "h")]
    assert cli.main([*home, "app", "--host", "0.0.0.0"]) == 0
    assert address(launched["app"]) == "0.0.0.0"
    monkeypatch.setenv("CHURNIQ_HOST", "10.1.2.3")
    assert cli.main([*home, "app"]) == 0
    assert address(launched["app"]) == "10.1.2.3"
    assert cli.main([*home, "core", "migrate"]) == 0
    assert cli.main([*home, "core", "serve"]) == 0
    assert launched["serve"] == ["10.1.2.3"]
    serve_commands.serve_app(get_settings(home=tmp_path / "h"), 8599, core_port=8098)
    assert address(launched["app"]) == address(launched["core"]) == "10.1.2.3"


# --- an owner-only home ----------------------------------------------------------------------


def test_a_new_home_is_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = os.umask(0o022)  # what a login shell usually has
    try:
        home = tmp_path / "new"
        assert cli.main(["--home", str(home), "core", "migrate"]) == 0  # creates core.db
        assert mode(home) == 0o700
        assert mode(home / "core.db") == 0o600
    finally:
        os.umask(old)


def test_an_older_home_is_made_owner_only_on_start(tmp_path: Path) -> None:
    home = tmp_path / "old"
    (home / "landing" / "archive").mkdir(parents=True)
    for name in ("core.db", "warehouse.duckdb", "serving.duckdb", "landing/archive/a.ndjson"):
        (home / name).write_text("x")
        (home / name).chmod(0o644)
    for folder in (home, home / "landing", home / "landing" / "archive"):
        folder.chmod(0o755)
    assert cli.main(["--home", str(home), "users", "list"]) == 0
    assert mode(home) == 0o700
    assert {p.name: mode(p) for p in home.rglob("*")} == {
        "core.db": 0o600,
        "warehouse.duckdb": 0o600,
        "serving.duckdb": 0o600,
        "landing": 0o700,
        "archive": 0o700,
        "a.ndjson": 0o600,
    }


# --- one writer of the warehouse -------------------------------------------------------------


def test_a_second_run_is_one_line_and_fails(tmp_path: Path, capsys) -> None:
    settings = get_settings(home=tmp_path)
    with warehouse_lock(settings):
        assert cli.main(["--home", str(tmp_path), "run"]) == 2
        assert cli.main(["--home", str(tmp_path), "ingest"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("another run is writing the warehouse" in e for e in err), err
    assert f"pid {os.getpid()}" in err[0]


def test_a_warehouse_held_by_another_process_is_one_line(tmp_path: Path, capsys) -> None:
    """A process outside the CLI (the Dagster UI, a notebook) holding DuckDB's own lock."""
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(warehouse)!r})
            print("held", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert cli.main(["--home", str(tmp_path), "ingest"]) == 2
    finally:
        holder.communicate("")
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another process holds the warehouse" in err[0], err
