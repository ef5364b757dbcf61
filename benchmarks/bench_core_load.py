"""The core's REST API under concurrent writers on PostgreSQL, against raw SQL writing the same
rows, same run; and proof that no contract event is lost or doubled on the way to raw.events.

    .venv/bin/python -m benchmarks.bench_core_load [--seconds 15 | --ops N]
        [--workers 1 2 3] [--concurrency 16 4] [--renewals-per-s 100] [--pg-url URL]

A fresh database on the PostgreSQL server (`--pg-url`, default the local one; dropped at the
end) is migrated (`core.migrate.upgrade`) and given three offers, two API keys and a base
population of subscribers, through the service layer. Then one run per uvicorn worker count
(`--workers`) with the first `--concurrency`, and one run of the best worker count with each
other concurrency (a lighter load, for the latency when the server is not saturated):

1. the API is served as `churniq core serve` serves it (`core.api.serve.serve`, uvicorn) in a
   child process with that many workers;
2. a cohort of subscriptions is signed up a month in the past (`Core` with a `FixedClock`,
   through `core.subscriptions`) so that their first period ends during the timed phase,
   spread evenly over it (`--renewals-per-s`): renewals are real billing work, done by the
   server when asked, not simulated;
3. a client process (`benchmarks.core_load_client http`) runs that many coroutines doing
   sign-ups (customer, card, subscription), pass purchases and cancellations with an
   Idempotency-Key on every POST (2% sent twice at once: exactly one may execute), from a
   seeded operation mix, and two billing runners calling POST /billing/run every second at the
   same moment (SKIP LOCKED shares the due rows out). Each coroutine keeps one connection,
   and the connections are spread evenly over the uvicorn workers (a worker keeps the
   connections it accepts; by chance they can all land on one). A warm-up, then the timed
   phase; what is still due afterwards is billed before the next run.

A write is a committed state change: a successful POST (a replayed retry is not one), or a
subscription the billing run advanced (renewed, or its renewal declined; counted in the domain
tables within the timed window). Latency is that of the HTTP writes as the client sees them.
CPU is measured per party during the timed window: the server's processes, PostgreSQL's (for
this database), the client's, and whatever else ran on the machine.

Then the outbox is pulled into a temporary DuckDB warehouse (`pull_outbox`, the pipeline's
own reader), and per event type four counts must agree: the events the clients' successful
writes must have produced (their own records), what the domain tables imply, the outbox, and
raw.events; no duplicate event id, nothing quarantined, no subscription renewed twice for the
same period, no idempotent retry executed twice. Otherwise the benchmark fails.

Baseline, same run: the best run's timed transactions replayed as plain INSERTs and UPDATEs
of rows of the same shape (copies of rows the core wrote) into `baseline.*` tables through
psycopg (one pipelined round trip per transaction), with as many connections as that run had
requests in flight: the floor of what PostgreSQL does for these writes here.

Targets: at least 500 writes/s with p95 at most 50 ms, on 2 cores shared by client, server
and PostgreSQL. Results: benchmarks/results/core_load.md (and .json).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from benchmarks.common import REPO, machine, write_result
from benchmarks.core_load_client import CARD_OK, COUNTRIES, process_tree
from core.db import scratch_database, unreachable

PG_URL = os.environ.get(
    "CHURNIQ_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_WRITES_PER_S = 500
TARGET_P95_MS = 50
CARD_RENEWALS_FAIL = "4000000000000341"  # approved at sign-up, every renewal declined
OFFERS = {"trial": "bench_monthly_trial", "plain": "bench_monthly", "pass": "bench_pass"}
MIX = {"signup": 0.40, "purchase": 0.35, "cancel": 0.25}
# as `churniq core serve` runs it; the Stripe signing secret (if any) from the environment
SERVE = (
    "import os, sys; from core.api.serve import STRIPE_SECRET_ENV, URL_ENV, serve; "
    "os.environ[URL_ENV] = sys.argv[1]; "
    "serve(sys.argv[1], int(sys.argv[2]), workers=int(sys.argv[3]), "
    "stripe_webhook_secret=os.environ.get(STRIPE_SECRET_ENV))"
)


# ---- the database --------------------------------------------------------------------------


def libpq_dsn(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def card(number: str) -> dict[str, Any]:
    return {"card_number": number, "exp_month": 12, "exp_year": datetime.now(UTC).year + 4}


def chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ---- set-up through the service layer ------------------------------------------------------


@dataclass
class World:
    url: str
    support_key: str
    admin_key: str
    customers: list[str]  # with a card that works: they buy passes
    live: list[str]  # subscriptions the clients may cancel
    expected: Counter = field(default_factory=Counter)  # events the set-up must have written
    seconds: float = 0.0


def set_up(url: str, base: int, rng: random.Random) -> World:
    """Offers, API keys and `base` subscribers (a card, an active monthly subscription)."""
    from core import catalog, customers, subscriptions
    from core.keys import create_key
    from core.unit import Core

    started = time.perf_counter()
    core = Core(url)
    try:
        with core.unit(actor="bench") as u:
            catalog.create_offer(
                u, offer_id=OFFERS["trial"], title="Monthly, 7-day trial",
                offer_type="subscription", prices={"EUR": 999}, billing_period="P1M",
                trial_period="P7D",
            )  # fmt: skip
            catalog.create_offer(
                u, offer_id=OFFERS["plain"], title="Monthly", offer_type="subscription",
                prices={"EUR": 999}, billing_period="P1M",
            )  # fmt: skip
            catalog.create_offer(
                u, offer_id=OFFERS["pass"], title="30-day pass", offer_type="pass",
                prices={"EUR": 1500}, access_period="P30D",
            )  # fmt: skip
            _, support_key = create_key(u, "support", "bench support desk")
            _, admin_key = create_key(u, "admin", "bench billing")
        world = World(url, support_key, admin_key, [], [])
        world.expected["offer.published"] += 3
        for batch in chunks(list(range(base)), 100):
            with core.unit(actor="bench") as u:
                for _ in batch:
                    c = customers.create_customer(
                        u, country=rng.choice(COUNTRIES), signup_platform="web"
                    )
                    method = customers.add_payment_method(u, c.id, **card(CARD_OK))
                    sub = subscriptions.start_subscription(
                        u, customer_id=c.id, offer_id=OFFERS["plain"], platform="web",
                        currency="EUR", payment_method_id=method.id, with_trial=False,
                    )  # fmt: skip
                    world.customers.append(c.id)
                    world.live.append(sub.id)
        world.expected.update(
            {"customer.created": base, "subscription.started": base, "payment.succeeded": base}
        )
    finally:
        core.close()
    world.seconds = time.perf_counter() - started
    return world


@dataclass
class Cohort:
    ids: list[str]
    due: list[float]  # epoch seconds at which each one's period ends
    expected: Counter
    seconds: float


def seed_cohort(
    url: str, n: int, window: float, lead: float, fail_share: float, rng: random.Random
) -> Cohort:
    """`n` subscriptions signed up a month ago whose first period ends during the window that
    starts `lead` seconds after their customers are made (estimated from how long that took)
    and lasts `window` seconds, evenly spread (in 0.1 s steps: one transaction per step)."""
    from core import customers, subscriptions
    from core.clock import FixedClock
    from core.unit import Core

    started = time.perf_counter()
    month_ago = datetime.now(UTC) - relativedelta(months=1, days=2)
    clock = FixedClock(month_ago)
    core = Core(url, clock=clock)
    expected: Counter = Counter()
    try:
        methods: list[tuple[str, str]] = []
        for batch in chunks(list(range(n)), 200):
            with core.unit(actor="bench") as u:
                for _ in batch:
                    c = customers.create_customer(
                        u, country=rng.choice(COUNTRIES), signup_platform="web"
                    )
                    number = CARD_RENEWALS_FAIL if rng.random() < fail_share else CARD_OK
                    m = customers.add_payment_method(u, c.id, **card(number))
                    methods.append((c.id, m.id))
        expected["customer.created"] += n
        made = time.perf_counter() - started
        # starting the subscriptions (in smaller transactions) costs about twice what making
        # their customers did
        start_at = time.time() + made * 2.0 + lead
        due = [start_at + window * (i + 0.5) / n for i in range(n)]
        steps: dict[float, list[int]] = {}
        for i, t in enumerate(due):
            steps.setdefault(round(t, 1), []).append(i)
        ids: list[str] = []
        for t, members in sorted(steps.items()):
            period_end = datetime.fromtimestamp(t, UTC)
            # a month before; when the day clamps (e.g. 30 March) it comes due a little early
            clock.set(period_end - relativedelta(months=1))
            with core.unit(actor="bench") as u:
                for i in members:
                    customer_id, method_id = methods[i]
                    sub = subscriptions.start_subscription(
                        u, customer_id=customer_id, offer_id=OFFERS["plain"], platform="web",
                        currency="EUR", payment_method_id=method_id, with_trial=False,
                    )  # fmt: skip
                    ids.append(sub.id)
                    due[i] = sub.current_period_end.timestamp()
        expected.update({"subscription.started": n, "payment.succeeded": n})
    finally:
        core.close()
    return Cohort(ids, due, expected, time.perf_counter() - started)


# ---- the server and the clients -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pids: list[int]) -> float:
    """Sum of the peak resident memory (VmHWM) of `pids`."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total / 1024


