"""The connectors: one asset per configured source, its provider's import into the landing folder.

A source is configured when its API key is set (`Settings.configured_sources`; Dagster reads the
key itself with `EnvVar`, DESIGN.md). The import writes contract files into the landing folder
and the source's state file; the landing sensor then runs the daily job, whose ingestion step
loads them and records the state (`ingestion.sources.connector_state`). The imports are not in
the daily job (`churniq run` never calls a provider): the connector sensor requests them.
"""

from datetime import datetime, timedelta

import dagster as dg
import orjson

from foundation.settings import Settings
from ingestion.sources.connector_files import parse_time
from ingestion.sources.connector_state import read_state
from ingestion.sources.stripe_api import StripeImportError, backfill

from ..resources import ChurniqConfig

GROUP = "connectors"
#: source -> the environment variable of its API key (the settings' `CHURNIQ_<SETTING>`)
KEY_VARIABLES = {"stripe": "CHURNIQ_STRIPE_API_KEY"}


def connector_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["connectors", source])


#: a new import re-reads this much history before the last one (event ids dedupe the overlap)
OVERLAP = timedelta(days=1)


class StripeApi(dg.ConfigurableResource):
    """The Stripe API key, read from the environment by Dagster (never in the configuration);
    `api_base` only for a stand-in of Stripe's API (tests)."""

    api_key: str
    api_base: str | None = None


def next_since(settings: Settings, source: str) -> datetime | None:
    """Where a source's incremental import starts: the `since` of an unfinished import (so it
    resumes), else the last backfill less `OVERLAP`; None (the whole history) for the first."""
    path = settings.paths.connector_state(source)
    if not path.is_file():
        return None
    stored = orjson.loads(path.read_bytes())
    run = (stored.get("cursor") or {}).get("api") or {}
    if run and not run.get("finished"):
        return parse_time(run.get("since"))
    last = parse_time(stored.get("last_backfill_at"))
    return last - OVERLAP if last else None


def _state_metadata(settings: Settings, source: str) -> dict:
    state = read_state(settings.paths, source)
    return {
        "kind": state.kind,
        "complete": state.complete,
        "objects_read": state.objects_read,
        "events_written": state.events_written,
        "untranslatable": state.untranslatable,
        "ignored": state.ignored,
        "last_backfill_at": str(state.last_backfill_at or ""),
    }


@dg.asset(
    key=connector_key("stripe"),
    group_name=GROUP,
    description="Stripe's API, incrementally since the last import (customers, subscriptions, "
    "invoices, charges, refunds, disputes, the events of the last 30 days) into the landing "
    "folder, with the source's state and Stripe's own view of the active subscriptions.",
)
def stripe_import(
    context: dg.AssetExecutionContext, churniq: ChurniqConfig, stripe_api: StripeApi
) -> dg.MaterializeResult:
    settings = churniq.settings()
    since = next_since(settings, "stripe")
    try:
        summary = backfill(
            settings.paths,
            stripe_api.api_key,
            key_name=f"the key in ${KEY_VARIABLES['stripe']}",
            since=since,
            api_base=stripe_api.api_base,
        )
    except StripeImportError as exc:  # one line, never the key; the next run resumes
        raise dg.Failure(description=str(exc)) from None
    context.log.info(summary.line(f"Stripe since {since or 'the beginning'}"))
    return dg.MaterializeResult(
        metadata={**_state_metadata(settings, "stripe"), "landed": summary.files}
    )


_ASSETS = {"stripe": stripe_import}
_RESOURCES = {
    "stripe": lambda: {"stripe_api": StripeApi(api_key=dg.EnvVar(KEY_VARIABLES["stripe"]))}
}


def connector_assets(sources: list[str]) -> list[dg.AssetsDefinition]:
    """The import assets of the configured sources."""
    return [_ASSETS[s] for s in sources if s in _ASSETS]


def connector_resources(sources: list[str]) -> dict:
    """The resources (API keys from the environment) of the configured sources."""
    resources: dict = {}
    for source in sources:
        if source in _RESOURCES:
            resources.update(_RESOURCES[source]())
    return resources
