"""One settings object, from `CHURNIQ_*` environment variables and an optional churniq.toml."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from ingestion.contract.limits import SHARE_MIN_LINES, Limits
from ingestion.contract.types import CURRENCIES


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CHURNIQ_", toml_file="churniq.toml", extra="ignore"
    )

    home: Path = Field(default=Path(".churniq"), description="data folder")
    host: str = Field(
        default="127.0.0.1",
        description="the address the dashboards and the core API listen on (0.0.0.0: every "
        "interface)",
    )
    core_db_url: str | None = Field(
        default=None, description="the core's database; default SQLite at <home>/core.db"
    )
    reporting_currency: str = "EUR"
    as_of: date | None = Field(default=None, description="as-of date; default the watermark")
    churn_horizon_days: int = 30
    dunning_window_days: int = 14
    clock_skew_minutes: int = 5
    duckdb_memory_limit: str = "4GB"
    duckdb_threads: int = 2
    full_refresh: bool = Field(
        default=False, description="rebuild the incremental dbt models from every raw event"
    )
    # per landing file; a file over one of these is quarantined whole, with one reason
    ingest_max_lines: int = Field(default=Limits.max_lines, gt=0, description="lines, blank too")
    ingest_max_bytes: int = Field(
        default=Limits.max_bytes, gt=0, description="bytes after decompression"
    )
    ingest_max_line_bytes: int = Field(
        default=Limits.max_line_bytes, gt=0, description="bytes of one event (or line_too_long)"
    )
    ingest_max_quarantined: int = Field(
        default=Limits.max_quarantined, ge=0, description="quarantined lines"
    )
    ingest_max_quarantine_share: float = Field(
        default=Limits.max_quarantine_share,
        ge=0,
        le=1,
        description=f"quarantined share of a file of {SHARE_MIN_LINES} lines or more",
    )

    @field_validator("reporting_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in CURRENCIES:
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, *args, **kw):
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def ingest_limits(self) -> Limits:
        """The loader's per-file limits."""
        return Limits(
            max_lines=self.ingest_max_lines,
            max_bytes=self.ingest_max_bytes,
            max_line_bytes=self.ingest_max_line_bytes,
            max_quarantined=self.ingest_max_quarantined,
            max_quarantine_share=self.ingest_max_quarantine_share,
        )

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.home / "serving.duckdb"

    @property
    def core_url(self) -> str:
        """The core database's SQLAlchemy URL: `CHURNIQ_CORE_DB_URL`, or `<home>/core.db`."""
        return self.core_db_url or f"sqlite:///{(self.home / 'core.db').resolve()}"

    @property
    def ground_truth(self) -> Path:
        return self.home / "ground_truth"

    @property
    def archive(self) -> Path:
        return self.landing / "archive"

    @property
    def run_lock(self) -> Path:
        """Held by the one process that writes the warehouse (`churniq run`, `ingest`, ...)."""
        return self.home / "run.lock"

    def local_url(self, port: int) -> str:
        """The URL at which this machine reaches a server listening on `host` and `port`."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


#: The umask of churniq's processes (the CLI and both servers): what they create in the home
#: is their owner's alone (folders 0700, files 0600).
PRIVATE_UMASK = 0o077


def make_private(home: Path) -> None:
    """Create `home` owner-only (0700). A home an older churniq left readable by others (0755,
    files 0644) is tightened once, with everything in it; symbolic links are not followed."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not stat.S_IMODE(home.stat().st_mode) & 0o077:
        return
    for folder, dirs, files in os.walk(home):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            current = path.lstat().st_mode
            if not stat.S_ISLNK(current) and stat.S_IMODE(current) & 0o077:
                path.chmod(stat.S_IMODE(current) & ~0o077)
    home.chmod(0o700)


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)


@contextlib.contextmanager
def temporary_environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (dbt and Dagster resources read
    their settings from the environment)."""
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
