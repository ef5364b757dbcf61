"""Erasure in the core beyond the customer's row (issue 14, finding 3): the outbox envelopes,
and the bytes SQLite keeps in its files until a VACUUM."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from core import customers
from core.erasure import compact, scrub_outbox
from core.schema import OUTBOX
from core.unit import Core

EMAIL, NAME, CHANNEL = "erin.qzx@example.org", "Erin Qzxvel", "partner-qzxvel"


def envelopes(core: Core) -> dict[str, list[dict]]:
    """customer_id → the data of their outbox envelopes, in order."""
    with core.engine.connect() as conn:
        rows = conn.execute(sa.select(OUTBOX.c.customer_id, OUTBOX.c.envelope)).all()
    found: dict[str, list[dict]] = {}
    for customer_id, envelope in rows:
        found.setdefault(customer_id, []).append(json.loads(envelope)["data"])
    return found


def test_the_outbox_of_an_erased_customer_keeps_no_attribute(core: Core):
    with core.unit() as u:
        erased = customers.create_customer(
            u, country="DE", signup_platform="web", acquisition_channel=CHANNEL
        ).id
        kept = customers.create_customer(
            u, country="FR", signup_platform="ios", acquisition_channel=CHANNEL
        ).id
        customers.update_customer(u, erased, country="AT")
    with core.unit() as u:  # not erased in the core: left alone
        assert scrub_outbox(u.session, [erased, kept]) == 0
    with core.unit() as u:
        customers.erase_customer(u, erased)
    before = envelopes(core)
    with core.unit() as u:
        assert scrub_outbox(u.session, [erased, kept]) == 2
    after = envelopes(core)
    assert after[erased] == [{}, {}, {}]  # created, updated, erased
    assert after[kept] == before[kept]
    with core.unit() as u:  # idempotent
        assert scrub_outbox(u.session, [erased]) == 0


def test_vacuum_and_a_truncated_wal_leave_no_erased_bytes_in_sqlite(tmp_path: Path):
    from core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'core.db'}"
    upgrade(url)
    core = Core(url)
    try:
        with core.unit() as u:
            customer_id = customers.create_customer(
                u, country="DE", signup_platform="web", email=EMAIL, name=NAME
            ).id
        with core.unit() as u:
            customers.erase_customer(u, customer_id)

        def holding() -> list[str]:
            return [p.name for p in tmp_path.iterdir() if EMAIL.encode() in p.read_bytes()]

        assert holding()  # blanked in the row, still in the file's pages or the WAL
        result = compact(core.engine)
        assert result.wal_truncated
        assert holding() == []
        with core.unit() as u:  # the database is whole
            assert customers.get_customer(u, customer_id, live=False).erased_at is not None
    finally:
        core.close()


def test_compaction_runs_on_either_database(core: Core):
    result = compact(core.engine)
    assert result.statements
    if result.dialect == "postgresql":
        assert 'VACUUM ANALYZE "outbox"' in result.statements
