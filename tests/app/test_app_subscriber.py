"""Subscriber 360 through the whole app (AppTest): lookup by id, profile, score, survival curve
(the champion's own model, or the segment's Kaplan–Meier without one), engagement, timeline
pagination and family filter, payments, tickets, downloads and empty states.

The customer tables are added by hand to the snapshot of ``conftest.py`` (which already holds
``ml.churn_scores``: c1 is in the latest scoring with p = 0.8, c9 only in the earlier one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import duckdb
import joblib
import numpy as np
import pandas as pd
import pytest

from app.charts.subscriber import MODEL_SURVIVAL_HELP, SEGMENT_SURVIVAL_HELP, SUBSCRIBER_DEFINITIONS
from app.components import EMPTY_STATE
from app.data import subscriber as subscriber_data
from models.survival import ParametricAFT
from models.survival_parameters import customer_curve, parameter_table
from tests.app.page_support import (
    Runner,
    assert_empty_state,
    captions,
    csv_files,
    download_labels,
    kpis,
    open_page,
    source,
)

Builder = Callable[..., Path]
PAGE = "views/subscriber.py"

# marts.dim_customers: c1 active (FR, web), c7 never paid, c9 churned.
CUSTOMERS = """
('c1', 'FR', 'web', 'organic', '2024-01-01', '2024-01-05', 'active',    20.00, 55.00, false),
('c7', 'FR', 'web', 'paid',    null,         null,         'trialing',   0.00,  0.00, false),
('c9', 'DE', 'web', 'organic', '2024-01-01', '2024-01-10', 'churned',    0.00,  9.99, false)
"""

# marts.customer_timeline of c1: 30 events, newest 2024-03-20 (ticket k2 opened).
#   customer 1: created 2024-01-01 08:00
#   subscription 21: started s1 2024-01-05, renewed on 2024-01-06 .. 2024-01-25 (20 days)
#   payment 5: succeeded 20.00 on Jan 5, Feb 5, Mar 5; failed 20.00 Mar 1; refunded 5.00 Mar 6
#     → net revenue 60 − 5 = 55
#   support 3: k1 opened + resolved 2024-02-01, k2 opened 2024-03-20 (not resolved)
# c9 has 2 events (not c1's).


def timeline_rows() -> list[tuple]:
    rows = [
        (
            "c1",
            "2024-01-01 08:00",
            "e00",
            "customer.created",
            "Signed up on web in FR",
            None,
            None,
            None,
            None,
            None,
        ),
        (
            "c1",
            "2024-01-05 09:00",
            "e01",
            "subscription.started",
            "Subscription started: offer monthly",
            "s1",
            "monthly",
            None,
            2000,
            20.0,
        ),
    ]
    for i in range(20):
        day = dt.date(2024, 1, 6) + dt.timedelta(days=i)
        rows.append(
            (
                "c1",
                f"{day} 10:00",
                f"e1{i:02d}",
                "subscription.renewed",
                f"Renewed {i}",
                "s1",
                None,
                None,
                2000,
                20.0,
            )
        )
    rows += [
        (
            "c1",
            "2024-01-05 09:01",
            "e20",
            "payment.succeeded",
            "Payment succeeded (stripe)",
            "s1",
            None,
            None,
            2000,
            20.0,
        ),
        (
            "c1",
            "2024-02-05 09:01",
            "e21",
            "payment.succeeded",
            "Payment succeeded (stripe)",
            "s1",
            None,
            None,
            2000,
            20.0,
        ),
        (
            "c1",
            "2024-03-01 09:01",
            "e22",
            "payment.failed",
            "Payment failed (card_expired), attempt 1",
            "s1",
            None,
            None,
            2000,
            20.0,
        ),
        (
            "c1",
            "2024-03-05 09:01",
            "e23",
            "payment.succeeded",
            "Payment succeeded (stripe)",
            "s1",
            None,
            None,
            2000,
            20.0,
        ),
        (
            "c1",
            "2024-03-06 09:01",
            "e24",
            "payment.refunded",
            "Refunded",
            "s1",
            None,
            None,
            500,
            5.0,
        ),
        (
            "c1",
            "2024-02-01 10:00",
            "e30",
            "support.ticket_opened",
            "Ticket opened: billing via chat",
            None,
            None,
            "k1",
            None,
            None,
        ),
        (
            "c1",
            "2024-02-01 10:30",
            "e31",
            "support.ticket_resolved",
            "Ticket resolved in 30 min, CSAT 5/5",
            None,
            None,
            "k1",
            None,
            None,
        ),
        (
            "c1",
            "2024-03-20 10:00",
            "e32",
            "support.ticket_opened",
            "Ticket opened: technical via email",
            None,
            None,
            "k2",
            None,
            None,
        ),
        (
            "c9",
            "2024-01-10 10:00",
            "e90",
            "subscription.started",
            "Subscription started",
            "s9",
            "monthly",
            None,
            999,
            9.99,
        ),
        (
            "c9",
            "2024-02-20 10:00",
            "e91",
            "subscription.ended",
            "Subscription ended (cancelled)",
            "s9",
            None,
            None,
            None,
            None,
        ),
    ]
    return rows


def add_customer_tables(path: Path, *, timeline: bool = True, curves: bool = True) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("drop table marts.dim_customers")
        con.execute(
            "create table marts.dim_customers as select customer_id, country, signup_platform,"
            " acquisition_channel, cohort_month::date as cohort_month,"
            " first_paid_date::date as first_paid_date, status,"
            " current_mrr::decimal(38,22) as current_mrr,"
            " lifetime_revenue::decimal(38,16) as lifetime_revenue, is_erased,"
            " 'secret@example.com' as email"  # a personal column the page must never show
            f" from (values {CUSTOMERS}) as t(customer_id, country, signup_platform,"
            " acquisition_channel, cohort_month, first_paid_date, status, current_mrr,"
            " lifetime_revenue, is_erased)"
        )
        con.execute(
            """
            create table marts.fct_subscriptions as
            select * from (values
                ('s1', 'c1', 'monthly', 'subscription', 'P1M', 'web', 'active', 20.00::decimal(38,22),
                 timestamp '2024-01-05 09:00', 'EUR', 2000, 0),
                ('s0', 'c1', 'weekly', 'subscription', 'P1W', 'web', 'ended', 0.00::decimal(38,22),
                 timestamp '2023-12-01 09:00', 'EUR', 300, 0),
                ('s9', 'c9', 'monthly', 'subscription', 'P1M', 'web', 'ended', 0.00::decimal(38,22),
                 timestamp '2024-01-10 10:00', 'EUR', 999, 0)
            ) as t(subscription_id, customer_id, offer_id, offer_type, billing_period, platform,
                   status, current_mrr, started_at, currency, price_minor, discount_minor)
            """
        )
        # c1: three live months, tenure 86 paid days at the end of March = 2 whole months.
        con.execute(
            """
            create table marts.customer_months as
            select customer_id, month::date as month, month_end::date as month_end,
                   offer_type, platform, paid_tenure_days, mrr::decimal(38,22) as mrr,
                   minutes::decimal(38,2) as minutes_watched_4w,
                   0::decimal(38,2) as minutes_watched_prev_4w, sessions as sessions_4w,
                   tickets as tickets_30d
            from (values
                ('c1', '2024-01-01', '2024-01-31', 'subscription', 'web', 26, 20, 100, 4, 0),
                ('c1', '2024-02-01', '2024-02-29', 'subscription', 'web', 55, 20, 200, 8, 1),
                ('c1', '2024-03-01', '2024-03-31', 'subscription', 'web', 86, 20,  50, 2, 1),
                ('c9', '2024-01-01', '2024-01-31', 'subscription', 'web', 21, 9.99, 10, 1, 0)
            ) as t(customer_id, month, month_end, offer_type, platform, paid_tenure_days, mrr,
                   minutes, sessions, tickets)
            """
        )
        if timeline:
            con.execute(
                "create table marts.customer_timeline (customer_id varchar, occurred_at timestamp,"
                " event_id varchar, event_type varchar, event_family varchar, summary varchar,"
                " subscription_id varchar, offer_id varchar, ticket_id varchar, detail varchar,"
                " amount_minor bigint, currency varchar, amount decimal(38,16))"
            )
            con.executemany(
                "insert into marts.customer_timeline values (?, ?::timestamp, ?, ?,"
                " split_part(?, '.', 1), ?, ?, ?, ?, ?, ?, case when ? is null then null"
                " else 'EUR' end, ?)",
                [
                    (
                        c,
                        at,
                        e,
                        t,
                        t,
                        s,
                        sub,
                        offer,
                        ticket,
                        "billing" if e == "e30" else ("technical" if e == "e32" else None),
                        minor,
                        minor,
                        amount,
                    )
                    for c, at, e, t, s, sub, offer, ticket, minor, amount in timeline_rows()
                ],
            )
        if curves:
            # Kaplan–Meier of c1's signup platform (web) and of everyone; none of its country,
            # offer type or cohort; a DE curve that is not c1's.
            con.execute(
                """
                create table ml.survival_curves as
                select segment_type, segment, t_days::bigint as t_days, survival, ci_lower,
                       ci_upper, at_risk::bigint as at_risk
                from (values
                    ('platform', 'web',   0, 1.0, 1.0, 1.0, 100),
                    ('platform', 'web',  61, 0.8, 0.7, 0.9,  80),
                    ('platform', 'web', 122, 0.6, 0.5, 0.7,  50),
                    ('all',      'all',   0, 1.0, 1.0, 1.0, 300),
                    ('all',      'all', 61, 0.7, 0.65, 0.75, 200),
                    ('country',  'DE',    0, 1.0, 1.0, 1.0,  40)
                ) as t(segment_type, segment, t_days, survival, ci_lower, ci_upper, at_risk)
                """
            )


@pytest.fixture
def customer_home(home: Path, snapshot_builder: Builder) -> Path:
    add_customer_tables(snapshot_builder(home))
    return home


def look_up(runner: Runner, customer_id: str):
    at = open_page(runner, PAGE)
    at.text_input(key="subscriber_id").input(customer_id).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_asks_for_an_id(customer_home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert [i.value for i in at.info] == [
        "Enter a customer id to see their profile, score, timeline, payments and tickets."
    ]
    assert "the global filters (period, platform, country, offer type) do not apply" in captions(at)
    assert not at.metric and not at.dataframe


def test_profile_score_and_reasons(
    customer_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = look_up(app_runner, "  c1 ")  # blanks around the id are ignored
    assert kpis(at) == {
        "Status": ("active", ""),
        "Current MRR": ("€20.00", ""),
        "Lifetime revenue": ("€55.00", ""),
        "Cohort": ("Jan 2024", ""),
        "Churn probability (30 days)": ("80.0%", ""),  # the latest scoring, not 1 − 0.8
        "Risk band": ("high", ""),
        "Expected remaining months": ("10.0 (6.0–14.0)", ""),
        "Predicted LTV": ("€200.00 (€120.00–€280.00)", ""),
    }
    helps = {m.label: m.help for m in at.metric}
    assert helps["Current MRR"] == SUBSCRIBER_DEFINITIONS["current_mrr"]
    assert helps["Predicted LTV"] == SUBSCRIBER_DEFINITIONS["predicted_ltv"]
    text = captions(at)
    assert "Country FR · signup platform web · acquisition channel organic" in text
    assert "Scored 2024-03-31 · model m-2 · 60 days 100.0% · 90 days 100.0%" in text
    reasons = [m.value for m in at.markdown if "Top reasons" in m.value]
    assert reasons == [
        "**Top reasons**\n1. 2 failed payments in the last 30 days\n"
        "2. watch time down 50 % over 4 weeks"
    ]
    # no personal data anywhere: the email column of dim_customers is never read
    assert "secret@example.com" not in str(at)
    files = csv_files(downloads)
    profile = files["customer_c1.csv"]
    assert "email" not in profile.columns
    assert profile["lifetime_revenue"].iloc[0] == pytest.approx(55)
    score = files["customer_c1_score.csv"]
    assert score["churn_probability"].iloc[0] == pytest.approx(0.8)
    assert score["top_reasons"].iloc[0] == (
        "2 failed payments in the last 30 days; watch time down 50 % over 4 weeks"
    )


def test_subscriptions_engagement_payments_and_tickets(
    customer_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = look_up(app_runner, "c1")
    tables = [d.value for d in at.dataframe]
    subs, timeline, pays, tickets = tables
    assert list(subs["subscription_id"]) == ["s1", "s0"]  # latest started first
    assert len(timeline) == 25  # page 1 of 2
    assert list(pays["event_type"]) == [
        "payment.refunded",
        "payment.succeeded",
        "payment.failed",
        "payment.succeeded",
        "payment.succeeded",
    ]
    assert list(tickets["ticket_id"]) == ["k2", "k1"]
    assert list(tickets["category"]) == ["technical", "billing"]
    assert tickets["resolution"].iloc[1] == "Ticket resolved in 30 min, CSAT 5/5"
    text = captions(at)
    assert (
        "succeeded 3 (€60.00) · failed 1 (€20.00) · refunded 1 (€5.00) · net revenue €55.00" in text
    )
    assert "2 tickets, 1 not resolved" in text
    assert "3 live months · 50 minutes watched in the 4 weeks to Mar 2024's end" in text
    files = csv_files(downloads)
    engagement = files["customer_c1_engagement.csv"]
    assert list(engagement["minutes_watched_4w"]) == [100, 200, 50]
    assert list(engagement["month"]) == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert len(files["customer_c1_payments.csv"]) == 5
    assert download_labels(at) == [
        "Download profile (CSV)",
        "Download churn score (CSV)",
        "Download survival curve (CSV)",
        "Download engagement (CSV)",
        "Download subscriptions (CSV)",
        "Download this page of the timeline (CSV)",
        "Download payments (CSV)",
        "Download support tickets (CSV)",
    ]


def test_timeline_pages_and_family_filter(
    customer_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = look_up(app_runner, "c1")
    assert "Page 1 of 2 · events 1–25 of 30, newest first" in captions(at)
    first = at.dataframe[1].value
    assert pd.Timestamp(first["occurred_at"].iloc[0]) == pd.Timestamp("2024-03-20 10:00")
    at.number_input(key="subscriber_page").set_value(2).run()
    assert not at.exception
    assert "Page 2 of 2 · events 26–30 of 30, newest first" in captions(at)
    second = at.dataframe[1].value
    assert len(second) == 5
    assert second["event_type"].iloc[-1] == "customer.created"  # the oldest event last
    assert len(csv_files(downloads)["customer_c1_timeline_page_2.csv"]) == 5
    at.multiselect(key="subscriber_families").set_value(["payment", "support"]).run()
    assert not at.exception
    # the page number drops back when the narrower selection has a single page
    assert "Page 1 of 1 · events 1–8 of 8, newest first" in captions(at)
    assert set(at.dataframe[1].value["event_family"]) == {"payment", "support"}
    options = at.multiselect(key="subscriber_families").options
    assert options == ["Subscription (21)", "Payment (5)", "Support (3)", "Customer (1)"]


def test_kaplan_meier_of_the_segment_without_a_model(
    customer_home: Path, app_runner: Runner, downloads: dict
) -> None:
    at = look_up(app_runner, "c1")
    assert (
        "The snapshot has no survival model (`ml.survival_parameters`): this is the "
        "Kaplan–Meier curve of the customer's segment, not their own curve; tenure 2 months at "
        "the as-of date." in captions(at)
    )
    segment = at.selectbox(key="subscriber_segment")
    assert segment.options == ["Signup platform: web", "All customers"]
    curve = csv_files(downloads)["survival_platform_web.csv"]
    assert list(curve["survival"]) == [1.0, 0.8, 0.6]
    assert list(curve["t_months"]) == pytest.approx([0, 61 / (365.25 / 12), 122 / (365.25 / 12)])
    assert [s.help for s in at.subheader if s.value == "Survival curve"] == [SEGMENT_SURVIVAL_HELP]
    segment.set_value(("all", "all")).run()
    assert not at.exception
    assert list(csv_files(downloads)["survival_all_all.csv"]["survival"]) == [1.0, 0.7]


@pytest.fixture(scope="module")
def survival_model() -> ParametricAFT:
    """A real survival model like the pipeline's (Weibull AFT on one-hot covariates), fitted
    once for the module."""
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame(
        {"platform_web": rng.integers(0, 2, n).astype(float), "country_FR": rng.integers(0, 2, n)}
    ).astype(float)
    scale = np.exp(2.5 + 0.4 * X["platform_web"] - 0.3 * X["country_FR"])
    months = np.maximum(np.ceil(scale * rng.weibull(1.3, n)), 1).astype(int)
    churned = months < 24
    return ParametricAFT("weibull").fit(X, np.minimum(months, 24), churned)


def add_survival_parameters(home: Path, model: ParametricAFT) -> pd.DataFrame:
    """``ml.survival_parameters`` of `model` in the snapshot, as the scoring publishes it."""
    table = parameter_table(model, "v1")
    with duckdb.connect(str(home / "serving.duckdb")) as con:
        con.register("parameters", table)
        con.execute("create table ml.survival_parameters as select * from parameters")
    return table


def test_own_curve_from_the_champion_survival_model(
    customer_home: Path,
    app_runner: Runner,
    downloads: dict,
    survival_model: ParametricAFT,
) -> None:
    table = add_survival_parameters(customer_home, survival_model)
    at = look_up(app_runner, "c1")
    assert [s.help for s in at.subheader if s.value == "Survival curve"] == [MODEL_SURVIVAL_HELP]
    curve = csv_files(downloads)["customer_c1_survival.csv"]
    assert list(curve["t_months"]) == list(range(2 + 36 + 1))
    # independently: S(t) = exp(-(t / λ)^ρ), log λ = b·x + b0 (web = 1, FR = 1), log ρ = c0
    params = survival_model.params_
    log_lambda = (
        params[("lambda_", "platform_web")]
        + params[("lambda_", "country_FR")]
        + params[("lambda_", "Intercept")]
    )
    rho = np.exp(params[("rho_", "Intercept")])
    t = curve["t_months"].to_numpy(dtype=float)
    assert curve["survival"].to_numpy() == pytest.approx(np.exp(-((t / np.exp(log_lambda)) ** rho)))
    assert (curve["ci_lower"] <= curve["survival"] + 1e-12).all()
    assert (curve["survival"] <= curve["ci_upper"] + 1e-12).all()
    # the curve drawn from the published table, as the models library draws it
    drawn = customer_curve(
        table, {"offer_type": "subscription", "platform": "web", "country": "FR"}, 38
    )
    for column in ("survival", "ci_lower", "ci_upper"):
        assert curve[column].to_numpy() == pytest.approx(drawn[column].to_numpy(), rel=1e-12)
    s2, s14 = curve["survival"].iloc[2], curve["survival"].iloc[14]
    text = captions(at)
    assert "The customer's own curve from the champion model's survival model (Weibull AFT)" in text
    assert "plan subscription, platform web and country FR; tenure 2 months" in text
    assert f"Still paying in 12 months, given still paying now: {s14 / s2:.0%}" in text


def test_a_model_file_in_the_home_is_never_loaded(
    customer_home: Path, app_runner: Runner, survival_model: ParametricAFT
) -> None:
    """The app reads the snapshot only: a champion's bundle under the home's models folder,
    recorded in ``ml.model_runs``, draws no curve without ``ml.survival_parameters``."""
    models = customer_home / "models"
    models.mkdir()
    joblib.dump({"format": 1, "survival": {"model": survival_model}}, models / "churn-v1.joblib")
    with duckdb.connect(str(customer_home / "serving.duckdb")) as con:
        con.execute(
            "create table ml.model_runs as select 'v1' as model_version, 'gbm' as model_type,"
            " timestamp '2024-03-31' as trained_at, true as is_champion, ? as artifact",
            [str(models / "churn-v1.joblib")],
        )
    at = look_up(app_runner, "c1")
    assert "this is the Kaplan–Meier curve of the customer's segment" in captions(at)


def test_customer_not_scored_never_paid_and_unknown(
    customer_home: Path, app_runner: Runner
) -> None:
    at = look_up(app_runner, "c9")
    infos = [i.value for i in at.info]
    assert (
        "Not in the latest scoring (2024-03-31): only customers with a live subscription at the "
        "as-of date are scored." in infos
    )
    assert kpis(at)["Status"] == ("churned", "")
    assert "tenure 0 months in their last live month" in captions(at)

    at.text_input(key="subscriber_id").input("c7").run()
    assert not at.exception
    infos = [i.value for i in at.info]
    assert any("the customer has not paid yet" in i for i in infos)
    assert "No events of this customer in the timeline." in infos

    at.text_input(key="subscriber_id").input("nobody' or 1=1 --").run()
    assert not at.exception
    assert [w.value for w in at.warning] == [
        "No customer with id `nobody' or 1=1 --` in the snapshot."
    ]
    assert not at.metric


def test_no_snapshot(home: Path, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert EMPTY_STATE in at.info[0].value


def test_snapshot_without_customer_tables(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    snapshot_builder(home, with_marts=False)
    at = open_page(app_runner, PAGE)
    assert_empty_state(at, "no `marts.dim_customers` table yet")
    assert not at.text_input


def test_snapshot_without_timeline_scores_or_curves(
    home: Path, app_runner: Runner, snapshot_builder: Builder
) -> None:
    add_customer_tables(snapshot_builder(home, with_scores=False), timeline=False, curves=False)
    at = look_up(app_runner, "c1")
    infos = [i.value for i in at.info]
    assert (
        infos.count("The snapshot has no `marts.customer_timeline` table yet: run `churniq run`.")
        == 3
    )
    assert any(i.startswith("No scores yet") for i in infos)
    assert any("no `ml.survival_curves` table yet" in i for i in infos)
    assert kpis(at)["Current MRR"] == ("€20.00", "")


def test_data_functions(customer_home: Path) -> None:
    src = source()
    assert subscriber_data.clean_id(" 'c1' ") == "c1"
    profile = subscriber_data.profile(src, "c1")
    assert profile is not None and list(profile["status"]) == ["active"]
    assert "email" not in profile.columns
    empty = subscriber_data.profile(src, "c404")
    assert empty is not None and empty.empty
    page = subscriber_data.timeline_page(src, "c1", (), 3, 10)
    assert page is not None and list(page["event_type"])[-1] == "customer.created"
    assert len(page) == 10
    payments = subscriber_data.timeline_page(src, "c1", ("payment",), 1, 10)
    assert payments is not None and len(payments) == 5
    families = subscriber_data.timeline_families(src, "c9")
    assert families is not None and families["events"].sum() == 2
    totals = subscriber_data.payment_totals(src, "c1")
    assert totals is not None
    assert dict(zip(totals["event_type"], totals["amount"], strict=True)) == {
        "payment.failed": 20.0,
        "payment.refunded": 5.0,
        "payment.succeeded": 60.0,
    }
    score = subscriber_data.latest_score(src, "c9")
    assert (
        score is not None and score.row is None and score.scored_at.date() == dt.date(2024, 3, 31)
    )
    features = subscriber_data.survival_features(src, "c1")
    assert features is not None
    assert (features["offer_type"], features["platform"], features["country"]) == (
        "subscription",
        "web",
        "FR",
    )
    assert features["tenure_months"] == 2 and features["cohort"] == "2024-01"
    assert subscriber_data.survival_features(src, "c7") is None  # never paid
    assert subscriber_data.model_curve(src, features, 36) is None  # no ml.survival_parameters
