"""The load generators of `benchmarks.bench_core_load`, each run as a child process so that its
CPU time and peak memory are its own:

    python -m benchmarks.core_load_client http SPEC.json OUT.json   # the core's REST API
    python -m benchmarks.core_load_client sql SPEC.json OUT.json    # the floor: raw psycopg

`http`: one asyncio loop with `concurrency` client coroutines on an httpx.AsyncClient
(keep-alive). Each coroutine draws its operations from its own seeded RNG: a sign-up (a
customer, a card, a subscription: three POSTs), a purchase of a pass by a known customer, or a
cancellation of a live subscription. Every creating POST carries an Idempotency-Key, and a
share of them is sent twice at once with the same key (a client retrying on a timeout): exactly
one of the two may execute. Next to them `billing_runners` coroutines call POST /billing/run
every `billing_interval` seconds, all at once (SKIP LOCKED shares the due rows out); the seeded
cohort of subscriptions falls due during the timed phase, so those calls renew. Each
coroutine has its own keep-alive connection, spread evenly over the uvicorn workers
(`balanced_clients`). After a warm-up, the timed phase
starts at `start_at` (wall clock) and lasts `seconds` (or `ops` client writes); then the
requests in flight finish and what is still due is billed. The client keeps its own ledger
of the contract events each successful write must have produced (from the kind of write and
its response), independent of the outbox, and measures the CPU each party used in the timed
window (`CpuWindow`).

`sql`: the same transactions (same kinds, same count, same concurrency) as plain INSERTs and
UPDATEs of rows copied from real ones, into tables of the same shape (`baseline.*`, made with
`LIKE public.*`, no foreign keys), through psycopg: what PostgreSQL alone takes to commit
them, without HTTP, validation, the ORM, authentication or any read.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import resource
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Json

from foundation.vocabulary import CANCEL_REASONS

CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000009995"  # insufficient funds: a sign-up without trial gets 402
COUNTRIES = ("DE", "FR", "US", "GB", "ES", "IT", "NL", "SE", "BR", "JP")
# what a customer gives as a reason (payment_failed and unknown are the system's)
REASONS = tuple(r for r in CANCEL_REASONS if r not in ("payment_failed", "unknown"))
REPLAYED = "idempotent-replayed"

# the contract events each billing outcome writes (core.subscriptions.advance)
OUTCOME_EVENTS: dict[str, dict[str, int]] = {
    "renewed": {"subscription.renewed": 1, "payment.succeeded": 1},
    "converted": {"subscription.renewed": 1, "payment.succeeded": 1},
    "recovered": {"subscription.renewed": 1, "payment.succeeded": 1},
    "failed": {"payment.failed": 1},
    "retry_failed": {"payment.failed": 1},
    "ended_unpaid": {"payment.failed": 1, "subscription.ended": 1},
    "ended_cancelled": {"subscription.ended": 1},
    "resumed": {"subscription.resumed": 1},
}


def percentiles(values: list[float]) -> dict[str, float]:
    """p50 / p95 / p99 / max (nearest rank) of `values`, in the same unit."""
    if not values:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "n": 0}
    s = sorted(values)

    def rank(q: float) -> float:
        return s[max(0, math.ceil(q * len(s)) - 1)]

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": s[-1], "n": len(s)}


# ---- CPU accounting of the timed phase ---------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_tree(root: int) -> list[int]:
    """`root` and every descendant of it."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = _proc_stat(int(name))
            if stat is not None:
                parents[int(name)] = stat[0]
    tree, frontier = [root], [root]
    while frontier:
        frontier = [p for p, pp in parents.items() if pp in frontier]
        tree += frontier
    return tree


def _postmaster() -> int | None:
    for name in os.listdir("/proc"):
        if name.isdigit() and "/bin/postgres " in _cmdline(int(name)):
            return int(name)
    return None


