"""`churniq`: the argument tree and the entry point. Every pipeline step runs the same Dagster
job in-process (`pipelines.run`)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date

from .demo import DEMO_CUSTOMERS, DEMO_MONTHS, VIA_CORE_CUSTOMERS, VIA_CORE_MONTHS, cmd_demo
from .options import UserError, settings_from
from .pipeline_commands import (
    cmd_dagster,
    cmd_docs,
    cmd_ingest,
    cmd_prepare,
    cmd_run,
    cmd_schema,
    cmd_simulate,
)
from .serve_commands import cmd_app, cmd_users


def cmd_core(args: argparse.Namespace) -> int:
    from .core_commands import CoreNotReady

    try:
        return args.core_func(settings_from(args), args)
    except CoreNotReady as exc:
        raise UserError(str(exc)) from None


def cmd_quarantine(args: argparse.Namespace) -> int:
    from .quarantine_commands import QuarantineError, run_command

    try:
        return run_command(settings_from(args), args)
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

    s = sub.add_parser("import", help="import data from a provider or another system")
    imports = s.add_subparsers(dest="import_command", required=True)
    from .import_csv import add_parser as add_import_csv_parser
    from .import_stripe import add_parser as add_import_stripe_parser

    add_import_stripe_parser(imports)
    add_import_csv_parser(imports)

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
    from pipelines.run import RunError

    args = parser().parse_args(argv)
    umask = os.umask(PRIVATE_UMASK)  # everything this process (and its servers) creates
    try:
        return args.func(args)
    except (UserError, RunError, InputError) as exc:
        print(f"churniq: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        os.umask(umask)  # for callers in the same process (tests)


if __name__ == "__main__":
    sys.exit(main())
