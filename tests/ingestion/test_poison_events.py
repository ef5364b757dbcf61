"""Poison events (issue 14): values that used to pass validation and then stop every later run.

The contract refuses them with a reason; the steps after the load are robust on their own to
whatever the warehouse holds (rows loaded before the contract was narrowed, any quarantined
text): the FX reference refresh and the publish step's quarantine samples.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from foundation.contract import validate_line
from ingestion.fx import refresh_reference_tables
from ingestion.loader import connect
from ingestion.publish import sample_view
from tests.ingestion.poison_lines import NESTED, POISON

NOW = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize("name", list(POISON))
def test_the_contract_refuses_poison(name: str):
    line, reason = POISON[name]
    verdict = validate_line(line, now=NOW)
    assert (verdict.ok, verdict.reason) == (False, reason), verdict.detail


def test_fx_refresh_survives_any_date_in_raw_events(tmp_path):
    """Rows loaded before the contract had a date range (year 1) must not stop the refresh:
    the calendar covers the contract's range only."""
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        con.execute(
            """insert into raw.events values
               ('e1', 'customer.created', 1, '0001-01-01 00:00:00', 'x', 'c1', '{}', 'b', 'f', 1,
                now()::timestamp),
               ('e2', 'payment.succeeded', 1, '2026-01-02 00:00:00', 'x', 'c1',
                '{"currency": "USD"}', 'b', 'f', 2, now()::timestamp)"""
        )
        assert refresh_reference_tables(con, "EUR") == []
        first, last, usd = con.execute(
            "select min(rate_date), max(rate_date), count(*) filter (where currency = 'USD')"
            " from raw.fx_rates"
        ).fetchall()[0]
        assert (first, last) == (date(1999, 12, 31), date(2026, 1, 2))
        assert usd == (last - first).days + 1
    finally:
        con.close()


@pytest.mark.parametrize(
    "text",
    [
        NESTED,
        '{"event_id": "e", "data": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"event_id": "e", "data": {"x": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}}",
        "[" * 100_000,
        '{"event_type": "customer.created", "data": {"email": "jane@example.com"}, '
        + '"x": "\\ud800"}',
        "\x00\x01 not json",
    ],
    ids=["2000 brackets", "deep data", "deep objects", "unclosed", "lone surrogate", "control"],
)
def test_quarantine_samples_are_shown_whatever_the_text(text: str):
    """Any text quarantine holds gives a sample (no RecursionError, no exception)."""
    event_type, field, excerpt = sample_view(text, "data.x: whatever")
    assert isinstance(excerpt, str) and 0 < len(excerpt) <= 300
    assert "jane@example.com" not in excerpt
