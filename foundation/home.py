"""The layout of the home folder (`CHURNIQ_HOME`): every path under it is named here and
nowhere else, so the pipeline, the core's commands and the dashboards agree on where things are.

```
<home>/
  landing/            event files waiting to be loaded (landing/archive/<batch>/ once loaded)
  warehouse.duckdb    written by the pipeline only
  serving.duckdb      the published read-only snapshot the dashboards read
  models/             model artifacts (versioned bundles)
  requests/           replay requests filed by the dashboards (requests/done/ once executed)
  ground_truth/       the simulator's truth (simulated businesses only)
  core.db             the core's SQLite database (unless CHURNIQ_CORE_DB_URL)
  core_api.json       the dashboards' connection to the core's API (URL and key, owner-only)
  app_users.json      dashboard users and their password hashes
  dagster/            the Dagster instance of in-process runs
  dbt_docs/           the generated dbt documentation
  connectors/         per-source import state, the provider's own view, a backfill's spool
  run.lock            held by the one process writing the warehouse
```
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

#: The umask of churniq's processes (the CLI and both servers): what they create in the home
#: is their owner's alone (folders 0700, files 0600).
PRIVATE_UMASK = 0o077


@dataclass(frozen=True)
class Home:
    """The paths of one home folder."""

    root: Path

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def archive(self) -> Path:
        """Landing files once their batch is checkpointed, one folder per batch."""
        return self.landing / "archive"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return self.root / "serving.duckdb"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def requests_done(self) -> Path:
        return self.requests / "done"

    @property
    def ground_truth(self) -> Path:
        return self.root / "ground_truth"

    @property
    def core_db(self) -> Path:
        return self.root / "core.db"

    @property
    def core_api(self) -> Path:
        """The dashboards' connection to the core's API."""
        return self.root / "core_api.json"

    @property
    def app_users(self) -> Path:
        return self.root / "app_users.json"

    @property
    def dagster(self) -> Path:
        return self.root / "dagster"

    @property
    def connectors(self) -> Path:
        """Per-source connector state (`<source>.json`: resumable cursor, last backfill,
        counts, ignored provider types) and the provider's own view for reconciliation
        (`<source>_provider_view.parquet`), written by the importers."""
        return self.root / "connectors"

    def connector_state(self, source: str) -> Path:
        return self.connectors / f"{source}.json"

    def provider_view(self, source: str) -> Path:
        return self.connectors / f"{source}_provider_view.parquet"

    def connector_spool(self, source: str) -> Path:
        """The provider's objects fetched by a backfill still under way (one NDJSON file per
        resource, so an interrupted backfill resumes page by page); removed once it lands."""
        return self.connectors / f"{source}_spool"

    @property
    def dbt_docs(self) -> Path:
        return self.root / "dbt_docs"

    @property
    def run_lock(self) -> Path:
        """Held by the one process that writes the warehouse (`churniq run`, `ingest`, ...)."""
        return self.root / "run.lock"


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
