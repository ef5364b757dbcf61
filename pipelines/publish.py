"""Publish the serving snapshot: a consistent, read-only copy of the marts for the app.

The snapshot is written to a temporary file next to the live one and swapped in with an
atomic rename, so the app sees either the old or the new state, never a half-built one, and
never opens the warehouse (DuckDB's lock would block the pipeline).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

PUBLISHED_SCHEMAS = ("marts", "ml")


@dataclass(frozen=True)
class Snapshot:
    version: str
    path: Path
    tables: dict[str, int]
    watermark: datetime | None


def publish(
    warehouse: Path, serving: Path, reporting_currency: str, schemas=PUBLISHED_SCHEMAS
) -> Snapshot:
    serving.parent.mkdir(parents=True, exist_ok=True)
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    tmp = serving.with_name(f".{serving.stem}-{version}.duckdb")
    con = duckdb.connect()
    try:
        con.execute(f"attach '{warehouse}' as wh (read_only)")
        con.execute("use wh")
        con.execute(f"attach '{tmp}' as snap")
        names = con.execute(
            f"""select table_schema, table_name from information_schema.tables
                where table_catalog = 'wh' and table_type = 'BASE TABLE'
                  and table_schema in ({", ".join("?" for _ in schemas)})
                order by 1, 2""",
            list(schemas),
        ).fetchall()
        tables: dict[str, int] = {}
        for schema in sorted({s for s, _ in names}):
            con.execute(f'create schema if not exists snap."{schema}"')
        for schema, name in names:
            con.execute(
                f'create table snap."{schema}"."{name}" as select * from "{schema}"."{name}"'
            )
            tables[f"{schema}.{name}"] = con.execute(
                f'select count(*) from snap."{schema}"."{name}"'
            ).fetchall()[0][0]
        watermark = con.execute("select max(occurred_at) from raw.events").fetchall()[0][0]
        con.execute("create schema snap.meta")
        con.execute(
            """create table snap.meta.snapshot as
               select ?::varchar as version, ?::timestamp as published_at,
                      ?::timestamp as watermark, ?::varchar as reporting_currency""",
            [version, datetime.now(UTC).replace(tzinfo=None), watermark, reporting_currency],
        )
        con.execute("detach snap")
    except BaseException:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    os.replace(tmp, serving)
    return Snapshot(version, serving, tables, watermark)
