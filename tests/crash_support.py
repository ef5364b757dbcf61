"""Kill -9 at random points, for the crash-recovery test and its soak benchmark.

A landing set (a simulated business split into files, with bad lines, duplicates, a conflicting
duplicate, a byte-identical copy of a file and a core outbox carrying the rest of the business)
whose expected ledger is computed here, line by line with the contract's own pydantic validator
(not the loader's SQL); processes started in their own session and killed with SIGKILL; and the
checks that a warehouse left by a kill holds whole batches only, and that the marts an
incremental recovery builds equal a full refresh of the same data.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import orjson

from foundation.contract.validate import validate_line
from ingestion.loader import connect
from ingestion.sources.core_outbox import SOURCE as OUTBOX_SOURCE
from pipelines.dbt_project import dbt_vars
from tests.dbt_support import copy_project, failures, run_dbt
from tests.pipeline_support import simulated_lines

REPO = Path(__file__).resolve().parents[1]
CHURNIQ = Path(sys.executable).with_name("churniq")
COMPARED_SCHEMAS = ("intermediate", "marts")


@dataclass
class Counts:
    lines: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0


@dataclass
class Expected:
    """What loading the landing set and the outbox must give, whatever was killed when."""

    files: dict[str, Counts]  # landing file name → its ledger row (files skipped as copies: none)
    copies: list[str]  # files byte-identical to an earlier one (skipped, archived)
    outbox: Counts
    event_ids: set[str] = field(default_factory=set)

    @property
    def order(self) -> list[str]:
        return list(self.files)


def _judge(sources: list[tuple[str, list[str]]]) -> tuple[dict[str, Counts], set[str]]:
    """Each source's counts if loaded in this order: the first valid line of an event_id is
    loaded, a later identical one is a duplicate, a later different one is quarantined."""
    seen: dict[str, dict] = {}
    out: dict[str, Counts] = {}
    for name, lines in sources:
        c = out[name] = Counts(lines=len(lines))
        for text in lines:
            if not validate_line(text).ok:
                c.quarantined += 1
                continue
            event = orjson.loads(text)
            first = seen.setdefault(event["event_id"], event)
            if first is event:
                c.loaded += 1
            elif first == event:
                c.duplicates += 1
            else:
                c.quarantined += 1
    return out, set(seen)


def _write(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.name.endswith(".gz") else data)


def build_landing(home: Path, customers: int, months: int, seed: int, files: int = 6) -> Expected:
    """Simulate a business into `home/landing` as `files` NDJSON files (every other one
    gzipped) plus faults, and its last sixth into the outbox of the core at `home/core.db`."""
    scratch = home / "simulated"
    lines = simulated_lines(scratch, customers, months, seed)
    shutil.rmtree(scratch)
    rng = random.Random(seed)
    cut = len(lines) * 5 // 6
    landing_lines, outbox_lines = lines[:cut], lines[cut:]
    size = -(-len(landing_lines) // files)
    chunks = [landing_lines[i : i + size] for i in range(0, len(landing_lines), size)]
    # faults, each in a different file: a torn line, an unknown event type, an exact repeat of
    # an earlier file's line, and an earlier event_id with a different body
    repeated, outbox_repeated = rng.choice(chunks[0]), rng.choice(chunks[2])
    conflicting = orjson.loads(rng.choice(chunks[1])) | {"source": "a-different-producer"}
    unknown = orjson.loads(chunks[2][0]) | {"event_id": "unknown-type", "event_type": "x.y"}
    chunks[1].insert(rng.randrange(len(chunks[1])), '{"event_id": "torn", "event_type": ')
    chunks[2].insert(rng.randrange(len(chunks[2])), json.dumps(unknown))
    chunks[3].insert(rng.randrange(len(chunks[3])), repeated)
    chunks[-1].insert(rng.randrange(len(chunks[-1])), json.dumps(conflicting))
    landing = home / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    names = [f"part-{i:02d}.ndjson" + (".gz" if i % 2 else "") for i in range(len(chunks))]
    for name, chunk in zip(names, chunks, strict=True):
        _write(landing / name, chunk)
    copy = f"part-{len(chunks):02d}-copy.ndjson"
    shutil.copyfile(landing / names[0], landing / copy)
    outbox_lines.insert(len(outbox_lines) // 2, outbox_repeated)  # a duplicate
    outbox_lines.insert(len(outbox_lines) // 3, '{"event_id": "torn-envelope"')
    write_outbox(f"sqlite:///{home / 'core.db'}", outbox_lines)
    judged, ids = _judge([*zip(names, chunks, strict=True), ("outbox", outbox_lines)])
    outbox = judged.pop("outbox")
    return Expected(judged, [copy], outbox, ids)


def write_outbox(url: str, envelopes: list[str]) -> None:
    """The core's outbox holding `envelopes`, committed in a few transactions."""
    import sqlalchemy as sa

    from foundation.contract.outbox import outbox_table

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    table = outbox_table(sa.MetaData())
    try:
        with engine.begin() as conn:
            table.create(conn)
        for i in range(0, len(envelopes), 100):
            with engine.begin() as conn:
                for text in envelopes[i : i + 100]:
                    try:
                        event = json.loads(text)
                    except ValueError:
                        event = {"event_id": f"unparsable-{i}"}
                    conn.execute(
                        table.insert().values(
                            event_id=event["event_id"],
                            event_type=str(event.get("event_type", "unknown")),
                            customer_id=event.get("customer_id"),
                            occurred_at=sa.func.current_timestamp(),
                            envelope=text,
                            created_at=sa.func.current_timestamp(),
                        )
                    )
    finally:
        engine.dispose()


