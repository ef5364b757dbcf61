"""Subscriber 360: one customer, found by their pseudonymous id.

Profile, subscriptions, churn score with its reasons and intervals, survival curve, engagement
trend, the paginated timeline of every event, payments and support tickets. Every query filters on
the customer id only (``app.data_subscriber``); the global filters do not apply to one customer's
history and the page says so.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.subscriber import (
    ENGAGEMENT_HELP,
    MODEL_SURVIVAL_HELP,
    PAYMENTS_HELP,
    PROFILE_HELP,
    SCORE_HELP,
    SEGMENT_SURVIVAL_HELP,
    SUBSCRIBER_DEFINITIONS,
    SUBSCRIPTIONS_HELP,
    TICKETS_HELP,
    TIMELINE_HELP,
    engagement_chart,
    survival_chart,
)
from app.components import (
    Kpi,
    csv_download,
    empty_state,
    metric,
    missing_table_text,
    open_snapshot,
    snapshot_caption,
    table,
    table_missing,
)
from app.data import snapshot
from app.data import subscriber as subscriber_data

ID_KEY = "subscriber_id"
FAMILY_KEY = "subscriber_families"
PAGE_KEY = "subscriber_page"
SEGMENT_KEY = "subscriber_segment"
PAGE_SIZE = 25

FAMILY_LABELS = {
    "customer": "Customer",
    "subscription": "Subscription",
    "payment": "Payment",
    "purchase": "Purchase",
    "coupon": "Coupon",
    "retention": "Retention",
    "support": "Support",
}
SEGMENT_LABELS = {
    "offer_type": "Offer type (first paid month)",
    "platform": "Signup platform",
    "country": "Country",
    "cohort_month": "Cohort",
    "all": "All customers",
}


def money_column(label: str, currency: str | None) -> Any:
    return st.column_config.NumberColumn(
        f"{label}{f' ({currency})' if currency else ''}", format="%.2f"
    )


def interval(value: Any, lower: Any, upper: Any, shown: Any) -> str:
    """``12.3 (8.1–15.0)``."""
    if fmt.is_missing(value):
        return "n/a"
    if fmt.is_missing(lower) or fmt.is_missing(upper):
        return shown(value)
    return f"{shown(value)} ({shown(lower)}–{shown(upper)})"


def filters_note(chosen: filters.Filters) -> str:
    note = (
        "One customer's whole history: the global filters (period, platform, country, offer type)"
    )
    if chosen.segmented or chosen.offer_types:
        return f"{note} do not apply to this page (chosen: {chosen.describe()})."
    return f"{note} do not apply to this page."


def choose_customer() -> str:
    """The id typed in the box (prefilled from ``?customer=`` when given)."""
    if ID_KEY not in st.session_state and st.query_params.get("customer"):
        st.session_state[ID_KEY] = st.query_params["customer"]
    typed = st.text_input(
        "Customer id",
        key=ID_KEY,
        placeholder="e.g. c42-100",
        help="The customer's pseudonymous id, as in the at-risk list. The platform keeps no "
        "names or emails.",
    )
    return subscriber_data.clean_id(typed)


# --- Sections -------------------------------------------------------------------------------


def render_profile(row: pd.Series, currency: str | None) -> None:
    st.subheader("Profile", help=PROFILE_HELP)
    cohort = row.get("cohort_month")
    kpis = [
        Kpi("Status", str(row.get("status") or "unknown"), None, SUBSCRIBER_DEFINITIONS["status"]),
        Kpi(
            "Current MRR",
            fmt.money(row.get("current_mrr"), currency),
            None,
            SUBSCRIBER_DEFINITIONS["current_mrr"],
        ),
        Kpi(
            "Lifetime revenue",
            fmt.money(row.get("lifetime_revenue"), currency),
            None,
            SUBSCRIBER_DEFINITIONS["lifetime_revenue"],
        ),
        Kpi(
            "Cohort",
            f"{pd.Timestamp(cohort):%b %Y}" if not fmt.is_missing(cohort) else "none yet",
            None,
            SUBSCRIBER_DEFINITIONS["cohort_month"],
        ),
    ]
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    first_paid = subscriber_data.as_date(row.get("first_paid_date"))
    parts = [
        f"Country {row.get('country') or 'unknown'}",
        f"signup platform {row.get('signup_platform') or 'unknown'}",
        f"acquisition channel {row.get('acquisition_channel') or 'unknown'}",
    ]
    if first_paid is not None:
        parts.append(f"first paid day {first_paid:%Y-%m-%d}")
    st.caption(
        " · ".join(parts)
        + (" · personal data erased (right to erasure)" if row.get("is_erased") is True else "")
    )
    csv_download(
        row.to_frame().T,
        f"customer_{row['customer_id']}.csv",
        "Download profile (CSV)",
        key="dl_subscriber_profile",
    )


def render_subscriptions(source: snapshot.Source, customer_id: str, currency: str | None) -> None:
    st.subheader("Subscriptions", help=SUBSCRIPTIONS_HELP)
    subs = subscriber_data.subscriptions(source, customer_id)
    if table_missing(subs, "marts.fct_subscriptions"):
        return
    if subs.empty:
        st.info("No subscriptions: the customer never started one.")
        return
    table(
        subs,
        hide_index=True,
        column_config={
            "subscription_id": "Subscription",
            "offer_id": "Offer",
            "offer_type": "Offer type",
            "billing_period": "Billing",
            "platform": "Platform",
            "status": "Status",
            "current_mrr": money_column("MRR", currency),
            "started_at": st.column_config.DatetimeColumn("Started", format="YYYY-MM-DD"),
            "trial_ends_at": st.column_config.DatetimeColumn("Trial ends", format="YYYY-MM-DD"),
            "first_paid_at": st.column_config.DatetimeColumn("First paid", format="YYYY-MM-DD"),
            "cancel_requested_at": st.column_config.DatetimeColumn(
                "Cancel requested", format="YYYY-MM-DD"
            ),
            "cancel_reason": "Cancel reason",
            "cancel_effective_at": st.column_config.DatetimeColumn(
                "Cancel effective", format="YYYY-MM-DD"
            ),
            "ended_at": st.column_config.DatetimeColumn("Ended", format="YYYY-MM-DD"),
            "ended_reason": "End reason",
            "churn_type": "Churn type",
            "currency": "Currency",
            "price_minor": st.column_config.NumberColumn("Price (minor units)", format="%d"),
            "discount_minor": st.column_config.NumberColumn("Discount (minor units)", format="%d"),
        },
        subscribers=False,
    )
    csv_download(
        subs,
        f"customer_{customer_id}_subscriptions.csv",
        "Download subscriptions (CSV)",
        key="dl_subscriber_subscriptions",
    )


def render_score(
    score: subscriber_data.Score | None, currency: str | None, customer_id: str
) -> None:
    st.subheader("Churn score", help=SCORE_HELP)
    if score is None:
        st.info(
            "No scores yet: the snapshot has no `ml.churn_scores` table (run `churniq run` once "
            "the business has a few months of history)."
        )
        return
    if score.row is None:
        when = f" ({score.scored_at:%Y-%m-%d})" if score.scored_at else ""
        st.info(
            f"Not in the latest scoring{when}: only customers with a live subscription at the "
            "as-of date are scored."
        )
        return
    row = score.row
    horizon = row.get("horizon_days") or 30
    probabilities = " · ".join(
        f"{days} days {fmt.percent(row[column], 1)}"
        for days, column in ((60, "churn_probability_60d"), (90, "churn_probability_90d"))
        if not fmt.is_missing(row.get(column))
    )
    kpis = [
        Kpi(
            f"Churn probability ({horizon} days)",
            fmt.percent(row.get("churn_probability"), 1),
            None,
            SUBSCRIBER_DEFINITIONS["churn_probability"],
        ),
        Kpi("Risk band", str(row.get("risk_band") or "n/a"), None, SCORE_HELP),
        Kpi(
            "Expected remaining months",
            interval(
                row.get("expected_remaining_months"),
                row.get("expected_remaining_months_lower"),
                row.get("expected_remaining_months_upper"),
                lambda v: f"{float(v):.1f}",
            ),
            None,
            SUBSCRIBER_DEFINITIONS["expected_remaining_months"],
        ),
        Kpi(
            "Predicted LTV",
            interval(
                row.get("predicted_ltv"),
                row.get("predicted_ltv_lower"),
                row.get("predicted_ltv_upper"),
                lambda v: fmt.money(v, currency),
            ),
            None,
            SUBSCRIBER_DEFINITIONS["predicted_ltv"],
        ),
    ]
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    scored = row.get("scored_at")
    st.caption(
        " · ".join(
            p
            for p in (
                f"Scored {pd.Timestamp(scored):%Y-%m-%d}" if not fmt.is_missing(scored) else None,
                f"model {row['model_version']}" if row.get("model_version") else None,
                probabilities or None,
                "interval low–high in brackets",
            )
            if p
        )
    )
    reasons = row.get("top_reasons") or []
    if reasons:
        st.markdown("**Top reasons**\n" + "\n".join(f"{i}. {r}" for i, r in enumerate(reasons, 1)))
    else:
        st.caption("No stand-out reason: no feature raised the score noticeably.")
    shown = {k: v for k, v in row.items() if k != "top_reasons"}
    shown["top_reasons"] = "; ".join(reasons)
    csv_download(
        pd.DataFrame([{"customer_id": customer_id, **shown}]),
        f"customer_{customer_id}_score.csv",
        "Download churn score (CSV)",
        key="dl_subscriber_score",
    )


def render_survival(source: snapshot.Source, customer_id: str, status: str | None) -> None:
    features = subscriber_data.survival_features(source, customer_id)
    if features is None:
        st.subheader("Survival curve", help=SEGMENT_SURVIVAL_HELP)
        st.info(
            "No survival curve: the customer has not paid yet (lifetimes start on the first paid day)."
        )
        return
    tenure = features.get("tenure_months")
    live = status in ("active", "paused", "trialing")
    horizon = max(36, (tenure or 0) + 36)
    curve = subscriber_data.model_curve(source, features, horizon)
    tenure_note = (
        f"tenure {tenure} months at the as-of date"
        if live and tenure is not None
        else (f"tenure {tenure} months in their last live month" if tenure is not None else "")
    )
    if curve is not None:
        st.subheader("Survival curve", help=MODEL_SURVIVAL_HELP)
        text = (
            "The customer's own curve from the champion model's survival model (Weibull AFT) "
            f"with their plan {features['offer_type']}, platform {features['platform']} and "
            f"country {features['country']}"
        )
        if tenure is not None:
            text += f"; {tenure_note}"
            at, later = curve.iloc[tenure], curve.iloc[min(tenure + 12, len(curve) - 1)]
            if live and at["survival"] > 0:
                text += (
                    f". Still paying in 12 months, given still paying now: "
                    f"{fmt.percent(later['survival'] / at['survival'], 0)}"
                )
        if not live:
            text += ". The customer is not live any more: the curve is what the model expects "
            text += "for their plan, platform and country"
        st.caption(text + ".")
        st.altair_chart(survival_chart(curve, tenure, step=False), width="stretch")
        csv_download(
            curve.assign(customer_id=customer_id),
            f"customer_{customer_id}_survival.csv",
            "Download survival curve (CSV)",
            key="dl_subscriber_survival",
        )
        return

    st.subheader("Survival curve", help=SEGMENT_SURVIVAL_HELP)
    curves = subscriber_data.segment_curves(source, features)
    if curves is None:
        st.info(
            "The snapshot has no survival model (`ml.survival_parameters`) and no "
            "`ml.survival_curves` table yet."
        )
        return
    available = [
        (t, s)
        for t, s in subscriber_data._segment_options(features)
        if ((curves["segment_type"] == t) & (curves["segment"] == s)).any()
    ]
    if not available:
        st.info("No Kaplan–Meier curve of the customer's segments (each has too few customers).")
        return
    chosen = st.selectbox(
        "Segment",
        available,
        format_func=lambda pair: (
            f"{SEGMENT_LABELS.get(pair[0], pair[0])}: {pair[1]}"
            if pair[0] != "all"
            else SEGMENT_LABELS["all"]
        ),
        key=SEGMENT_KEY,
    )
    shown = curves[(curves["segment_type"] == chosen[0]) & (curves["segment"] == chosen[1])]
    shown = shown.reset_index(drop=True)
    st.caption(
        "The snapshot has no survival model (`ml.survival_parameters`): this is the "
        "Kaplan–Meier curve of the customer's segment, not their own curve"
        + (f"; {tenure_note}" if tenure_note else "")
        + "."
    )
    st.altair_chart(survival_chart(shown, tenure, step=True), width="stretch")
    csv_download(
        shown,
        f"survival_{chosen[0]}_{chosen[1]}.csv",
        "Download survival curve (CSV)",
        key="dl_subscriber_survival",
    )


def render_engagement(source: snapshot.Source, customer_id: str) -> None:
    st.subheader("Engagement", help=ENGAGEMENT_HELP)
    months = subscriber_data.engagement(source, customer_id)
    if table_missing(months, "marts.customer_months"):
        return
    if months.empty or "minutes_watched_4w" not in months.columns:
        st.info("No live month: the customer never had a live subscription at a month end.")
        return
    last = months.iloc[-1]
    st.caption(
        f"{len(months)} live months · {fmt.count(last['minutes_watched_4w'])} minutes watched in "
        f"the 4 weeks to {pd.Timestamp(last['month']):%b %Y}'s end"
    )
    st.altair_chart(engagement_chart(months), width="stretch")
    csv_download(
        months.assign(month=months["month"].dt.date),
        f"customer_{customer_id}_engagement.csv",
        "Download engagement (CSV)",
        key="dl_subscriber_engagement",
    )


def choose_timeline_page(pages: int) -> int:
    value = st.session_state.get(PAGE_KEY)
    if value is not None and not 1 <= value <= pages:
        st.session_state.pop(PAGE_KEY)
    return int(st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=PAGE_KEY))


def render_timeline(source: snapshot.Source, customer_id: str, currency: str | None) -> None:
    st.subheader("Timeline", help=TIMELINE_HELP)
    families = subscriber_data.timeline_families(source, customer_id)
    if families is None:
        st.info("The snapshot has no `marts.customer_timeline` table yet: run `churniq run`.")
        return
    if families.empty:
        st.info("No events of this customer in the timeline.")
        return
    counts = dict(zip(families["event_family"], families["events"], strict=True))
    chosen_before = st.session_state.get(FAMILY_KEY)
    if chosen_before is not None and any(f not in counts for f in chosen_before):
        st.session_state[FAMILY_KEY] = [f for f in chosen_before if f in counts]
    chosen = st.multiselect(
        "Event family",
        list(counts),
        format_func=lambda f: f"{FAMILY_LABELS.get(f, f)} ({fmt.count(counts[f])})",
        key=FAMILY_KEY,
        placeholder="All event families",
    )
    total = sum(counts[f] for f in chosen) if chosen else sum(counts.values())
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = choose_timeline_page(pages)
    rows = subscriber_data.timeline_page(source, customer_id, tuple(chosen), page, PAGE_SIZE)
    assert rows is not None
    first = (page - 1) * PAGE_SIZE + 1
    st.caption(
        f"Page {page} of {pages} · events {fmt.count(first)}–{fmt.count(first + len(rows) - 1)} "
        f"of {fmt.count(total)}, newest first"
    )
    table(
        rows.drop(columns=[c for c in ("amount_minor",) if c in rows.columns]),
        hide_index=True,
        column_config={
            "occurred_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "event_family": "Family",
            "event_type": "Event",
            "summary": st.column_config.TextColumn("Summary", width="large"),
            "subscription_id": "Subscription",
            "offer_id": "Offer",
            "ticket_id": "Ticket",
            "amount": money_column("Amount", currency),
            "currency": "Event currency",
        },
        subscribers=False,
    )
    csv_download(
        rows,
        f"customer_{customer_id}_timeline_page_{page}.csv",
        "Download this page of the timeline (CSV)",
        key="dl_subscriber_timeline",
    )


def render_payments(source: snapshot.Source, customer_id: str, currency: str | None) -> None:
    st.subheader("Payments", help=PAYMENTS_HELP)
    rows = subscriber_data.payments(source, customer_id)
    if rows is None:
        st.info("The snapshot has no `marts.customer_timeline` table yet: run `churniq run`.")
        return
    if rows.empty:
        st.info("No payments.")
        return
    totals = subscriber_data.payment_totals(source, customer_id)
    assert totals is not None
    by = dict(
        zip(totals["event_type"], zip(totals["events"], totals["amount"], strict=True), strict=True)
    )

    def part(event_type: str, label: str) -> str | None:
        if event_type not in by:
            return None
        n, amount = by[event_type]
        return f"{label} {fmt.count(n)} ({fmt.money(amount, currency)})"

    parts = [
        part("payment.succeeded", "succeeded"),
        part("payment.failed", "failed"),
        part("payment.refunded", "refunded"),
        part("payment.chargeback", "charged back"),
    ]
    net = by.get("payment.succeeded", (0, 0.0))[1] - sum(
        by.get(t, (0, 0.0))[1] for t in ("payment.refunded", "payment.chargeback")
    )
    count = int(totals["events"].sum())
    st.caption(
        " · ".join(p for p in parts if p)
        + f" · net revenue {fmt.money(net, currency)}"
        + (
            f" · the {fmt.count(subscriber_data.ROW_CAP)} latest of {fmt.count(count)} shown"
            if count > subscriber_data.ROW_CAP
            else ""
        )
    )
    table(
        rows,
        hide_index=True,
        column_config={
            "occurred_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "event_type": "Event",
            "summary": st.column_config.TextColumn("Summary", width="large"),
            "subscription_id": "Subscription",
            "amount": money_column("Amount", currency),
            "amount_minor": st.column_config.NumberColumn("Amount (minor units)", format="%d"),
            "currency": "Currency",
        },
        subscribers=False,
    )
    csv_download(
        rows,
        f"customer_{customer_id}_payments.csv",
        "Download payments (CSV)",
        key="dl_subscriber_payments",
    )


def render_tickets(source: snapshot.Source, customer_id: str) -> None:
    st.subheader("Support tickets", help=TICKETS_HELP)
    rows = subscriber_data.tickets(source, customer_id)
    if rows is None:
        st.info("The snapshot has no `marts.customer_timeline` table yet: run `churniq run`.")
        return
    if rows.empty:
        st.info("No support tickets.")
        return
    open_tickets = int(rows["resolved_at"].isna().sum())
    st.caption(
        f"{fmt.count(len(rows))} tickets"
        + (f", {open_tickets} not resolved" if open_tickets else "")
    )
    table(
        rows,
        hide_index=True,
        column_config={
            "ticket_id": "Ticket",
            "opened_at": st.column_config.DatetimeColumn("Opened (UTC)", format="YYYY-MM-DD HH:mm"),
            "category": "Category",
            "opened": st.column_config.TextColumn("Opened", width="medium"),
            "resolved_at": st.column_config.DatetimeColumn(
                "Resolved (UTC)", format="YYYY-MM-DD HH:mm"
            ),
            "resolution": st.column_config.TextColumn("Resolution", width="medium"),
        },
        subscribers=False,
    )
    csv_download(
        rows,
        f"customer_{customer_id}_tickets.csv",
        "Download support tickets (CSV)",
        key="dl_subscriber_tickets",
    )


def render() -> None:
    opened = open_snapshot("Subscriber 360", needs=(subscriber_data.PROFILE_TABLE,))
    if opened is None:
        return
    source, meta = opened
    currency = meta.reporting_currency
    customer_id = choose_customer()
    st.caption(filters_note(filters.current()))
    if not customer_id:
        st.info("Enter a customer id to see their profile, score, timeline, payments and tickets.")
        snapshot_caption(meta)
        return
    found = subscriber_data.profile(source, customer_id)
    if found is None:
        empty_state(missing_table_text("marts.dim_customers"))
        return
    if found.empty:
        st.warning(f"No customer with id `{customer_id}` in the snapshot.")
        snapshot_caption(meta)
        return
    row = found.iloc[0]
    score = subscriber_data.latest_score(source, customer_id)
    render_profile(row, currency)
    render_score(score, currency, customer_id)
    render_survival(source, customer_id, row.get("status"))
    render_engagement(source, customer_id)
    render_subscriptions(source, customer_id, currency)
    render_timeline(source, customer_id, currency)
    render_payments(source, customer_id, currency)
    render_tickets(source, customer_id)
    snapshot_caption(meta)


render()
