"""Running the dbt project in-process from tests, and reading back the marts."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb


@contextlib.contextmanager
def temporary_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (dbt reads its profile from it)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def copy_project(parent: Path) -> Path:
    """A copy of the project, so that target/ and logs/ of parallel runs never collide."""
    dst = parent / "dbt_project"
    shutil.copytree(
        PROJECT_DIR,
        dst,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", "*.duckdb*"),
    )
    return dst


def release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so that the test
    (or any later step of the same process) can open the warehouse with another configuration."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def run_dbt(args: list[str], project_dir: Path, env: dict[str, str]):
    """`dbt <args>` on `project_dir` with `env` set for the call only; returns dbt's result.
    Without `--vars` in `args`, the vars every churniq run passes (`dbt_vars()`)."""
    from dbt.cli.main import dbtRunner

    from pipelines.dbt_project import dbt_vars

    if "--vars" not in args:
        args = [*args, "--vars", dbt_vars()]
    env = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env}
    with temporary_environ(env):
        try:
            return dbtRunner().invoke(
                [*args, "--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
            )
        finally:
            release_duckdb()


def failures(result) -> list[tuple]:
    return [
        (r.node.name, str(r.status), r.message)
        for r in (result.result or [])
        if str(r.status) not in ("success", "pass")
    ]


def all_marts(database: Path, schemas: tuple[str, ...] = ("marts",)) -> dict[str, list]:
    """Every table of `schemas` (default the marts) of a warehouse or snapshot, as sorted rows,
    keyed by schema.table."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                f"where table_schema in ({', '.join('?' for _ in schemas)}) order by 1",
                list(schemas),
            ).fetchall()
        ]
        return {n: con.execute(f"select * from {n} order by all").fetchall() for n in names}
    finally:
        con.close()
