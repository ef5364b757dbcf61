"""Cached queries of the Subscriber 360 page: one customer's profile, subscriptions, timeline,
payments, tickets, engagement, churn score and survival curve.

Every query filters on ``customer_id = ?`` only (the id reaches DuckDB as a parameter) and pages
with LIMIT / OFFSET, so a lookup stays fast at a million customers: ``marts.customer_timeline``
is stored ordered by customer, so DuckDB's zone maps skip every row group but one or two.
Only pseudonymous ids and business attributes are selected, never personal data.

The survival curve of a customer comes from the champion model's Weibull AFT survival model,
whose parameters the scoring publishes in ``ml.survival_parameters`` (drawn by
``models.survival_parameters``, numpy alone: the app loads no model file), with the customer's
plan, platform and country; without them, from the Kaplan–Meier curve of one of their segments
in ``ml.survival_curves``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app.data.snapshot import Source, columns, query, tables, to_datetime
from models import survival_parameters
from models.survival_parameters import customer_curve

PROFILE_TABLE = "marts.dim_customers"
SUBSCRIPTIONS_TABLE = "marts.fct_subscriptions"
TIMELINE_TABLE = "marts.customer_timeline"
MONTHS_TABLE = "marts.customer_months"
SCORES_TABLE = "ml.churn_scores"
CURVES_TABLE = "ml.survival_curves"
PARAMETERS_TABLE = f"ml.{survival_parameters.TABLE}"

#: Most rows of one customer's payments or tickets sent to the browser (newest first).
ROW_CAP = 500
DAYS_PER_MONTH = 365.25 / 12

PROFILE_COLUMNS = (
    "customer_id",
    "status",
    "current_mrr",
    "lifetime_revenue",
    "country",
    "signup_platform",
    "acquisition_channel",
    "cohort_month",
    "first_paid_date",
    "is_erased",
)
SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "offer_id",
    "offer_type",
    "billing_period",
    "platform",
    "status",
    "current_mrr",
    "started_at",
    "trial_ends_at",
    "first_paid_at",
    "cancel_requested_at",
    "cancel_reason",
    "cancel_effective_at",
    "ended_at",
    "ended_reason",
    "churn_type",
    "currency",
    "price_minor",
    "discount_minor",
)
TIMELINE_COLUMNS = (
    "occurred_at",
    "event_family",
    "event_type",
    "summary",
    "subscription_id",
    "offer_id",
    "ticket_id",
    "amount",
    "amount_minor",
    "currency",
)
ENGAGEMENT_COLUMNS = (
    "month",
    "minutes_watched_4w",
    "minutes_watched_prev_4w",
    "sessions_4w",
    "mrr",
    "tickets_30d",
)
SCORE_COLUMNS = (
    "scored_at",
    "horizon_days",
    "churn_probability",
    "churn_probability_60d",
    "churn_probability_90d",
    "risk_band",
    "expected_remaining_months",
    "expected_remaining_months_lower",
    "expected_remaining_months_upper",
    "mrr",
    "predicted_ltv",
    "predicted_ltv_lower",
    "predicted_ltv_upper",
    "top_reasons",
    "offer_type",
    "platform",
    "country",
    "model_version",
)


def _present(source: Source, table: str, wanted: tuple[str, ...]) -> list[str]:
    """The wanted columns the table has, in the wanted order (a publisher may lack some)."""
    have = set(columns(source, table))
    return [c for c in wanted if c in have]


def _select(source: Source, table: str, wanted: tuple[str, ...]) -> str:
    return ", ".join(_present(source, table, wanted))


def clean_id(text: str | None) -> str:
    """The id as typed, without surrounding blanks or quotes."""
    return (text or "").strip().strip("'\"`").strip()


@st.cache_data(show_spinner=False)
def profile(source: Source, customer_id: str) -> pd.DataFrame | None:
    """The customer's row of ``marts.dim_customers`` (empty when unknown); None without the
    table."""
    if PROFILE_TABLE not in tables(source):
        return None
    return query(
        source,
        f"select {_select(source, PROFILE_TABLE, PROFILE_COLUMNS)} from {PROFILE_TABLE}"
        " where customer_id = ? limit 1",
        [customer_id],
    )


@st.cache_data(show_spinner=False)
def subscriptions(source: Source, customer_id: str) -> pd.DataFrame | None:
    """The customer's subscriptions, latest started first; None without the table."""
    if SUBSCRIPTIONS_TABLE not in tables(source):
        return None
    return query(
        source,
        f"select {_select(source, SUBSCRIPTIONS_TABLE, SUBSCRIPTION_COLUMNS)}"
        f" from {SUBSCRIPTIONS_TABLE} where customer_id = ?"
        " order by started_at desc nulls last, subscription_id limit ?",
        [customer_id, ROW_CAP],
    )


