"""Cohorts & survival: logo and revenue retention heatmaps (cohort month × months since) with
segment filters, Kaplan–Meier survival curves by segment, and sBG cohort projections against the
actual retention.

Retention follows the global platform and country filters and the page's acquisition-channel
filter when the snapshot has ``marts.cohort_retention_by_segment`` (sums over the segments, ratios
recomputed); otherwise it reads ``marts.cohort_retention`` for all segments and says so. The
curves and projections come from the ``ml`` tables, one segment type per curve.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.cohorts import (
    LOGO_HELP,
    PROJECTION_HELP,
    REVENUE_HELP,
    SURVIVAL_HELP,
    cohort_type_label,
    projection_chart,
    retention_frame,
    retention_heatmap,
    segment_type_label,
    survival_chart,
)
from app.components import csv_download, open_snapshot, snapshot_caption, table, table_missing
from app.data import cohorts as cohorts_data
from app.data import snapshot

CHANNEL_KEY = "cohorts_channels"
SURVIVAL_TYPE_KEY = "cohorts_survival_type"
SURVIVAL_SEGMENTS_KEY = "cohorts_survival_segments"
PROJECTION_TYPE_KEY = "cohorts_projection_type"
PROJECTION_COHORTS_KEY = "cohorts_projection_cohorts"
DEFAULT_PROJECTED = 4

#: Segment types whose segments a global filter narrows: type → Filters attribute.
FILTERED_TYPES: dict[str, str] = {
    "platform": "platforms",
    "country": "countries",
    "offer_type": "offer_types",
}


def _keep_known(key: str, options: list[str]) -> None:
    """Drop multiselect values a newly published snapshot (or another choice) no longer has."""
    chosen = st.session_state.get(key)
    if chosen is not None and any(v not in options for v in chosen):
        st.session_state[key] = [v for v in chosen if v in options]


def selection_label(chosen: filters.Filters, channels: tuple[str, ...]) -> str:
    """The platforms, countries and channels a retention figure is for."""
    parts = []
    if chosen.platforms:
        parts.append("platform: " + ", ".join(chosen.platforms))
    if chosen.countries:
        parts.append("country: " + ", ".join(chosen.countries))
    if channels:
        parts.append("acquisition channel: " + ", ".join(channels))
    return " · ".join(parts) or "all platforms, countries and acquisition channels"


def retention_caption(
    chosen: filters.Filters, channels: tuple[str, ...], result: cohorts_data.Retention
) -> str:
    period = (
        f"Cohorts of {filters.month_label(chosen.start)} – {filters.month_label(chosen.end)} "
        "(first paid month in the period), every month k up to the as-of month"
        if chosen.start and chosen.end
        else "Every cohort, every month k up to the as-of month"
    )
    if result.segmented:
        note = selection_label(chosen, channels) + " · retention recomputed from the sums"
    elif chosen.segmented or channels:
        note = (
            "For all platforms, countries and channels: the snapshot has no "
            f"`{cohorts_data.SEGMENT_TABLE}` table, so the filter "
            f"({selection_label(chosen, channels)}) does not apply."
        )
    else:
        note = "For all platforms, countries and channels."
    extra = chosen.offer_type_note("Cohorts")
    return " · ".join(p for p in (period, note, extra) if p)


def render_retention(source: snapshot.Source, chosen: filters.Filters) -> None:
    options = cohorts_data.channel_options(source)
    channels: tuple[str, ...] = ()
    if options:
        _keep_known(CHANNEL_KEY, options)
        channels = tuple(
            st.multiselect(
                "Acquisition channel",
                options,
                key=CHANNEL_KEY,
                placeholder="All acquisition channels",
                help="The customer's latest acquisition channel; applies to the retention "
                "heatmaps, with the platform and country filters of the sidebar.",
            )
        )
    result = cohorts_data.cohort_retention(
        source, chosen.start, chosen.end, chosen.platforms, chosen.countries, channels
    )
    st.subheader("Logo retention", help=LOGO_HELP)
    if table_missing(result, cohorts_data.RETENTION_TABLE):
        return
    st.caption(retention_caption(chosen, channels, result))
    frame = retention_frame(result.frame)
    if frame.empty or frame["cohort_customers"].sum() == 0:
        st.info("No cohort matches the filters: widen the period or the segment selection.")
        return
    cohorts = frame[frame["months_since"] == 0]
    st.caption(f"{len(cohorts)} cohorts, {fmt.count(cohorts['cohort_customers'].sum())} customers.")
    logo_columns = [
        "cohort_month",
        "months_since",
        "month",
        "cohort_customers",
        "active_customers",
        "logo_retention",
    ]
    st.altair_chart(retention_heatmap(frame, "logo_retention", "Logo retention"), width="stretch")
    csv_download(
        frame[logo_columns],
        "logo_retention.csv",
        "Download logo retention (CSV)",
        key="dl_cohorts_logo",
    )

    st.subheader("Revenue retention", help=REVENUE_HELP)
    revenue_columns = ["cohort_month", "months_since", "month", "mrr", "mrr_month0"]
    st.altair_chart(
        retention_heatmap(frame, "revenue_retention", "Revenue retention"), width="stretch"
    )
    csv_download(
        frame[[*revenue_columns, "revenue_retention"]],
        "revenue_retention.csv",
        "Download revenue retention (CSV)",
        key="dl_cohorts_revenue",
    )


def _survival_types(segments: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(segments["segment_type"]))
    known = [
        t for t in ("all", "offer_type", "platform", "country", "cohort_month") if t in present
    ]
    return known + sorted(t for t in present if t not in known)


def render_survival(source: snapshot.Source, chosen: filters.Filters) -> None:
    st.subheader("Survival curves (Kaplan–Meier)", help=SURVIVAL_HELP)
    segments = cohorts_data.survival_segments(source)
    if table_missing(segments, cohorts_data.SURVIVAL_TABLE):
        return
    if segments.empty:
        st.info("No survival curves yet: they need at least 30 paying customers.")
        return
    types = _survival_types(segments)
    default = types.index("platform") if "platform" in types else 0
    left, right = st.columns([1, 3])
    segment_type = left.selectbox(
        "Segment type",
        types,
        index=default,
        format_func=segment_type_label,
        key=SURVIVAL_TYPE_KEY,
    )
    of_type = segments[segments["segment_type"] == segment_type]
    options = list(of_type["segment"])  # largest first
    wanted = getattr(chosen, FILTERED_TYPES.get(segment_type, ""), ())
    if wanted:
        options = [s for s in options if s in wanted]
    key = f"{SURVIVAL_SEGMENTS_KEY}_{segment_type}"
    _keep_known(key, options)
    picked = right.multiselect(
        "Segments",
        options,
        default=None if key in st.session_state else options[: cohorts_data.MAX_SERIES],
        max_selections=cohorts_data.MAX_SERIES,
        key=key,
        placeholder=f"Choose up to {cohorts_data.MAX_SERIES} segments",
        help=f"At most {cohorts_data.MAX_SERIES} curves; the largest segments are shown first.",
    )
    notes = [
        f"{len(picked)} of {len(options)} {segment_type_label(segment_type).lower()} segments"
        f" (largest first, at most {cohorts_data.MAX_SERIES}); each curve thinned to about "
        f"{cohorts_data.MAX_POINTS} steps"
    ]
    applied = FILTERED_TYPES.get(segment_type)
    ignored = [
        label
        for attr, label in (
            ("platforms", "platform"),
            ("countries", "country"),
            ("offer_types", "offer type"),
        )
        if getattr(chosen, attr) and attr != applied
    ]
    if ignored:
        notes.append(
            f"the {' and '.join(ignored)} filter does not apply: each curve is one "
            f"{segment_type_label(segment_type).lower()} segment over all other segments"
        )
    st.caption(" · ".join(notes) + ". Tenure from the first paid day; the period does not apply.")
    if not picked:
        st.info("Choose at least one segment.")
        return
    curves = cohorts_data.survival_curves(source, segment_type, tuple(picked))
    if curves is None or curves.empty:
        st.info("No curve for this selection.")
        return
    st.altair_chart(survival_chart(curves), width="stretch")
    csv_download(
        curves.assign(segment_type=segment_type)[["segment_type", *curves.columns]],
        f"survival_curves_{segment_type}.csv",
        "Download survival curves (CSV)",
        key="dl_cohorts_survival",
    )


def _default_cohorts(cohort_type: str, options: list[str]) -> list[str]:
    """Signup months: a few spread from the oldest to the newest; other cohorts: the largest."""
    if cohort_type != "signup_month" or len(options) <= DEFAULT_PROJECTED:
        return options[:DEFAULT_PROJECTED]
    ordered = sorted(options)
    step = (len(ordered) - 1) / (DEFAULT_PROJECTED - 1)
    return list(dict.fromkeys(ordered[round(i * step)] for i in range(DEFAULT_PROJECTED)))


def projection_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per cohort: customers, months observed, sBG parameters, and the projected retention at
    12 and 36 months with their intervals."""
    rows = []
    for cohort, group in frame.groupby("cohort", sort=False):
        row = {
            "cohort": cohort,
            "customers": group["customers"].iloc[0],
            "observed_months": group["observed_months"].iloc[0],
            "alpha": group["alpha"].iloc[0],
            "beta": group["beta"].iloc[0],
        }
        for month in (12, 36):
            at = group[group["period"] == month]
            for column in ("projected_retention", "ci_lower", "ci_upper"):
                row[f"{column}_{month}"] = at[column].iloc[0] if not at.empty else None
        rows.append(row)
    return pd.DataFrame(rows)