# --- processes ------------------------------------------------------------------------------


def start(home: Path, *args: str) -> subprocess.Popen:
    """`churniq --home HOME ARGS` in a session of its own (so that what it leaves behind
    can be found), with the core at `home/core.db`."""
    env = os.environ | {"CHURNIQ_CORE_DB_URL": f"sqlite:///{home / 'core.db'}"}
    env.pop("CHURNIQ_FULL_REFRESH", None)
    return subprocess.Popen(
        [str(CHURNIQ), "--home", str(home), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the living (not zombie) processes of session `sid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            found.append((int(entry.name), cmdline))
    return found


def in_dbt_build(proc: subprocess.Popen, warehouse: Path) -> bool:
    """Whether `proc` (a `churniq run`) has a dbt build running that has opened the warehouse
    (it has parsed the project and is building models)."""
    return any(
        " build " in cmd and "dbt" in cmd and has_open(pid, warehouse)
        for pid, cmd in session_processes(proc.pid)
    )


def has_open(pid: int, path: Path) -> bool:
    """Whether process `pid` holds `path` open."""
    target = str(path.resolve())
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(fd) == target:
                return True
        except OSError:
            continue
    return False


def wait_until(proc: subprocess.Popen, ready, timeout: float = 300) -> bool:
    """Poll `ready()` until true (True), or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            return False
        if time.monotonic() > deadline:
            raise AssertionError(f"{proc.args} never reached the kill point in {timeout}s")
        time.sleep(0.02)
    return True


def kill_9(proc: subprocess.Popen) -> bool:
    """SIGKILL the process itself (not its children, as `kill -9 PID` does); whether it was
    still running."""
    alive = proc.poll() is None
    if alive:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    return alive


def survivors(proc: subprocess.Popen, grace: float = 5.0) -> list[tuple[int, str]]:
    """The processes `proc` started that are still running `grace` seconds after it died."""
    deadline = time.monotonic() + grace
    while (left := session_processes(proc.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def kill_at(proc: subprocess.Popen, ready, delay: float, timeout: float = 300) -> bool:
    """Kill -9 `proc` `delay` s after `ready()` (at once if it ended first); whether it was
    still running. Nothing it started may outlive it."""
    try:
        if wait_until(proc, ready, timeout):
            deadline = time.monotonic() + delay
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
        hit = kill_9(proc)
        left = survivors(proc)
        assert not left, f"still running after kill -9 of {proc.args[3:]}: {left}"
        return hit
    finally:
        reap(proc)


def reap(proc: subprocess.Popen) -> None:
    """Kill whatever of `proc`'s session is left (clean-up after a failed assertion)."""
    for pid, _ in session_processes(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --- checks ---------------------------------------------------------------------------------


def _ledger(con) -> list[tuple]:
    return con.execute(
        """select regexp_extract(source_file, '[^/]+$'), lines, loaded, duplicates, quarantined,
                  batch_id, file_sha256
           from raw.load_ledger order by started_at, batch_id"""
    ).fetchall()


def assert_whole_batches(warehouse: Path, expected: Expected) -> int:
    """The warehouse opens read-write (no lock left, its WAL replays) and holds whole batches:
    the landing files loaded so far are the first ones in name order, each ledgered once with
    the expected counts, and `raw.events` / `raw.quarantine` hold exactly what the ledger
    says. Returns how many landing files are loaded."""
    if not warehouse.exists():
        return 0
    con = connect(warehouse)
    try:
        ledger = _ledger(con)
        for name, lines, loaded, dup, bad, *_ in ledger:
            assert lines == loaded + dup + bad, f"{name}: ledger does not reconcile"
        files = [row for row in ledger if row[0] != OUTBOX_SOURCE]
        names = [row[0] for row in files]
        assert names == expected.order[: len(names)], f"files ledgered out of order: {names}"
        for name, *counts, _, _ in files:
            want = expected.files[name]
            wanted = (want.lines, want.loaded, want.duplicates, want.quarantined)
            assert tuple(counts) == wanted, f"{name}: ledger {counts}, expected {wanted}"
        outbox = [row for row in ledger if row[0] == OUTBOX_SOURCE]
        if outbox:
            assert len(names) == len(expected.files), "the outbox was pulled before the files"
        events, distinct, orphans = con.execute(
            """select count(*), count(distinct event_id),
                      count(*) filter (where batch_id not in
                                       (select batch_id from raw.load_ledger))
               from raw.events"""
        ).fetchall()[0]
        assert events == distinct, "an event_id is in raw.events twice"
        assert orphans == 0, "events of a batch without a ledger row"
        assert events == sum(row[2] for row in ledger)
        quarantined = con.execute("select count(*) from raw.quarantine").fetchall()[0][0]
        assert quarantined == sum(row[4] for row in ledger)
        return len(names)
    finally:
        con.close()


def assert_reconciled(home: Path, expected: Expected) -> None:
    """After recovery: every landing line is accounted for exactly once, in the ledger and in
    `raw.events` (the independently computed distinct good events), landing is empty and
    every file archived once, the outbox fully read, no temporary snapshot left."""
    warehouse = home / "warehouse.duckdb"
    assert assert_whole_batches(warehouse, expected) == len(expected.files)
    con = connect(warehouse)
    try:
        ledger = _ledger(con)
        outbox = [row for row in ledger if row[0] == OUTBOX_SOURCE]
        got = Counts(*(sum(row[i] for row in outbox) for i in range(1, 5)))
        assert got == expected.outbox, f"outbox: {got} != {expected.outbox}"
        assert len({row[6] for row in ledger if row[0] != OUTBOX_SOURCE}) == len(expected.files)
        ids = {r[0] for r in con.execute("select event_id from raw.events").fetchall()}
        assert ids == expected.event_ids
    finally:
        con.close()
    leftovers = sorted(p.name for p in home.glob(".serving-*"))
    assert leftovers == [], f"temporary snapshots left behind: {leftovers}"
    landing = home / "landing"
    assert sorted(p.name for p in landing.iterdir() if p.is_file()) == []
    archived = sorted(p.name for p in (landing / "archive").glob("*/*"))
    assert archived == sorted([*expected.files, *expected.copies])


def copy_database(source: Path, target: Path) -> None:
    """A closed DuckDB database file and its write-ahead log, if any."""
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + ".wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + ".wal"))


def full_refresh_differences(home: Path, scratch: Path) -> dict[str, tuple[int, int]]:
    """Rebuild a copy of the home's warehouse with `dbt run --full-refresh` and compare every
    table of the compared schemas, and every published mart, with it (EXCEPT ALL both ways):
    {table: (rows only in the incremental build, rows only in the full refresh)} for the
    tables that differ, or a missing table as (-1, -1)."""
    full = scratch / "full-refresh.duckdb"
    copy_database(home / "warehouse.duckdb", full)
    project = copy_project(scratch)
    result = run_dbt(
        ["run", "--quiet", "--full-refresh", "--vars", dbt_vars("EUR", None)],
        project,
        {"CHURNIQ_WAREHOUSE": str(full)},
    )
    assert not failures(result), failures(result)
    return differences(
        {"inc": home / "warehouse.duckdb", "pub": home / "serving.duckdb"},
        full,
        {"inc": COMPARED_SCHEMAS, "pub": ("marts",)},
    )


def differences(
    databases: dict[str, Path], reference: Path, schemas: dict[str, tuple[str, ...]]
) -> dict[str, tuple[int, int]]:
    """Every table of `schemas[name]` in each of `databases` against the same table of
    `reference` (EXCEPT ALL both ways): {table: (rows only there, rows only in the reference)}
    for the tables that differ, a table missing on either side as (-1, -1)."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{reference}' as ref (read_only)")
        diffs = {}
        for catalog, path in databases.items():
            con.execute(f"attach '{path}' as {catalog} (read_only)")
            want = _tables(con, "ref", schemas[catalog])
            got = _tables(con, catalog, schemas[catalog])
            for table in sorted(want | got):
                if table not in want or table not in got:
                    diffs[f"{catalog}.{table}"] = (-1, -1)
                    continue
                a, b = f"{catalog}.{table}", f"ref.{table}"
                only_a = _count(con, f"select * from {a} except all select * from {b}")
                only_b = _count(con, f"select * from {b} except all select * from {a}")
                if only_a or only_b:
                    diffs[a] = (only_a, only_b)
        return diffs
    finally:
        con.close()


def _tables(con, catalog: str, schemas: tuple[str, ...]) -> set[str]:
    rows = con.execute(
        f"""select table_schema || '.' || table_name from information_schema.tables
            where table_catalog = ? and table_type = 'BASE TABLE'
              and table_schema in ({", ".join("?" for _ in schemas)})""",
        [catalog, *schemas],
    ).fetchall()
    return {r[0] for r in rows}


def _count(con, query: str) -> int:
    return con.execute(f"select count(*) from ({query})").fetchall()[0][0]
