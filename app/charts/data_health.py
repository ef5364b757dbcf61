"""Charts and help texts of the Data health page (the ``ops`` schema of the snapshot).

METRICS.md defines business metrics only; these texts describe how the pipeline computes each
data-health figure (``ingestion.publish.publish_ops``, ``ingestion.loader``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

HELP: dict[str, str] = {
    "last_run": (
        "When the latest successful pipeline run published this snapshot (UTC). A run that "
        "fails publishes nothing, so the dashboards keep the previous snapshot."
    ),
    "freshness": (
        "Hours between the newest event loaded (its occurred_at) and the publication of this "
        "snapshot, over every source. Large when producers stopped sending or the pipeline "
        "stopped running."
    ),
    "open_quarantine": (
        "Lines rejected by the contract validation or as conflicting duplicates that have not "
        "been replayed successfully yet (raw.quarantine rows without replayed_at)."
    ),
    "checks": (
        "Latest result of every asset check of the pipeline (quarantine ratio, score drift, "
        "MRR bridge) and every dbt test. A failing WARN check is a warning; any other failure "
        "is an error."
    ),
    "sources": (
        "Per source, from the load ledger: batches (one per landing file or outbox batch), lines "
        "read, events loaded, duplicates skipped, lines quarantined; the last successful load "
        "(batch committed) and the newest event time of the events stored from it. Replays of "
        "quarantined lines are a source of their own."
    ),
    "event_sources": (
        "Events stored in raw.events per producing system (the events' source field): count, "
        "oldest and newest occurred_at, last load time."
    ),
    "quarantine": (
        "Quarantined lines by reason code: open (still rejected) and replayed (loaded, or found "
        "to be duplicates, by a replay after a fix). A still-failing line keeps one row whose "
        "reason is refreshed at each replay."
    ),
    "samples": (
        "At most three lines per reason, open ones and the newest first. Only the envelope "
        "(ids, type, time, source) and the field the reason names are shown; other data fields "
        "are elided and personal attributes and e-mail addresses are redacted."
    ),
    "table_rows": "Rows of every table published in this snapshot (schemas marts and ml).",
    "loads": (
        "The latest batches of the load ledger (at most 200 are published), newest first: "
        "lines read, events loaded, duplicates, quarantined and duration."
    ),
    "replay": (
        "Asks the pipeline to re-validate the open quarantined lines of the chosen reasons with "
        "the current contract and load those that now pass (same dedupe rules, one "
        "transaction). The request is executed at the start of the next pipeline run; the "
        "dashboards never write to the warehouse."
    ),
    "connectors": (
        "Each connected provider (a source with an import state, or webhooks in the core's "
        "inbox): hours since its last API backfill, its newest webhook and its newest event; "
        "provider objects read and contract events written by its imports, events stored, "
        "webhooks received, objects that could not be translated, and the quarantined lines "
        "that came from it (its landing files, or its webhooks through the outbox)."
    ),
    "connector_ignored": (
        "Provider types with no contract meaning (for Stripe, payouts or balance changes): "
        "counted by type, never loaded, never quarantined."
    ),
    "reconciliation": (
        "After each API backfill the provider's own view of its active subscriptions and their "
        "MRR is compared with the marts on the same day, per customer and currency, in the "
        "original currency (marts.reconciliation_provider). A customer differs when the counts "
        "differ or the MRRs differ by half a minor unit or more."
    ),
    "replay_outcomes": (
        "Executed replay requests, newest first: who asked, the reasons, and how many lines "
        "were retried, loaded, found duplicate or are still quarantined."
    ),
}

QUARANTINE_STATES: dict[str, tuple[str, str]] = {
    "open_lines": ("Open", "#c62828"),
    "replayed_lines": ("Replayed", "#66bb6a"),
}


def quarantine_frame(reasons: pd.DataFrame) -> pd.DataFrame:
    """Reason code with open and replayed lines: the data behind the quarantine chart."""
    return reasons[["reason_code", "open_lines", "replayed_lines"]].reset_index(drop=True)


def quarantine_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="reason_code",
        value_vars=list(QUARANTINE_STATES),
        var_name="column",
        value_name="lines",
    )
    long["state"] = long["column"].map(lambda c: QUARANTINE_STATES[c][0])
    long["order"] = long["column"].map(list(QUARANTINE_STATES).index)
    order = list(frame["reason_code"])
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("reason_code:N", title=None, sort=order),
            x=alt.X("lines:Q", title="Quarantined lines", stack="zero"),
            color=alt.Color(
                "state:N",
                title=None,
                scale=alt.Scale(
                    domain=[v[0] for v in QUARANTINE_STATES.values()],
                    range=[v[1] for v in QUARANTINE_STATES.values()],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("reason_code:N", title="Reason"),
                alt.Tooltip("state:N", title="State"),
                alt.Tooltip("lines:Q", title="Lines", format=","),
            ],
        )
        .properties(height=max(80, 28 * len(order)))
    )


def freshness_frame(sources: pd.DataFrame) -> pd.DataFrame:
    """Per source, hours from its newest event and from its last load to the publication."""
    return sources[["source", "event_lag_hours", "hours_since_last_load"]].reset_index(drop=True)


def freshness_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="source",
        value_vars=["event_lag_hours", "hours_since_last_load"],
        var_name="measure",
        value_name="hours",
    ).dropna()
    long["measure"] = long["measure"].map(
        {"event_lag_hours": "Since newest event", "hours_since_last_load": "Since last load"}
    )
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("source:N", title=None),
            yOffset=alt.YOffset("measure:N"),
            x=alt.X("hours:Q", title="Hours before publication"),
            color=alt.Color(
                "measure:N",
                title=None,
                scale=alt.Scale(range=["#1565c0", "#90caf9"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("source:N", title="Source"),
                alt.Tooltip("measure:N", title="Measure"),
                alt.Tooltip("hours:Q", title="Hours", format=",.1f"),
            ],
        )
        .properties(height=max(80, 50 * frame["source"].nunique()))
    )
