"""Offers & coupons page through the whole app (AppTest) and its data functions: offer KPIs
and table, retention, one-time offers, trial conversion over time, coupons, filters, downloads
and empty states.

The marts are hand-made below on top of conftest's snapshot (months Jan–Mar 2024). Expected
figures, computed by hand:

``marts.offer_performance`` (most current MRR first: o_monthly, o_trial, then by one-time
revenue o_pass, o_tvod):

| offer | type | started | trials | conv. | active | ret. 3m (eligible) | current MRR | purchases | one-time |
|---|---|---|---|---|---|---|---|---|---|
| o_monthly | subscription | 100 | 40 | 30 | 60 | 0.80 (80) | 600 | 0 | 0 |
| o_trial | subscription | 50 | 50 | 20 | 20 | 0.25 (20) | 200 | 0 | 0 |
| o_pass | pass | 0 | 0 | 0 | 0 | – (0) | 0 | 9 | 90 |
| o_tvod | tvod | 0 | 0 | 0 | 0 | – (0) | 0 | 5 | 25 |

All offers: trial conversion 50/90 = 55.56% (not the mean 57.5%), retention at 3 months
(64 + 5)/100 = 69.00% (not the mean 52.5%).

``marts.trial_conversion_monthly``: Jan o_trial 10 ended / 4 converted; Feb o_trial 20 / 8 and
o_monthly 10 / 9; Mar o_monthly 10 / 5; Apr (outside the snapshot's months) o_monthly 5 / 5.
Jan–Mar: 26 of 50 = 52.00%; per month 40.00%, 17/30 = 56.67%, 50.00%.

``marts.coupon_performance``: WELCOME50 × welcome 100 redemptions, 20 of 80 churned within 90
days, 60 expired while live (MRR 300 → 600); LOYAL15 × loyalty 60, 10 of 50, 30 (200 → 240);
FIVEOFF without campaign 40, 2 of 20, none expired. Together 200 redemptions, 32 of 150
churned (21.33%), MRR 500 → 840 (× 1.68).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from app.data import offers as offers_data
from app.metric_help import COMMERCE_DEFINITIONS
from tests.app.page_support import (
    Runner,
    assert_empty_state,
    captions,
    download_labels,
    kpis,
    open_page,
    source,
    table,
)

Builder = Callable[..., Path]

PAGE = "views/offers.py"

OFFER_COLUMNS = ", ".join(offers_data.OFFER_COLUMNS)
# offer_id, title, offer_type, started, trials, conversions, conversion rate, active, churned,
# r1m, r1m eligible, r3m, r3m eligible, r6m, r6m eligible, current MRR, MRR on offer, purchases,
# one-time revenue
OFFER_ROWS = """
('o_monthly', 'Monthly', 'subscription', 100, 40, 30, 0.75, 60, 40, 0.9, 90, 0.8, 80, 0.5, 60,
 600, 550, 0, 0),
('o_trial', 'Trial', 'subscription', 50, 50, 20, 0.4, 20, 30, 0.5, 40, 0.25, 20, null, 0,
 200, 250, 0, 0),
