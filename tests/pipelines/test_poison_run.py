"""A run with poison lines in its landing file completes, and so does the next one (issue 14).

The poison lines used to pass validation and then stop every later run (the FX refresh on a
year-1 date, dbt's cast of 1e30 to BIGINT, the publish step's samples on 2,000 nested
brackets, NULL MRR for P1Y6M); now the contract refuses them with a reason. Beside them,
events at the edges of what the contract accepts (the largest amount and count, the earliest
and latest timestamps, the longest billing period) must go through every mart.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from foundation.contract.examples import all_examples, example
from foundation.settings import get_settings
from pipelines.run import run_pipeline
from tests.ingestion.poison_lines import POISON

BIG = 10**12  # the contract's largest amount of money
INT32 = 2**31 - 1


def _event(event_type: str, n: int, customer: str, occurred_at: str, **data) -> dict:
    e = example(event_type, n=n, occurred_at=occurred_at)
    e["customer_id"] = customer if event_type != "offer.published" else ""
    e["data"].update(data)
    return e


def edge_events() -> list[dict]:
    """Valid events at the contract's bounds, for a customer of their own."""
    c, first, last = "c_edge", "2000-01-01T00:00:00Z", "2199-12-31T23:59:59Z"
    return [
        _event("customer.created", 900, c, first, country="DE"),
        _event(
            "subscription.started", 901, c, "2026-01-01T00:00:00Z",
            subscription_id="s_edge", offer_id="o_edge", price_minor=BIG, discount_minor=0,
            billing_period="P999Y", currency="EUR", trial_ends_at=None,
            current_period_end=last, coupon_id=None,
        ),
        _event(
            "subscription.paused", 902, c, "2026-02-01T00:00:00Z",
            subscription_id="s_edge", resume_at=last,
        ),
        _event(
            "payment.failed", 903, c, "2026-01-01T00:00:01Z",
            payment_id="p_edge", subscription_id="s_edge", amount_minor=BIG, currency="EUR",
            attempt=INT32,
        ),
        _event(
            "engagement.activity", 904, c, "2026-01-08T00:00:00Z",
            period_start="2026-01-01T00:00:00Z", period_end="2026-01-08T00:00:00Z",
            minutes_watched=1_000_000, sessions=INT32,
        ),
        _event(
            "support.ticket_resolved", 905, c, "2026-01-09T00:00:00Z",
            ticket_id="t_edge", resolution_minutes=INT32, csat=5,
        ),
        _event(
            "purchase.completed", 906, c, "2026-01-10T00:00:00Z",
            purchase_id="pu_edge", offer_id="o_pass", amount_minor=BIG, currency="EUR",
            access_until=last,
        ),
    ]  # fmt: skip


@pytest.mark.slow
def test_a_run_with_poison_lines_completes_and_so_does_the_next(tmp_path: Path):
    settings = get_settings(home=tmp_path / "home")
    settings.paths.landing.mkdir(parents=True, exist_ok=True)
    good = [json.dumps(e) for e in all_examples() + edge_events()]
    poison = [line for line, _ in POISON.values()]
    (settings.paths.landing / "poison.ndjson").write_text("\n".join(good + poison) + "\n")

    run_pipeline(settings, models=False)  # raises if any step fails

    wh = duckdb.connect(str(settings.paths.warehouse), read_only=True)
    try:
        reasons = wh.execute(
            "select reason_code from raw.quarantine order by source_line"
        ).fetchall()
        assert [r[0] for r in reasons] == [reason for _, reason in POISON.values()]
        assert wh.execute("select count(*) from raw.events").fetchall() == [(len(good),)]
    finally:
        wh.close()
    serving = duckdb.connect(str(settings.paths.serving), read_only=True)
    try:
        edge_mrr = serving.execute(
            "select max(mrr) from marts.customer_months where customer_id = 'c_edge'"
        ).fetchall()[0][0]
        assert edge_mrr is not None and edge_mrr > 0  # P999Y: BIG / 11,988 a month
        samples = serving.execute(
            "select excerpt from ops.quarantine_samples where reason_code = 'malformed_json'"
        ).fetchall()
        assert samples and all(len(s[0]) <= 300 for s in samples)
    finally:
        serving.close()

    late = example("customer.created", n=999, occurred_at="2026-01-20T00:00:00Z")
    late["customer_id"] = "c_next"
    (settings.paths.landing / "next.ndjson").write_text(json.dumps(late) + "\n")
    run_pipeline(settings, models=False)
    serving = duckdb.connect(str(settings.paths.serving), read_only=True)
    try:
        assert serving.execute(
            "select count(*) from marts.dim_customers where customer_id = 'c_next'"
        ).fetchall() == [(1,)]
    finally:
        serving.close()
