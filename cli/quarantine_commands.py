"""`churniq quarantine list|replay`: the quarantined lines of the warehouse, by reason, and their
replay once the contract or the loader has been fixed (`ingestion.loader.replay`).

Both open the warehouse, so they wait for no one: while a pipeline run holds it, they stop with a
one-line error. `replay` is audited in `ops.replay_requests` like the requests the Data health
page files (requested by `cli:<login>`); `list` also shows those pending requests.
"""

from __future__ import annotations

import argparse
import getpass
import uuid
from datetime import UTC, datetime, timedelta

import duckdb

from foundation.settings import Settings


class QuarantineError(Exception):
    """A user mistake or a busy/missing warehouse (reported as one line, exit code 2)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser(
        "quarantine", help="quarantined lines: list them by reason, replay them after a fix"
    )
    verbs = s.add_subparsers(dest="quarantine_command", required=True)
    v = verbs.add_parser("list", help="open quarantined lines by reason, pending replay requests")
    v.add_argument("--reason", action="append", metavar="CODE", help="only this reason code")
    v = verbs.add_parser(
        "replay",
        help="re-validate open quarantined lines with today's contract; load those that pass",
    )
    v.add_argument(
        "--reason", action="append", metavar="CODE", help="only this reason code (repeatable)"
    )
    v.add_argument("--batch", action="append", metavar="BATCH_ID", help="only this batch")


def _open(settings: Settings, read_only: bool) -> duckdb.DuckDBPyConnection:
    from ingestion.loader.warehouse import open_warehouse

    if not settings.paths.warehouse.exists():
        raise QuarantineError(
            f"no warehouse at {settings.paths.warehouse}: run `churniq run` first"
        )
    try:
        if read_only:
            return duckdb.connect(str(settings.paths.warehouse), read_only=True)
        return open_warehouse(settings)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise QuarantineError(
                f"the warehouse {settings.paths.warehouse} is in use (a pipeline run?): "
                "try again when it has finished"
            ) from None
        raise


def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    from foundation.replay_requests import check_reasons, pending_requests
    from ingestion.loader.replay import open_quarantine

    reasons = check_reasons(args.reason)
    con = _open(settings, read_only=True)
    try:
        rows = open_quarantine(con, reasons)
        replayed = con.execute(
            "select count(*) from raw.quarantine where replayed_at is not null"
        ).fetchall()[0][0]
    finally:
        con.close()
    if rows:
        print("reason\topen lines\treplayable (with text)")
        for reason, lines, with_text in rows:
            print(f"{reason}\t{lines:,}\t{with_text:,}")
    else:
        print("no open quarantined lines" + (f" for {', '.join(reasons)}" if reasons else ""))
    print(f"{replayed:,} line(s) replayed so far")
    pending = pending_requests(settings.home)
    for request in pending:
        what = ", ".join(request.reason_codes) or "every reason"
        state = f" (invalid: {request.error})" if request.error else ""
        print(
            f"pending request {request.request_id} by {request.requested_by or '?'}: {what}{state}"
        )
    return 0


def cmd_replay(settings: Settings, args: argparse.Namespace) -> int:
    from foundation.replay_requests import ReplayRequest, check_reasons
    from ingestion.loader.replay import replay_and_record

    reasons = check_reasons(args.reason)
    now = datetime.now(UTC).replace(tzinfo=None)
    request = ReplayRequest(
        f"cli-{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}",
        f"cli:{getpass.getuser()}",
        reasons,
        now.isoformat(),
    )
    con = _open(settings, read_only=False)
    try:
        status, result = replay_and_record(
            con,
            request,
            tuple(args.batch or ()),
            clock_skew=timedelta(minutes=settings.clock_skew_minutes),
        )
        con.execute("checkpoint")
    finally:
        con.close()
    print(f"{result.summary()} ({status}; batch {result.batch_id or '-'})")
    if result.loaded:
        print("run `churniq run` to rebuild the marts and publish a new snapshot")
    return 0


def run_command(settings: Settings, args: argparse.Namespace) -> int:
    """Dispatch `churniq quarantine <verb>`; ValueError (e.g. an unknown reason code) and a busy
    warehouse become QuarantineError."""
    command = {"list": cmd_list, "replay": cmd_replay}[args.quarantine_command]
    try:
        return command(settings, args)
    except ValueError as exc:
        raise QuarantineError(str(exc)) from None
