"""The dbt project as Dagster sees it; its manifest is prepared at build time (`make setup`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from foundation import vocabulary
from foundation.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"
# dbt that ends with the process that started it (`cli/dbt_child.py`, the `churniq-dbt` command)
DBT_EXECUTABLE = Path(sys.executable).with_name("churniq-dbt")


def project():
    from dagster_dbt import DbtProject

    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def _sources_newer_than_manifest() -> bool:
    if not MANIFEST.exists():
        return True
    built = MANIFEST.stat().st_mtime
    watched = ("models", "macros", "tests", "seeds")
    files = [DBT_PROJECT_DIR / "dbt_project.yml"] + [
        f for d in watched for f in (DBT_PROJECT_DIR / d).rglob("*") if f.is_file()
    ]
    return any(f.stat().st_mtime > built for f in files)


def prepare_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files."""
    if force or _sources_newer_than_manifest():
        env = os.environ | {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        result = subprocess.run(
            [
                str(DBT_EXECUTABLE),
                "parse",
                "--quiet",
                "--vars",
                dbt_vars(),
                "--project-dir",
                str(DBT_PROJECT_DIR),
                "--profiles-dir",
                str(DBT_PROJECT_DIR),
            ],
            cwd=DBT_PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"dbt parse failed:\n{result.stdout}\n{result.stderr}")
    return MANIFEST


HOME_FLAG = "--churniq-home"


def home_flags(home: Path) -> list[str]:
    """The leading arguments that tell `churniq-dbt` which home it builds."""
    return [HOME_FLAG, str(Path(home).resolve())]


def profile_environment(settings: Settings) -> dict[str, str]:
    """What dbt's profile (`dbt_project/profiles.yml`) reads: the home's warehouse and the
    DuckDB limits of the settings."""
    return {
        "CHURNIQ_WAREHOUSE": str(settings.paths.warehouse.resolve()),
        "CHURNIQ_DUCKDB_MEMORY_LIMIT": settings.duckdb_memory_limit,
        "CHURNIQ_DUCKDB_THREADS": str(settings.duckdb_threads),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_vars(reporting_currency: str | None = None, as_of: str | None = None) -> str:
    """`--vars` for every dbt command: the lists of `foundation.vocabulary` (the project requires
    them), and the deployment's reporting currency and as-of date when given (without them,
    dbt_project.yml's defaults)."""
    lists = {
        "movement_types": list(vocabulary.MOVEMENT_TYPES),
        "movement_mrr_columns": dict(vocabulary.MOVEMENTS),
        "bridge_columns": list(vocabulary.BRIDGE_COLUMNS),
        "cancel_reasons": list(vocabulary.CANCEL_REASONS),
    }
    chosen = {"reporting_currency": reporting_currency} if reporting_currency else {}
    return json.dumps({**lists, **chosen, "as_of": as_of})
