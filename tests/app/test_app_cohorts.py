"""Cohorts & survival page through the whole app (AppTest) and its data module, on hand-made
retention, survival and projection tables added to the snapshot of ``conftest.py``.

``marts.cohort_retention_by_segment`` (cohort × k × country × platform × channel):

| cohort | segment | cohort customers | active k0, k1, k2 | MRR k0, k1, k2 |
|---|---|---|---|---|
| Jan | FR/web/organic | 10 | 10, 8, 6 | 100, 80, 66 |
| Jan | FR/ios/paid_search | 5 | 4, 3, 3 | 50, 30, 36 |
| Jan | DE/web/organic | 5 | 5, 4, 2 | 50, 40, 20 |
| Feb | FR/web/organic | 4 | 4, 2 | 40, 20 |
| Feb | DE/web/organic | 6 | 6, 3 | 60, 45 |

All segments: Jan 20 customers, logo 95%, 75%, 55%, revenue (200 → 150, 122) 100%, 75%, 61%;
Feb 10 customers, logo 100%, 50%, revenue (100 → 65) 100%, 65%. ``marts.cohort_retention`` holds
those totals, written by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from app.charts.cohorts import LOGO_HELP, PROJECTION_HELP, REVENUE_HELP, SURVIVAL_HELP
from app.data import cohorts as cohorts_data
from tests.app.page_support import Runner, captions, download_labels, open_page, source

Builder = Callable[..., Path]
PAGE = "views/cohorts.py"

SEGMENT_ROWS = """
('2024-01-01', 0, 'FR', 'web', 'organic',     10, 10, 100, 100),
('2024-01-01', 1, 'FR', 'web', 'organic',     10,  8,  80, 100),
('2024-01-01', 2, 'FR', 'web', 'organic',     10,  6,  66, 100),
('2024-01-01', 0, 'FR', 'ios', 'paid_search',  5,  4,  50,  50),
('2024-01-01', 1, 'FR', 'ios', 'paid_search',  5,  3,  30,  50),
('2024-01-01', 2, 'FR', 'ios', 'paid_search',  5,  3,  36,  50),
('2024-01-01', 0, 'DE', 'web', 'organic',      5,  5,  50,  50),
('2024-01-01', 1, 'DE', 'web', 'organic',      5,  4,  40,  50),
('2024-01-01', 2, 'DE', 'web', 'organic',      5,  2,  20,  50),
('2024-02-01', 0, 'FR', 'web', 'organic',      4,  4,  40,  40),
('2024-02-01', 1, 'FR', 'web', 'organic',      4,  2,  20,  40),
('2024-02-01', 0, 'DE', 'web', 'organic',      6,  6,  60,  60),
('2024-02-01', 1, 'DE', 'web', 'organic',      6,  3,  45,  60)
"""
SEGMENT_COLUMNS = (
    "cohort_month, months_since, country, platform, acquisition_channel, cohort_customers, "
    "active_customers, mrr, mrr_month0"
)

# cohort_month, months_since, cohort_customers, active_customers, mrr (totals, by hand)
TOTAL_ROWS = """
('2024-01-01', 0, 20, 19, 200), ('2024-01-01', 1, 20, 15, 150), ('2024-01-01', 2, 20, 11, 122),
('2024-02-01', 0, 10, 10, 100), ('2024-02-01', 1, 10,  5,  65)
"""

# ml.survival_curves: all (1 curve), platform (web 60, ios 40, android 35), country (FR, DE).
SURVIVAL_ROWS = """
('all', 'all', 0, 1.0, 1.0, 1.0, 135), ('all', 'all', 30, 0.9, 0.85, 0.95, 120),
('platform', 'web', 0, 1.0, 1.0, 1.0, 60), ('platform', 'web', 30, 0.9, 0.8, 0.95, 54),
('platform', 'web', 60, 0.8, 0.7, 0.9, 40),
('platform', 'ios', 0, 1.0, 1.0, 1.0, 40), ('platform', 'ios', 45, 0.75, 0.6, 0.85, 30),
('platform', 'android', 0, 1.0, 1.0, 1.0, 35), ('platform', 'android', 10, 0.95, 0.9, 0.99, 33),
('country', 'FR', 0, 1.0, 1.0, 1.0, 80), ('country', 'FR', 20, 0.9, 0.8, 0.95, 70),
('country', 'DE', 0, 1.0, 1.0, 1.0, 55), ('country', 'DE', 20, 0.85, 0.75, 0.92, 50)
"""

# ml.cohort_projections: signup months 2024-01 (3 periods observed) and 2024-02, an offer.
PROJECTION_ROWS = """
('signup_month', '2024-01', 0, 1.0,  1.0,  1.0,  1.0,  2.0, 8.0, 120, 3),
('signup_month', '2024-01', 1, 0.8,  0.82, 0.78, 0.86, 2.0, 8.0, 120, 3),
('signup_month', '2024-01', 2, 0.7,  0.69, 0.64, 0.74, 2.0, 8.0, 120, 3),
('signup_month', '2024-01', 3, 0.6,  0.6,  0.54, 0.66, 2.0, 8.0, 120, 3),
('signup_month', '2024-01', 12, null, 0.3, 0.2,  0.4,  2.0, 8.0, 120, 3),
('signup_month', '2024-02', 0, 1.0,  1.0,  1.0,  1.0,  1.0, 5.0, 150, 3),
('signup_month', '2024-02', 1, 0.85, 0.83, 0.8,  0.86, 1.0, 5.0, 150, 3),
('offer', 'monthly', 0, 1.0, 1.0, 1.0, 1.0, 1.5, 6.0, 200, 3),
('offer', 'monthly', 1, 0.8, 0.8, 0.75, 0.85, 1.5, 6.0, 200, 3)
"""
PROJECTION_COLUMNS = (
    "cohort_type, cohort, period, actual_retention, projected_retention, ci_lower, ci_upper, "
    "alpha, beta, customers, observed_months"
)


def add_cohort_tables(path: Path, *, by_segment: bool = True, ml: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute(
            "create table marts.cohort_retention as select cohort_month::date as cohort_month,"
            " months_since::integer as months_since,"
            " (cohort_month::date + to_months(months_since))::date as month,"
            " cohort_customers::integer as cohort_customers,"
            " active_customers::integer as active_customers,"
            " active_customers / cohort_customers as logo_retention,"
            " mrr::decimal(38,22) as mrr,"
            " mrr / first_value(mrr) over (partition by cohort_month order by months_since)"
            " as revenue_retention"
            f" from (values {TOTAL_ROWS}) as t(cohort_month, months_since, cohort_customers,"
            " active_customers, mrr)"
        )
        if by_segment:
            con.execute(
                "create table marts.cohort_retention_by_segment as select"
                " cohort_month::date as cohort_month, months_since::integer as months_since,"
                " (cohort_month::date + to_months(months_since))::date as month, country,"
                " platform, acquisition_channel, cohort_customers::integer as cohort_customers,"
                " active_customers::integer as active_customers, mrr::decimal(38,22) as mrr,"
                " mrr_month0::decimal(38,22) as mrr_month0"
                f" from (values {SEGMENT_ROWS}) as t({SEGMENT_COLUMNS})"
            )
        if ml:
            con.execute("create schema if not exists ml")
            con.execute(
                "create table ml.survival_curves as select segment_type, segment,"
                " t_days::bigint as t_days, survival::double as survival,"
                " ci_lower::double as ci_lower, ci_upper::double as ci_upper,"
                " at_risk::bigint as at_risk"
                f" from (values {SURVIVAL_ROWS}) as t(segment_type, segment, t_days, survival,"
                " ci_lower, ci_upper, at_risk)"
            )
            con.execute(
                "create table ml.cohort_projections as select cohort_type, cohort,"
                " period::bigint as period, actual_retention::double as actual_retention,"
                " projected_retention::double as projected_retention,"
                " ci_lower::double as ci_lower, ci_upper::double as ci_upper,"
                " alpha::double as alpha, beta::double as beta, customers::bigint as customers,"
                " observed_months::bigint as observed_months"
                f" from (values {PROJECTION_ROWS}) as t({PROJECTION_COLUMNS})"
            )


@pytest.fixture
def cohort_home(snapshot_home: Path) -> Path:
    add_cohort_tables(snapshot_home / "serving.duckdb")
    return snapshot_home


def _ratios(frame: pd.DataFrame, column: str) -> dict[tuple[str, int], float]:
    return {
        (f"{pd.Timestamp(c):%Y-%m}", int(k)): round(float(v), 4)
        for c, k, v in zip(frame["cohort_month"], frame["months_since"], frame[column], strict=True)
    }


# --- Data module ------------------------------------------------------------------------------


def test_retention_all_segments_equals_published_totals(cohort_home: Path) -> None:
    result = cohorts_data.cohort_retention(source())
    assert result is not None and result.segmented
    frame = result.frame
    assert _ratios(frame, "logo_retention") == {
        ("2024-01", 0): 0.95,
        ("2024-01", 1): 0.75,
        ("2024-01", 2): 0.55,
        ("2024-02", 0): 1.0,
        ("2024-02", 1): 0.5,
    }
    assert _ratios(frame, "revenue_retention") == {
        ("2024-01", 0): 1.0,
        ("2024-01", 1): 0.75,
        ("2024-01", 2): 0.61,
        ("2024-02", 0): 1.0,
        ("2024-02", 1): 0.65,
    }
    with duckdb.connect(str(cohort_home / "serving.duckdb"), read_only=True) as con:
        published = con.execute(
            "select cohort_customers, active_customers, mrr::double, logo_retention,"
            " revenue_retention from marts.cohort_retention order by cohort_month, months_since"
        ).df()
    assert list(frame["cohort_customers"]) == list(published["cohort_customers"])
    assert list(frame["active_customers"]) == list(published["active_customers"])
    assert list(frame["logo_retention"]) == pytest.approx(list(published["logo_retention"]))
    assert list(frame["revenue_retention"]) == pytest.approx(list(published["revenue_retention"]))


def test_retention_recomputed_from_segment_sums(cohort_home: Path) -> None:
    de = cohorts_data.cohort_retention(source(), countries=("DE",))
    assert de is not None
    # Jan: 5 customers, 5/4/2 active, MRR 50/40/20; Feb: 6, 6/3, MRR 60/45.
    assert _ratios(de.frame, "logo_retention") == {
        ("2024-01", 0): 1.0,
        ("2024-01", 1): 0.8,
        ("2024-01", 2): 0.4,
        ("2024-02", 0): 1.0,
        ("2024-02", 1): 0.5,
    }
    assert _ratios(de.frame, "revenue_retention")[("2024-02", 1)] == 0.75
    web_organic = cohorts_data.cohort_retention(source(), platforms=("web",), channels=("organic",))
    assert web_organic is not None
    # Jan: FR/web + DE/web = 15 customers, active 15/12/8 (not the mean of 60% and 40%).
    jan = web_organic.frame[web_organic.frame["cohort_month"] == "2024-01-01"]
    assert list(jan["cohort_customers"]) == [15, 15, 15]
    assert list(jan["logo_retention"].round(4)) == [1.0, 0.8, 0.5333]
    assert list(jan["revenue_retention"].round(4)) == [1.0, 0.8, 0.5733]  # 150 → 120, 86
    paid = cohorts_data.cohort_retention(source(), channels=("paid_search",))
    assert paid is not None
    assert _ratios(paid.frame, "logo_retention") == {
        ("2024-01", 0): 0.8,
        ("2024-01", 1): 0.6,
        ("2024-01", 2): 0.6,
    }
    assert _ratios(paid.frame, "revenue_retention")[("2024-01", 2)] == 0.72
    from datetime import date

    february = cohorts_data.cohort_retention(source(), date(2024, 2, 1), date(2024, 3, 1))
    assert february is not None
    assert set(february.frame["cohort_month"].dt.month) == {2}
    assert cohorts_data.channel_options(source()) == ["organic", "paid_search"]


def test_retention_falls_back_to_published_mart(home: Path, snapshot_builder: Builder) -> None:
    add_cohort_tables(snapshot_builder(home), by_segment=False)
    result = cohorts_data.cohort_retention(source(), countries=("DE",))
    assert result is not None and not result.segmented
    assert _ratios(result.frame, "logo_retention")[("2024-01", 2)] == 0.55  # all segments
    assert _ratios(result.frame, "revenue_retention")[("2024-01", 2)] == 0.61
    assert cohorts_data.channel_options(source()) == []


def test_survival_and_projection_queries(cohort_home: Path) -> None:
    segments = cohorts_data.survival_segments(source())
    assert segments is not None
    platforms = segments[segments["segment_type"] == "platform"]
    assert list(platforms["segment"]) == ["web", "ios", "android"]  # largest first
    curves = cohorts_data.survival_curves(source(), "platform", ("web", "ios"))
    assert curves is not None
    assert list(zip(curves["segment"], curves["t_days"], strict=True)) == [
        ("ios", 0),
        ("ios", 45),
        ("web", 0),
        ("web", 30),
        ("web", 60),
    ]
    # Thinned to 2 buckets of t (width 31 days): t = 0 stays, then the last step of each bucket.
    thin = cohorts_data.survival_curves(source(), "platform", ("web",), max_points=2)
    assert thin is not None
    assert list(thin["t_days"]) == [0, 30, 60]
    thinner = cohorts_data.survival_curves(source(), "platform", ("web",), max_points=1)
    assert thinner is not None and list(thinner["t_days"]) == [0, 60]
    cohorts = cohorts_data.projection_cohorts(source())
    assert cohorts is not None
    assert set(zip(cohorts["cohort_type"], cohorts["cohort"], strict=True)) == {
        ("offer", "monthly"),
        ("signup_month", "2024-01"),
        ("signup_month", "2024-02"),
    }
    projection = cohorts_data.cohort_projections(source(), "signup_month", ("2024-02",))
    assert projection is not None
    assert list(projection["period"]) == [0, 1]
    assert list(projection["actual_retention"]) == [1.0, 0.85]


# --- The page ---------------------------------------------------------------------------------


def test_page_shows_retention_curves_and_projections(
    cohort_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    assert len(at.get("vega_lite_chart")) == 4
    assert download_labels(at) == [
        "Download logo retention (CSV)",
        "Download revenue retention (CSV)",
        "Download survival curves (CSV)",
        "Download cohort projections (CSV)",
    ]
    headers = {s.value: s.help for s in at.subheader}
    assert headers["Logo retention"] == LOGO_HELP
    assert headers["Revenue retention"] == REVENUE_HELP
    assert headers["Survival curves (Kaplan–Meier)"] == SURVIVAL_HELP
    assert headers["Cohort projections"] == PROJECTION_HELP
    text = captions(at)
    assert "Cohorts of Jan 2024 – Mar 2024 (first paid month in the period)" in text
    assert "all platforms, countries and acquisition channels" in text
    assert "2 cohorts, 30 customers." in text
    logo, name = downloads["dl_cohorts_logo"]
    assert name == "logo_retention.csv"
    assert list(logo["logo_retention"].round(4)) == [0.95, 0.75, 0.55, 1.0, 0.5]
    assert list(logo["cohort_customers"]) == [20, 20, 20, 10, 10]
    revenue, _ = downloads["dl_cohorts_revenue"]
    assert list(revenue["revenue_retention"].round(4)) == [1.0, 0.75, 0.61, 1.0, 0.65]
    assert list(revenue["mrr_month0"]) == [200, 200, 200, 100, 100]
    # Survival: platform by default, every platform (3 ≤ 8), largest first.
    assert at.selectbox(key=dc_key("type")).value == "platform"
    assert at.multiselect(key=dc_key("segments_platform")).value == ["web", "ios", "android"]
    curves, name = downloads["dl_cohorts_survival"]
    assert name == "survival_curves_platform.csv"
    assert set(curves["segment"]) == {"web", "ios", "android"}
    assert set(curves["segment_type"]) == {"platform"}
    # Projections: signup months first, both cohorts; the parameters table.
    assert at.selectbox(key="cohorts_projection_type").value == "signup_month"
    summary = at.dataframe[0].value
    assert list(summary["cohort"]) == ["2024-01", "2024-02"]
    assert list(summary["alpha"]) == [2.0, 1.0]
    assert summary["projected_retention_12"].iloc[0] == pytest.approx(0.3)
    projections, _ = downloads["dl_cohorts_projections"]
    assert len(projections) == 7 and set(projections["cohort_type"]) == {"signup_month"}


def dc_key(suffix: str) -> str:
    return f"cohorts_survival_{suffix}"


def test_filters_narrow_retention_and_curves(
    cohort_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    logo, _ = downloads["dl_cohorts_logo"]
    assert list(logo["logo_retention"].round(4)) == [1.0, 0.8, 0.4, 1.0, 0.5]
    assert "country: DE · retention recomputed from the sums" in captions(at)
    # The platform curves are over every country, and say so.
    assert "the country filter does not apply" in captions(at)
    at.multiselect(key="cohorts_channels").set_value(["paid_search"]).run()
    assert not at.exception
    assert "No cohort matches the filters" in [i.value for i in at.info][0]
    at.multiselect(key="filter_countries").set_value([]).run()
    logo, _ = downloads["dl_cohorts_logo"]
    assert list(logo["logo_retention"].round(4)) == [0.8, 0.6, 0.6]
    assert "acquisition channel: paid_search" in captions(at)
    # A platform filter narrows the platform curves' choices.
    at.multiselect(key="filter_platforms").set_value(["ios"]).run()
    assert not at.exception
    assert at.multiselect(key=dc_key("segments_platform")).value == ["ios"]
    curves, _ = downloads["dl_cohorts_survival"]
    assert set(curves["segment"]) == {"ios"}
    # Another segment type: countries, largest first.
    at.selectbox(key=dc_key("type")).set_value("country").run()
    assert not at.exception
    assert at.multiselect(key=dc_key("segments_country")).value == ["FR", "DE"]
    assert "the platform filter does not apply" in captions(at)


def test_without_segment_mart_filters_do_not_apply(
    home: Path, snapshot_builder: Builder, app_runner: Runner, downloads: dict
) -> None:
    add_cohort_tables(snapshot_builder(home), by_segment=False)
    at = open_page(app_runner, PAGE)
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert not at.exception
    assert "cohorts_channels" not in [m.key for m in at.multiselect]
    text = captions(at)
    assert "the snapshot has no `marts.cohort_retention_by_segment` table" in text
    assert "(country: DE) does not apply" in text
    logo, _ = downloads["dl_cohorts_logo"]
    assert list(logo["logo_retention"].round(4)) == [0.95, 0.75, 0.55, 1.0, 0.5]


def test_empty_states(home: Path, snapshot_builder: Builder, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)  # no snapshot at all
    assert "No data yet" in at.info[0].value
    assert not at.get("vega_lite_chart") and not at.get("download_button")

    snapshot_builder(home)  # a snapshot without any cohort table
    at = open_page(app_runner, PAGE)
    infos = [i.value for i in at.info]
    assert infos == [
        "The snapshot has no `marts.cohort_retention` table yet.",
        "The snapshot has no `ml.survival_curves` table yet.",
        "The snapshot has no `ml.cohort_projections` table yet.",
    ]
    assert not at.get("download_button")
    assert "Data as of 2024-03-31 23:59" in captions(at)
