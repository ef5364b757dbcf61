"""Data health: last successful run and freshness per source, the connected providers (freshness,
counts, ignored types, quarantine) and the reconciliation with their own views, quarantined lines
by reason with (redacted) samples, asset check and dbt test results, row counts and recent loads.

Everything comes from the snapshot's ``ops`` schema. Every signed-in role sees the page; only
admins see the action (a replay of quarantined lines), which files a request that the next
pipeline run executes: the app never writes to (or opens) the warehouse.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from app import formatting as fmt
from app import signin
from app.charts.data_health import (
    HELP,
    freshness_chart,
    freshness_frame,
    quarantine_chart,
    quarantine_frame,
)
from app.components import (
    Kpi,
    csv_download,
    metric,
    open_snapshot,
    snapshot_caption,
    table,
    table_missing,
)
from app.data import data_health as health_data
from app.data import snapshot
from app.users import EXPORT_ROLE

ADMIN_ROLE = "admin"
NO_OPS = (
    "The snapshot has no `ops.sources` table yet: it was published by an older churniq. Run "
    "`churniq run` to publish the data-health tables."
)
NO_FILTERS = (
    "The global filters (period, platform, country, offer type) do not apply to this page: "
    "data health covers the whole pipeline."
)
SAMPLE_KEY = "data_health_sample_reason"
FAILING_KEY = "data_health_only_failing"
LOADS_PAGE_KEY = "data_health_loads_page"
REPLAY_REASONS_KEY = "data_health_replay_reasons"
NO_CONNECTOR = """No provider is connected yet: every event comes from landing files or the core.
Connect your billing data (README, "Connect your data"):

- Stripe's API, with a read-only restricted key:
  `churniq import stripe --api-key-env STRIPE_READ_KEY` (resumable); with
  `CHURNIQ_STRIPE_API_KEY` set, the Dagster connector sensor repeats it incrementally;
- an export of Stripe events: `churniq import stripe --events events.jsonl`;
- Stripe webhooks: an endpoint `https://<core>/webhooks/stripe` and
  `CHURNIQ_STRIPE_WEBHOOK_SECRET=whsec_...` for the core;
- another system's CSV export: `churniq import csv --mapping mapping.toml FILE... --dry-run`.

