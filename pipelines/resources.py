"""The resources of the Dagster definitions: churniq's settings (as configuration) and dbt."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import dagster as dg
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr

from foundation.settings import Settings, get_settings
from ingestion.loader.warehouse import open_warehouse

from .dbt_project import DBT_EXECUTABLE, DBT_PROJECT_DIR, home_flags

T = TypeVar("T")


class ChurniqConfig(dg.ConfigurableResource):
    """The settings of one home, given as configuration when the definitions are built; the
    rest (currency, limits, …) comes from `CHURNIQ_*` variables and churniq.toml, as
    `Settings` reads them."""

    home: str = ""
    full_refresh: bool = False
    _settings: Settings | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        """The settings, read once per resource instance (a run's steps share them)."""
        if self._settings is None:
            settings = get_settings(**({"home": self.home} if self.home else {}))
            if self.full_refresh:
                settings = settings.model_copy(update={"full_refresh": True})
            self._settings = settings
        return self._settings


def dbt_resource(settings: Settings) -> DbtCliResource:
    """dbt through `churniq-dbt`, told the home it builds (its profile is the home's warehouse)."""
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=str(DBT_EXECUTABLE),
        global_config_flags=home_flags(settings.home),
    )


def in_warehouse(settings: Settings, work: Callable[..., T]) -> T:
    """`work(connection)` on the warehouse, checkpointed, the connection always closed."""
    con = open_warehouse(settings)
    try:
        result = work(con)
        con.execute("checkpoint")
        return result
    finally:
        con.close()
