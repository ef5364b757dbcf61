"""`churniq core maintain`: the erasure maintenance step by hand, without dbt: an erasure the
warehouse has loaded is carried into the core's outbox, and both databases are rewritten so
the erased values leave their files."""

from __future__ import annotations

from pathlib import Path

from cli.main import main
from core import customers
from core.migrate import upgrade
from core.unit import Core
from foundation.settings import get_settings
from ingestion.loader import connect
from ingestion.sources.core_outbox import pull_outbox

CHANNEL = "affiliate-qpzmaintain"  # acquisition_channel: in the outbox envelope


def holding(home: Path, value: str) -> list[str]:
    return sorted(
        p.name for p in home.iterdir() if p.is_file() and value.encode() in p.read_bytes()
    )


def test_core_maintain_carries_a_loaded_erasure_through_both_databases(tmp_path: Path, capsys):
    home = tmp_path / "home"
    assert main(["--home", str(home), "core", "maintain"]) == 2  # no core yet: one clear line
    assert "churniq core migrate" in capsys.readouterr().err
    settings = get_settings(home=home)
    upgrade(settings.core_url)
    core = Core(settings.core_url)
    try:
        with core.unit() as u:
            erased = customers.create_customer(
                u, country="DE", signup_platform="web", acquisition_channel=CHANNEL
            ).id
            customers.create_customer(u, country="FR", signup_platform="ios")
        con = connect(settings.paths.warehouse)
        try:
            assert pull_outbox(con, settings.core_url).loaded == 2
            with core.unit() as u:
                customers.erase_customer(u, erased)
            assert pull_outbox(con, settings.core_url).loaded == 1
        finally:
            con.close()
    finally:
        core.close()
    # scrubbed in raw.events, blanked in the core's row: the bytes are still in both files
    before = holding(home, CHANNEL)
    assert "warehouse.duckdb" in before and {"core.db", "core.db-wal"} & set(before), before

    assert main(["--home", str(home), "core", "maintain"]) == 0
    out = capsys.readouterr().out
    assert "1 erasure(s) carried through" in out and "1 outbox envelope(s) scrubbed" in out, out
    assert "warehouse rewritten" in out and "VACUUM" in out, out
    assert holding(home, CHANNEL) == []
    con = connect(settings.paths.warehouse)
    try:
        maintained = con.execute("select customer_id from raw.erasures_maintained").fetchall()
    finally:
        con.close()
    assert maintained == [(erased,)]

    assert main(["--home", str(home), "core", "maintain"]) == 0  # nothing new: core only
    out = capsys.readouterr().out
    assert "0 erasure(s) carried through" in out and "warehouse rewritten" not in out, out
