"""The core's Stripe webhook endpoint under load, against the same server's `/health` (the
floor: the HTTP stack, a database round trip, no work), same run.

    .venv/bin/python -m benchmarks.bench_stripe_webhooks [--seconds 10] [--warmup 2]
        [--concurrency 8] [--workers 1 2] [--no-pg] [--pg-url URL]

For each database (SQLite on a temporary home, as `churniq core serve` uses it by default, and
PostgreSQL when the server at `--pg-url` is reachable: a scratch database, dropped after) and
each uvicorn worker count, the API is served as `churniq core serve` serves it
(`core.api.serve.serve` with the signing secret, in a child process). One asyncio + httpx
client in this process keeps `--concurrency` requests in flight, one keep-alive connection per
coroutine, spread evenly over the workers:

1. `/health` for the warm-up and `--seconds`: the floor;
2. `POST /webhooks/stripe` for the warm-up and `--seconds`: real Stripe events (the captures of
   ../shared/reference/fixtures/stripe_events; subscription created / updated / deleted,
   invoice paid / payment failed / upcoming (ignored), charge succeeded / refunded (given the
   customer the captures lack), in a seeded mix) each with ids of its own (event, customer,
   subscription, invoice, charge, price: every webhook states new facts), signed as Stripe
   signs (HMAC-SHA256 of `<t>.<body>`) when sent.

A verified webhook is a 200 that stored the event (not a redelivery). Latency is the client's
(send to full response). Afterwards the inbox must hold exactly the accepted events and the
outbox exactly the lines their translations state (`translate_event`), or the benchmark fails.

Where the time goes: the same events through each stage in this process, one at a time
(`verify_webhook`, `translate_event`, the transaction of `receive_webhook` without its
translation, the response's JSON), against the server's CPU per webhook under load; the rest
is HTTP, ASGI and the thread pool.

Targets: at least 300 verified webhooks/s with p95 at most 50 ms, on 2 cores shared by client,
server and database. Results: benchmarks/results/stripe_webhooks.md (and .json).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import os
import random
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from benchmarks.bench_core_load import PG_URL, peak_rss_mb, server
from benchmarks.common import REPO, machine, write_result
from benchmarks.core_load_client import _cmdline, _machine, _proc_stat, percentiles, process_tree
from benchmarks.core_load_client import socket_owner as owner_of
from core.db import scratch_database, unreachable

TARGET_PER_S = 300
TARGET_P95_MS = 50
SECRET = "whsec_bench_" + "0123456789abcdef" * 2
SECRET_ENV = "CHURNIQ_STRIPE_WEBHOOK_SECRET"
EVENTS = REPO.parent / "shared" / "reference" / "fixtures" / "stripe_events"
MIX = {
    "customer.subscription.created": 0.20,
    "customer.subscription.updated": 0.15,
    "customer.subscription.deleted": 0.10,
    "invoice.paid": 0.20,
    "invoice.upcoming": 0.05,  # a type with no contract meaning: received, counted, ignored
    "invoice.payment_failed": 0.10,
    "charge.succeeded": 0.15,
    "charge.refunded": 0.05,
}
ZEROS = ("000000000000000000000000", "00000000000000")  # the captures' anonymised ids


# ---- the events -----------------------------------------------------------------------------


class Events:
    """An endless seeded stream of Stripe event bodies with ids of their own: each capture's
    zero-filled ids (24 and 14 digits) become the stream position (`cus_xxxxxxxxxxxx42`), so
    the i-th body names objects no other body names."""

    def __init__(self, seed: int) -> None:
        self.templates = {name: (EVENTS / f"{name}.json").read_text() for name in MIX}
        for name in ("charge.succeeded", "charge.refunded"):  # captured without a customer
            self.templates[name] = self.templates[name].replace(
                '"customer": null', f'"customer": "cus_{ZEROS[1]}"'
            )
        self.rng = random.Random(seed)
        self.names, self.weights = list(MIX), list(MIX.values())
        self.n = 0

    def body(self, n: int, name: str) -> bytes:
        text = self.templates[name]
        for zeros in ZEROS:
            text = text.replace(zeros, str(n).rjust(len(zeros), "x"))  # no run of zeros left
        return text.encode()

    def next(self) -> tuple[str, bytes]:
        self.n += 1
        name = self.rng.choices(self.names, self.weights)[0]
        return name, self.body(self.n, name)


def sign(payload: bytes, secret: str = SECRET) -> str:
    t = int(time.time())
    mac = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


# ---- the load -------------------------------------------------------------------------------


async def balanced(base: str, n: int, server_pid: int) -> list[httpx.AsyncClient]:
    """`n` keep-alive clients, spread evenly over the uvicorn workers (a worker keeps the
    connections it accepts; by chance they could all land on one)."""
    workers = [p for p in process_tree(server_pid) if "spawn_main" in _cmdline(p)]
    share = math.ceil(n / max(1, len(workers)))
    held: Counter = Counter()
    clients = []
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    for _ in range(n):
        for _attempt in range(100):
            client = httpx.AsyncClient(base_url=base, limits=limits, timeout=30)
            response = await client.get("/health")
            if len(workers) < 2:
                break
            stream = response.extensions["network_stream"]
            owner = owner_of(workers, stream.get_extra_info("client_addr")[1])
            if owner is not None and held[owner] < share:
                held[owner] += 1
                break
            await client.aclose()
        clients.append(client)
    return clients


def cpu_of(pids: list[int]) -> float:
    return sum((_proc_stat(p) or (0, 0.0))[1] for p in pids)


async def load(
    clients: list[httpx.AsyncClient],
    request,
    warmup: float,
    seconds: float,
    server_pids: list[int],
) -> dict[str, Any]:
    """Every client sends `request(client)` back to back; what completes within the timed
    window (after the warm-up) is counted, with its latency and status."""
    loop = asyncio.get_running_loop()
    start = loop.time() + warmup
    end = start + seconds
    latencies: list[float] = []
    statuses: Counter = Counter()
    cpu: dict[str, float] = {}

    async def worker(client: httpx.AsyncClient) -> None:
        while loop.time() < end:
            sent = loop.time()
            response = await request(client)
            done = loop.time()
            if start <= sent and done <= end:
                latencies.append((done - sent) * 1000)
                statuses[response.status_code] += 1

    async def window() -> None:
        await asyncio.sleep(max(0.0, start - loop.time()))
        me = os.times()
        cpu["server"], cpu["client"] = -cpu_of(server_pids), -(me.user + me.system)
        cpu["machine"] = -_machine()[0]
        await asyncio.sleep(max(0.0, end - loop.time()))
        me = os.times()
        cpu["server"] += cpu_of(server_pids)
        cpu["client"] += me.user + me.system
        cpu["machine"] += _machine()[0]
        cpu["other"] = cpu["machine"] - cpu["server"] - cpu["client"]

    await asyncio.gather(window(), *(worker(c) for c in clients))
    ok = statuses.get(200, 0)
    return {
        "requests": sum(statuses.values()),
        "ok": ok,
        "errors": sum(statuses.values()) - ok,
        "statuses": dict(statuses),
        "per_s": ok / seconds,
        "latency_ms": percentiles(latencies),
        "cores": {k: v / seconds for k, v in cpu.items()},
        "server_ms_per_request": cpu["server"] / max(1, ok) * 1000,
    }


async def run_server(url: str, workers: int, args: argparse.Namespace, work: Path) -> dict:
    events = Events(args.seed + workers)
    accepted: list[tuple[str, bytes]] = []
    with server(url, workers, work / "server.log") as (proc, base):
        clients = await balanced(base, args.concurrency, proc.pid)
        pids = process_tree(proc.pid)
        try:

            async def health(client: httpx.AsyncClient) -> httpx.Response:
                return await client.get("/health")

            floor = await load(clients, health, args.warmup, args.seconds, pids)

            async def webhook(client: httpx.AsyncClient) -> httpx.Response:
                name, payload = events.next()
                headers = {"Stripe-Signature": sign(payload), "Content-Type": "application/json"}
                response = await client.post("/webhooks/stripe", content=payload, headers=headers)
                if response.status_code == 200 and not response.json()["duplicate"]:
                    accepted.append((name, payload))
                return response

            hooks = await load(clients, webhook, args.warmup, args.seconds, pids)
        finally:
            for client in clients:
                await client.aclose()
        peak = peak_rss_mb(process_tree(proc.pid))
    return {
        "workers": workers,
        "health": floor,
        "webhooks": hooks,
        "server_peak_mb": peak,
        "accepted": accepted,
        "sent": events.n,
    }


# ---- proof: every accepted webhook once in the inbox, its lines once in the outbox ----------


def verify(url: str, accepted: list[tuple[str, bytes]]) -> dict[str, Any]:
    from connectors.stripe import translate_event

    expected_ids: set[str] = set()
    for _, payload in accepted:
        lines = translate_event(json.loads(payload)).lines("stripe")
        expected_ids.update(line["event_id"] for line in lines)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inbox = conn.execute(sa.text("select count(*) from provider_webhooks")).scalar_one()
            outbox_ids = set(conn.execute(sa.text("select event_id from outbox")).scalars())
            statuses = dict(
                conn.execute(
                    sa.text("select status, count(*) from provider_webhooks group by status")
                ).all()
            )
    finally:
        engine.dispose()
    ok = inbox == len(accepted) and outbox_ids == expected_ids
    return {
        "ok": ok,
        "inbox": inbox,
        "accepted": len(accepted),
        "outbox": len(outbox_ids),
        "expected_outbox": len(expected_ids),
        "statuses": statuses,
    }


# ---- where the time goes: each stage alone, in this process ---------------------------------


def stages(url: str, n: int, seed: int) -> dict[str, float]:
    """Mean milliseconds per webhook of each stage, `n` events one after the other."""
    from connectors.stripe import translate_event, verify_webhook
    from core.api.routes.webhooks import received_body
    from core.unit import Core
    from core.webhooks import receive_webhook

    events = Events(seed)
    bodies = [events.next()[1] for _ in range(n)]
    signed = [(b, sign(b)) for b in bodies]
    timing: dict[str, float] = {}

    def timed(name: str, fn) -> list:
        started = time.perf_counter()
        out = [fn(x) for x in signed]
        timing[name] = (time.perf_counter() - started) / n * 1000
        return out

    parsed = timed(
        "verify_webhook (the SDK's HMAC check, orjson)", lambda x: verify_webhook(*x, SECRET)
    )
    started = time.perf_counter()
    for e in parsed:
        translate_event(e)
    timing["translate_event"] = (time.perf_counter() - started) / n * 1000
    core = Core(url)
    try:
        started = time.perf_counter()
        received = [
            receive_webhook(core, "stripe", e, b, translate_event)
            for e, (b, _) in zip(parsed, signed, strict=True)
        ]
        whole = (time.perf_counter() - started) / n * 1000
    finally:
        core.close()
    timing["the transaction (inbox, outbox, audit, commit)"] = whole - timing["translate_event"]
    started = time.perf_counter()
    for r in received:
        received_body(r)
    timing["the response's JSON"] = (time.perf_counter() - started) / n * 1000
    assert all(not r.duplicate for r in received)  # fresh ids: every one stored
    return timing


# ---- the report -----------------------------------------------------------------------------


def fmt_ms(x: float) -> str:
    return f"{x:.1f} ms"


def report(runs: list[dict], profile: dict[str, dict], args: argparse.Namespace, seconds: float):
    rows = []
    for run in runs:
        for what in ("webhooks", "health"):
            r = run[what]
            lat = r["latency_ms"]
            label = f"{run['database']}, {run['workers']} worker{'s' if run['workers'] > 1 else ''}"
            kind = "POST /webhooks/stripe" if what == "webhooks" else "GET /health (floor)"
            bold = what == "webhooks" and run is best(runs, run["database"])
            name = f"**{label}: {kind}**" if bold else f"{label}: {kind}"
            rows.append(
                f"| {name} | {r['per_s']:,.0f} | {fmt_ms(lat['p50'])} | {fmt_ms(lat['p95'])} | "
                f"{fmt_ms(lat['p99'])} | {r['errors']} | {r['server_ms_per_request']:.2f} ms | "
                f"{r['cores']['server']:.2f} / {r['cores']['client']:.2f} / "
                f"{max(0.0, r['cores']['other']):.2f} | "
                f"{run['server_peak_mb']:.0f} MB |"
            )
    verdicts = []
    for database in dict.fromkeys(r["database"] for r in runs):
        b = best(runs, database)
        w, h = b["webhooks"], b["health"]
        met = w["per_s"] >= TARGET_PER_S and w["latency_ms"]["p95"] <= TARGET_P95_MS
        verdicts.append(
            f"- {database}: best {b['workers']} worker(s), {w['per_s']:,.0f} verified webhooks/s "
            f"with p95 {fmt_ms(w['latency_ms']['p95'])}: the target (at least {TARGET_PER_S}/s, "
            f"p95 at most {TARGET_P95_MS} ms) is {'**met**' if met else '**not met**'}. The "
            f"same server answers /health at {h['per_s']:,.0f}/s: a webhook costs "
            f"{h['per_s'] / max(1, w['per_s']):.1f}× a health check "
            f"(server CPU {w['server_ms_per_request']:.2f} vs "
            f"{h['server_ms_per_request']:.2f} ms per request)."
        )
    proof = "; ".join(
        f"{r['database']}, {r['workers']} worker(s): {r['proof']['accepted']:,} accepted, "
        f"{r['proof']['inbox']:,} in the inbox, {r['proof']['outbox']:,} outbox lines of "
        f"{r['proof']['expected_outbox']:,} expected ({'ok' if r['proof']['ok'] else 'MISMATCH'})"
        for r in runs
    )
    stage_rows = []
    for database, timing in profile.items():
        for stage, ms in timing.items():
            stage_rows.append(f"| {database} | {stage} | {ms:.3f} ms |")
    mix = ", ".join(f"{k} {v:.0%}" for k, v in MIX.items())
    return f"""### Stripe webhooks: `POST /webhooks/stripe` against `/health` ({machine()})

