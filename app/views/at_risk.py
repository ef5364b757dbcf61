"""At-risk subscribers: the retention workspace on the latest churn scoring.

KPIs, the selection by top reason, the subscriber list (paginated in DuckDB) and, for users who
may "retention", the export of the whole selection. Every figure comes from one filter
(``data.ScoreFilters`` → ``data._scores_selection``): the global platform and country filters
plus this page's filters.
"""

from __future__ import annotations

import math
from functools import partial

import pandas as pd
import streamlit as st

from app import filters, signin
from app import formatting as fmt
from app.campaign_panel import launch_panel, results_panel
from app.charts.at_risk import reasons_chart
from app.components import Kpi, csv_download, metric, open_snapshot, snapshot_caption, table
from app.data import at_risk as at_risk_data
from app.data import snapshot
from app.metric_help import AT_RISK_LIST_HELP, AT_RISK_REASONS_HELP, SCORE_DEFINITIONS
from app.users import EXPORT_ROLE

NO_SCORES = (
    "No scores yet: run `churniq run` once the business has a few months of history "
    "(the snapshot has no `ml.churn_scores` table)."
)
EXPORTS_NEED_ROLE = (
    "Exports need the retention role: ask an admin (`churniq users add NAME --role retention`)."
)
PAGE_SIZE = 50

BAND_KEY = "at_risk_bands"
PROBABILITY_KEY = "at_risk_min_probability"
MRR_KEY = "at_risk_min_mrr"
LTV_KEY = "at_risk_min_ltv"
REASON_KEY = "at_risk_reasons"
PAGE_KEY = "at_risk_page"

#: Reason groups of the model (``top_reason_groups``) in plain words.
REASON_LABELS: dict[str, str] = {
    at_risk_data.NO_REASON: "No stand-out reason",
    "tenure": "Tenure",
    "engagement": "Engagement (watch time)",
    "price_level": "Price level",
    "price_change": "Price change",
    "failed_payments": "Failed payments",
    "pending_cancellation": "Pending cancellation",
    "churn_history": "Churned before",
    "platform": "Platform",
    "plan": "Plan",
    "trial": "Trial",
    "discount": "Discount",
    "coupon_expiry": "Coupon expiry",
    "satisfaction": "Satisfaction",
    "technical_tickets": "Technical support tickets",
    "billing_tickets": "Billing support tickets",
    "other_tickets": "Other support tickets",
}


def reason_label(key: str) -> str:
    return REASON_LABELS.get(key, key.replace("_", " ").capitalize())


def _keep_known(key: str, options: list[str]) -> None:
    """Drop multiselect values a newly published snapshot no longer has."""
    chosen = st.session_state.get(key)
    if chosen is not None and any(v not in options for v in chosen):
        st.session_state[key] = [v for v in chosen if v in options]


def page_filters(
    options: dict[str, list[str]], chosen: filters.Filters
) -> at_risk_data.ScoreFilters:
    """The page's filter widgets, combined with the global platform, country and offer-type
    filters."""
    for key, dim in ((BAND_KEY, "risk_band"), (REASON_KEY, "reason")):
        _keep_known(key, options[dim])
    with st.container(border=True):
        first = st.columns(2)
        bands = first[0].multiselect(
            "Risk band", options["risk_band"], key=BAND_KEY, placeholder="All risk bands"
        )
        reasons = first[1].multiselect(
            "Top reason",
            options["reason"],
            format_func=reason_label,
            key=REASON_KEY,
            placeholder="All reasons",
            help="Group of the feature that raised the subscriber's churn score the most.",
        )
        second = st.columns(3)
        probability = second[0].slider(
            "Minimum churn probability (30 days)",
            min_value=0,
            max_value=100,
            value=0,
            step=1,
            format="%d%%",
            key=PROBABILITY_KEY,
            help=SCORE_DEFINITIONS["churn_probability"],
        )
        min_mrr = second[1].number_input(
            "Minimum MRR", min_value=0.0, value=0.0, step=1.0, key=MRR_KEY
        )
        min_ltv = second[2].number_input(
            "Minimum predicted LTV", min_value=0.0, value=0.0, step=10.0, key=LTV_KEY
        )
    return at_risk_data.ScoreFilters(
        platforms=chosen.platforms,
        countries=chosen.countries,
        risk_bands=tuple(bands),
        min_probability=probability / 100,
        min_mrr=float(min_mrr),
        min_ltv=float(min_ltv),
        reasons=tuple(reasons),
        offer_types=chosen.offer_types,
    )


def summary_kpis(summary: dict, currency: str | None) -> list[Kpi]:
    return [
        Kpi(
            "Subscribers",
            fmt.count(summary["subscribers"]),
            None,
            SCORE_DEFINITIONS["subscribers"],
        ),
        Kpi(
            "MRR at risk",
            fmt.money(summary["mrr_at_risk"], currency),
            None,
            SCORE_DEFINITIONS["mrr_at_risk"],
        ),
        Kpi(
            "MRR of the selection",
            fmt.money(summary["mrr"], currency),
            None,
            SCORE_DEFINITIONS["selection_mrr"],
        ),
        Kpi(
            "Expected churners",
            fmt.ratio(summary["expected_churners"], 1),
            None,
            SCORE_DEFINITIONS["expected_churners"],
        ),
    ]


def scoring_caption(summary: dict, chosen: filters.Filters) -> str:
    scored = summary["scored_at"]
    parts = [f"Latest scoring {scored:%Y-%m-%d}" if scored else "Latest scoring"]
    if summary["horizon_days"]:
        parts.append(f"{summary['horizon_days']}-day horizon")
    if summary["model_version"]:
        parts.append(f"model {summary['model_version']}")
    parts.append(chosen.describe())
    return " · ".join(parts)