@contextlib.contextmanager
def server(url: str, workers: int, log: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    """`core.api.serve.serve(url, port, workers=...)` in a child process, ready."""
    port = free_port()
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVE, url, str(port), str(workers)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited ({proc.returncode}): see {log}")
            with contextlib.suppress(httpx.HTTPError):
                up = httpx.get(f"{base}/health", timeout=2).status_code == 200
                if up and len(process_tree(proc.pid)) >= (1 if workers == 1 else 1 + workers):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not come up in 60 s: see {log}")
            time.sleep(0.1)
        yield proc, base
    finally:
        pids = process_tree(proc.pid)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for pid in pids:  # only the processes started here, one by one
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()


def run_client(mode: str, spec: dict[str, Any], work: Path) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    spec_path, out_path = work / f"{mode}-{tag}.json", work / f"{mode}-{tag}-out.json"
    spec_path.write_text(json.dumps(spec))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.core_load_client", mode, str(spec_path),
         str(out_path)],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"the {mode} client failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(out_path.read_text())


@dataclass
class Phase:
    workers: int
    concurrency: int
    client: dict[str, Any]
    cohort: Cohort
    server_peak_mb: float
    backlog: int  # cohort members already due when the timed phase began

    @property
    def seconds(self) -> float:
        return self.client["seconds"]

    @property
    def client_writes(self) -> int:
        """Successful HTTP writes completed within the timed window."""
        return sum(self.client["writes_in_window"].values())

    @property
    def renewals(self) -> int:
        """Subscriptions the billing run advanced (renewed, or the renewal declined) within the
        timed window, counted in the domain tables."""
        return sum(self.client["renewals_in_window"].values())

    @property
    def writes(self) -> int:
        return self.client_writes + self.renewals

    @property
    def rate(self) -> float:
        return self.writes / self.seconds

    @property
    def server_ms_per_write(self) -> float:
        return self.client["cpu_cores"]["server"] * self.seconds / self.writes * 1000

    @property
    def label(self) -> str:
        plural = "s" if self.workers > 1 else ""
        return f"uvicorn, {self.workers} worker{plural}, {self.concurrency} in flight"

    @property
    def meets_target(self) -> bool:
        p95 = self.client["latency_ms"]["p95"]
        return self.rate >= TARGET_WRITES_PER_S and p95 <= TARGET_P95_MS

    @property
    def due_in_phase(self) -> int:
        """Cohort members due by the end of the timed phase."""
        end = self.client["started_at"] + self.seconds
        return sum(1 for t in self.cohort.due if t <= end)


