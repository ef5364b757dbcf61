"""The core end to end, as a user drives it: `churniq core migrate`, `create-key`, `serve`; an
offer and a sign-up through the HTTP API; subscriptions that renew, fail, recover and end
under the billing run; then `churniq run`, and every one of those facts in the published
snapshot the dashboards read.

The history runs on a settable clock (June to August 2026) through the same API app in-process,
because a real month cannot pass in a test; the served API signs one more customer up now."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
import sqlalchemy as sa

from cli.main import main
from core.clock import FixedClock
from core.schema import OUTBOX
from core.unit import Core
from foundation.settings import get_settings
from tests.core.api_support import (
    CARD_OK,
    CARD_RETRY_RECOVERS,
    MONTHLY,
    bearer,
    client,
    new_customer,
    ok,
    run_billing,
    subscribe,
)

pytestmark = pytest.mark.slow

CARD_RENEWALS_FAIL = "4000000000000341"  # the sign-up is paid, every renewal is declined
DAY = timedelta(days=1)
START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(capsys, home: Path, *args: str) -> str:
    assert main(["--home", str(home), *args]) == 0
    return capsys.readouterr().out


def _history(url: str, key: str) -> dict[str, str]:
    """Four subscribers from 1 June: one converts its trial and renews; one's renewals are
    declined until it ends for payment_failed; one's renewals recover on the retry; one
    cancels. The billing run is called through the API every day until 15 August."""
    clock = FixedClock(START)
    core = Core(url, clock=clock)
    api = client(core, key)
    ok(api.post("/offers", json=MONTHLY | {"id": "history_monthly"}), 201)
    subs = {}
    for name, card, trial in [
        ("converts", CARD_OK, True),
        ("fails", CARD_RENEWALS_FAIL, False),
        ("recovers", CARD_RETRY_RECOVERS, False),
        ("cancels", CARD_OK, False),
    ]:
        customer_id, method_id = new_customer(api, card, acquisition_channel="search")
        sub = subscribe(
            api,
            customer_id,
            offer_id="history_monthly",
            payment_method_id=method_id,
            with_trial=trial,
        )
        subs[name] = sub["id"]
    outcomes: dict[str, int] = {}
    for day in range(1, 76):
        clock.advance(DAY)
        if day == 10:
            body = {"reason": "too_expensive"}
            cancelled = ok(api.post(f"/subscriptions/{subs['cancels']}/cancel", json=body))
            assert cancelled["status"] == "cancellation_pending"
        for what, n in run_billing(api).items():
            outcomes[what] = outcomes.get(what, 0) + n
    core.close()
    assert outcomes["converted"] == 1 and outcomes["recovered"] == 2, outcomes
    assert outcomes["ended_unpaid"] == outcomes["ended_cancelled"] == 1, outcomes
    return subs


def _serve(home: Path, key: str) -> str:
    """Start `churniq core serve`, sign a customer up over HTTP, stop it; the subscription id."""
    port = _free_port()
    env = os.environ | {"CHURNIQ_HOME": str(home)}
    churniq = Path(sys.executable).with_name("churniq")
    server = subprocess.Popen(
        [str(churniq), "core", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health").json()["status"] == "ok":
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode()
            assert time.monotonic() < deadline, "the core API did not start"
            time.sleep(0.2)
        with httpx.Client(base_url=base, headers=bearer(key)) as api:
            assert api.get("/customers/nobody", headers={"Authorization": ""}).status_code == 401
            ok(api.post("/offers", json=MONTHLY), 201)
            customer_id, method_id = new_customer(api, CARD_OK, country="FR")
            sub = subscribe(api, customer_id, payment_method_id=method_id)
            assert sub["status"] == "trialing"
            access = api.get(f"/customers/{customer_id}/access", params={"offer_id": MONTHLY["id"]})
            assert ok(access)["access"] is True
            assert "/subscriptions" in api.get("/openapi.json").json()["paths"]
        return sub["id"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_user_runs_the_core_and_sees_it_on_the_dashboards(tmp_path: Path, capsys):
    home = tmp_path / "home"
    assert main(["--home", str(home), "core", "renew"]) == 2  # not migrated yet: a clear error
    assert "churniq core migrate" in capsys.readouterr().err
    assert "at migration" in _cli(capsys, home, "core", "migrate")
    assert "at migration" in _cli(capsys, home, "core", "migrate")  # re-running is safe
    key = _cli(capsys, home, "core", "create-key", "--role", "admin", "--name", "e2e").strip()
    assert key.startswith("ck_")
    url = get_settings(home=home).core_url
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # stored hashed, never in clear
        stored = conn.execute(sa.text("select key_hash from api_keys")).scalars().all()
    assert key not in stored and len(stored) == 1

    subs = _history(url, key)
    subs["now"] = _serve(home, key)
    # the billing run now catches the history up from August to today, then nothing is due
    assert "renewed" in _cli(capsys, home, "core", "renew")
    assert "nothing due" in _cli(capsys, home, "core", "renew")

    out = _cli(capsys, home, "run")
    with engine.connect() as conn:
        outbox = conn.execute(sa.select(sa.func.count()).select_from(OUTBOX)).scalar()
    engine.dispose()
    assert f"{outbox:,} events loaded, 0 duplicate, 0 quarantined" in out, out

    con = duckdb.connect(str(home / "serving.duckdb"), read_only=True)
    try:
        rows = con.execute(
            """select subscription_id, ended_reason, churn_type, cancel_reason,
                      first_paid_at is not null
               from marts.fct_subscriptions"""
        ).fetchall()
        facts = {r[0]: r[1:] for r in rows}
        monthly = {
            r[0]: r[1:]
            for r in con.execute(
                """select month, mrr, churned_customers, voluntary_churned_customers,
                          involuntary_churned_customers, new_customers
                   from marts.metrics_monthly"""
            ).fetchall()
        }
        recovery = {
            r[0]: r[1:]
            for r in con.execute(
                "select month, failed_renewals, recovered from marts.payment_recovery_monthly"
            ).fetchall()
        }
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
    finally:
        con.close()

    assert facts[subs["converts"]] == (None, None, None, True)
    assert facts[subs["recovers"]] == (None, None, None, True)
    assert facts[subs["fails"]] == ("payment_failed", "involuntary", None, True)
    assert facts[subs["cancels"]] == ("cancelled", "voluntary", "too_expensive", True)
    assert facts[subs["now"]] == (None, None, None, False)  # still in its trial
    assert customers == 5

    june, july, august = date(2026, 6, 1), date(2026, 7, 1), date(2026, 8, 1)
    price = Decimal("9.99")
    # June: three paying from the 1st, the trial converts on the 8th; July: two churn
    assert monthly[june] == (4 * price, 0, 0, 0, 4)
    assert monthly[july] == (2 * price, 2, 1, 1, 0)
    assert monthly[august][:2] == (2 * price, 0)
    # two renewals declined on 1 July (one recovered the next day), one on 1 August (recovered)
    assert recovery[july] == (2, 1)
    assert recovery[august] == (1, 1)
