"""`churniq import csv`: a migration from another system's CSV exports into the landing folder.

The files are translated with a mapping (`--mapping FILE.toml`) or a preset (`--preset stripe`,
`--preset chartmogul`); the contract events land as `import-<ts>-<part>.ndjson` (each written
under a hidden name and renamed, so the loader never sees half a file) and the connector state
`<home>/connectors/import.json` records the run. `churniq run` then loads them. `--dry-run`
prints the report (and `--report FILE` writes it as JSON) and writes nothing else.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.csv_migration import (
    PRESETS,
    SOURCE,
    MappingError,
    Migration,
    UnreadableFile,
    load_mapping,
    load_preset,
    read_csv,
    translate_tables,
)
from foundation.home import Home
from ingestion.sources.connector_files import land, landing_name, write_atomic

from .options import UserError, settings_from

LINES_PER_FILE = 100_000


def add_parser(import_subparsers: argparse._SubParsersAction) -> None:
    s = import_subparsers.add_parser(
        "csv",
        help="migrate customers, subscriptions and payments from another system's CSV exports",
        description="Translate CSV exports into contract events of source `import` in the "
        "landing folder; then run `churniq run`.",
    )
    s.add_argument("paths", nargs="+", help="CSV files, or folders of them")
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--mapping", type=Path, help="the column mapping (TOML)")
    how.add_argument("--preset", help=f"a shipped mapping: {', '.join(PRESETS)}")
    s.add_argument("--dry-run", action="store_true", help="report what would happen; write nothing")
    s.add_argument("--report", type=Path, help="also write the report to this file (JSON)")
    s.set_defaults(func=cmd_import_csv)


def _csv_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv")
            if not found:
                raise UserError(f"{path}: no .csv file in this folder")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return files


def migrate(args: argparse.Namespace) -> Migration:
    """The migration of the command line's files under its mapping (UserError on bad input)."""
    try:
        spec = load_mapping(args.mapping) if args.mapping else load_preset(args.preset)
        tables = [read_csv(path) for path in _csv_files(args.paths)]
        return translate_tables(spec, tables)
    except (MappingError, UnreadableFile) as exc:
        raise UserError(str(exc)) from None


def describe(report: dict[str, Any]) -> list[str]:
    """The report as lines for a person."""
    out = []
    for f in report["files"]:
        extra = "".join(f", {f[k]} {k}" for k in ("rejected", "skipped") if f.get(k))
        out.append(f"  {f['file']} ({f['kind']}): {f['rows']} rows{extra}")
    events = ", ".join(f"{t} {n}" for t, n in report["events"].items()) or "none"
    out.append(f"events: {report['events_total']} ({events})")
    for reason, count in report["left_out"].items():
        out.append(f"left out: {count} × {reason}")
    if report["rejected"]:
        out.append(f"rejected rows: {len(report['rejected'])}")
        out += [f"  {r['file']} line {r['line']}: {r['reason']}" for r in report["rejected"]]
    exact = report["exact_from_month"]
    out.append(
        f"figures exact from {exact[:7]} (earlier months are approximate: the exports do not "
        "hold the subscriptions' earlier changes)"
        if exact
        else "figures exact for every month (the files hold each subscription's whole history)"
    )
    return out


def land_all(home: Home, lines: list[dict[str, Any]], now: datetime) -> list[str]:
    """Write `lines` as `import-<ts>-<part>.ndjson` landing files (the importers' one
    writer, `ingestion.sources.connector_files`); their names."""
    names = []
    for part, first in enumerate(range(0, len(lines), LINES_PER_FILE), start=1):
        name = landing_name(SOURCE, now, part)
        land(home, name, lines[first : first + LINES_PER_FILE])
        names.append(name)
    return names


def record_state(
    path: Path, migration: Migration, files: list[str], mapping: str, now: datetime
) -> dict[str, Any]:
    """The connector state of source `import` after a migration (counts cumulative over runs)."""
    try:
        previous = json.loads(path.read_text())
    except (OSError, ValueError):
        previous = {}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    report = migration.report()
    ignored = dict(previous.get("ignored") or {})
    for reason, count in report["left_out"].items():
        ignored[reason] = ignored.get(reason, 0) + count
    state = {
        "source": SOURCE,
        "kind": "csv",
        "updated_at": stamp,
        "last_backfill_at": stamp,
        "since": None,
        "complete": True,
        "objects_read": previous.get("objects_read", 0) + report["rows_read"],
        "events_written": previous.get("events_written", 0) + report["events_total"],
        "untranslatable": previous.get("untranslatable", 0) + len(report["rejected"]),
        "ignored": ignored,
        "files": [*(previous.get("files") or []), *files],
        "cursor": {"mapping": mapping, "exact_from_month": report["exact_from_month"]},
    }
    write_atomic(path, json.dumps(state, indent=2).encode())
    return state


def cmd_import_csv(args: argparse.Namespace) -> int:
    migration = migrate(args)
    report = migration.report()
    for line in describe(report):
        print(line)
    if args.report:
        try:
            args.report.write_text(json.dumps(report, indent=2) + "\n")
        except OSError as exc:
            raise UserError(f"cannot write the report {args.report}: {exc.strerror}") from None
    if args.dry_run:
        print("dry run: nothing written")
        return 0
    settings = settings_from(args)
    now = datetime.now(UTC)
    names = land_all(settings.paths, migration.lines(), now)
    mapping = str(args.mapping) if args.mapping else f"preset:{args.preset}"
    record_state(settings.paths.connector_state(SOURCE), migration, names, mapping, now)
    print(f"wrote {', '.join(names)} to {settings.paths.landing}; now run `churniq run`")
    return 0