{args.concurrency} requests in flight (one asyncio + httpx client, keep-alive connections spread
evenly over the uvicorn workers), {args.warmup:g} s warm-up then {args.seconds:g} s timed, per
endpoint; the server as `churniq core serve` runs it; client, server and database share the
cores. Webhooks: Stripe's captured events with ids of their own, signed when sent ({mix}; seed
{args.seed}). A verified webhook is a 200 that stored the event; latency is the client's.
Cores are measured over each timed window: the server's processes, this client, and every
other process on the machine (PostgreSQL in its runs, and whatever else was running).

| server: endpoint | requests/s | p50 | p95 | p99 | errors | server CPU per request | cores: server / client / other processes | server peak memory |
|---|---:|---:|---:|---:|---:|---:|---|---:|
{chr(10).join(rows)}

{chr(10).join(verdicts)}

Every accepted webhook stored once, and its translation's lines in the outbox: {proof}.

Where a webhook's time goes (each stage alone in one process, {args.profile:,} events one at a
time; the rest of the server CPU per request above is HTTP, ASGI and the thread pool):

| database | stage | per webhook |
|---|---|---:|
{chr(10).join(stage_rows)}

Whole benchmark: {seconds:.0f} s.
"""


def best(runs: list[dict], database: str) -> dict:
    mine = [r for r in runs if r["database"] == database]
    meets = [r for r in mine if r["webhooks"]["latency_ms"]["p95"] <= TARGET_P95_MS]
    return max(meets or mine, key=lambda r: r["webhooks"]["per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--profile", type=int, default=2000, help="events of the stage timing")
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()

    from core.migrate import upgrade

    started = time.perf_counter()
    os.environ[SECRET_ENV] = SECRET  # the servers' (and their workers') signing secret
    databases: list[tuple[str, Any]] = [("SQLite", None)]
    why = None if args.no_pg else unreachable(args.pg_url)
    if not args.no_pg and why is None:
        databases.append(("PostgreSQL", args.pg_url))
    runs, profile = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        work = Path(tmp)
        for name, server_url in databases:
            for workers in args.workers:
                if server_url is None:
                    home = work / f"home-{workers}"
                    url = f"sqlite:///{home / 'core.db'}"
                    upgrade(url)
                    run = asyncio.run(run_server(url, workers, args, work))
                    run["proof"] = verify(url, run.pop("accepted"))
                else:
                    with scratch_database(server_url, "churniq_bench_webhooks") as url:
                        upgrade(url)
                        run = asyncio.run(run_server(url, workers, args, work))
                        run["proof"] = verify(url, run.pop("accepted"))
                run["database"] = name
                runs.append(run)
                w = run["webhooks"]
                print(
                    f"{name}, {workers} worker(s): {w['per_s']:.0f} webhooks/s, "
                    f"p95 {w['latency_ms']['p95']:.1f} ms (health "
                    f"{run['health']['per_s']:.0f}/s); proof {run['proof']}",
                    flush=True,
                )
            if server_url is None:
                url = f"sqlite:///{work / 'profile' / 'core.db'}"
                upgrade(url)
                profile[name] = stages(url, args.profile, args.seed)
            else:
                with scratch_database(server_url, "churniq_bench_webhooks") as url:
                    upgrade(url)
                    profile[name] = stages(url, args.profile, args.seed)
    seconds = time.perf_counter() - started
    markdown = report(runs, profile, args, seconds)
    if why is not None and not args.no_pg:
        markdown += f"\nPostgreSQL skipped: {why}\n"
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = {
        "machine": machine(),
        "args": vars(args),
        "runs": runs,
        "profile_ms": profile,
        "client_peak_mb": client_peak,
        "seconds": seconds,
    }
    path = write_result("stripe_webhooks", markdown, data)
    print(markdown)
    print(f"written: {path}")
    if not all(r["proof"]["ok"] for r in runs):
        raise SystemExit("an accepted webhook is missing from the inbox or the outbox")


if __name__ == "__main__":
    main()