def run_phase(
    world: World, workers: int, concurrency: int, args: argparse.Namespace, work: Path
) -> Phase:
    window = args.seconds if not args.ops else args.ops / 300  # --ops: guess 300 writes/s
    n = max(1, round(args.renewals_per_s * window))
    rng = random.Random(args.seed * 7 + workers * 101 + concurrency)
    with server(world.url, workers, work / "server.log") as (proc, base):
        # seeded while the server idles: the timed phase starts after the client's start-up
        # (about a second) and its warm-up
        cohort = seed_cohort(world.url, n, window, args.warmup + 1.5, args.fail_share, rng)
        start_at = min(cohort.due) - 0.5 * window / n
        spec = {
            "base_url": base,
            "support_key": world.support_key,
            "admin_key": world.admin_key,
            "seed": args.seed + workers * 101 + concurrency,
            "concurrency": concurrency,
            "seconds": args.seconds,
            "ops": args.ops,
            "warmup": args.warmup,
            "start_at": start_at,
            "offers": OFFERS,
            "customers": world.customers,
            "subscriptions": world.live,
            "mix": MIX,
            "retry_share": args.retry_share,
            "declined_share": 0.05,
            "trial_share": 0.5,
            "immediate_share": 0.2,
            "billing_runners": args.billing_runners,
            "billing_interval": 1.0,
            "server_pid": proc.pid,
            "dsn": libpq_dsn(world.url),
            "dbname": sa.make_url(world.url).database,
        }
        client = run_client("http", spec, work)
        server_peak = peak_rss_mb(process_tree(proc.pid))
    world.customers, world.live = client["customers"], client["live"]
    backlog = sum(1 for t in cohort.due if t < client["started_at"])
    return Phase(workers, concurrency, client, cohort, server_peak, backlog)