class PostgresCpu(threading.Thread):
    """CPU seconds of the PostgreSQL processes working for one database (its backends and the
    shared auxiliary processes: WAL writer, checkpointer...; not the backends of other
    databases), sampled every `interval` so that backends that exit in between (connections a
    pool closes and reopens) are counted too."""

    def __init__(self, dbname: str, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.dbname, self.interval = dbname, interval
        self.postmaster = _postmaster()
        self.mine: dict[int, bool] = {}
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.done = threading.Event()
        self.own = 0.0  # CPU seconds of this thread (the client's, not PostgreSQL's)

    def _children(self) -> list[int]:
        if self.postmaster is None:
            return []
        try:
            with open(f"/proc/{self.postmaster}/task/{self.postmaster}/children") as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def sample(self, initial: bool = False) -> None:
        for pid in self._children():
            if pid not in self.mine:
                cmd = _cmdline(pid)
                if not cmd.startswith("postgres:"):
                    continue  # just forked, not named yet: look again next time
                # "postgres: 15/main: user db 127.0.0.1(5432) idle" or "...: walwriter"
                self.mine[pid] = "(" not in cmd or f" {self.dbname} " in cmd
            if not self.mine[pid]:
                continue
            stat = _proc_stat(pid)
            if stat is None:
                continue
            self.first.setdefault(pid, stat[1] if initial else 0.0)
            self.last[pid] = stat[1]

    def run(self) -> None:
        started = time.thread_time()
        while not self.done.wait(self.interval):
            self.sample()
        self.own = time.thread_time() - started

    def begin(self) -> None:
        self.sample(initial=True)
        self.start()

    def end(self) -> float:
        self.done.set()
        self.join()
        self.sample()
        return sum(self.last[p] - self.first[p] for p in self.last)


def _machine() -> tuple[float, float]:
    """(busy, total) CPU seconds of the machine since boot, all cores."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]
    return (sum(ticks) - idle) / TICK, sum(ticks) / TICK


class CpuWindow:
    """Cores used over a window by the server (a process tree), PostgreSQL (for one
    database), this client, and everything else on the machine."""

    def __init__(self, server_pid: int | None, dbname: str) -> None:
        self.server_pid = server_pid
        self.pg = PostgresCpu(dbname)

    def _snapshot(self) -> dict[str, float]:
        tree = process_tree(self.server_pid) if self.server_pid is not None else []
        self.per_process = {p: (_proc_stat(p) or (0, 0.0))[1] for p in tree}
        me = os.times()
        busy, total = _machine()
        return {
            "server": sum(self.per_process.values()),
            "client": me.user + me.system,
            "busy": busy,
            "total": total,
        }

    def begin(self) -> None:
        self.before = self._snapshot()
        self.per_process_before = self.per_process
        self.pg.begin()

    def end(self, seconds: float) -> dict[str, Any]:
        pg = self.pg.end()
        after = self._snapshot()
        used: dict[str, Any] = {
            k: (after[k] - self.before[k]) / seconds for k in ("server", "client", "busy")
        }
        # each uvicorn worker (spawned by the supervisor; the server itself when it has one):
        # is the load shared?
        workers = [p for p in self.per_process if "spawn_main" in _cmdline(p)]
        used["server_workers"] = [
            round((self.per_process[p] - self.per_process_before.get(p, 0.0)) / seconds, 2)
            for p in workers or list(self.per_process)[:1]
        ]
        used["client"] -= self.pg.own / seconds
        used["postgres"] = pg / seconds
        used["other"] = max(0.0, used["busy"] - used["server"] - used["postgres"] - used["client"])
        return used


def pg_sessions(dsn: str, dbname: str) -> int:
    with psycopg.connect(dsn, autocommit=True) as con:
        row = con.execute(
            "select sessions from pg_stat_database where datname = %s", [dbname]
        ).fetchone()
    return int(row[0]) if row else 0


# ---- the HTTP load -----------------------------------------------------------------------


class HttpLoad:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.customers: list[str] = list(spec["customers"])  # with a card that works
        self.live: list[str] = list(spec["subscriptions"])  # cancellable
        self.phase = "warmup"
        self.stopping = False
        self.expected: dict[str, Counter] = {"warmup": Counter(), "timed": Counter()}
        self.writes: dict[str, Counter] = {"warmup": Counter(), "timed": Counter()}
        self.latency: dict[str, list[float]] = defaultdict(list)  # timed phase, ms
        self.statuses: Counter = Counter()
        self.errors: list[str] = []
        self.error_count = 0
        self.retries = Counter()
        # timed writes (when each completed, and what it was), replayed by the baseline
        self.records: list[tuple[float, list]] = []
        self.outcomes: dict[str, Counter] = {"warmup": Counter(), "timed": Counter()}
        self.billing_calls: list[dict] = []
        self.timed_ops = 0
        self.connections_per_worker: list[int] = []
        self.stop = asyncio.Event()

    def _error(self, text: str) -> None:
        self.error_count += 1
        if len(self.errors) < 10:
            self.errors.append(text[:500])

    async def _timed(self, client: httpx.AsyncClient, path: str, body: dict | None, key: str):
        headers = {"Idempotency-Key": key}
        started = time.perf_counter()
        response = await client.post(path, json=body, headers=headers)
        return response, (time.perf_counter() - started) * 1000

    async def write(
        self, client: httpx.AsyncClient, rng: random.Random, kind: str, path: str, body: dict
    ) -> dict | None:
        """One creating POST with an Idempotency-Key (sometimes sent twice at once); the body
        of the response on success, None on a decline (402) or an error."""
        key = uuid.uuid4().hex
        phase = self.phase
        if rng.random() < self.spec["retry_share"]:
            (first, ms), (second, _) = await asyncio.gather(
                self._timed(client, path, body, key), self._timed(client, path, body, key)
            )
            self.retries["pairs"] += 1
            if first.is_success or second.is_success:
                executed = [r for r in (first, second) if r.headers.get(REPLAYED) != "true"]
                same = first.status_code == second.status_code and first.json() == second.json()
                if len(executed) == 1 and same:
                    self.retries["replayed"] += 1
                else:
                    self.retries["doubled" if len(executed) > 1 else "mismatch"] += 1
                    self._error(f"idempotent pair {path}: {first.text} / {second.text}")
                response = executed[0] if executed else first
            else:
                self.retries["refused"] += 1  # both declined (402): nothing executed
                response = first
        else:
            response, ms = await self._timed(client, path, body, key)
        self.statuses[f"{kind} {response.status_code}"] += 1
        if phase == "timed":
            self.latency[kind].append(ms)
        if response.status_code == 402:
            return None
        if not response.is_success:
            self._error(f"POST {path} -> {response.status_code}: {response.text}")
            return None
        out = response.json()
        self.writes[phase][kind] += 1
        events = self.events_of(kind, out)
        self.expected[phase].update(events)
        if phase == "timed":
            self.timed_ops += 1
            self.records.append((time.perf_counter(), self.record_of(kind, out)))
        return out

    @staticmethod
    def events_of(kind: str, out: dict) -> Counter:
        """The contract events a successful write of `kind` must have written."""
        events: Counter = Counter()
        if kind == "customer":
            events["customer.created"] += 1
        elif kind == "subscription":
            events["subscription.started"] += 1
            if out["status"] == "active" and out["price_minor"] - out["discount_minor"] > 0:
                events["payment.succeeded"] += 1
        elif kind == "purchase":
            events["purchase.completed"] += 1
            if out["amount_minor"] > 0:
                events["payment.succeeded"] += 1
        elif kind == "cancel":
            events["subscription.cancelled"] += 1
            if out["status"] == "ended":
                events["subscription.ended"] += 1
        return events

    @staticmethod
    def record_of(kind: str, out: dict) -> list:
        if kind == "subscription":
            return [kind, out["status"] == "active"]
        if kind == "cancel":
            return [kind, out["id"], out["status"] == "ended"]
        return [kind]

    async def signup(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        spec = self.spec
        body = {
            "country": rng.choice(COUNTRIES),
            "signup_platform": "web",
            "email": f"{uuid.uuid4().hex[:12]}@example.org",
            "marketing_consent": rng.random() < 0.5,
        }
        customer = await self.write(client, rng, "customer", "/customers", body)
        if customer is None:
            return
        declined = rng.random() < spec["declined_share"]
        card = {
            "card_number": CARD_DECLINED if declined else CARD_OK,
            "exp_month": 12,
            "exp_year": datetime.now(UTC).year + 4,
        }
        path = f"/customers/{customer['id']}/payment-methods"
        method = await self.write(client, rng, "payment_method", path, card)
        if method is None:
            return
        trial = rng.random() < spec["trial_share"]
        body = {
            "customer_id": customer["id"],
            "offer_id": spec["offers"]["trial" if trial else "plain"],
            "platform": "web",
            "currency": "EUR",
            "payment_method_id": method["id"],
        }
        sub = await self.write(client, rng, "subscription", "/subscriptions", body)
        if sub is not None:
            self.live.append(sub["id"])
            if not declined:
                self.customers.append(customer["id"])

    async def purchase(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        body = {
            "customer_id": rng.choice(self.customers),
            "offer_id": self.spec["offers"]["pass"],
            "platform": "web",
            "currency": "EUR",
        }
        await self.write(client, rng, "purchase", "/purchases", body)

    async def cancel(self, client: httpx.AsyncClient, rng: random.Random) -> None:
        sub_id = self.live.pop(rng.randrange(len(self.live)))
        body = {
            "reason": rng.choice(REASONS),
            "immediately": rng.random() < self.spec["immediate_share"],
        }
        await self.write(client, rng, "cancel", f"/subscriptions/{sub_id}/cancel", body)

    async def worker(self, client: httpx.AsyncClient, index: int) -> None:
        rng = random.Random(self.spec["seed"] * 100_003 + index)
        kinds = list(self.spec["mix"])
        weights = [self.spec["mix"][k] for k in kinds]
        while not self.stopping:
            op = rng.choices(kinds, weights)[0]
            if op == "cancel" and not self.live:
                op = "signup"
            if op == "purchase" and not self.customers:
                op = "signup"
            try:
                await getattr(self, op)(client, rng)
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                self._error(f"{op}: {type(exc).__name__}: {exc}")

    def count_outcomes(self, phase: str, outcomes: dict[str, int]) -> None:
        self.outcomes[phase].update(outcomes)
        for outcome, n in outcomes.items():
            if outcome not in OUTCOME_EVENTS:
                self._error(f"billing run: unknown outcome {outcome}")
                continue
            for event, k in OUTCOME_EVENTS[outcome].items():
                self.expected[phase][event] += k * n

    async def billing_runner(self, admin: httpx.AsyncClient) -> None:
        interval = self.spec["billing_interval"]
        while not self.stopping:
            phase = self.phase
            started = time.perf_counter()
            try:
                response = await admin.post("/billing/run")
            except httpx.HTTPError as exc:
                self._error(f"billing run: {type(exc).__name__}: {exc}")
                await asyncio.sleep(interval)
                continue
            seconds = time.perf_counter() - started
            if not response.is_success:
                self._error(f"billing run -> {response.status_code}: {response.text}")
            else:
                outcomes = response.json()["outcomes"]
                self.count_outcomes(phase, outcomes)
                if phase == "timed":
                    self.billing_calls.append({"seconds": seconds, "outcomes": outcomes})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), max(0.0, interval - seconds))

    def _client(self, key: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.spec["base_url"],
            headers={"Authorization": f"Bearer {key}"},
            # its own keep-alive connection, and a second one for a retry sent at once
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
            timeout=httpx.Timeout(120.0),
        )

    async def balanced_clients(self) -> list[httpx.AsyncClient]:
        """One client (one keep-alive connection) per coroutine, spread evenly over the
        uvicorn workers. A worker keeps each connection it accepts, and an idle worker accepts
        every connection waiting, so connections opened by chance can all land on one worker
        and leave the others idle for the whole run: each connection is checked (which worker
        holds its other end, from /proc) and opened again while its worker has its share."""
        n = self.spec["concurrency"]
        tree = process_tree(self.spec["server_pid"])
        workers = [p for p in tree if "spawn_main" in _cmdline(p)]
        share = math.ceil(n / max(1, len(workers)))
        held: Counter = Counter()
        clients = []
        for _ in range(n):
            for _attempt in range(100):
                client = self._client(self.spec["support_key"])
                response = await client.get("/health")
                if len(workers) < 2:
                    break
                stream = response.extensions["network_stream"]
                owner = socket_owner(workers, stream.get_extra_info("client_addr")[1])
                if owner is not None and held[owner] < share:
                    held[owner] += 1
                    break
                await client.aclose()
            clients.append(client)
        self.connections_per_worker = sorted(held.values(), reverse=True)
        return clients

    async def run(self) -> dict:
        spec = self.spec
        clients = await self.balanced_clients()
        admin = self._client(spec["admin_key"])
        async with contextlib.AsyncExitStack() as stack:
            for client in [*clients, admin]:
                stack.push_async_callback(client.aclose)
            tasks = [asyncio.create_task(self.worker(c, i)) for i, c in enumerate(clients)]
            tasks += [
                asyncio.create_task(self.billing_runner(admin))
                for _ in range(spec["billing_runners"])
            ]
            await asyncio.sleep(spec["warmup"])
            await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
            sessions0 = pg_sessions(spec["dsn"], spec["dbname"])
            cpu = CpuWindow(spec["server_pid"], spec["dbname"])
            cpu.begin()
            self.phase = "timed"
            started_wall = time.time()
            started = time.perf_counter()
            while True:
                await asyncio.sleep(0.02)
                elapsed = time.perf_counter() - started
                if spec["ops"] and self.timed_ops >= spec["ops"]:
                    break
                if not spec["ops"] and elapsed >= spec["seconds"]:
                    break
            deadline = time.perf_counter()
            cores = cpu.end(deadline - started)
            sessions1 = pg_sessions(spec["dsn"], spec["dbname"])
            # the requests in flight finish (their events are in the ledger, not in the rate)
            self.stopping = True
            self.stop.set()
            await asyncio.gather(*tasks)
            await self.drain(admin)
        seconds = deadline - started
        window = (started_wall, started_wall + seconds)
        in_window = [record for done, record in self.records if done <= deadline]
        all_ms = [ms for values in self.latency.values() for ms in values]
        return {
            "seconds": seconds,
            "started_at": started_wall,
            "writes_in_window": dict(Counter(r[0] for r in in_window)),
            "renewals_in_window": renewals_between(spec["dsn"], *window),
            "writes": {k: dict(v) for k, v in self.writes.items()},
            "outcomes": {k: dict(v) for k, v in self.outcomes.items()},
            "expected": {k: dict(v) for k, v in self.expected.items()},
            "latency_ms": percentiles(all_ms),
            "latency_by_kind_ms": {k: percentiles(v) for k, v in self.latency.items()},
            "billing_calls": self.billing_calls,
            "statuses": dict(self.statuses),
            "retries": dict(self.retries),
            "errors": self.errors,
            "error_count": self.error_count,
            "records": in_window,
            "customers": self.customers,
            "live": self.live,
            "cpu_cores": cores,
            "new_pg_sessions": sessions1 - sessions0,
            "connections_per_worker": self.connections_per_worker,
        }

    async def drain(self, admin: httpx.AsyncClient) -> None:
        """Bill what is still due, so that the next run starts with nothing due."""
        self.phase = "drain"
        self.outcomes["drain"], self.expected["drain"] = Counter(), Counter()
        for _ in range(50):
            response = await admin.post("/billing/run")
            if not response.is_success:
                self._error(f"billing run -> {response.status_code}: {response.text}")
                return
            outcomes = response.json()["outcomes"]
            if not outcomes:
                return
            self.count_outcomes("drain", outcomes)


def socket_owner(pids: list[int], client_port: int) -> int | None:
    """Which of `pids` holds the server end of the local TCP connection from `client_port`."""
    inodes: dict[str, int] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:["):
                        inodes[link[8:-1]] = pid
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[2].rsplit(":", 1)[1], 16) == client_port and fields[9] in inodes:
                    return inodes[fields[9]]
    return None


def renewals_between(dsn: str, start: float, end: float) -> dict[str, int]:
    """Subscriptions the billing run advanced between two instants (wall clock), from the
    domain tables: renewal payments (not a sign-up's) by status."""
    bounds = [datetime.fromtimestamp(t, UTC).replace(tzinfo=None) for t in (start, end)]
    with psycopg.connect(dsn, autocommit=True) as con:
        rows = con.execute(
            """select p.status, count(*) from payments p
               join subscriptions s on s.id = p.subscription_id
               where p.created_at <> s.started_at and p.created_at >= %s and p.created_at < %s
               group by 1""",
            bounds,
        ).fetchall()
    return {status: int(n) for status, n in rows}


# ---- the baseline: the same transactions as plain SQL -------------------------------------

# per table, the columns the database fills itself (left out of the INSERT) and the unique
# ones given a fresh value in each copy
GENERATED = {"outbox": ("seq", "txid"), "audit_log": ("id",)}
FRESH = {
    "customers": ("id",),
    "payment_methods": ("id",),
    "subscriptions": ("id",),
    "purchases": ("id",),
    "payments": ("id",),
    "outbox": ("event_id",),
    "idempotency_keys": ("key",),
}
TEMPLATES = {
    "customer": "select * from customers limit 1",
    "payment_method": "select * from payment_methods limit 1",
    "sub_active": "select * from subscriptions where trial_ends_at is null limit 1",
    "sub_trial": "select * from subscriptions where trial_ends_at is not null limit 1",
    "purchase": "select * from purchases limit 1",
    "pay_ok": "select * from payments where status = 'succeeded' limit 1",
    "pay_failed": "select * from payments where status = 'failed' limit 1",
}


class Baseline:
    """Statements of each transaction kind, built from rows the core wrote."""

    def __init__(self, con: psycopg.Connection) -> None:
        self.rows: dict[str, dict] = {}
        for name, query in TEMPLATES.items():
            cur = con.execute(query)
            row = cur.fetchone()
            if row is not None:
                self.rows[name] = dict(zip([c.name for c in cur.description], row, strict=True))
        self.rows.setdefault("pay_failed", self.rows["pay_ok"])
        for table, column, query in (
            ("outbox", "event_type", "select distinct on (event_type) * from outbox"),
            ("audit_log", "action", "select distinct on (action) * from audit_log"),
            ("idempotency_keys", "path", "select * from idempotency_keys"),
        ):
            cur = con.execute(query)
            names = [c.name for c in cur.description]
            for row in cur:
                record = dict(zip(names, row, strict=True))
                label = record[column]
                if table == "idempotency_keys":
                    label = "/".join("{id}" if "_" in p else p for p in label.split("/"))
                self.rows[f"{table}:{label}"] = record

    def insert(self, table: str, template: str) -> tuple[str, list]:
        row = {k: v for k, v in self.rows[template].items() if k not in GENERATED.get(table, ())}
        for column in FRESH.get(table, ()):
            if row.get(column) is not None or column == "id":
                row[column] = f"bl_{uuid.uuid4().hex}"
        values = [Json(v) if isinstance(v, dict | list) else v for v in row.values()]
        columns = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join(["%s"] * len(row))
        return f"insert into baseline.{table} ({columns}) values ({marks})", values

    def transaction(self, record: list, target: str) -> list[tuple[str, list]]:
        """The writes of one core transaction of kind `record[0]`."""
        kind = record[0]
        now = datetime.now(UTC).replace(tzinfo=None)
        ins = self.insert
        if kind == "customer":
            return [
                ins("customers", "customer"),
                ins("outbox", "outbox:customer.created"),
                ins("audit_log", "audit_log:customer.create"),
                ins("idempotency_keys", "idempotency_keys:/customers"),
            ]
        if kind == "payment_method":
            return [
                ins("payment_methods", "payment_method"),
                ins("audit_log", "audit_log:payment_method.add"),
                ins("idempotency_keys", "idempotency_keys:/customers/{id}/payment-methods"),
            ]
        if kind == "subscription":
            charged = record[1]
            out = [ins("subscriptions", "sub_active" if charged else "sub_trial")]
            out.append(ins("outbox", "outbox:subscription.started"))
            if charged:
                out += [ins("payments", "pay_ok"), ins("outbox", "outbox:payment.succeeded")]
            return out + [
                ins("audit_log", "audit_log:subscription.start"),
                ins("idempotency_keys", "idempotency_keys:/subscriptions"),
            ]
        if kind == "purchase":
            return [
                ins("purchases", "purchase"),
                ins("payments", "pay_ok"),
                ins("outbox", "outbox:purchase.completed"),
                ins("outbox", "outbox:payment.succeeded"),
                ins("audit_log", "audit_log:purchase.buy"),
                ins("idempotency_keys", "idempotency_keys:/purchases"),
            ]
        if kind == "cancel":
            ended = record[2]
            update = (
                "update baseline.subscriptions set status = %s, status_before_cancel = status, "
                "cancel_requested_at = %s, cancel_at = %s, cancel_reason = 'other', "
                "cancel_initiated_by = 'customer', ended_at = %s, version_id = version_id + 1 "
                "where id = %s",
                ["ended" if ended else "cancellation_pending", now, now, now if ended else None,
                 record[1]],
            )  # fmt: skip
            out = [update, ins("outbox", "outbox:subscription.cancelled")]
            if ended:
                out.append(ins("outbox", "outbox:subscription.ended"))
            return out + [
                ins("audit_log", "audit_log:subscription.cancel"),
                ins("idempotency_keys", "idempotency_keys:/subscriptions/{id}/cancel"),
            ]
        if kind == "renewal":
            update = (
                "update baseline.subscriptions set current_period_start = current_period_end, "
                "current_period_end = current_period_end + interval '1 month', "
                "status = 'active', dunning_attempt = 0, next_retry_at = null, "
                "grace_until = null, version_id = version_id + 1 where id = %s",
                [target],
            )
            return [
                update,
                ins("payments", "pay_ok"),
                ins("outbox", "outbox:subscription.renewed"),
                ins("outbox", "outbox:payment.succeeded"),
            ]
        if kind == "renewal_failed":
            update = (
                "update baseline.subscriptions set status = 'past_due', dunning_attempt = 1, "
                "next_retry_at = %s, grace_until = %s, version_id = version_id + 1 "
                "where id = %s",
                [now + timedelta(days=1), now + timedelta(days=14), target],
            )
            return [update, ins("payments", "pay_failed"), ins("outbox", "outbox:payment.failed")]
        raise ValueError(f"unknown transaction kind {kind}")


async def run_baseline(spec: dict[str, Any]) -> dict:
    with psycopg.connect(spec["dsn"]) as con:
        baseline = Baseline(con)
    records: list[list] = spec["records"]
    targets: list[str] = spec["renewal_targets"]
    # the statements are built before the clock starts: only the database is timed
    plans = [
        baseline.transaction(record, targets[i % len(targets)] if targets else "")
        for i, record in enumerate(records)
    ]
    latency: list[float] = []
    position = 0

    async def worker(con: psycopg.AsyncConnection) -> None:
        nonlocal position
        while position < len(plans):
            plan = plans[position]
            position += 1
            started = time.perf_counter()
            # one round trip per transaction: BEGIN, the statements and COMMIT pipelined
            async with con.pipeline(), con.transaction():
                for sql, params in plan:
                    await con.execute(sql, params, prepare=True)
            latency.append((time.perf_counter() - started) * 1000)

    connections = [
        await psycopg.AsyncConnection.connect(spec["dsn"], autocommit=True)
        for _ in range(spec["concurrency"])
    ]
    try:
        sessions0 = pg_sessions(spec["dsn"], spec["dbname"])
        cpu = CpuWindow(None, spec["dbname"])
        cpu.begin()
        started = time.perf_counter()
        await asyncio.gather(*(worker(con) for con in connections))
        seconds = time.perf_counter() - started
        cores = cpu.end(seconds)
        sessions1 = pg_sessions(spec["dsn"], spec["dbname"])
    finally:
        for con in connections:
            await con.close()
    return {
        "seconds": seconds,
        "transactions": len(plans),
        "statements": sum(len(p) for p in plans),
        "latency_ms": percentiles(latency),
        "cpu_cores": cores,
        "new_pg_sessions": sessions1 - sessions0,
    }


def main() -> None:
    mode, spec_path, out_path = sys.argv[1:4]
    with open(spec_path) as f:
        spec = json.load(f)
    if mode == "http":
        result = asyncio.run(HttpLoad(spec).run())
    elif mode == "sql":
        result = asyncio.run(run_baseline(spec))
    else:
        raise SystemExit(f"unknown mode {mode}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    # VmHWM, not ru_maxrss: on Linux the latter starts from the parent's RSS at fork time
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    result["peak_mb"] = hwm / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    with open(out_path, "w") as f:
        json.dump(result, f, default=str)


if __name__ == "__main__":
    main()
