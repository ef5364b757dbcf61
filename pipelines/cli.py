"""`churniq`: the command line. Every pipeline step runs the same Dagster job in-process."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from pydantic import ValidationError

REPO = Path(__file__).resolve().parent.parent
DEMO_CUSTOMERS, DEMO_MONTHS = 30_000, 24
VIA_CORE_CUSTOMERS, VIA_CORE_MONTHS = 2_000, 12  # the core's service layer, a smaller business


class UserError(Exception):
    """Reported as one line on stderr with exit code 2."""


def _settings(args: argparse.Namespace):
    """The settings, with the command line's `--home` and `--host` over the environment's; the
    home is created (or made) owner-only."""
    from foundation.home import make_private
    from foundation.settings import get_settings

    given = {k: getattr(args, k, None) for k in ("home", "host")}
    try:
        settings = get_settings(**{k: v for k, v in given.items() if v})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    make_private(settings.home)
    return settings


ANOTHER_RUN = "another run is writing the warehouse"
DUCKDB_LOCK = "Could not set lock on file"


@contextlib.contextmanager
def warehouse_lock(settings) -> Iterator[None]:
    """Be the only churniq process writing the warehouse, or fail at once with one line (DuckDB
    admits one writer process; a second would die on its lock halfway through a run)."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(settings.paths.run_lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise UserError(
                f"{ANOTHER_RUN} {settings.paths.warehouse} (pid {holder}): wait until it finishes"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def warehouse_held(settings, reason: str) -> UserError:
    """One line for DuckDB's own lock error: a process outside the CLI (the Dagster UI, a
    notebook) has the warehouse open."""
    holder = reason.split("(PID ")[-1].split(")")[0] if "(PID " in reason else "unknown"
    return UserError(
        f"another process holds the warehouse {settings.paths.warehouse} (pid {holder}): "
        "close it or wait until it finishes"
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from ingestion.simulator import simulate

    out = Path(args.out)
    summary = simulate(
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        events_dir=out / "events",
        truth_dir=out / "ground_truth",
        fmt=args.format,
        start=args.start,
    )
    print(
        f"simulated {summary.customers:,} customers, {summary.events:,} events "
        f"in {summary.elapsed_seconds:.1f}s → {out / 'events'} (ground truth: {out / 'ground_truth'})"
    )
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    import duckdb

    from ingestion.loader import connect, ingest

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.paths.landing]
    started = time.perf_counter()
    with warehouse_lock(settings):
        try:
            con = connect(
                settings.paths.warehouse, settings.duckdb_memory_limit, settings.duckdb_threads
            )
        except duckdb.IOException as exc:
            if DUCKDB_LOCK not in str(exc):
                raise
            raise warehouse_held(settings, str(exc)) from None
        try:
            report = ingest(
                con,
                paths,
                clock_skew=timedelta(minutes=settings.clock_skew_minutes),
                limits=settings.ingest_limits(),
            )
        finally:
            con.close()
    elapsed = time.perf_counter() - started
    for f in report.files:
        print(f"  {f.path}: {f.state()}")
    rate = report.lines / elapsed if elapsed else 0
    print(f"{report.summary()} in {elapsed:.1f}s ({rate:,.0f} lines/s)")
    for f in report.errors:  # the others were loaded all the same
        print(f"churniq: error: {f.detail}", file=sys.stderr)
    return 2 if report.errors else 0


def dagster_instance_home(settings) -> Path:
    """`<home>/dagster`, with a dagster.yaml that turns Dagster's telemetry off (this machine,
    like many deployments, has no route out, and the notice cluttered every run)."""
    dagster_home = settings.paths.dagster.resolve()
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if not config.exists() or not config.read_text().strip():
        config.write_text("telemetry:\n  enabled: false\n")
    return dagster_home


def run_pipeline(settings, models: bool = True) -> dict:
    """Run the whole Dagster job in-process on `settings.home`; returns the step metadata.
    `models=False` leaves out the `ml/*` assets (training, scoring, curves): for runs that only
    need the marts, such as tests comparing them."""
    with warehouse_lock(settings):
        return _run_job(settings, models)