# ---- proof: every state change once in the outbox and once in raw.events --------------------

DOMAIN_COUNTS = """
select
  (select count(*) from offer_versions) as "offer.published",
  (select count(*) from customers) as "customer.created",
  (select count(*) from subscriptions) as "subscription.started",
  (select count(*) from purchases) as "purchase.completed",
  (select count(*) from payments where status = 'succeeded') as "payment.succeeded",
  (select count(*) from payments where status = 'failed') as "payment.failed",
  (select count(*) from subscriptions where cancel_requested_at is not null)
    as "subscription.cancelled",
  (select count(*) from subscriptions where ended_at is not null) as "subscription.ended",
  (select count(*) from payments p join subscriptions s on s.id = p.subscription_id
    where p.status = 'succeeded' and p.created_at <> s.started_at) as "subscription.renewed"
"""


def verify(url: str, expected: Counter, work: Path) -> dict[str, Any]:
    """Per event type: the clients' records, the domain tables, the outbox, raw.events."""
    from ingestion.loader import connect
    from ingestion.sources.core_outbox import pull_outbox

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            domain = dict(conn.execute(sa.text(DOMAIN_COUNTS)).mappings().one())
            rows = conn.execute(
                sa.text(
                    "select event_type, count(*), count(distinct event_id) from outbox group by 1"
                )
            ).all()
    finally:
        engine.dispose()
    outbox = {t: n for t, n, _ in rows}
    outbox_distinct = sum(d for _, _, d in rows)
    con = connect(work / "warehouse.duckdb")
    try:
        started = time.perf_counter()
        report = pull_outbox(con, url)
        pull_seconds = time.perf_counter() - started
        raw_rows = con.execute("select event_type, count(*) from raw.events group by 1").fetchall()
        raw_distinct = con.execute("select count(distinct event_id) from raw.events").fetchone()[0]
        renewed, renewed_distinct = con.execute(
            """select count(*), count(distinct (json_extract_string(data, '$.subscription_id'),
                                                json_extract_string(data, '$.period_start')))
               from raw.events where event_type = 'subscription.renewed'"""
        ).fetchone()
        quarantine = con.execute("select count(*) from raw.quarantine").fetchone()[0]
    finally:
        con.close()
    raw = {t: n for t, n in raw_rows}
    types = sorted(set(expected) | set(outbox) | set(raw) | set(domain))
    table = {
        t: {
            "expected": expected.get(t, 0),
            "domain": domain.get(t),
            "outbox": outbox.get(t, 0),
            "raw": raw.get(t, 0),
        }
        for t in types
    }
    agree = all(
        r["expected"] == r["outbox"] == r["raw"] and r["domain"] in (None, r["outbox"])
        for r in table.values()
    )
    total = sum(outbox.values())
    ok = (
        agree
        and outbox_distinct == total == sum(raw.values()) == raw_distinct
        and report.duplicates == 0
        and report.quarantined == 0
        and quarantine == 0
        and renewed == renewed_distinct
    )
    return {
        "ok": ok,
        "by_type": table,
        "outbox_events": total,
        "outbox_distinct_ids": outbox_distinct,
        "raw_events": sum(raw.values()),
        "raw_distinct_ids": raw_distinct,
        "loaded": report.loaded,
        "duplicates": report.duplicates,
        "quarantined": report.quarantined + quarantine,
        "renewed": renewed,
        "renewed_distinct_periods": renewed_distinct,
        "pull_seconds": pull_seconds,
    }


# ---- the baseline ---------------------------------------------------------------------------

