"""The probes of issue 14 against the core's service layer, at a larger scale than the suite's
tests/core/test_concurrency.py: threads released at one moment on one customer, then the
violations counted with plain SQL.

    .venv/bin/python -m benchmarks.bench_core_races [--rounds 30] [--threads 8] [--pg-url URL]

On a fresh PostgreSQL database (dropped afterwards) and a temporary SQLite file:

- sign-ups: per round a new customer, `--threads` parallel sign-ups to an offer with a trial
  and as many to one charged at once; extra live subscriptions, trials and charges;
- erasure against edits: per round one erasure racing two edits of e-mail, name and country;
  erased customers with personal data;
- pause/resume storm: `--threads` threads pausing and resuming one subscription
  `--rounds` times each; events of the subscription with an `occurred_at` earlier than that of
  the event committed before it.

Every count must be 0; results: benchmarks/results/core_races.md (and .json). Before the fixes
of issue 14 (commit 6e0b6ad, same machine, 30 rounds, 8 threads) PostgreSQL had 364 extra live
subscriptions, 184 extra trials, 180 extra charges, 24 erased customers with personal data and
30 of 112 events earlier than the one before; SQLite 5 of 24 such events, the rest 0.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import text

from core import catalog, customers, subscriptions
from core.db import scratch_database
from core.errors import CoreError, InvalidTransition
from core.migrate import upgrade
from core.unit import Core

from .common import machine, write_result

START = datetime(2026, 1, 1, 9, tzinfo=UTC)
CARD = "4242424242424242"


class TickingClock:
    """One millisecond later at every reading, whichever thread reads."""

    def __init__(self) -> None:
        self._ticks = itertools.count()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return START + timedelta(milliseconds=next(self._ticks))


UNEXPECTED: list[BaseException] = []  # anything but a domain refusal (an API would answer 500)


def _race(pool: ThreadPoolExecutor, n: int, work: Callable[[int], object]) -> None:
    barrier = threading.Barrier(n)

    def one(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except CoreError:
            pass  # a refusal (Conflict, InvalidTransition): what the losers of a race get
        except Exception as exc:  # noqa: BLE001 - counted
            UNEXPECTED.append(exc)

    list(pool.map(one, range(n)))


def _count(core: Core, sql: str) -> int:
    with core.engine.connect() as con:
        return int(con.execute(text(sql)).scalar() or 0)


def _customer(core: Core, **personal) -> str:
    with core.unit() as u:
        c = customers.create_customer(u, country="FR", signup_platform="web", **personal)
        customers.add_payment_method(u, c.id, card_number=CARD, exp_month=12, exp_year=2040)
        return c.id


def sign_ups(core: Core, pool: ThreadPoolExecutor, rounds: int, threads: int) -> dict[str, int]:
    for _ in range(rounds):
        cid = _customer(core)
        for offer in ("trial", "paid"):

            def sign_up(_i: int, o: str = offer, c: str = cid) -> None:
                with core.unit() as u:
                    subscriptions.start_subscription(
                        u, customer_id=c, offer_id=o, platform="web", currency="EUR"
                    )

            _race(pool, threads, sign_up)
    live = "select count(*) from subscriptions where status <> 'ended'"
    return {
        "extra live subscriptions": _count(core, live) - 2 * rounds,
        "extra trials": _count(core, "select count(*) from subscriptions where offer_id = "
                                     "'trial' and trial_ends_at is not null") - rounds,
        "extra charges": _count(core, "select count(*) from payments") - rounds,
    }  # fmt: skip


def erasures(core: Core, pool: ThreadPoolExecutor, rounds: int) -> dict[str, int]:
    for i in range(rounds):
        cid = _customer(core, email=f"old{i}@example.com", name="Old")

        def erase_or_edit(k: int, c: str = cid) -> None:
            with core.unit() as u:
                if k == 0:
                    customers.erase_customer(u, c)
                else:
                    customers.update_customer(u, c, email="new@example.com", name="New",
                                              country="DE")  # fmt: skip

        _race(pool, 3, erase_or_edit)
    resurrected = (
        "select count(*) from customers where erased_at is not null and "
        "(email is not null or name is not null or country is not null)"
    )
    return {"erased customers with personal data": _count(core, resurrected)}


def storm(core: Core, pool: ThreadPoolExecutor, rounds: int, threads: int) -> dict[str, int]:
    with core.unit() as u:
        sid = subscriptions.start_subscription(
            u, customer_id=_customer(core), offer_id="paid", platform="web", currency="EUR"
        ).id
    operations = (subscriptions.pause_subscription, subscriptions.resume_subscription)

    def toggle(k: int) -> None:
        for _ in range(rounds):
            with contextlib.suppress(InvalidTransition), core.unit() as u:
                operations[k % 2](u, sid)

    _race(pool, threads, toggle)
    with core.engine.connect() as con:
        rows = con.execute(text("select occurred_at, envelope from outbox order by seq")).all()
    times = [str(at) for at, env in rows if orjson.loads(env)["data"].get("subscription_id") == sid]
    inverted = sum(b < a for a, b in itertools.pairwise(times))  # a transaction shares one time
    return {"subscription events": len(times), "events earlier than the one before": inverted}


def probe(url: str, rounds: int, threads: int) -> dict[str, int]:
    upgrade(url)
    core = Core(url, clock=TickingClock())
    UNEXPECTED.clear()
    try:
        with core.unit() as u:
            for offer, trial in (("trial", "P7D"), ("paid", None)):
                catalog.create_offer(
                    u, offer_id=offer, title=offer, offer_type="subscription",
                    prices={"EUR": 999}, billing_period="P1M", trial_period=trial,
                )  # fmt: skip
        with ThreadPoolExecutor(threads) as pool:
            return (
                sign_ups(core, pool, rounds, threads)
                | erasures(core, pool, rounds)
                | storm(core, pool, rounds, threads)
                | {"unexpected errors": len(UNEXPECTED)}
            )
    finally:
        core.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, dict[str, int | float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        results["SQLite"] = probe(f"sqlite:///{Path(tmp) / 'core.db'}", args.rounds, args.threads)
        results["SQLite"]["seconds"] = round(time.perf_counter() - started, 1)
    with scratch_database(args.pg_url, "churniq_bench_races") as url:
        started = time.perf_counter()
        results["PostgreSQL"] = probe(url, args.rounds, args.threads)
        results["PostgreSQL"]["seconds"] = round(time.perf_counter() - started, 1)
    keys = list(results["PostgreSQL"])
    lines = [
        f"# The core under racing writers ({args.rounds} rounds, {args.threads} threads; "
        f"{machine()})",
        "",
        "| | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
        *(f"| {k} | " + " | ".join(str(r[k]) for r in results.values()) + " |" for k in keys),
        "",
    ]
    markdown = "\n".join(lines)
    print(markdown)
    write_result("core_races", markdown, {"rounds": args.rounds, "threads": args.threads,
                                          "results": results})  # fmt: skip
    counts = ("subscription events", "seconds")
    bad = {f"{db}: {k}": v for db, r in results.items() for k, v in r.items() if k not in counts}
    if any(bad.values()):
        raise SystemExit(f"violations: {bad}")


if __name__ == "__main__":
    main()
