"""`churniq demo`: a simulated business (through the core, or as files), one run, the servers."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from .options import UserError, settings_from
from .pipeline_commands import cmd_run
from .serve_commands import ensure_app_core_key, ensure_demo_user, serve_app

REPO = Path(__file__).resolve().parent.parent

DEMO_CUSTOMERS, DEMO_MONTHS = 30_000, 24
VIA_CORE_CUSTOMERS, VIA_CORE_MONTHS = 2_000, 12  # the core's service layer, a smaller business


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
    from ingestion.simulator.through_core import demo_window, simulate_via_core

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


def cmd_demo(args: argparse.Namespace) -> int:
    settings = settings_from(args)
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
