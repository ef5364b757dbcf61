"""The pipeline's commands: simulate, ingest, run, the Dagster UI, the dbt docs, the contract's schema."""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from pipelines.run import (
    DUCKDB_LOCK,
    dagster_instance_home,
    run_pipeline,
    warehouse_held,
    warehouse_lock,
)

from .options import UserError, settings_from

REPO = Path(__file__).resolve().parent.parent


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

    from ingestion.loader import ingest
    from ingestion.loader.warehouse import open_warehouse

    settings = settings_from(args)
    paths = [Path(p) for p in args.paths] or [settings.paths.landing]
    started = time.perf_counter()
    with warehouse_lock(settings):
        try:
            con = open_warehouse(settings)
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


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
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


def cmd_dagster(args: argparse.Namespace) -> int:
    from pipelines.dbt_project import prepare_manifest

    settings = settings_from(args)
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

    from pipelines.dbt_project import (
        DBT_PROJECT_DIR,
        dbt_vars,
        prepare_manifest,
        profile_environment,
    )

    settings = settings_from(args)
    if not settings.paths.warehouse.exists():
        raise UserError(f"no warehouse at {settings.paths.warehouse}: run `churniq run` first")
    prepare_manifest()
    target = settings.paths.dbt_docs.resolve()
    env = os.environ | profile_environment(settings)
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
    from pipelines.dbt_project import prepare_manifest

    print(f"dbt manifest ready: {prepare_manifest(force=args.force)}")
    return 0