Then `churniq run` loads what they wrote and this section shows each source."""
NO_RECONCILIATION = (
    "No provider view to reconcile with yet: an API import (`churniq import stripe "
    "--api-key-env VAR`) leaves Stripe's own view of its active subscriptions for the next run."
)


def _when(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return "never"
    return pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")


def hours_text(hours: Any) -> str | None:
    """Hours as shown: below two days in hours, beyond in days."""
    if fmt.is_missing(hours):
        return None
    hours = float(hours)
    return f"{hours:,.1f} h" if abs(hours) < 48 else f"{hours / 24:,.1f} days"


def checks_text(counts: dict[str, int] | None) -> str | None:
    if not counts or not counts["total"]:
        return None
    passing = counts["total"] - counts["failed"] - counts["warned"]
    return f"{passing:,} / {counts['total']:,}"


def health_kpis(
    published_at: datetime | None,
    sources: pd.DataFrame | None,
    reasons: pd.DataFrame | None,
    counts: dict[str, int] | None,
) -> list[Kpi]:
    lag = None
    if sources is not None and not sources.empty:
        lag = sources["event_lag_hours"].dropna().min() if "event_lag_hours" in sources else None
    open_lines = 0 if reasons is None or reasons.empty else int(reasons["open_lines"].sum())
    return [
        Kpi("Last successful run", _when(published_at), None, HELP["last_run"]),
        Kpi("Newest event, before publication", hours_text(lag), None, HELP["freshness"]),
        Kpi("Open quarantined lines", fmt.count(open_lines), None, HELP["open_quarantine"]),
        Kpi("Checks passing", checks_text(counts), None, HELP["checks"]),
    ]


def sources_section(source: snapshot.Source) -> None:
    st.subheader("Sources: last load and freshness", help=HELP["sources"])
    frame = health_data.sources(source)
    if frame is None or frame.empty:
        st.info("Nothing loaded yet: put contract files in the landing folder or connect the core.")
        return
    st.altair_chart(freshness_chart(freshness_frame(frame)), width="stretch")
    table(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "source": "Source",
            "batches": st.column_config.NumberColumn("Batches", format="localized"),
            "lines": st.column_config.NumberColumn("Lines read", format="localized"),
            "loaded": st.column_config.NumberColumn("Loaded", format="localized"),
            "duplicates": st.column_config.NumberColumn("Duplicates", format="localized"),
            "quarantined": st.column_config.NumberColumn("Quarantined", format="localized"),
            "events_stored": st.column_config.NumberColumn("Events stored", format="localized"),
            "first_load_at": st.column_config.DatetimeColumn("First load"),
            "last_load_at": st.column_config.DatetimeColumn("Last successful load"),
            "last_load_with_events_at": st.column_config.DatetimeColumn("Last load with events"),
            "last_event_at": st.column_config.DatetimeColumn("Newest event"),
            "event_lag_hours": st.column_config.NumberColumn("Hours since newest event", format="%.1f"),
            "hours_since_last_load": st.column_config.NumberColumn("Hours since last load", format="%.1f"),
        },
        subscribers=False,
    )  # fmt: skip
    csv_download(frame, "data_health_sources.csv", "Download sources (CSV)", "dl_dh_sources")
    producers = health_data.event_sources(source)
    if producers is not None and not producers.empty:
        st.markdown("**Events by producing system**", help=HELP["event_sources"])
        table(producers, hide_index=True, width="stretch", subscribers=False)
        csv_download(
            producers,
            "data_health_event_sources.csv",
            "Download events by producer (CSV)",
            "dl_dh_event_sources",
        )


def connectors_section(source: snapshot.Source) -> None:
    st.subheader("Connected sources", help=HELP["connectors"])
    frame = health_data.connectors(source)
    if table_missing(frame, "ops.connectors"):
        return
    if frame.empty:
        st.info(NO_CONNECTOR, icon=":material/cable:")
        return
    ignored = health_data.connector_ignored(source)
    shown = frame.assign(
        ignored_types=[ignored_text(ignored, s) for s in frame["source"]],
    )
    table(
        shown,
        hide_index=True,
        width="stretch",
        column_order=[
            "source", "kind", "hours_since_backfill", "hours_since_webhook", "hours_since_event",
            "objects_read", "events_written", "events_stored", "webhooks", "untranslatable",
            "ignored_types", "quarantined_open", "quarantined_total", "customers_differing",
        ],
        column_config={
            "source": "Source",
            "kind": "Kind",
            "hours_since_backfill": st.column_config.NumberColumn("Hours since backfill", format="%.1f"),
            "hours_since_webhook": st.column_config.NumberColumn("Hours since webhook", format="%.1f"),
            "hours_since_event": st.column_config.NumberColumn("Hours since newest event", format="%.1f"),
            "objects_read": st.column_config.NumberColumn("Objects read", format="localized"),
            "events_written": st.column_config.NumberColumn("Events written", format="localized"),
            "events_stored": st.column_config.NumberColumn("Events stored", format="localized"),
            "webhooks": st.column_config.NumberColumn("Webhooks", format="localized"),
            "untranslatable": st.column_config.NumberColumn("Untranslatable", format="localized"),
            "ignored_types": "Ignored types",
            "quarantined_open": st.column_config.NumberColumn("Quarantined (open)", format="localized"),
            "quarantined_total": st.column_config.NumberColumn("Quarantined (all)", format="localized"),
            "customers_differing": st.column_config.NumberColumn("Customers differing", format="localized"),
        },
        subscribers=False,
    )  # fmt: skip
    csv_download(frame, "data_health_connectors.csv", "Download connectors (CSV)", "dl_dh_conn")
    if ignored is not None and not ignored.empty:
        st.markdown("**Ignored provider types**", help=HELP["connector_ignored"])
        table(ignored, hide_index=True, width="stretch", subscribers=False)


def ignored_text(ignored: pd.DataFrame | None, source: str) -> str:
    """A source's ignored provider types as one cell: `type (count)`, most first."""
    if ignored is None or ignored.empty:
        return ""
    rows = ignored[ignored["source"] == source]
    return ", ".join(
        f"{t} ({int(n):,})" for t, n in zip(rows["provider_type"], rows["ignored"], strict=True)
    )


def behind_text(view_at: Any, churniq_as_of: Any) -> str:
    """Why figures may differ when churniq's as-of date is before the provider view's day."""
    if fmt.is_missing(churniq_as_of) or fmt.is_missing(view_at):
        return ""
    view_day, as_of = pd.Timestamp(view_at).date(), pd.Timestamp(churniq_as_of).date()
    if as_of >= view_day:
        return ""
    return (
        f" churniq's figures are as of {as_of} (the `CHURNIQ_AS_OF` setting), before the view's "
        f"day: a change scheduled in between, such as a trial's end, is not in them; "
        f"`CHURNIQ_AS_OF={view_day}` (or no setting) compares on the view's day."
    )