def choose_page(pages: int) -> int:
    """Page number of the list (1-based); a narrower selection drops a page beyond its end."""
    value = st.session_state.get(PAGE_KEY)
    if value is not None and not 1 <= value <= pages:
        st.session_state.pop(PAGE_KEY)
    return int(st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=PAGE_KEY))


def list_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """The list as shown: top-reason group in plain words."""
    return rows.assign(top_reason_group=rows["top_reason_group"].map(reason_label))


LIST_COLUMNS = {
    "customer_id": "Customer (pseudonymous)",
    "risk_band": "Risk band",
    "top_reasons": "Top reasons",
    "top_reason_group": "Reason group",
    "offer_type": "Offer type",
    "platform": "Platform",
    "country": "Country",
}
NUMBER_COLUMNS = {
    "mrr": ("MRR", "%.2f"),
    "mrr_at_risk": ("MRR at risk", "%.2f"),
    "predicted_ltv": ("Predicted LTV", "%.2f"),
    "predicted_ltv_lower": ("LTV low", "%.2f"),
    "predicted_ltv_upper": ("LTV high", "%.2f"),
    "expected_remaining_months": ("Expected months left", "%.1f"),
    "expected_remaining_months_lower": ("Months low", "%.1f"),
    "expected_remaining_months_upper": ("Months high", "%.1f"),
}


def exports(
    source: snapshot.Source, selection: at_risk_data.ScoreFilters, subscribers: int
) -> None:
    """CSV and Parquet of the whole selection for users who may "retention"; built on click."""
    user = signin.current_user()
    if user is None or not user.may(EXPORT_ROLE):
        st.caption(EXPORTS_NEED_ROLE)
        return
    left, right = st.columns(2)
    for column, file_format, mime in (
        (left, "csv", "text/csv"),
        (right, "parquet", "application/vnd.apache.parquet"),
    ):
        with column:
            st.download_button(
                f"Export selection ({file_format.upper() if file_format == 'csv' else 'Parquet'})",
                partial(at_risk_data.export_selection, source, selection, file_format),
                file_name=f"at_risk_subscribers.{file_format}",
                mime=mime,
                key=f"dl_at_risk_{file_format}",
                icon=":material/download:",
                on_click="ignore",
            )
    cap = fmt.count(at_risk_data.EXPORT_ROW_CAP)
    note = (
        f"The selection has {fmt.count(subscribers)} subscribers: the export holds the first "
        f"{cap} by MRR at risk."
        if subscribers > at_risk_data.EXPORT_ROW_CAP
        else f"Exports hold the whole selection (at most {cap} rows, most MRR at risk first)"
    )
    st.caption(
        f"{note}: pseudonymous customer ids and score columns only (probabilities at 30, 60 "
        "and 90 days, risk band, MRR, predicted LTV and remaining months with intervals, "
        "reasons, segment, scoring date and model)."
    )


def render() -> None:
    opened = open_snapshot("At-risk subscribers")
    if opened is None:
        return
    source, meta = opened
    if not at_risk_data.has_scores(source):
        st.info(NO_SCORES, icon=":material/model_training:")
        return
    currency = meta.reporting_currency
    chosen = filters.current()
    selection = page_filters(at_risk_data.score_options(source), chosen)

    summary = at_risk_data.score_summary(source, selection)
    if summary is None:
        st.info(NO_SCORES, icon=":material/model_training:")
        return
    st.caption(scoring_caption(summary, chosen))
    kpis = summary_kpis(summary, currency)
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    subscribers = summary["subscribers"]
    if subscribers == 0:
        st.warning("No subscribers match the filters.")
        results_panel(source)
        snapshot_caption(meta)
        return

    st.subheader("Why they are at risk", help=AT_RISK_REASONS_HELP)
    breakdown = at_risk_data.reason_breakdown(source, selection)
    if breakdown is not None and not breakdown.empty:
        frame = breakdown.assign(label=breakdown["reason"].map(reason_label))
        st.altair_chart(reasons_chart(frame, currency), width="stretch")
        csv_download(
            frame[["reason", "label", "subscribers", "mrr_at_risk"]],
            "at_risk_reasons.csv",
            "Download reasons (CSV)",
            key="dl_at_risk_reasons",
        )

    st.subheader("Subscribers", help=AT_RISK_LIST_HELP)
    pages = math.ceil(subscribers / PAGE_SIZE)
    page = choose_page(pages)
    rows = at_risk_data.subscriber_page(source, selection, page, PAGE_SIZE)
    if rows is not None:
        first = (page - 1) * PAGE_SIZE + 1
        st.caption(
            f"Page {page} of {pages} · subscribers {fmt.count(first)}–"
            f"{fmt.count(first + len(rows) - 1)} of {fmt.count(subscribers)}, "
            "most MRR at risk first"
        )
        table(
            list_frame(rows),
            subscribers=True,
            hide_index=True,
            column_config={
                **LIST_COLUMNS,
                "churn_probability": st.column_config.NumberColumn(
                    "Churn probability (30 d)", format="percent"
                ),
                **{
                    c: st.column_config.NumberColumn(label, format=f)
                    for c, (label, f) in NUMBER_COLUMNS.items()
                },
            },
        )
    exports(source, selection, subscribers)
    launch_panel(source, selection, subscribers)
    results_panel(source)
    snapshot_caption(meta)


render()