('o_pass', 'Pass', 'pass', 0, 0, 0, null, 0, 0, null, 0, null, 0, null, 0, 0, 0, 9, 90),
('o_tvod', 'Rental', 'tvod', 0, 0, 0, null, 0, 0, null, 0, null, 0, null, 0, 0, 0, 5, 25)
"""
TRIAL_COLUMNS = "month, offer_id, trials_ended, converted"
TRIAL_ROWS = """
('2024-01-01', 'o_trial', 10, 4),
('2024-02-01', 'o_trial', 20, 8),
('2024-02-01', 'o_monthly', 10, 9),
('2024-03-01', 'o_monthly', 10, 5),
('2024-04-01', 'o_monthly', 5, 5)
"""
COUPON_COLUMNS = ", ".join(offers_data.COUPON_COLUMNS)
COUPON_ROWS = """
('WELCOME50', 'welcome', 100, 100, 95, 80, 20, 0.25, 0.7, 60, 300, 600, 2.0),
('FIVEOFF', 'none', 40, 40, 40, 20, 2, 0.1, 0.9, 0, 0, 0, null),
('LOYAL15', 'loyalty', 60, 60, 60, 50, 10, 0.2, 0.8, 30, 200, 240, 1.2)
"""
MONEY = {
    "current_mrr",
    "current_mrr_on_offer",
    "one_time_revenue",
    "mrr_during_coupon",
    "mrr_after_coupon",
}
DOUBLES = {
    "trial_conversion_rate",
    "retention_1m",
    "retention_3m",
    "retention_6m",
    "churn_rate_90d",
    "mrr_after_to_during_ratio",
}
TEXT = {"offer_id", "title", "offer_type", "coupon_id", "campaign_id"}


def _casts(columns: str) -> str:
    def cast(c: str) -> str:
        if c == "month":
            return "month::date as month"
        if c in MONEY:
            return f"{c}::decimal(38,22) as {c}"
        if c in DOUBLES:
            return f"{c}::double as {c}"
        if c in TEXT:
            return c
        return f"{c}::integer as {c}"

    return ", ".join(cast(c.strip()) for c in columns.split(","))


def add_offer_marts(
    path: Path, *, offers: bool = True, trials: bool = True, coupons: bool = True
) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists marts")
        if offers:
            con.execute(
                f"create table {offers_data.OFFERS_TABLE} as select {_casts(OFFER_COLUMNS)}"
                f" from (values {OFFER_ROWS}) as t({OFFER_COLUMNS})"
            )
        if trials:
            con.execute(
                f"create table {offers_data.TRIALS_TABLE} as select {_casts(TRIAL_COLUMNS)},"
                " converted::double / trials_ended as conversion_rate"
                f" from (values {TRIAL_ROWS}) as t({TRIAL_COLUMNS})"
            )
        if coupons:
            con.execute(
                f"create table {offers_data.COUPONS_TABLE} as select {_casts(COUPON_COLUMNS)}"
                f" from (values {COUPON_ROWS}) as t({COUPON_COLUMNS})"
            )


@pytest.fixture
def offers_home(snapshot_home: Path) -> Path:
    add_offer_marts(snapshot_home / "serving.duckdb")
    return snapshot_home


ALL_OFFERS = {
    "Subscriptions started": ("150", ""),
    "Active now": ("80", ""),
    "Trial conversion rate": ("55.56%", ""),
    "Retention at 3 months": ("69.00%", ""),
    "Current MRR": ("€800.00", ""),
    "One-time revenue": ("€115.00", ""),
}


def test_offer_kpis_table_and_charts(offers_home: Path, app_runner: Runner, downloads) -> None:
    at = open_page(app_runner, PAGE)
    assert kpis(at) == ALL_OFFERS
    assert [m.help for m in at.metric] == [
        COMMERCE_DEFINITIONS[c]
        for c in (
            "subscriptions_started",
            "active_now",
            "trial_conversion_rate",
            "retention_3m",
            "current_mrr",
            "one_time_revenue",
        )
    ]
    offers = table(at, "offer_id")
    assert list(offers["offer_id"]) == ["o_monthly", "o_trial", "o_pass", "o_tvod"]
    assert list(offers["retention_3m_eligible"]) == [80, 20, 0, 0]
    assert list(offers["current_mrr_on_offer"]) == [550, 250, 0, 0]
    text = captions(at)
    assert "4 offers · trial conversion 50 of 90 trials · retention at 3 months over 100" in text
    assert "Page 1 of 1 · offers 1–4 of 4" in text
    assert (
        "As of the snapshot, for all platforms and countries: `marts.offer_performance` has no "
        "month, platform or country column, so the period filter does not apply to it." in text
    )
    assert "14 purchases, €115.00 one-time revenue over the selected offers" in text
    frame, name = downloads["dl_offers"]
    assert name == "offer_performance.csv" and list(frame.columns) == list(
        offers_data.OFFER_COLUMNS
    )
    assert list(frame["offer_id"]) == ["o_monthly", "o_trial", "o_pass", "o_tvod"]
    retention, _ = downloads["dl_offer_retention"]
    assert list(retention["offer_id"]) == ["o_monthly", "o_trial"]  # one-time offers have none
    one_time, _ = downloads["dl_one_time_offers"]
    assert list(one_time["offer_id"]) == ["o_pass", "o_tvod"]
    assert list(one_time["one_time_revenue"]) == [90, 25]
    assert len(at.get("vega_lite_chart")) == 5
    assert download_labels(at) == [
        "Download offer performance (CSV)",
        "Download retention by offer (CSV)",
        "Download one-time offers (CSV)",
        "Download trial conversion (CSV)",
        "Download trial conversion by offer (CSV)",
        "Download coupon performance (CSV)",
        "Download MRR at coupon expiry (CSV)",
    ]


def test_trial_conversion_over_time(offers_home: Path, app_runner: Runner, downloads) -> None:
    at = open_page(app_runner, PAGE)
    assert (
        "Over the period: 26 of 50 ended trials converted (52.00%), by trial end month"
        in captions(at)
    )
    trend, name = downloads["dl_trials"]
    assert name == "trial_conversion.csv"
    assert [str(m) for m in trend["month"]] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert list(trend["trials_ended"]) == [10, 30, 10]
    assert list(trend["conversion_rate"]) == pytest.approx([0.4, 17 / 30, 0.5])
    by_offer = at.dataframe[1].value  # offers, trials by offer, coupons
    assert list(by_offer["offer_id"]) == ["o_trial", "o_monthly"]
    assert list(by_offer["trials_ended"]) == [30, 20]
    assert list(by_offer["conversion_rate"]) == pytest.approx([0.4, 0.7])


def test_coupons(offers_home: Path, app_runner: Runner, downloads) -> None:
    at = open_page(app_runner, PAGE)
    coupons = table(at, "coupon_id")
    assert list(coupons["coupon_id"]) == ["WELCOME50", "LOYAL15", "FIVEOFF"]
    assert list(coupons["churned_within_90d"]) == [20, 10, 2]
    assert list(coupons["mrr_after_to_during_ratio"].fillna(-1)) == pytest.approx([2.0, 1.2, -1])
    text = captions(at)
    assert (
        "200 redemptions over 3 coupon × campaign pairs · churned within 90 days: 32 of the 150 "
        "redemptions at least 90 days old (21.33%, recomputed from the sums)" in text
    )
    assert (
        "90 redemptions whose coupon ended while the subscription was live: MRR €500.00 during "
        "the coupon, €840.00 after (× 1.68), all coupons." in text
    )
    assert (
        "As of the snapshot, for all platforms, countries and offer types: "
        "`marts.coupon_performance` has no month, platform, country or offer-type column" in text
    )
    expiry, name = downloads["dl_coupon_expiry"]
    assert name == "coupon_expiry_mrr.csv"
    assert list(expiry["coupon_id"]) == ["WELCOME50", "LOYAL15"]
    assert list(expiry["mrr_after_coupon"]) == [600, 240]
    everything, _ = downloads["dl_coupons"]
    assert list(everything.columns) == list(offers_data.COUPON_COLUMNS) and len(everything) == 3


def test_offer_type_filter(offers_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_offer_types").set_value(["pass"]).run()
    assert not at.exception
    shown = kpis(at)
    assert shown["Subscriptions started"] == ("0", "")
    assert shown["Trial conversion rate"] == ("—", "")  # no trials: no rate
    assert shown["One-time revenue"] == ("€90.00", "")
    assert list(table(at, "offer_id")["offer_id"]) == ["o_pass"]
    infos = [i.value for i in at.info]
    assert "No trials ended in the selected period." in infos  # pass offers have no trials
    text = captions(at)
    assert "· offer type: pass:" in text
    assert "so the period and offer-type filters do not apply to it." in text  # coupons
    # Coupons stay for every offer type.
    assert list(table(at, "coupon_id")["coupon_id"]) == ["WELCOME50", "LOYAL15", "FIVEOFF"]

    at.multiselect(key="filter_offer_types").set_value(["subscription"]).run()
    assert kpis(at)["Trial conversion rate"] == ("55.56%", "")
    assert kpis(at)["One-time revenue"] == ("€0.00", "")


def test_period_and_segment_filters(offers_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    at.select_slider(key="filter_period").set_range(date(2024, 2, 1), date(2024, 3, 1))
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    text = captions(at)
    assert "Over the period: 22 of 40 ended trials converted (55.00%)" in text
    assert (
        "`marts.trial_conversion_monthly` has no platform or country column, so the country" in text
    )
    assert "so the period and country filters do not apply to it." in text
    assert kpis(at) == ALL_OFFERS  # as of the snapshot, for all countries


def test_no_snapshot(home: Path, app_runner: Runner) -> None:
    assert_empty_state(open_page(app_runner, PAGE))


@pytest.mark.parametrize("with_marts", [False, True])
def test_snapshot_without_its_tables(
    home: Path, app_runner: Runner, snapshot_builder: Builder, with_marts: bool
) -> None:
    snapshot_builder(home, with_marts=with_marts)
    assert_empty_state(open_page(app_runner, PAGE), "marts.offer_performance")


def test_snapshot_with_coupons_only(snapshot_home: Path, app_runner: Runner) -> None:
    add_offer_marts(snapshot_home / "serving.duckdb", offers=False, trials=False)
    at = open_page(app_runner, PAGE)
    infos = [i.value for i in at.info]
    assert infos[:2] == [
        "The snapshot has no `marts.offer_performance` table yet.",
        "The snapshot has no `marts.trial_conversion_monthly` table yet.",
    ]
    assert list(table(at, "coupon_id")["coupon_id"]) == ["WELCOME50", "LOYAL15", "FIVEOFF"]


def test_trials_without_offer_table_ignore_offer_type(
    snapshot_home: Path, app_runner: Runner
) -> None:
    add_offer_marts(snapshot_home / "serving.duckdb", offers=False, coupons=False)
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_offer_types").set_value(["subscription"]).run()
    assert not at.exception
    text = captions(at)
    assert "the offer-type filter does not apply" in text
    assert "Over the period: 26 of 50 ended trials converted (52.00%)" in text


# --- The data functions ---------------------------------------------------------------------


def test_offer_functions(offers_home: Path) -> None:
    summary = offers_data.offer_summary(source())
    assert summary is not None
    assert summary["offers"] == 4 and summary["trials"] == 90 and summary["conversions"] == 50
    assert summary["trial_conversion_rate"] == pytest.approx(50 / 90)
    assert summary["retention_1m"] == pytest.approx((81 + 20) / 130)
    assert summary["retention_6m"] == pytest.approx(30 / 60)
    assert summary["current_mrr"] == 800
    tvod = offers_data.offer_summary(source(), ("tvod",))
    assert tvod is not None and tvod["offers"] == 1 and tvod["retention_3m"] is None
    pages = [offers_data.offer_page(source(), (), n, 3) for n in (1, 2, 3)]
    assert [list(p["offer_id"]) for p in pages if p is not None] == [
        ["o_monthly", "o_trial", "o_pass"],
        ["o_tvod"],
        [],
    ]
    top = offers_data.offer_retention_top(source(), (), 1)
    assert top is not None and list(top["offer_id"]) == ["o_monthly"]
    one_time = offers_data.one_time_offers_top(source(), ("tvod", "subscription"))
    assert one_time is not None and list(one_time["offer_id"]) == ["o_tvod"]


def test_trial_and_coupon_functions(offers_home: Path) -> None:
    trend = offers_data.trial_conversion_trend(source())  # no period: April counts too
    assert trend is not None and list(trend["trials_ended"]) == [10, 30, 10, 5]
    assert list(trend["conversion_rate"]) == pytest.approx([0.4, 17 / 30, 0.5, 1.0])
    none = offers_data.trial_conversion_trend(source(), None, None, ("pass",))
    assert none is not None and none.empty
    by_offer = offers_data.trial_conversion_by_offer(source(), date(2024, 3, 1), date(2024, 4, 1))
    assert by_offer is not None and list(by_offer["converted"]) == [10]
    summary = offers_data.coupon_summary(source())
    assert summary is not None
    assert summary["churn_rate_90d"] == pytest.approx(32 / 150)
    assert summary["mrr_after_to_during_ratio"] == pytest.approx(840 / 500)
    pages = [offers_data.coupon_page(source(), n, 2) for n in (1, 2)]
    assert [list(p["coupon_id"]) for p in pages if p is not None] == [
        ["WELCOME50", "LOYAL15"],
        ["FIVEOFF"],
    ]


def test_functions_without_the_tables(snapshot_home: Path) -> None:
    src = source()
    assert offers_data.offer_summary(src) is None
    assert offers_data.offer_page(src, (), 1, 10) is None
    assert offers_data.offer_retention_top(src) is None
    assert offers_data.one_time_offers_top(src) is None
    assert offers_data.coupon_summary(src) is None
    assert offers_data.coupon_page(src, 1, 10) is None
    assert offers_data.trial_conversion_trend(src) is None
    assert offers_data.trial_conversion_by_offer(src) is None


def test_coupon_table_is_paginated(offers_home: Path, app_runner: Runner) -> None:
    with duckdb.connect(str(offers_home / "serving.duckdb")) as con:
        con.execute(
            f"insert into {offers_data.COUPONS_TABLE} (coupon_id, campaign_id, redemptions)"
            " select 'C' || lpad(i::varchar, 2, '0'), 'bulk', 1 from range(55) as t(i)"
        )
    at = open_page(app_runner, PAGE)
    assert "Page 1 of 2 · coupons 1–50 of 58, most redemptions first" in captions(at)
    assert len(table(at, "coupon_id")) == 50
    at.number_input(key="coupons_page").set_value(2).run()
    assert not at.exception
    assert "Page 2 of 2 · coupons 51–58 of 58" in captions(at)
    assert list(table(at, "coupon_id")["coupon_id"]) == [f"C{i:02d}" for i in range(47, 55)]