def reconciliation_section(source: snapshot.Source) -> None:
    st.subheader("Reconciliation with the provider", help=HELP["reconciliation"])
    frame = health_data.connectors(source)
    if frame is None or frame.empty:
        st.caption(NO_RECONCILIATION)
        return
    compared = frame[frame["customers_compared"].notna()]
    if compared.empty:
        st.info(NO_RECONCILIATION)
        return
    for row in compared.itertuples():
        when = _when(row.reconciled_as_of)
        if not row.customers_differing:
            st.success(
                f"{row.source}: the marts match the provider's view of {when} for all "
                f"{int(row.customers_compared):,} customers.",
                icon=":material/check_circle:",
            )
        else:
            st.warning(
                f"{row.source}: {int(row.customers_differing):,} of "
                f"{int(row.customers_compared):,} customers differ from the provider's view of "
                f"{when}." + behind_text(row.reconciled_as_of, row.churniq_as_of_date),
                icon=":material/difference:",
            )
    differences = health_data.reconciliation(source)
    if differences is None or differences.empty:
        return
    table(
        differences,
        hide_index=True,
        width="stretch",
        column_config={
            "source": "Source",
            "customer_id": "Customer",
            "currency": "Currency",
            "provider_subscriptions": st.column_config.NumberColumn("Provider subscriptions"),
            "churniq_subscriptions": st.column_config.NumberColumn("churniq subscriptions"),
            "provider_mrr": st.column_config.NumberColumn("Provider MRR", format="%.2f"),
            "churniq_mrr": st.column_config.NumberColumn("churniq MRR", format="%.2f"),
            "mrr_difference": st.column_config.NumberColumn("Difference", format="%+.2f"),
            "as_of": st.column_config.DatetimeColumn("Provider view of"),
        },
        subscribers=True,
    )
    user = signin.current_user()
    if user is not None and user.may(EXPORT_ROLE):  # customer ids: export roles only
        csv_download(
            differences, "data_health_reconciliation.csv", "Download differences (CSV)", "dl_dh_rec"
        )


def quarantine_section(source: snapshot.Source) -> None:
    st.subheader("Quarantined lines by reason", help=HELP["quarantine"])
    reasons = health_data.quarantine_reasons(source)
    if table_missing(reasons, "ops.quarantine_reasons"):
        return
    if reasons.empty:
        st.success("No line has ever been quarantined.", icon=":material/check_circle:")
        return
    chart = quarantine_frame(reasons)
    st.altair_chart(quarantine_chart(chart), width="stretch")
    table(reasons, hide_index=True, width="stretch", subscribers=False)
    csv_download(
        reasons, "data_health_quarantine.csv", "Download quarantine by reason (CSV)", "dl_dh_q"
    )

    st.markdown("**Sample lines**", help=HELP["samples"])
    codes = list(reasons["reason_code"])
    if st.session_state.get(SAMPLE_KEY) not in (None, *codes):
        st.session_state.pop(SAMPLE_KEY)
    reason = st.selectbox("Reason", codes, key=SAMPLE_KEY)
    samples = health_data.quarantine_samples(source, reason)
    if table_missing(samples, "ops.quarantine_samples"):
        return
    table(samples, hide_index=True, width="stretch", subscribers=False)
    csv_download(
        samples,
        f"data_health_samples_{reason}.csv",
        "Download samples (CSV)",
        "dl_dh_samples",
    )


def checks_section(source: snapshot.Source, counts: dict[str, int] | None) -> None:
    st.subheader("Asset checks and dbt tests", help=HELP["checks"])
    if table_missing(counts, "ops.check_results"):
        return
    if not counts["total"]:
        st.info("No check result recorded yet: they appear after the next `churniq run`.")
        return
    parts = [f"{counts['total']:,} checks", f"{counts['failed']:,} failing"]
    if counts["warned"]:
        parts.append(f"{counts['warned']:,} warning")
    if counts["earlier"]:
        parts.append(
            f"{counts['earlier']:,} from an earlier run (checks that run after publication, "
            "such as the MRR bridge, reach the next snapshot)"
        )
    st.caption(" · ".join(parts))
    only_failing = st.toggle("Only failing checks", key=FAILING_KEY)
    frame = health_data.check_results(source, only_failing)
    if frame is None or frame.empty:
        st.success("Every check passed.", icon=":material/check_circle:")
        return
    table(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "kind": "Kind",
            "check_name": "Check",
            "asset": "Asset",
            "passed": st.column_config.CheckboxColumn("Passed"),
            "severity": "Severity",
            "detail": "Detail",
            "evaluated_at": st.column_config.DatetimeColumn("Evaluated"),
            "this_run": st.column_config.CheckboxColumn("This run"),
        },
        subscribers=False,
    )
    csv_download(frame, "data_health_checks.csv", "Download check results (CSV)", "dl_dh_checks")