def _run_job(settings, models: bool) -> dict:
    import dagster as dg

    from .dbt_project import prepare_manifest

    prepare_manifest()
    from .definitions import build_definitions

    os.environ["DAGSTER_HOME"] = str(dagster_instance_home(settings))
    defs = build_definitions(home=str(settings.home.resolve()), full_refresh=settings.full_refresh)
    selection = None
    if not models:
        keys = defs.resolve_asset_graph().get_all_asset_keys()
        selection = [k for k in keys if k.path[0] != "ml"]
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("churniq").execute_in_process(
            instance=instance,
            asset_selection=selection,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    if not result.success:
        failed = [e for e in result.all_events if e.is_step_failure]
        why = failed[0].event_specific_data.error.message.strip() if failed else "unknown error"
        locked = next((e for e in failed if DUCKDB_LOCK in _error_text(e)), None)
        if locked is not None:
            raise warehouse_held(settings, _error_text(locked))
        raise UserError(f"pipeline failed: {why.splitlines()[0]}")
    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        meta[mat.asset_key.to_user_string()] = {k: v.value for k, v in mat.metadata.items()}
    checks = {
        e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    meta["checks"] = checks
    return meta


def _error_text(step_failure) -> str:
    """A failed step's error with its causes (DuckDB's lock error is a cause of Dagster's)."""
    error, parts = step_failure.event_specific_data.error, []
    while error is not None:
        parts.append(error.message)
        error = error.cause
    return "\n".join(parts)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if getattr(args, "full_refresh", False):  # `churniq demo` runs this too
        settings = settings.model_copy(update={"full_refresh": True})
    started = time.perf_counter()
    meta = run_pipeline(settings)
    raw = meta.get("raw/events", {})
    snap = meta.get("serving_snapshot", {})
    failed = [name for name, ok in meta["checks"].items() if not ok]
    print(
        f"run finished in {time.perf_counter() - started:.1f}s: "
        f"{raw.get('loaded', 0):,} events loaded, {raw.get('duplicates', 0):,} duplicate, "
        f"{raw.get('quarantined', 0):,} quarantined"
        + "".join(f" ({name} quarantined whole)" for name in raw.get("files_quarantined", []))
        + "".join(f" ({name} not read)" for name in raw.get("files_not_read", []))
        + f"; snapshot {snap.get('version')} published; "
        f"{len(meta['checks']) - len(failed)}/{len(meta['checks'])} checks passed"
        + (f" (failed: {', '.join(failed)})" if failed else "")
    )
    return 0


def serve_app(settings, port: int, core_port: int | None = None) -> int:
    """Serve the dashboards on `settings.host`; with `core_port`, the core API beside them on
    the same address (the demo), stopped with them."""
    from app.serve import streamlit_command

    env = os.environ | {"CHURNIQ_HOME": str(settings.home.resolve())}
    core = None
    if core_port is not None:
        churniq = Path(sys.executable).with_name("churniq")
        core = subprocess.Popen(
            [
                str(churniq), "--home", str(settings.home), "core", "serve",
                "--port", str(core_port), "--host", settings.host,
            ],
            env=env,
        )  # fmt: skip
    cmd = streamlit_command(port, settings.host)
    print(f"dashboards on {settings.local_url(port)} (Ctrl+C to stop)")
    # A service manager stops us with SIGTERM: end through `finally`, taking the servers along
    # (by default SIGTERM ends Python at once and left the dashboards and the API running).
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    app = subprocess.Popen(cmd, env=env)
    try:
        return app.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for server in (app, core):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
        signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_app(args: argparse.Namespace) -> int:
    return serve_app(_settings(args), args.port)


def _simulate_into_landing(args: argparse.Namespace, settings) -> str:
    from ingestion.simulator import simulate

    summary = simulate(
        customers=args.customers,
        months=args.months,
        seed=args.seed,
        events_dir=settings.paths.landing,
        truth_dir=settings.paths.ground_truth,
        fmt="parquet",
    )
    return (
        f"simulated {summary.customers:,} customers × {args.months} months: "
        f"{summary.events:,} events in {summary.elapsed_seconds:.1f}s"
    )


def _simulate_through_core(args: argparse.Namespace, settings) -> str:
    """The simulator drives the core's service layer in-process; its outbox is the source."""
    from core.clock import FixedClock
    from core.migrate import upgrade
    from core.unit import Core

    from .core_demo import demo_window, simulate_via_core

    start, end = demo_window(args.months)
    upgrade(settings.core_url)
    core = Core(settings.core_url, clock=FixedClock(start))
    try:
        if _holds_a_business(core):  # a second `make demo`: keep it, run and serve again
            return (
                f"the core at {settings.core_url} already holds a business: the demo keeps it "
                "(a new one needs a new --home)"
            )
        summary = simulate_via_core(
            core, customers=args.customers, months=args.months, seed=args.seed, end=end
        )
    except ValueError as exc:  # e.g. the core already holds a business
        raise UserError(str(exc)) from None
    finally:
        core.close()
    return f"{summary}\n(through the core at {settings.core_url})"


def _holds_a_business(core) -> bool:
    from sqlalchemy import func, select

    from core.schema import Offer

    with core.unit() as u:
        return bool(u.session.scalar(select(func.count()).select_from(Offer)))


def ensure_app_core_key(settings, core_port: int) -> str:
    """The dashboards' retention key for the demo's core (created once, kept in the home)."""
    from app.core_client import connection_path, save_connection
    from core import keys
    from core.unit import Core

    path = connection_path(settings.home)
    if path.exists():
        return f"the dashboards reach the core API with the key in {path}"
    core = Core(settings.core_url)
    try:
        with core.unit(actor="cli", role="admin") as u:
            row, secret = keys.create_key(u, "retention", "dashboards (demo)")
    finally:
        core.close()
    save_connection(settings.home, settings.local_url(core_port), secret)
    return f"core API key {row.id} (retention) saved for the dashboards in {path}"


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    started = time.perf_counter()
    args.via_core = not args.from_files
    if args.customers is None:
        args.customers = VIA_CORE_CUSTOMERS if args.via_core else DEMO_CUSTOMERS
    if args.months is None:
        args.months = VIA_CORE_MONTHS if args.via_core else DEMO_MONTHS
    simulated = (_simulate_through_core if args.via_core else _simulate_into_landing)(
        args, settings
    )
    print(simulated)
    cmd_run(args)
    print(f"demo pipeline finished in {time.perf_counter() - started:.1f}s")
    print(ensure_demo_user(settings))
    if args.via_core:
        print(ensure_app_core_key(settings, args.core_port))
    if args.no_serve:
        return 0
    return serve_app(settings, args.port, core_port=args.core_port if args.via_core else None)


def cmd_users(args: argparse.Namespace) -> int:
    from app import users

    settings = _settings(args)
    try:
        if args.users_command == "list":
            found = users.load_users(settings.home)
            for user in found.values():
                print(f"{user.name}\t{user.role}")
            if not found:
                print(f"no users yet: `churniq users add NAME --role {users.ROLES[-1]}`")
            return 0
        if args.users_command == "remove":
            if not users.remove_user(settings.home, args.name):
                raise UserError(f"no user {args.name}")
            print(f"removed {args.name}")
            return 0
        if args.oidc:
            user = users.save_oidc_user(settings.home, args.name, args.role)
            print(f"user {user.name} ({user.role}, single sign-on) saved")
            return 0
        if args.password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        elif args.generate:
            password = users.new_password()
        else:
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
        user = users.save_user(settings.home, args.name, password, args.role)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    print(f"user {user.name} ({user.role}) saved in {users.users_path(settings.home)}")
    if args.generate:
        print(f"password: {password}")
    return 0


def ensure_demo_user(settings) -> str:
    """The demo's sign-in: user `demo` (admin), with a new password printed once."""
    from app import users

    if "demo" in users.load_users(settings.home):
        return (
            "sign in as demo with the password printed when it was created "
            "(new one: `churniq users add demo --role admin --generate`)"
        )
    password = users.new_password()
    users.save_user(settings.home, "demo", password, "admin")
    return f"sign in as demo with password {password}"


def cmd_dagster(args: argparse.Namespace) -> int:
    from .dbt_project import prepare_manifest

    settings = _settings(args)
    prepare_manifest()
    dagster_home = dagster_instance_home(settings)
    env = os.environ | {
        "DAGSTER_HOME": str(dagster_home),
        "CHURNIQ_HOME": str(settings.home.resolve()),
    }
    dagster = Path(sys.executable).with_name("dagster")
    cmd = [str(dagster), "dev", "-m", "pipelines.dagster_entry", "-p", str(args.port)]
    try:
        return subprocess.call(cmd, env=env, cwd=REPO)
    except KeyboardInterrupt:
        return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """Generate the dbt docs (models, columns with METRICS.md definitions, lineage) and serve them."""
    import http.server
    import socketserver
    from functools import partial

    from .dbt_project import DBT_PROJECT_DIR, dbt_vars, prepare_manifest

    settings = _settings(args)
    if not settings.paths.warehouse.exists():
        raise UserError(f"no warehouse at {settings.paths.warehouse}: run `churniq run` first")
    prepare_manifest()
    target = settings.paths.dbt_docs.resolve()
    env = os.environ | {
        "CHURNIQ_WAREHOUSE": str(settings.paths.warehouse.resolve()),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    as_of = settings.as_of.isoformat() if settings.as_of else None
    dbt = Path(sys.executable).with_name("dbt")
    with warehouse_lock(settings):  # dbt opens the warehouse: not while a run writes it
        result = subprocess.run(
            [
                str(dbt), "docs", "generate", "--static", "--quiet",
                "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                "--target-path", str(target),
                "--vars", dbt_vars(settings.reporting_currency, as_of),
            ],
            cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True,
        )  # fmt: skip
    if result.returncode != 0:
        why = (result.stdout + result.stderr).strip().splitlines()
        raise UserError(f"dbt docs generate failed: {why[-1] if why else 'unknown error'}")
    page = target / "static_index.html"
    print(f"dbt docs written to {page}")
    if args.no_serve:
        return 0
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(target))
    with socketserver.TCPServer(("127.0.0.1", args.port), handler) as httpd:
        print(f"dbt docs on http://localhost:{args.port}/static_index.html (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt):
            httpd.serve_forever()
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from foundation.contract import SCHEMA_PATH, write_json_schema

    path = write_json_schema(Path(args.out) if args.out else SCHEMA_PATH)
    print(f"wrote {path}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    from .dbt_project import prepare_manifest

    print(f"dbt manifest ready: {prepare_manifest(force=args.force)}")
    return 0


def cmd_core(args: argparse.Namespace) -> int:
    from .core_commands import CoreNotReady

    try:
        return args.core_func(_settings(args), args)
    except CoreNotReady as exc:
        raise UserError(str(exc)) from None


def cmd_quarantine(args: argparse.Namespace) -> int:
    from .quarantine_commands import QuarantineError, run_command

    try:
        return run_command(_settings(args), args)
    except QuarantineError as exc:
        raise UserError(str(exc)) from None


def _positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


HOST_HELP = (
    "the address to listen on, for the dashboards and the core API alike (default "
    "$CHURNIQ_HOST or 127.0.0.1: this machine only; 0.0.0.0: every interface)"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="churniq", description="Subscriber retention analytics.")
    p.add_argument("--home", help="data folder (default $CHURNIQ_HOME or ./.churniq)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="simulate a streaming business as contract files")
    s.add_argument("--customers", type=_positive, default=10_000)
    s.add_argument("--months", type=_positive, default=24)
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--out", required=True, help="folder; events/ and ground_truth/ go inside")
    s.add_argument("--format", choices=["parquet", "ndjson"], default="parquet")
    s.add_argument("--start", type=date.fromisoformat, default=date(2024, 11, 1))
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("ingest", help="load contract files (NDJSON, Parquet, CSV) into raw.events")
    s.add_argument("paths", nargs="*", help="files or folders (default: the landing folder)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("run", help="run the pipeline: landing → raw → marts → snapshot")
    s.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every incremental model from all raw events (after upgrading churniq)",
    )
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("app", help="serve the dashboards")
    s.add_argument("--port", type=_positive, default=8501)
    s.add_argument("--host", help=HOST_HELP)
    s.set_defaults(func=cmd_app)

    s = sub.add_parser(
        "demo", help="simulate a business in the core, run the pipeline, serve core and dashboards"
    )
    s.add_argument(
        "--customers",
        type=_positive,
        help=f"default {VIA_CORE_CUSTOMERS:,}, or {DEMO_CUSTOMERS:,} with --from-files",
    )
    s.add_argument(
        "--months",
        type=_positive,
        help=f"default {VIA_CORE_MONTHS}, or {DEMO_MONTHS} with --from-files",
    )
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--port", type=_positive, default=8501)
    s.add_argument("--no-serve", action="store_true", help="stop after publishing")
    s.add_argument(
        "--core-port", type=_positive, default=8000, help="where the demo serves the core API"
    )
    s.add_argument("--host", help=HOST_HELP)
    source = s.add_mutually_exclusive_group()
    source.add_argument(
        "--via-core",
        action="store_true",
        help="(the default) the simulator drives the core's service layer; every event comes "
        "from its outbox, and the dashboards launch campaigns into that core",
    )
    source.add_argument(
        "--from-files",
        action="store_true",
        help="a larger business simulated straight into event files (no core: campaigns "
        "cannot be launched)",
    )
    s.set_defaults(func=cmd_demo)

    from app.users import ROLES as USER_ROLES

    from .core_commands import add_parser as add_core_parser

    add_core_parser(sub, _positive, HOST_HELP)
    sub.choices["core"].set_defaults(func=cmd_core)

    from .quarantine_commands import add_parser as add_quarantine_parser

    add_quarantine_parser(sub)
    sub.choices["quarantine"].set_defaults(func=cmd_quarantine)

    s = sub.add_parser("users", help="the dashboards' users (names, roles, hashed passwords)")
    verbs = s.add_subparsers(dest="users_command", required=True)
    v = verbs.add_parser("add", help="create a user or replace their password and role")
    v.add_argument("name")
    v.add_argument("--role", required=True, choices=USER_ROLES)
    how = v.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    how.add_argument("--generate", action="store_true", help="generate a password and print it")
    how.add_argument(
        "--oidc",
        action="store_true",
        help="NAME is an e-mail that signs in through OpenID Connect (no password)",
    )
    v = verbs.add_parser("remove", help="remove a user")
    v.add_argument("name")
    verbs.add_parser("list", help="the users and their roles")
    s.set_defaults(func=cmd_users)

    s = sub.add_parser("dagster", help="start the Dagster UI on the same definitions")
    s.add_argument("--port", type=_positive, default=3000)
    s.set_defaults(func=cmd_dagster)

    s = sub.add_parser("docs", help="generate and serve the dbt docs (metric definitions, lineage)")
    s.add_argument("--port", type=_positive, default=8080)
    s.add_argument("--no-serve", action="store_true", help="only write the docs")
    s.set_defaults(func=cmd_docs)

    s = sub.add_parser("schema", help="write the contract's JSON Schema file")
    s.add_argument("--out", help="path (default: foundation/contract/contract-v1.schema.json)")
    s.set_defaults(func=cmd_schema)

    s = sub.add_parser("prepare", help="prepare the dbt manifest (build time)")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_prepare)
    return p


def main(argv: list[str] | None = None) -> int:
    from foundation.home import PRIVATE_UMASK
    from ingestion.loader import InputError

    args = parser().parse_args(argv)
    umask = os.umask(PRIVATE_UMASK)  # everything this process (and its servers) creates
    try:
        return args.func(args)
    except (UserError, InputError) as exc:
        print(f"churniq: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)  # for callers in the same process (tests)


if __name__ == "__main__":
    sys.exit(main())