BASELINE_TABLES = (
    "customers", "payment_methods", "subscriptions", "purchases", "payments", "outbox",
    "audit_log", "idempotency_keys",
)  # fmt: skip


def run_baseline(url: str, phase: Phase, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The best phase's timed transactions as plain SQL, same concurrency."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("create schema baseline"))
            for table in BASELINE_TABLES:
                conn.execute(
                    sa.text(
                        f"create table baseline.{table} (like public.{table} including defaults "
                        "including constraints including indexes)"
                    )
                )
            conn.execute(sa.text("insert into baseline.subscriptions select * from subscriptions"))
    finally:
        engine.dispose()
    renewals = phase.client["renewals_in_window"]
    records = list(phase.client["records"])
    records += [["renewal"]] * renewals.get("succeeded", 0)
    records += [["renewal_failed"]] * renewals.get("failed", 0)
    random.Random(args.seed).shuffle(records)
    spec = {
        "dsn": libpq_dsn(url),
        "dbname": sa.make_url(url).database,
        "concurrency": phase.concurrency + args.billing_runners,
        "records": records,
        "renewal_targets": phase.cohort.ids,
    }
    return run_client("sql", spec, work)


# ---- report ----------------------------------------------------------------------------------


def _ms(x: float) -> str:
    return f"{x:,.1f} ms"


def cores(c: dict[str, float]) -> str:
    return f"{c['server']:.2f} / {c['postgres']:.2f} / {c['client']:.2f} / {c['other']:.2f}"


def retry_totals(phases: list[Phase]) -> Counter:
    retries: Counter = Counter()
    for p in phases:
        retries.update(p.client["retries"])
    return retries


def report(
    phases: list[Phase],
    best: Phase,
    base: dict[str, Any],
    proof: dict[str, Any],
    args: argparse.Namespace,
    pg_version: str,
    total_seconds: float,
) -> tuple[str, dict]:
    length = f"{args.ops:,} client writes" if args.ops else f"{args.seconds:g} s"
    base_rate = base["transactions"] / base["seconds"]
    connections = best.concurrency + args.billing_runners
    in_flight = " or ".join(str(c) for c in args.concurrency)
    lines = [
        f"### Core API under concurrent writers (PostgreSQL {pg_version}; {machine()})",
        "",
        f"{in_flight} client coroutines (one asyncio + httpx process) doing sign-ups "
        f"(customer, card, subscription), pass purchases and cancellations "
        f"({', '.join(f'{k} {v:.0%}' for k, v in MIX.items())}, seed {args.seed}; "
        f"Idempotency-Key on every POST, {args.retry_share:.0%} sent twice at once), and "
        f"{args.billing_runners} billing runners calling POST /billing/run every second "
        f"while {args.renewals_per_s:g} subscriptions/s fall due; {args.warmup:g} s warm-up, "
        f"then {length} timed, per run. Client, server and PostgreSQL share the cores. A "
        "write is a committed state change: a successful POST (a replayed retry is not one) "
        "or a subscription the billing run advanced; latency is that of the HTTP writes.",
        "",
        "| server | writes/s (HTTP + renewals) | p50 | p95 | p99 | errors "
        "| server CPU per write | peak memory: server / client "
        "| cores: server / PostgreSQL / client / other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for p in phases:
        lat = p.client["latency_ms"]
        name = f"**{p.label}**" if p is best else p.label
        lines.append(
            f"| {name} | {p.rate:,.0f} ({p.client_writes / p.seconds:,.0f} + "
            f"{p.renewals / p.seconds:,.0f}) | {_ms(lat['p50'])} | {_ms(lat['p95'])} | "
            f"{_ms(lat['p99'])} | {p.client['error_count']} | {p.server_ms_per_write:.1f} ms | "
            f"{p.server_peak_mb:,.0f} / {p.client['peak_mb']:,.0f} MB | "
            f"{cores(p.client['cpu_cores'])} |"
        )
    bl, bc = base["latency_ms"], base["cpu_cores"]
    met = [p for p in phases if p.meets_target]
    best_p95 = best.client["latency_ms"]["p95"]
    lines += [
        f"| baseline: the best run's {base['transactions']:,} transactions as plain SQL "
        f"(psycopg, {connections} connections, pipelined) | {base_rate:,.0f} | "
        f"{_ms(bl['p50'])} | {_ms(bl['p95'])} | {_ms(bl['p99'])} | 0 | | "
        f"– / {base['peak_mb']:,.0f} MB | – / {bc['postgres']:.2f} / {bc['client']:.2f} / "
        f"{bc['other']:.2f} |",
        "",
        f"Best: **{best.label}**, {best.rate:,.0f} writes/s with p95 {best_p95:,.1f} ms. The "
        f"target (at least {TARGET_WRITES_PER_S} writes/s with p95 at most {TARGET_P95_MS} ms) "
        + (f"is met by: {', '.join(p.label for p in met)}." if met else "is **not met**.")
        + f" PostgreSQL alone commits the best run's transactions at {base_rate:,.0f}/s: "
        f"ratio {base_rate / best.rate:.1f}× (the API takes {base_rate / best.rate:.1f}× as "
        "long for the same writes).",
    ]
    other = max(p.client["cpu_cores"]["other"] for p in phases)
    if other > 0.2:
        lines += [
            "",
            f"Note: other processes on the machine took up to {other:.2f} cores during the "
            "timed phases; the figures are lower than on a quiet machine.",
        ]
    lines += [
        "",
        "| write (best run) | requests | p50 | p95 | p99 |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, lat in sorted(best.client["latency_by_kind_ms"].items()):
        lines.append(
            f"| {kind} | {lat['n']:,} | {_ms(lat['p50'])} | {_ms(lat['p95'])} | {_ms(lat['p99'])} |"
        )
    split = "; ".join(
        f"{p.workers} worker{'s' if p.workers > 1 else ''}, {p.concurrency} in flight: "
        + " / ".join(f"{x:.2f}" for x in p.client["cpu_cores"]["server_workers"])
        + (
            f" (client connections {' / '.join(map(str, p.client['connections_per_worker']))})"
            if p.workers > 1
            else ""
        )
        for p in phases
    )
    lines += ["", f"Cores used by each uvicorn worker (is the load shared?): {split}."]
    calls = best.client["billing_calls"]
    call_s = sorted(c["seconds"] for c in calls) or [0.0]
    lines += [
        "",
        f"Billing runs (best run): {len(calls)} calls started in the timed window, median "
        f"{call_s[len(call_s) // 2]:.2f} s, longest {call_s[-1]:.2f} s; within the window "
        f"{best.renewals:,} of the {best.due_in_phase:,} subscriptions due by its end were "
        f"advanced ({best.client['renewals_in_window']}; {best.backlog} were due before it "
        f"began). New PostgreSQL sessions during the window: "
        f"{best.client['new_pg_sessions']:,} (baseline {base['new_pg_sessions']}).",
        "",
        "Every event once (all runs together, set-up, warm-ups and the billing of what was "
        "left due after each run included): the events the "
        "clients' successful writes must have produced (their own records), what the domain "
        "tables imply, the core's outbox, and `raw.events` after `pull_outbox` into a fresh "
        "DuckDB warehouse:",
        "",
        "| event type | clients' records | domain tables | outbox | raw.events |",
        "|---|---:|---:|---:|---:|",
    ]
    for t, r in proof["by_type"].items():
        domain = "" if r["domain"] is None else f"{r['domain']:,}"
        lines.append(f"| {t} | {r['expected']:,} | {domain} | {r['outbox']:,} | {r['raw']:,} |")
    retries = retry_totals(phases)
    lines += [
        "",
        f"{'All agree' if proof['ok'] else '**MISMATCH**'}: {proof['outbox_events']:,} outbox "
        f"events ({proof['outbox_distinct_ids']:,} distinct ids), {proof['raw_events']:,} in "
        f"raw.events ({proof['raw_distinct_ids']:,} distinct), {proof['duplicates']} duplicate, "
        f"{proof['quarantined']} quarantined (pulled in {proof['pull_seconds']:.1f} s); "
        f"{proof['renewed']:,} renewals for {proof['renewed_distinct_periods']:,} distinct "
        f"(subscription, period); {retries['pairs']:,} concurrent retries with the same "
        f"Idempotency-Key: {retries['replayed']:,} executed exactly once (the other answered "
        f"from the stored response), {retries['refused']} declined both times, "
        f"{retries['doubled']} executed twice.",
        "",
        f"Whole benchmark: {total_seconds:.0f} s.",
        "",
    ]
    data = {
        "args": vars(args),
        "phases": [
            {
                "workers": p.workers,
                "concurrency": p.concurrency,
                "writes": p.writes,
                "client_writes": p.client_writes,
                "renewals": p.renewals,
                "seconds": p.seconds,
                "writes_per_s": p.rate,
                "latency_ms": p.client["latency_ms"],
                "latency_by_kind_ms": p.client["latency_by_kind_ms"],
                "errors": p.client["errors"],
                "statuses": p.client["statuses"],
                "retries": p.client["retries"],
                "outcomes": p.client["outcomes"],
                "server_peak_mb": p.server_peak_mb,
                "client_peak_mb": p.client["peak_mb"],
                "cpu_cores": p.client["cpu_cores"],
                "new_pg_sessions": p.client["new_pg_sessions"],
                "cohort": len(p.cohort.ids),
                "cohort_seed_seconds": p.cohort.seconds,
                "backlog": p.backlog,
                "due_in_phase": p.due_in_phase,
                "server_ms_per_write": p.server_ms_per_write,
            }
            for p in phases
        ],
        "best": best.label,
        "target_met": [p.label for p in met],
        "baseline": dict(base),
        "baseline_ratio": base_rate / best.rate,
        "events": proof,
        "total_seconds": total_seconds,
    }
    return "\n".join(lines), data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="timed phase per run")
    parser.add_argument("--ops", type=int, default=0, help="instead: client writes per run")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[16, 4],
        help="requests in flight: the first for every worker count, the others for the best",
    )
    parser.add_argument("--renewals-per-s", type=float, default=100.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--base-customers", type=int, default=1000)
    parser.add_argument("--billing-runners", type=int, default=2)
    parser.add_argument("--retry-share", type=float, default=0.02)
    parser.add_argument("--fail-share", type=float, default=0.05, help="renewals declined")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg-url", default=PG_URL, help="the server (a database is made)")
    args = parser.parse_args()

    why = unreachable(args.pg_url)
    if why is not None:
        raise SystemExit(why)
    from core.migrate import upgrade

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="churniq-bench-core-load-"))
    try:
        with scratch_database(args.pg_url, "churniq_bench") as url:
            upgrade(url)
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                pg_version = conn.execute(sa.text("show server_version")).scalar_one().split()[0]
            engine.dispose()
            world = set_up(url, args.base_customers, random.Random(args.seed))
            print(f"set-up: {args.base_customers:,} subscribers in {world.seconds:.1f} s")
            expected = Counter(world.expected)
            phases: list[Phase] = []
            runs = [(w, args.concurrency[0]) for w in args.workers]
            runs += [(0, c) for c in args.concurrency[1:]]  # 0: the best worker count so far
            for workers, concurrency in runs:
                workers = workers or max(phases, key=lambda p: p.rate).workers
                phase = run_phase(world, workers, concurrency, args, work)
                phases.append(phase)
                for part in ("warmup", "timed", "drain"):
                    expected.update(phase.client["expected"][part])
                expected.update(phase.cohort.expected)
                lat = phase.client["latency_ms"]
                print(
                    f"{phase.label}: {phase.writes:,} writes in {phase.seconds:.1f} s = "
                    f"{phase.rate:,.0f}/s (renewals {phase.renewals:,}), p50 {lat['p50']:.1f} "
                    f"p95 {lat['p95']:.1f} p99 {lat['p99']:.1f} ms, errors "
                    f"{phase.client['error_count']}, cores {cores(phase.client['cpu_cores'])} "
                    f"(cohort seeded in {phase.cohort.seconds:.1f} s, backlog {phase.backlog})",
                    flush=True,
                )
                for error in phase.client["errors"]:
                    print("  error:", error)
            best = max(phases[: len(args.workers)], key=lambda p: p.rate)
            proof = verify(url, expected, work)
            base = run_baseline(url, best, args, work)
            print(
                f"baseline: {base['transactions']:,} transactions in {base['seconds']:.1f} s = "
                f"{base['transactions'] / base['seconds']:,.0f}/s"
            )
        total = time.perf_counter() - started
        markdown, data = report(phases, best, base, proof, args, pg_version, total)
        print(write_result("core_load", markdown, data).read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    retries = retry_totals(phases)
    if not proof["ok"] or retries["doubled"] or retries["mismatch"]:
        raise SystemExit("events lost or doubled: see the tables above")


if __name__ == "__main__":
    main()
