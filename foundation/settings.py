"""One settings object, from `CHURNIQ_*` environment variables and an optional churniq.toml."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, TomlConfigSettingsSource

from foundation.contract.limits import SHARE_MIN_LINES, Limits
from foundation.contract.types import CURRENCIES
from foundation.home import Home

#: connector source -> the setting holding its API key (environment `CHURNIQ_<SETTING>`)
CONNECTOR_KEYS = {"stripe": "stripe_api_key"}


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
    # a secret: SecretStr keeps it out of reprs, logs and dumps (`.get_secret_value()` to use)
    stripe_webhook_secret: SecretStr | None = Field(
        default=None,
        description="the signing secret of the Stripe webhook endpoint (whsec_…); unset: the "
        "core answers POST /webhooks/stripe with 503",
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

    # connectors (issue 16): a source is configured when its API key is set
    stripe_api_key: SecretStr | None = Field(
        default=None, description="Stripe secret or restricted key (CHURNIQ_STRIPE_API_KEY)"
    )
    connector_sync_minutes: int = Field(
        default=60,
        gt=0,
        description="a configured source's import is requested when its state is older",
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

    def configured_sources(self) -> list[str]:
        """The connector sources whose API key is set (`CONNECTOR_KEYS`), sorted."""
        return sorted(
            source
            for source, name in CONNECTOR_KEYS.items()
            if (key := getattr(self, name)) is not None and key.get_secret_value()
        )

    @property
    def paths(self) -> Home:
        """The layout of the home folder."""
        return Home(self.home)

    @property
    def core_url(self) -> str:
        """The core database's SQLAlchemy URL: `CHURNIQ_CORE_DB_URL`, or `<home>/core.db`."""
        return self.core_db_url or f"sqlite:///{self.paths.core_db.resolve()}"

    def local_url(self, port: int) -> str:
        """The URL at which this machine reaches a server listening on `host` and `port`."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)
