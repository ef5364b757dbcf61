"""`churniq import stripe`: a Stripe account's history (API backfill) or an export of Stripe
events into the landing folder, for `churniq run` to load."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

from .options import UserError, settings_from

NEXT_STEP = "run `churniq run` to load them and refresh the dashboards"


def _date(text: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def add_parser(import_subparsers: argparse._SubParsersAction) -> None:
    s = import_subparsers.add_parser(
        "stripe",
        help="a Stripe account's history through its API, or an export of Stripe events",
        description="Write the Stripe history as contract files into the landing folder; "
        "`churniq run` loads them. An interrupted import resumes where it stopped when run again.",
    )
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--api-key-env",
        metavar="VAR",
        help="the environment variable holding a Stripe secret or restricted (read-only) key: "
        "lists customers, prices, subscriptions, invoices, charges, refunds, disputes and the "
        "events of the last 30 days",
    )
    how.add_argument(
        "--events",
        type=Path,
        metavar="FILE.jsonl",
        help="a file of Stripe event objects, one JSON object a line",
    )
    s.add_argument(
        "--since",
        type=_date,
        metavar="YYYY-MM-DD",
        help="with --api-key-env: invoices, charges, refunds, disputes and events created from "
        "this day on (customers, prices and subscriptions are always listed whole)",
    )
    s.add_argument(
        "--api-base",
        metavar="URL",
        help="the Stripe API address (default https://api.stripe.com; e.g. a local stripe-mock)",
    )
    s.set_defaults(func=cmd_import_stripe)


def cmd_import_stripe(args: argparse.Namespace) -> int:
    from ingestion.sources.connector_files import StateFileError

    try:
        if args.events is not None:
            return _import_events_file(args)
        return _backfill(args)
    except StateFileError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        print("churniq: interrupted; run the same command again to resume", file=sys.stderr)
        raise


def _import_events_file(args: argparse.Namespace) -> int:
    from ingestion.sources.stripe_export import ExportFileError, import_events_file

    if args.since or args.api_base:
        raise UserError("--since and --api-base go with --api-key-env, not with --events")
    if not args.events.is_file():
        raise UserError(f"{args.events}: no such file")
    settings = settings_from(args)
    try:
        summary = import_events_file(settings.paths, args.events)
    except ExportFileError as exc:
        raise UserError(str(exc)) from None
    if summary.nothing_new:
        print(f"stripe events file: {args.events} was imported already; nothing new")
    else:
        print(f"{summary.line('stripe events file')}; {NEXT_STEP}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from ingestion.sources.stripe_api import StripeImportError, backfill

    api_key = os.environ.get(args.api_key_env, "").strip()
    if not api_key:
        raise UserError(
            f"the environment variable {args.api_key_env} is not set or empty "
            "(it should hold a Stripe secret key or a read-only restricted key)"
        )
    settings = settings_from(args)
    try:
        with _progress() as on_progress:
            summary = backfill(
                settings.paths,
                api_key,
                key_name=f"the key in ${args.api_key_env}",
                since=args.since,
                api_base=args.api_base,
                on_progress=on_progress,
            )
    except StripeImportError as exc:
        raise UserError(str(exc)) from None
    print(f"{summary.line('stripe backfill')}; {NEXT_STEP}")
    return 0


@contextmanager
def _progress() -> Iterator:
    """A live count of the objects fetched per resource on a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from ingestion.sources.stripe_api import TRANSLATING

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} objects"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        tasks: dict[str, int] = {}

        def on_progress(resource: str, fetched: int) -> None:
            if resource not in tasks:
                label = "translating" if resource == TRANSLATING else f"stripe {resource}"
                tasks[resource] = progress.add_task(label, total=None)
            progress.update(tasks[resource], completed=fetched)

        yield on_progress