# --- Timeline -----------------------------------------------------------------------------


def has_timeline(source: Source) -> bool:
    return TIMELINE_TABLE in tables(source)


def _families_sql(families: tuple[str, ...]) -> tuple[str, list[Any]]:
    if not families:
        return "", []
    return f" and event_family in ({', '.join('?' * len(families))})", list(families)


@st.cache_data(show_spinner=False)
def timeline_families(source: Source, customer_id: str) -> pd.DataFrame | None:
    """Event families of the customer's timeline with their number of events (most first);
    None without the table."""
    if not has_timeline(source):
        return None
    return query(
        source,
        f"select event_family, count(*) as events from {TIMELINE_TABLE}"
        " where customer_id = ? group by 1 order by 2 desc, 1",
        [customer_id],
    )


@st.cache_data(show_spinner=False)
def timeline_page(
    source: Source, customer_id: str, families: tuple[str, ...], page: int, page_size: int
) -> pd.DataFrame | None:
    """One page (1-based) of the customer's events of `families` (all when empty), newest
    first; None without the table."""
    if not has_timeline(source):
        return None
    where, params = _families_sql(families)
    return query(
        source,
        f"select {_select(source, TIMELINE_TABLE, TIMELINE_COLUMNS)} from {TIMELINE_TABLE}"
        f" where customer_id = ?{where}"
        " order by occurred_at desc, event_id desc limit ? offset ?",
        [customer_id, *params, int(page_size), (max(int(page), 1) - 1) * int(page_size)],
    )


@st.cache_data(show_spinner=False)
def payments(source: Source, customer_id: str) -> pd.DataFrame | None:
    """The customer's payment events (newest first, at most :data:`ROW_CAP`); None without the
    timeline."""
    if not has_timeline(source):
        return None
    return query(
        source,
        f"select occurred_at, event_type, summary, subscription_id, amount, amount_minor,"
        f" currency from {TIMELINE_TABLE}"
        " where customer_id = ? and event_family = 'payment'"
        " order by occurred_at desc, event_id desc limit ?",
        [customer_id, ROW_CAP],
    )


@st.cache_data(show_spinner=False)
def payment_totals(source: Source, customer_id: str) -> pd.DataFrame | None:
    """Per payment event type: events and their amount in the reporting currency (over all the
    customer's payments, not only the rows shown)."""
    if not has_timeline(source):
        return None
    return query(
        source,
        f"select event_type, count(*) as events, coalesce(sum(amount), 0)::double as amount"
        f" from {TIMELINE_TABLE} where customer_id = ? and event_family = 'payment'"
        " group by 1 order by 1",
        [customer_id],
    )


@st.cache_data(show_spinner=False)
def tickets(source: Source, customer_id: str) -> pd.DataFrame | None:
    """One row per support ticket of the customer (latest opened first): when it was opened
    and resolved, its category and the two summaries; None without the timeline."""
    if not has_timeline(source):
        return None
    return query(
        source,
        f"""
        select
            ticket_id,
            min(case when event_type = 'support.ticket_opened' then occurred_at end) as opened_at,
            max(case when event_type = 'support.ticket_opened' then detail end) as category,
            min(case when event_type = 'support.ticket_opened' then summary end) as opened,
            min(case when event_type = 'support.ticket_resolved' then occurred_at end)
                as resolved_at,
            min(case when event_type = 'support.ticket_resolved' then summary end) as resolution
        from {TIMELINE_TABLE}
        where customer_id = ? and event_family = 'support'
        group by ticket_id
        order by coalesce(opened_at, resolved_at) desc, ticket_id
        limit ?
        """,
        [customer_id, ROW_CAP],
    )


# --- Engagement, score --------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def engagement(source: Source, customer_id: str) -> pd.DataFrame | None:
    """Per month the customer was live: minutes watched and sessions in the 4 weeks to the
    month end, MRR and tickets (``marts.customer_months``); None without the table."""
    if MONTHS_TABLE not in tables(source):
        return None
    df = query(
        source,
        f"select {_select(source, MONTHS_TABLE, ENGAGEMENT_COLUMNS)} from {MONTHS_TABLE}"
        " where customer_id = ? order by month",
        [customer_id],
    )
    if df is not None and "month" in df.columns:
        df["month"] = pd.to_datetime(df["month"])
    return df


@dataclass(frozen=True)
class Score:
    """The customer's row of the latest scoring (``row`` None when they were not scored)."""

    scored_at: datetime | None
    row: dict[str, Any] | None


