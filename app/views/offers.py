"""Offers & coupons: how each offer performs (subscriptions, trials, retention, MRR, one-time
purchases), trial conversion over time, and each coupon × campaign (churn within 90 days,
retention, MRR when the coupon ends).

``marts.offer_performance`` and ``marts.coupon_performance`` are as of the snapshot, with no
month, platform or country column: only the offer-type filter applies, to the offers. Trial
conversion follows the period and, through each offer's type, the offer-type filter. Captions say
where a filter does not apply.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.base import month_frame
from app.charts.offers import (
    coupon_expiry_chart,
    coupon_outcomes_chart,
    one_time_offers_chart,
    retention_chart,
    trial_trend_chart,
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
from app.data import offers as offers_data
from app.data import snapshot
from app.metric_help import (
    COMMERCE_DEFINITIONS,
    COUPON_EXPIRY_HELP,
    COUPONS_HELP,
    OFFERS_HELP,
    ONE_TIME_OFFERS_HELP,
    RETENTION_HELP,
    TRIAL_OFFERS_HELP,
    TRIAL_TREND_HELP,
)

PAGE_SIZE = 50
#: Most rows of a table's CSV download (the tables are per offer or coupon: small in practice).
DOWNLOAD_CAP = 5_000
OFFERS_PAGE_KEY = "offers_page"
COUPONS_PAGE_KEY = "coupons_page"
RETENTION_TOP = 10
ONE_TIME_TOP = 15

PAGE_TABLES = (offers_data.OFFERS_TABLE, offers_data.COUPONS_TABLE, offers_data.TRIALS_TABLE)

#: KPIs of the selected offers (as of the snapshot): label, summary key, kind of number.
OFFER_KPIS: tuple[tuple[str, str, str], ...] = (
    ("Subscriptions started", "subscriptions_started", "count"),
    ("Active now", "active_now", "count"),
    ("Trial conversion rate", "trial_conversion_rate", "rate"),
    ("Retention at 3 months", "retention_3m", "rate"),
    ("Current MRR", "current_mrr", "money"),
    ("One-time revenue", "one_time_revenue", "money"),
)

OFFER_LABELS = {
    "offer_id": "Offer",
    "title": "Title",
    "offer_type": "Offer type",
    "coupon_id": "Coupon",
    "campaign_id": "Campaign",
}
COUNTS = {
    "subscriptions_started": "Subscriptions started",
    "trials": "Trials",
    "conversions": "Conversions",
    "active_now": "Active now",
    "churned": "Churned",
    "retention_1m_eligible": "Eligible (1 month)",
    "retention_3m_eligible": "Eligible (3 months)",
    "retention_6m_eligible": "Eligible (6 months)",
    "purchases": "Purchases",
    "redemptions": "Redemptions",
    "subscriptions": "Subscriptions",
    "customers": "Customers",
    "redemptions_90d_observable": "Redemptions ≥ 90 days old",
    "churned_within_90d": "Churned within 90 days",
    "expired_while_live": "Coupon ended while live",
    "trials_ended": "Trials ended",
    "converted": "Converted",
}
RATES = {
    "trial_conversion_rate": "Trial conversion rate",
    "retention_1m": "Retention 1 month",
    "retention_3m": "Retention 3 months",
    "retention_6m": "Retention 6 months",
    "churn_rate_90d": "Churn within 90 days",
    "conversion_rate": "Trial conversion rate",
}
MONEY = {
    "current_mrr": "Current MRR",
    "current_mrr_on_offer": "MRR on the offer now",
    "one_time_revenue": "One-time revenue",
    "mrr_during_coupon": "MRR during coupon",
    "mrr_after_coupon": "MRR after coupon",
}


def column_config(frame: pd.DataFrame, currency: str | None) -> dict[str, Any]:
    unit = f" ({currency})" if currency else ""
    config: dict[str, Any] = {}
    for column in frame.columns:
        if column in OFFER_LABELS:
            config[column] = OFFER_LABELS[column]
        elif column in COUNTS:
            config[column] = st.column_config.NumberColumn(COUNTS[column], format="%d")
        elif column in RATES:
            config[column] = st.column_config.NumberColumn(RATES[column], format="percent")
        elif column in MONEY:
            config[column] = st.column_config.NumberColumn(f"{MONEY[column]}{unit}", format="%.2f")
        elif column == "mrr_after_to_during_ratio":
            config[column] = st.column_config.NumberColumn("MRR after ÷ during", format="%.2f")
    return config


def snapshot_note(chosen: filters.Filters, table: str, offer_type_applies: bool) -> str:
    """Caption of a figure as of the snapshot, from a table without month or segment columns
    (and, unless `offer_type_applies`, without an offer type)."""
    ignored = ["period"]
    if chosen.platforms:
        ignored.append("platform")
    if chosen.countries:
        ignored.append("country")
    if chosen.offer_types and not offer_type_applies:
        ignored.append("offer-type")
    if offer_type_applies:
        scope = "for all platforms and countries" + (
            f" · offer type: {', '.join(chosen.offer_types)}" if chosen.offer_types else ""
        )
        lacks = "month, platform or country column"
    else:
        scope, lacks = (
            "for all platforms, countries and offer types",
            "month, platform, country or offer-type column",
        )
    names = ignored[0] if len(ignored) == 1 else f"{', '.join(ignored[:-1])} and {ignored[-1]}"
    filters_word = f"{names} filter{'s do' if len(ignored) > 1 else ' does'}"
    return f"As of the snapshot, {scope}: `{table}` has no {lacks}, so the {filters_word} not apply to it."


def choose_page(key: str, rows: int) -> int:
    """Page number (1-based) of a table of `rows` rows; a number input only when it has more
    than one page."""
    pages = max(math.ceil(rows / PAGE_SIZE), 1)
    if pages == 1:
        st.session_state.pop(key, None)
        return 1
    value = st.session_state.get(key)
    if value is not None and not 1 <= value <= pages:
        st.session_state.pop(key)
    return int(st.number_input("Page", min_value=1, max_value=pages, value=1, step=1, key=key))


def page_caption(page: int, shown: int, rows: int, what: str, order: str) -> str:
    first = (page - 1) * PAGE_SIZE + 1
    pages = max(math.ceil(rows / PAGE_SIZE), 1)
    return (
        f"Page {page} of {pages} · {what} {fmt.count(first)}–{fmt.count(first + shown - 1)} of "
        f"{fmt.count(rows)}, {order}"
    )


def offer_kpis(summary: dict[str, Any], currency: str | None) -> list[Kpi]:
    kpis = []
    for label, key, kind in OFFER_KPIS:
        value = summary.get(key)
        shown = (
            fmt.money(value, currency)
            if kind == "money"
            else fmt.count(value)
            if kind == "count"
            else fmt.percent(value)
        )
        kpis.append(Kpi(label, shown, None, COMMERCE_DEFINITIONS[key]))
    return kpis


def render_offers(source: snapshot.Source, chosen: filters.Filters, currency: str | None) -> None:
    st.subheader("Offer performance", help=OFFERS_HELP)
    summary = offers_data.offer_summary(source, chosen.offer_types)
    if table_missing(summary, "marts.offer_performance"):
        return
    st.caption(snapshot_note(chosen, offers_data.OFFERS_TABLE, offer_type_applies=True))
    offers = int(summary["offers"])
    if offers == 0:
        st.info("No offers of the selected offer types.")
        return
    kpis = offer_kpis(summary, currency)
    for column, kpi in zip(st.columns(len(kpis)), kpis, strict=True):
        with column:
            metric(kpi)
    st.caption(
        f"{fmt.count(offers)} offers · trial conversion {fmt.count(summary['conversions'])} of "
        f"{fmt.count(summary['trials'])} trials · retention at 3 months over "
        f"{fmt.count(summary['retention_3m_eligible'])} eligible subscriptions · rates "
        "recomputed from the sums over the offers"
    )
    page = choose_page(OFFERS_PAGE_KEY, offers)
    rows = offers_data.offer_page(source, chosen.offer_types, page, PAGE_SIZE)
    if rows is not None and not rows.empty:
        st.caption(
            page_caption(
                page,
                len(rows),
                offers,
                "offers",
                "most current MRR first, then subscriptions started and one-time revenue",
            )
        )
        table(rows, hide_index=True, column_config=column_config(rows, currency), subscribers=False)
    everything = offers_data.offer_page(source, chosen.offer_types, 1, DOWNLOAD_CAP)
    if everything is not None:
        csv_download(
            everything,
            "offer_performance.csv",
            "Download offer performance (CSV)",
            key="dl_offers",
        )
        if offers > DOWNLOAD_CAP:
            st.caption(f"The download holds the first {fmt.count(DOWNLOAD_CAP)} offers.")

    top = offers_data.offer_retention_top(source, chosen.offer_types, RETENTION_TOP)
    if top is not None and not top.empty:
        st.subheader("Retention by offer", help=RETENTION_HELP)
        st.caption(
            f"The {fmt.count(len(top))} offers with the most subscriptions started "
            "(by the offer each subscription started with)."
        )
        st.altair_chart(retention_chart(top), width="stretch")
        csv_download(
            top,
            "retention_by_offer.csv",
            "Download retention by offer (CSV)",
            key="dl_offer_retention",
        )

    one_time = offers_data.one_time_offers_top(source, chosen.offer_types, ONE_TIME_TOP)
    if one_time is not None and not one_time.empty:
        st.subheader("One-time offers", help=ONE_TIME_OFFERS_HELP)
        st.caption(
            f"{fmt.count(summary['purchases'])} purchases, "
            f"{fmt.money(summary['one_time_revenue'], currency)} one-time revenue over the "
            f"selected offers; the {fmt.count(len(one_time))} with the most revenue shown."
        )
        st.altair_chart(one_time_offers_chart(one_time, currency), width="stretch")
        csv_download(
            one_time,
            "one_time_offers.csv",
            "Download one-time offers (CSV)",
            key="dl_one_time_offers",
        )


def trials_note(source: snapshot.Source, chosen: filters.Filters) -> str:
    parts = [f"{filters.month_label(chosen.start)} – {filters.month_label(chosen.end)}"]
    if chosen.offer_types:
        if offers_data.OFFERS_TABLE in snapshot.tables(source):
            parts.append(
                f"offer type: {', '.join(chosen.offer_types)} (the type of the offer the "
                "subscription started with)"
            )
        else:
            parts.append(
                "the offer-type filter does not apply (no `marts.offer_performance` to look the "
                "offers' types up in)"
            )
    if chosen.segmented:
        ignored = " and ".join(
            n for n, v in (("platform", chosen.platforms), ("country", chosen.countries)) if v
        )
        parts.append(
            f"for all platforms and countries: `{offers_data.TRIALS_TABLE}` has no platform or country "
            f"column, so the {ignored} filter does not apply to it"
        )
    return " · ".join(parts)


def render_trials(source: snapshot.Source, chosen: filters.Filters) -> None:
    st.subheader("Trial conversion over time", help=TRIAL_TREND_HELP)
    trend = offers_data.trial_conversion_trend(source, chosen.start, chosen.end, chosen.offer_types)
    if table_missing(trend, "marts.trial_conversion_monthly"):
        return
    if chosen.start is not None and chosen.end is not None:
        st.caption(trials_note(source, chosen))
    if trend.empty or trend["trials_ended"].sum() == 0:
        st.info("No trials ended in the selected period.")
        return
    ended, converted = int(trend["trials_ended"].sum()), int(trend["converted"].sum())
    st.caption(
        f"Over the period: {fmt.count(converted)} of {fmt.count(ended)} ended trials converted "
        f"({fmt.percent(converted / ended)}), by trial end month; rates recomputed from the sums "
        "over the offers."
    )
    frame = month_frame(trend, ["trials_ended", "converted", "conversion_rate"])
    st.altair_chart(trial_trend_chart(frame), width="stretch")
    csv_download(
        frame,
        "trial_conversion.csv",
        "Download trial conversion (CSV)",
        key="dl_trials",
    )

    st.subheader("Trial conversion by offer", help=TRIAL_OFFERS_HELP)
    by_offer = offers_data.trial_conversion_by_offer(
        source, chosen.start, chosen.end, chosen.offer_types
    )
    if by_offer is None or by_offer.empty:
        return
    table(by_offer, hide_index=True, column_config=column_config(by_offer, None), subscribers=False)
    csv_download(
        by_offer,
        "trial_conversion_by_offer.csv",
        "Download trial conversion by offer (CSV)",
        key="dl_trials_by_offer",
    )


def render_coupons(source: snapshot.Source, chosen: filters.Filters, currency: str | None) -> None:
    st.subheader("Coupons and campaigns", help=COUPONS_HELP)
    summary = offers_data.coupon_summary(source)
    if table_missing(summary, "marts.coupon_performance"):
        return
    st.caption(snapshot_note(chosen, offers_data.COUPONS_TABLE, offer_type_applies=False))
    coupons = int(summary["coupons"])
    if coupons == 0:
        st.info("No coupon redemptions yet.")
        return
    rate = summary["churn_rate_90d"]
    st.caption(
        f"{fmt.count(summary['redemptions'])} redemptions over {fmt.count(coupons)} coupon × "
        f"campaign pairs · churned within 90 days: {fmt.count(summary['churned_within_90d'])} "
        f"of the {fmt.count(summary['redemptions_90d_observable'])} redemptions at least 90 days "
        f"old" + (f" ({fmt.percent(rate)}, recomputed from the sums)" if rate is not None else "")
    )
    page = choose_page(COUPONS_PAGE_KEY, coupons)
    rows = offers_data.coupon_page(source, page, PAGE_SIZE)
    if rows is None or rows.empty:
        return
    st.altair_chart(coupon_outcomes_chart(rows), width="stretch")
    st.caption(page_caption(page, len(rows), coupons, "coupons", "most redemptions first"))
    table(rows, hide_index=True, column_config=column_config(rows, currency), subscribers=False)
    everything = offers_data.coupon_page(source, 1, DOWNLOAD_CAP)
    if everything is not None:
        csv_download(
            everything,
            "coupon_performance.csv",
            "Download coupon performance (CSV)",
            key="dl_coupons",
        )

    st.subheader("MRR when the coupon ends", help=COUPON_EXPIRY_HELP)
    expired = rows[rows["expired_while_live"] > 0].reset_index(drop=True)
    if summary["expired_while_live"] == 0 or expired.empty:
        st.info("No coupon has ended while its subscription was live yet.")
        return
    ratio = summary["mrr_after_to_during_ratio"]
    st.caption(
        f"{fmt.count(summary['expired_while_live'])} redemptions whose coupon ended while the "
        f"subscription was live: MRR {fmt.money(summary['mrr_during_coupon'], currency)} during "
        f"the coupon, {fmt.money(summary['mrr_after_coupon'], currency)} after"
        + (f" (× {fmt.ratio(ratio)})" if ratio is not None else "")
        + ", all coupons."
    )
    st.altair_chart(coupon_expiry_chart(expired, currency), width="stretch")
    expiry_columns = [
        "coupon_id",
        "campaign_id",
        "expired_while_live",
        "mrr_during_coupon",
        "mrr_after_coupon",
        "mrr_after_to_during_ratio",
    ]
    if everything is not None:
        csv_download(
            everything.loc[everything["expired_while_live"] > 0, expiry_columns],
            "coupon_expiry_mrr.csv",
            "Download MRR at coupon expiry (CSV)",
            key="dl_coupon_expiry",
        )


def render() -> None:
    opened = open_snapshot(
        "Offers & coupons",
        needs=PAGE_TABLES,
        missing=(
            "The snapshot has no `marts.offer_performance`, `marts.coupon_performance` or "
            "`marts.trial_conversion_monthly` table yet."
        ),
    )
    if opened is None:
        return
    source, meta = opened
    chosen = filters.current()
    render_offers(source, chosen, meta.reporting_currency)
    render_trials(source, chosen)
    render_coupons(source, chosen, meta.reporting_currency)
    snapshot_caption(meta)


render()