def render_projections(source: snapshot.Source, chosen: filters.Filters) -> None:
    st.subheader("Cohort projections", help=PROJECTION_HELP)
    cohorts = cohorts_data.projection_cohorts(source)
    if table_missing(cohorts, cohorts_data.PROJECTION_TABLE):
        return
    if cohorts.empty:
        st.info("No cohort projected yet: a cohort needs 100 customers and 3 observed months.")
        return
    present = list(dict.fromkeys(cohorts["cohort_type"]))
    types = [t for t in ("signup_month", "offer") if t in present]
    types += [t for t in present if t not in types]
    left, right = st.columns([1, 3])
    cohort_type = left.selectbox(
        "Cohorts by", types, format_func=cohort_type_label, key=PROJECTION_TYPE_KEY
    )
    of_type = cohorts[cohorts["cohort_type"] == cohort_type]
    options = list(of_type["cohort"])
    if cohort_type == "signup_month":
        options = sorted(options)
    key = f"{PROJECTION_COHORTS_KEY}_{cohort_type}"
    _keep_known(key, options)
    picked = right.multiselect(
        "Cohorts",
        options,
        default=None if key in st.session_state else _default_cohorts(cohort_type, options),
        max_selections=cohorts_data.MAX_SERIES,
        key=key,
        placeholder=f"Choose up to {cohorts_data.MAX_SERIES} cohorts",
    )
    st.caption(
        f"{len(picked)} of {len(options)} cohorts · fitted on every customer of the cohort: the "
        "period, platform, country and offer-type filters do not apply."
    )
    if not picked:
        st.info("Choose at least one cohort.")
        return
    frame = cohorts_data.cohort_projections(source, cohort_type, tuple(picked))
    if frame is None or frame.empty:
        st.info("No projection for this selection.")
        return
    st.altair_chart(projection_chart(frame), width="stretch")
    summary = projection_summary(frame)
    table(
        summary,
        hide_index=True,
        column_config={
            "cohort": "Cohort",
            "customers": st.column_config.NumberColumn("Customers", format="%d"),
            "observed_months": st.column_config.NumberColumn("Months observed", format="%d"),
            "alpha": st.column_config.NumberColumn("α", format="%.3f"),
            "beta": st.column_config.NumberColumn("β", format="%.3f"),
            **{
                f"{column}_{month}": st.column_config.NumberColumn(
                    f"{label} at {month} months", format="percent"
                )
                for month in (12, 36)
                for column, label in (
                    ("projected_retention", "Projected"),
                    ("ci_lower", "95% low"),
                    ("ci_upper", "95% high"),
                )
            },
        },
        subscribers=False,
    )
    csv_download(
        frame.assign(cohort_type=cohort_type)[["cohort_type", *frame.columns]],
        f"cohort_projections_{cohort_type}.csv",
        "Download cohort projections (CSV)",
        key="dl_cohorts_projections",
    )


def render() -> None:
    opened = open_snapshot("Cohorts & survival")
    if opened is None:
        return
    source, meta = opened
    chosen = filters.current()
    render_retention(source, chosen)
    render_survival(source, chosen)
    render_projections(source, chosen)
    snapshot_caption(meta)


render()
