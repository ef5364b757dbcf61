"""The connectors: one asset per configured source, its provider's import into the landing folder.

A source is configured when its API key is set (`Settings.configured_sources`; Dagster reads the
key itself with `EnvVar`, DESIGN.md). The import writes contract files into the landing folder
and the source's state file; the landing sensor then runs the daily job, whose ingestion step
loads them and records the state (`ingestion.sources.connector_state`). The imports are not in
the daily job (`churniq run` never calls a provider): the connector sensor requests them.
"""

import dagster as dg

from foundation.settings import Settings
from ingestion.sources.connector_state import read_state

from ..resources import ChurniqConfig

GROUP = "connectors"
#: source -> the environment variable of its API key (the settings' `CHURNIQ_<SETTING>`)
KEY_VARIABLES = {"stripe": "CHURNIQ_STRIPE_API_KEY"}


def connector_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["connectors", source])


class StripeApi(dg.ConfigurableResource):
    """The Stripe API key, read from the environment by Dagster (never in the configuration)."""

    api_key: str


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
    from ingestion.sources.stripe_api import import_api

    settings = churniq.settings()
    result = import_api(settings.paths, stripe_api.api_key)
    context.log.info(str(result))
    return dg.MaterializeResult(metadata=_state_metadata(settings, "stripe"))


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
