"""`churniq core ...`: run the operational core (migrate, keys, the API, the billing cycle).

The core's database is `CHURNIQ_CORE_DB_URL`, or SQLite at `<home>/core.db`. Every command
but `migrate` refuses to work on a database that is not at the newest migration, so a
forgotten upgrade is a one-line error, not a failing request later.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from core.readiness import CoreNotReady, redacted, require_current, unreachable
from foundation.settings import Settings


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from core.migrate import upgrade

    try:
        revision = upgrade(settings.core_url)
    except OperationalError as exc:
        raise unreachable(settings.core_url, exc) from None
    print(f"core database {redacted(settings.core_url)} at migration {revision}")
    return 0


def _core(settings: Settings):
    from core.unit import Core

    require_current(settings.core_url)
    return Core(settings.core_url)


def cmd_create_key(settings: Settings, args: argparse.Namespace) -> int:
    from core import keys

    core = _core(settings)
    try:
        with core.unit(actor="cli", role="admin") as u:
            row, secret = keys.create_key(u, args.role, args.name)
    finally:
        core.close()
    if args.for_app:
        from app.core_client import save_connection

        path = save_connection(settings.home, args.url, secret)
        print(
            f"api key {row.id} ({row.role}) created and saved for the dashboards in {path} "
            f"(core API at {args.url})"
        )
        return 0
    print(secret)
    print(
        f"api key {row.id} ({row.role}) created; it is shown only this once. "
        "Send it as `Authorization: Bearer <key>`.",
        file=sys.stderr,
    )
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from core.api.serve import STRIPE_SECRET_ENV, URL_ENV, serve

    _core(settings).close()
    secret = settings.stripe_webhook_secret
    stripe_secret = secret.get_secret_value() if secret is not None else None
    if args.workers > 1:  # each worker process finds the core through its environment
        os.environ[URL_ENV] = settings.core_url
        if stripe_secret is not None:  # from churniq.toml, perhaps
            os.environ[STRIPE_SECRET_ENV] = stripe_secret
    stripe = "on" if stripe_secret else "off: CHURNIQ_STRIPE_WEBHOOK_SECRET is not set"
    print(
        f"core API on {settings.local_url(args.port)} (OpenAPI at /openapi.json, docs at /docs; "
        f"Stripe webhooks at /webhooks/stripe {stripe}; Ctrl+C to stop)"
    )
    with contextlib.suppress(KeyboardInterrupt):
        serve(
            settings.core_url,
            args.port,
            host=settings.host,
            workers=args.workers,
            stripe_webhook_secret=stripe_secret,
        )
    return 0


def cmd_renew(settings: Settings, args: argparse.Namespace) -> int:
    from core.cycle import run_billing_cycle

    core = _core(settings)
    try:
        started = core.clock.now()
        outcomes = run_billing_cycle(core)
    finally:
        core.close()
    done = ", ".join(f"{n:,} {what}" for what, n in sorted(outcomes.items())) or "nothing due"
    print(f"billing cycle as of {started:%Y-%m-%d %H:%M:%S} UTC: {done}")
    return 0


def cmd_maintain(settings: Settings, args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.assets.maintenance import maintain_after_erasures

    require_current(settings.core_url)
    try:
        report = maintain_after_erasures(settings, always_core=True)
    except duckdb.IOException as exc:
        raise CoreNotReady(
            f"the warehouse is busy ({str(exc).splitlines()[0]}): run this again after the run"
        ) from None
    print(report.summary())
    return 0


DEFAULT_API_URL = "http://127.0.0.1:8000"

COMMANDS: dict[str, tuple[str, Callable[[Settings, argparse.Namespace], int]]] = {
    "migrate": ("create or upgrade the core database (Alembic)", cmd_migrate),
    "create-key": ("create an API key with a role; prints it once", cmd_create_key),
    "serve": ("serve the core's REST API", cmd_serve),
    "renew": ("run the billing cycle now: renewals, dunning retries, scheduled ends", cmd_renew),
    "maintain": (
        "carry erasures through (outbox, archives, warehouse) and compact the core database",
        cmd_maintain,
    ),
}


def add_parser(
    sub: argparse._SubParsersAction, positive: Callable[[str], int], host_help: str
) -> None:
    """The `core` command and its subcommands, on the CLI's subparsers."""
    from core.keys import ROLES

    core = sub.add_parser("core", help="the operational subscription core")
    verbs = core.add_subparsers(dest="core_command", required=True)
    for name, (help_text, func) in COMMANDS.items():
        p = verbs.add_parser(name, help=help_text)
        p.set_defaults(core_func=func)
        if name == "create-key":
            p.add_argument("--role", required=True, choices=ROLES)
            p.add_argument("--name", help="who or what the key is for")
            p.add_argument(
                "--for-app",
                action="store_true",
                help="save the key for the dashboards (<home>/core_api.json, owner-only) "
                "instead of printing it: campaigns are launched with it",
            )
            p.add_argument(
                "--url", default=DEFAULT_API_URL, help="where the dashboards reach the core API"
            )
        if name == "serve":
            p.add_argument("--port", type=positive, default=8000)
            p.add_argument("--host", help=host_help)
            p.add_argument("--workers", type=positive, default=1)