def table_rows_section(source: snapshot.Source) -> None:
    st.subheader("Row counts of published tables", help=HELP["table_rows"])
    frame = health_data.table_rows(source)
    if table_missing(frame, "ops.table_rows"):
        return
    table(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "table_name": "Table",
            "rows": st.column_config.NumberColumn("Rows", format="localized"),
        },
        subscribers=False,
    )
    csv_download(frame, "data_health_table_rows.csv", "Download row counts (CSV)", "dl_dh_rows")


def loads_section(source: snapshot.Source) -> None:
    st.subheader("Recent loads", help=HELP["loads"])
    total = health_data.loads_count(source)
    if not total:
        st.info("No load recorded yet.")
        return
    pages = max(1, math.ceil(total / health_data.LOADS_PAGE_SIZE))
    value = st.session_state.get(LOADS_PAGE_KEY)
    if value is not None and not 1 <= value <= pages:
        st.session_state.pop(LOADS_PAGE_KEY)
    page = 1
    if pages > 1:
        page = int(
            st.number_input("Page", min_value=1, max_value=pages, value=1, key=LOADS_PAGE_KEY)
        )
    frame = health_data.recent_loads(source, page)
    first = (page - 1) * health_data.LOADS_PAGE_SIZE + 1
    st.caption(f"Page {page} of {pages} · loads {first}–{first + len(frame) - 1} of {total:,}")
    table(frame, hide_index=True, width="stretch", subscribers=False)
    csv_download(frame, "data_health_loads.csv", "Download this page of loads (CSV)", "dl_dh_loads")


def replay_section(source: snapshot.Source, user_name: str) -> None:
    """The admin's action: file a replay request; pending requests and the last outcomes."""
    st.subheader("Replay quarantined lines", help=HELP["replay"])
    choices = health_data.open_reason_codes(source) or list(health_data.REASON_CODES)
    chosen = st.session_state.get(REPLAY_REASONS_KEY)
    if chosen and any(c not in choices for c in chosen):
        st.session_state[REPLAY_REASONS_KEY] = [c for c in chosen if c in choices]
    with st.form("data_health_replay"):
        reasons = st.multiselect(
            "Reason codes",
            choices,
            key=REPLAY_REASONS_KEY,
            placeholder="Every reason",
            help="Only the open lines of these reasons are retried; none chosen: every reason.",
        )
        submitted = st.form_submit_button("Request replay", icon=":material/replay:")
    if submitted:
        try:
            request = health_data.file_replay_request(user_name, reasons)
        except (ValueError, OSError) as exc:
            st.error(f"The request could not be filed: {exc}")
        else:
            st.success(
                f"Replay request `{request.request_id}` filed by {user_name} for "
                f"{', '.join(request.reason_codes) or 'every reason'}: the next pipeline run "
                "executes it (`churniq run`, or the Dagster job)."
            )
    outcomes = health_data.replay_outcomes(source)
    executed = set() if outcomes is None else set(outcomes["request_id"])
    waiting = health_data.pending(executed)
    st.markdown("**Pending requests**")
    if waiting.empty:
        st.caption("No pending request.")
    else:
        table(waiting, hide_index=True, width="stretch", subscribers=False)
    st.markdown("**Last replays**", help=HELP["replay_outcomes"])
    if outcomes is None or outcomes.empty:
        st.caption("No replay executed yet.")
        return
    table(outcomes, hide_index=True, width="stretch", subscribers=False)
    csv_download(
        outcomes, "data_health_replays.csv", "Download replay outcomes (CSV)", "dl_dh_replays"
    )


def render() -> None:
    opened = open_snapshot("Data health")
    if opened is None:
        return
    source, meta = opened
    if not health_data.has_ops(source):
        st.info(NO_OPS, icon=":material/health_and_safety:")
        snapshot_caption(meta)
        return
    st.caption(NO_FILTERS)
    run = health_data.run_info(source) or {}
    published = run.get("published_at") or meta.published_at
    sources = health_data.sources(source)
    reasons = health_data.quarantine_reasons(source)
    counts = health_data.check_counts(source)
    kpis = health_kpis(published, sources, reasons, counts)
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    if run.get("run_id"):
        st.caption(f"Published by run {run['run_id']}.")

    sources_section(source)
    connectors_section(source)
    reconciliation_section(source)
    quarantine_section(source)
    checks_section(source, counts)
    table_rows_section(source)
    loads_section(source)

    user = signin.current_user()
    if user is not None and user.may(ADMIN_ROLE):
        replay_section(source, user.name)
    snapshot_caption(meta)


render()