@st.cache_data(show_spinner=False)
def latest_score(source: Source, customer_id: str) -> Score | None:
    """The customer in the latest scoring run of ``ml.churn_scores`` (the whole table's latest
    scored_at: an older score of a customer who is no longer live is not shown); None without
    the table."""
    if SCORES_TABLE not in tables(source):
        return None
    latest = query(source, f"select max(scored_at) as scored_at from {SCORES_TABLE}")
    scored_at = None if latest is None else to_datetime(latest["scored_at"].iloc[0])
    df = query(
        source,
        f"select {_select(source, SCORES_TABLE, SCORE_COLUMNS)} from {SCORES_TABLE}"
        f" where customer_id = ? and scored_at = (select max(scored_at) from {SCORES_TABLE})"
        " limit 1",
        [customer_id],
    )
    if df is None or df.empty:
        return Score(scored_at, None)
    row = df.iloc[0].to_dict()
    reasons = row.get("top_reasons")
    row["top_reasons"] = [] if reasons is None else [str(r) for r in list(reasons)]
    return Score(scored_at, row)


# --- Survival -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def survival_features(source: Source, customer_id: str) -> dict[str, Any] | None:
    """What the survival models need: the customer's plan, platform, country and tenure (latest
    live month), the first paid offer type and cohort (the segments of the Kaplan–Meier curves,
    as ``models.store.survival_input`` defines them). None when the customer never paid or
    the tables are missing."""
    needed = {
        MONTHS_TABLE: {"month", "month_end", "offer_type", "platform", "paid_tenure_days", "mrr"},
        PROFILE_TABLE: {"country", "signup_platform", "cohort_month", "first_paid_date"},
    }
    if any(not wanted <= set(columns(source, table)) for table, wanted in needed.items()):
        return None
    df = query(
        source,
        f"""
        with months as (
            select * from {MONTHS_TABLE} where customer_id = ?
        ),
        latest as (
            select offer_type, platform, paid_tenure_days, month_end
            from months order by month desc limit 1
        ),
        first_offer as (
            select arg_min(offer_type, month) as first_offer_type from months where mrr > 0
        )
        select
            coalesce(latest.offer_type, 'unknown') as offer_type,
            coalesce(latest.platform, 'unknown') as platform,
            coalesce(customers.country, 'unknown') as country,
            coalesce(customers.signup_platform, 'unknown') as signup_platform,
            coalesce(first_offer.first_offer_type, 'unknown') as first_offer_type,
            strftime(customers.cohort_month, '%Y-%m') as cohort,
            customers.first_paid_date,
            latest.paid_tenure_days,
            latest.month_end
        from {PROFILE_TABLE} as customers
        left join latest on true
        left join first_offer on true
        where customers.customer_id = ?
        """,
        [customer_id, customer_id],
    )
    if df is None or df.empty or pd.isna(df["first_paid_date"].iloc[0]):
        return None
    row = df.iloc[0].to_dict()
    days = row["paid_tenure_days"]
    row["tenure_months"] = None if pd.isna(days) else int(np.floor(float(days) / 30.4375))
    return row


def _segment_options(features: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("offer_type", str(features["first_offer_type"])),
        ("platform", str(features["signup_platform"])),
        ("country", str(features["country"])),
        ("cohort_month", str(features["cohort"])),
        ("all", "all"),
    ]


@st.cache_data(show_spinner=False)
def segment_curves(source: Source, features: dict[str, Any]) -> pd.DataFrame | None:
    """The Kaplan–Meier curves of the customer's segments that ``ml.survival_curves`` has
    (a segment with too few customers has none), with ``t_months``; None without the table."""
    if CURVES_TABLE not in tables(source):
        return None
    options = _segment_options(features)
    pairs = " or ".join("(segment_type = ? and segment = ?)" for _ in options)
    df = query(
        source,
        f"select segment_type, segment, t_days, survival, ci_lower, ci_upper, at_risk"
        f" from {CURVES_TABLE} where {pairs} order by segment_type, segment, t_days",
        [v for pair in options for v in pair],
    )
    if df is not None:
        df["t_months"] = df["t_days"] / DAYS_PER_MONTH
    return df


@st.cache_data(show_spinner=False)
def model_curve(
    source: Source, features: dict[str, Any], horizon_months: int
) -> pd.DataFrame | None:
    """The customer's own curve from the champion's survival model, whose parameters the
    scoring publishes in ``ml.survival_parameters``; None without them."""
    if PARAMETERS_TABLE not in tables(source):
        return None
    parameters = query(source, f"select * from {PARAMETERS_TABLE} order by position")
    if parameters is None or parameters.empty:
        return None
    return customer_curve(parameters, features, horizon_months)


def as_date(value: Any) -> date | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()
