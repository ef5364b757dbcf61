"""Models page through the whole app (AppTest) and its data module, on hand-made ``ml`` tables
added to the snapshot of ``conftest.py`` (whose latest scoring, 2024-03-31, scores c1–c8) and a
hand-made simulator ground truth under ``$CHURNIQ_HOME/ground_truth/``.

Expected figures, by hand:

* Calibration of v2-gbm: 4 equal-count bins of 25, observed 0, 0.04, 0.12, 0.44 → base rate
  (0 + 1 + 3 + 11) / 100 = 15%, lift 0, 0.2667, 0.8, 2.9333.
* Score history: counts [50, 30, 20] on Jan 31 and Feb 29 (PSI 0), [20, 30, 50] on Mar 31: PSI
  = (0.2 − 0.5) ln(0.2/0.5) + (0.5 − 0.2) ln(0.5/0.2) = 0.6 ln 2.5 = 0.5498.
* Truth of 2024-04-01 (the day after the latest scoring), window ending 2024-05-01; churned
  within 30 days: c1 (04-10), c3 (04-30), c8 (04-02); c2 churns 05-01, outside.
  Model scores: c1 .8 c2 .6 c3 .5 c4 .3 c5 .1 c6 .1 c7 .2 c8 .9 → ROC AUC 14/15 = 0.933 (c3 is
  below c2 only), Brier 0.81 / 8 = 0.1013. True probabilities: c1 .7 c2 .5 c3 .4 c4 .2 c5 .1
  c6 .05 c7 .45 c8 .95 → ROC AUC 13/15 = 0.867 (c3 below c2 and c7), Brier 0.9575 / 8 = 0.1197.
  4 bins of the predicted probability: {c5, c6} .1 vs true .075, {c7, c4} .25 vs .325,
  {c3, c2} .55 vs .45, {c1, c8} .85 vs .825.
* Backtest origins 2024-01-31 and 2024-02-29 → truth of 02-01: c1 .2 c2 .1 c9 .7 c10 .4, c9
  churns 02-15 → 1 of 4, ROC AUC 1, Brier 0.30 / 4 = 0.075; truth of 03-01: c1 .3 c2 .2 c10 .6
  c3 .65, c10 churns 03-10 → ROC AUC 2/3, Brier 0.7125 / 4 = 0.1781, mean .4375.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from app.charts.models import CALIBRATION_HELP, DRIFT_HELP, METRIC_HELP, RUNS_HELP, TRUTH_HELP
from app.data import models as models_data
from tests.app.page_support import Runner, captions, kpis, open_page, source

Builder = Callable[..., Path]
PAGE = "views/models.py"

RUN_ROWS = """
('v2-gbm', 'gbm', '2024-03-31 03:00:00', 30, 1000, '2024-01-31, 2024-02-29', 400,
 0.90, 0.50, 0.020, 0.40, 0.05, 6.0, 0.60, 0.002, 0.60, false, true, true),
('v2-logistic', 'logistic', '2024-03-31 03:00:00', 30, 1000, '2024-01-31, 2024-02-29', 400,
 0.85, 0.45, 0.022, 0.35, 0.05, 5.0, 0.50, 0.003, 0.60, false, false, false),
('v1-gbm', 'gbm', '2024-02-29 03:00:00', 30, 800, '2024-01-31', 200,
 0.97, 0.80, 0.010, 0.70, 0.05, 9.0, 0.90, 0.001, 0.58, true, true, false)
"""
RUN_COLUMNS = (
    "model_version, model_type, trained_at, horizon_days, training_rows, backtest_origins, "
    "backtest_rows, roc_auc, pr_auc, brier, brier_skill, base_rate, top_decile_lift, "
    "top_decile_capture, calibration_error, concordance, suspected_leak, is_challenger, "
    "is_champion"
)
BACKTEST_ROWS = """
('v2-gbm', 'gbm', 'origin', '2024-01-31', 180, 9, 0.89, 0.48, 0.021, 0.0020),
('v2-gbm', 'gbm', 'origin', '2024-02-29', 220, 11, 0.91, 0.52, 0.019, 0.0020),
('v2-gbm', 'gbm', 'pooled', null, 400, 20, 0.90, 0.50, 0.020, 0.0020),
('v2-logistic', 'logistic', 'origin', '2024-01-31', 180, 9, 0.84, 0.44, 0.023, 0.0030),
('v2-logistic', 'logistic', 'origin', '2024-02-29', 220, 11, 0.86, 0.46, 0.021, 0.0030)
"""
BACKTEST_COLUMNS = (
    "model_version, model_type, scope, origin, n, positives, roc_auc, pr_auc, brier, ece"
)
CALIBRATION_ROWS = """
('v2-gbm', 'gbm', 0, 25, 0.00, 0.04, 0.02, 0.00), ('v2-gbm', 'gbm', 1, 25, 0.04, 0.07, 0.05, 0.04),
('v2-gbm', 'gbm', 2, 25, 0.07, 0.20, 0.10, 0.12), ('v2-gbm', 'gbm', 3, 25, 0.20, 0.90, 0.30, 0.44),
('v2-logistic', 'logistic', 0, 50, 0.00, 0.10, 0.05, 0.04),
('v2-logistic', 'logistic', 1, 50, 0.10, 0.90, 0.25, 0.26)
"""
CALIBRATION_COLUMNS = (
    "model_version, model_type, bin, n, p_min, p_max, mean_predicted, observed_rate"
)
HISTORY_ROWS = """
('2024-01-31', 'v1-gbm', 0, 0.00, 50, 0.10), ('2024-01-31', 'v1-gbm', 1, 0.05, 30, 0.10),
('2024-01-31', 'v1-gbm', 2, 0.10, 20, 0.10),
('2024-02-29', 'v2-gbm', 0, 0.00, 50, 0.11), ('2024-02-29', 'v2-gbm', 1, 0.05, 30, 0.11),
('2024-02-29', 'v2-gbm', 2, 0.10, 20, 0.11),
('2024-03-31', 'v2-gbm', 0, 0.00, 20, 0.20), ('2024-03-31', 'v2-gbm', 1, 0.05, 30, 0.20),
('2024-03-31', 'v2-gbm', 2, 0.10, 50, 0.20)
"""
HISTORY_COLUMNS = "scored_at, model_version, bin, lower, customers, mean_probability"

TRUTH_MONTH_ROWS = """
('c1', '2024-02-01', 0.2), ('c2', '2024-02-01', 0.1), ('c9', '2024-02-01', 0.7),
('c10', '2024-02-01', 0.4),
('c1', '2024-03-01', 0.3), ('c2', '2024-03-01', 0.2), ('c10', '2024-03-01', 0.6),
('c3', '2024-03-01', 0.65),
('c1', '2024-04-01', 0.7), ('c2', '2024-04-01', 0.5), ('c3', '2024-04-01', 0.4),
('c4', '2024-04-01', 0.2), ('c5', '2024-04-01', 0.1), ('c6', '2024-04-01', 0.05),
('c7', '2024-04-01', 0.45), ('c8', '2024-04-01', 0.95)
"""
TRUTH_CUSTOMER_ROWS = """
('c1', true, '2024-04-10'), ('c2', true, '2024-05-01'), ('c3', true, '2024-04-30'),
('c4', false, null), ('c5', false, null), ('c6', false, null), ('c7', false, null),
('c8', true, '2024-04-02'), ('c9', true, '2024-02-15'), ('c10', true, '2024-03-10')
"""


def add_model_tables(path: Path) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema if not exists ml")
        con.execute(
            f"create table ml.model_runs as select * replace (trained_at::timestamp as trained_at)"
            f" from (values {RUN_ROWS}) as t({RUN_COLUMNS})"
        )
        con.execute(
            "create table ml.backtests as select * replace (origin::timestamp as origin)"
            f" from (values {BACKTEST_ROWS}) as t({BACKTEST_COLUMNS})"
        )
        con.execute(
            f"create table ml.calibration_curves as select * from (values {CALIBRATION_ROWS})"
            f" as t({CALIBRATION_COLUMNS})"
        )
        con.execute(
            "create table ml.score_history as select * replace (scored_at::timestamp as scored_at)"
            f" from (values {HISTORY_ROWS}) as t({HISTORY_COLUMNS})"
        )


def write_truth(home: Path, window_end: str = "2024-05-01T00:00:00Z") -> Path:
    folder = home / "ground_truth"
    folder.mkdir(exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            "copy (select customer_id, as_of::date as as_of, p::double as churn_propensity_30d,"
            " p::double as hazard, 'tenure' as main_driver, 'active' as status"
            f" from (values {TRUTH_MONTH_ROWS}) as t(customer_id, as_of, p))"
            f" to '{folder / 'sim-s7-customer_month_truth.parquet'}' (format parquet)"
        )
        con.execute(
            "copy (select customer_id, churned, churn_date::date as churn_date"
            f" from (values {TRUTH_CUSTOMER_ROWS}) as t(customer_id, churned, churn_date))"
            f" to '{folder / 'sim-s7-customers.parquet'}' (format parquet)"
        )
    (folder / "sim-s7-manifest.json").write_text(json.dumps({"seed": 7, "window_end": window_end}))
    return folder


@pytest.fixture
def models_home(snapshot_home: Path) -> Path:
    add_model_tables(snapshot_home / "serving.duckdb")
    write_truth(snapshot_home)
    return snapshot_home


# --- Data module ------------------------------------------------------------------------------


def test_runs_backtests_and_calibration(models_home: Path) -> None:
    runs = models_data.model_runs(source())
    assert runs is not None
    assert list(runs["model_version"]) == ["v2-gbm", "v2-logistic", "v1-gbm"]  # newest first
    backtests = models_data.backtests(source())
    assert backtests is not None
    assert len(backtests) == 4  # the pooled row is not an origin
    assert list(backtests["origin"].astype(str))[:2] == ["2024-01-31", "2024-02-29"]
    assert models_data.calibration_versions(source()) == ["v2-gbm", "v2-logistic"]
    bins = models_data.calibration(source(), "v2-gbm")
    assert bins is not None
    lift = models_data.lift_frame(bins)
    assert lift["base_rate"].iloc[0] == pytest.approx(0.15)
    assert list(lift["lift"]) == pytest.approx([0.0, 0.04 / 0.15, 0.8, 0.44 / 0.15])


def test_score_history_and_psi(models_home: Path) -> None:
    history = models_data.score_history(source())
    assert history is not None and history["scored_at"].nunique() == 3
    assert list(history["share"].iloc[-3:]) == pytest.approx([0.2, 0.3, 0.5])
    drift = models_data.drift_table(history)
    assert list(drift["psi"]) == pytest.approx([0.0, 0.6 * 0.9162907318741551])
    assert list(drift["mean_probability"]) == pytest.approx([0.11, 0.20])
    latest_two = models_data.score_history(source(), max_scorings=2)
    assert latest_two is not None and latest_two["scored_at"].nunique() == 2


def test_truth_benchmark_and_scores(models_home: Path) -> None:
    truth = models_data.truth_files()
    assert truth is not None and truth.window_end == date(2024, 5, 1)
    bench = models_data.truth_benchmark(source(), truth, (date(2024, 2, 1), date(2024, 3, 1)), 30)
    assert bench is not None
    assert list(bench["n"]) == [4, 4]
    assert list(bench["positives"]) == [1, 1]
    assert list(bench["roc_auc"]) == pytest.approx([1.0, 2 / 3])
    assert list(bench["brier"]) == pytest.approx([0.075, 0.178125])
    assert list(bench["mean_score"]) == pytest.approx([0.35, 0.4375])
    scored = models_data.scores_against_truth(source(), truth, 30, bins=4)
    assert scored is not None and scored["matched"] == 8
    assert scored["as_of"] == date(2024, 4, 1)
    bins = scored["bins"]
    assert list(bins["mean_predicted"]) == pytest.approx([0.1, 0.25, 0.55, 0.85])
    assert list(bins["mean_true_probability"]) == pytest.approx([0.075, 0.325, 0.45, 0.825])
    outcomes = scored["outcomes"].set_index("grp")
    assert outcomes.loc["model", "roc_auc"] == pytest.approx(14 / 15)
    assert outcomes.loc["truth", "roc_auc"] == pytest.approx(13 / 15)
    assert outcomes.loc["model", "brier"] == pytest.approx(0.10125)
    assert outcomes.loc["truth", "brier"] == pytest.approx(0.1196875)
    assert outcomes.loc["model", "positives"] == 3


def test_truth_outcomes_unknown_beyond_the_window(snapshot_home: Path) -> None:
    add_model_tables(snapshot_home / "serving.duckdb")
    write_truth(snapshot_home, window_end="2024-04-15T00:00:00Z")
    truth = models_data.truth_files()
    assert truth is not None
    scored = models_data.scores_against_truth(source(), truth, 30)
    assert scored is not None and scored["matched"] == 8 and scored["outcomes"] is None
    assert models_data.observable(truth, date(2024, 3, 1), 30)
    assert not models_data.observable(truth, date(2024, 4, 1), 30)


def test_no_truth_on_real_data(snapshot_home: Path) -> None:
    assert models_data.truth_files() is None


# --- The page ---------------------------------------------------------------------------------


def test_page_figures(models_home: Path, app_runner: Runner, downloads: dict) -> None:
    at = open_page(app_runner, PAGE)
    assert kpis(at) == {
        "ROC AUC": ("0.900", ""),
        "PR AUC": ("0.500", ""),
        "Brier skill": ("0.400", ""),
        "Top-decile lift": ("6.00×", ""),
        "Calibration error": ("0.20%", ""),
        "Concordance": ("0.600", ""),
    }
    assert [m.help for m in at.metric] == [
        METRIC_HELP[m]
        for m in (
            "roc_auc",
            "pr_auc",
            "brier_skill",
            "top_decile_lift",
            "calibration_error",
            "concordance",
        )
    ]
    text = captions(at)
    assert (
        "Champion v2-gbm (gbm) · trained 2024-03-31 03:00 · 30-day horizon · 1,000 training rows"
        " · backtest origins 2024-01-31, 2024-02-29" in text
    )
    assert "Suspected leak (pooled ROC AUC above 0.95) in v1-gbm" in at.warning[0].value
    headers = {s.value: s.help for s in at.subheader}
    assert headers["Backtest metrics by model version"] == RUNS_HELP
    assert headers["Calibration"] == CALIBRATION_HELP
    assert headers["Score drift"] == DRIFT_HELP
    assert headers["Against the simulator's ground truth"] == TRUTH_HELP
    runs = at.dataframe[0].value
    assert list(runs["role"]) == ["champion", "", "challenger"]
    assert list(runs["suspected_leak"]) == [False, False, True]

    assert at.selectbox(key="models_calibration_version").value == "v2-gbm"
    assert "4 equal-count bins of 100 backtest predictions · base rate 15.00%" in text
    assert "Top decile: observed churn 44.00%, lift 2.93× the base rate." in text
    lift, name = downloads["dl_models_lift"]
    assert name == "lift.csv"
    assert list(lift["lift"].round(4)) == [0.0, 0.2667, 0.8, 2.9333]
    calibration, _ = downloads["dl_models_calibration"]
    assert list(calibration["observed_rate"]) == [0.0, 0.04, 0.12, 0.44]

    assert "PSI 0.550 (a shift worth a look) · the last 3 scorings" in text
    psi, _ = downloads["dl_models_psi"]
    assert list(psi["psi"].round(4)) == [0.0, 0.5498]
    history, _ = downloads["dl_models_history"]
    assert len(history) == 9

    # Ground truth: the backtest origins, then the latest scoring.
    truth, _ = downloads["dl_models_truth_backtests"]
    assert list(truth["origin"].astype(str)) == ["2024-01-31", "2024-02-29"]
    assert list(truth["model_roc_auc"]) == [0.89, 0.91]
    assert list(truth["truth_roc_auc"].round(4)) == [1.0, 0.6667]
    assert list(truth["truth_brier"].round(6)) == [0.075, 0.178125]
    scores, _ = downloads["dl_models_truth_scores"]
    assert len(scores) == 8  # 10 bins of 8 customers: one each
    assert scores["n"].sum() == 8
    assert "8 scored customers matched to the truth of 2024-04-01" in text
    assert (
        "On the true outcomes (3 churners of 8): model ROC AUC 0.933, Brier 0.1013 · true "
        "probability ROC AUC 0.867, Brier 0.1197." in text
    )
    assert len(at.get("vega_lite_chart")) == 5
    assert sorted(k for k in downloads if k.startswith("dl_models")) == sorted(
        [
            "dl_models_runs",
            "dl_models_backtests",
            "dl_models_calibration",
            "dl_models_lift",
            "dl_models_history",
            "dl_models_psi",
            "dl_models_truth_backtests",
            "dl_models_truth_scores",
        ]
    )


def test_other_version_and_metric(models_home: Path, app_runner: Runner, downloads: dict) -> None:
    at = open_page(app_runner, PAGE)
    at.selectbox(key="models_calibration_version").set_value("v2-logistic").run()
    assert not at.exception
    lift, _ = downloads["dl_models_lift"]
    # base rate (0.04 × 50 + 0.26 × 50) / 100 = 15%
    assert list(lift["lift"].round(4)) == [0.2667, 1.7333]
    at.selectbox(key="models_backtest_metric").set_value("roc_auc").run()
    assert not at.exception
    at.multiselect(key="filter_countries").set_value(["DE"]).run()
    assert "the country and period filters do not apply to this page" in captions(at)


def test_without_truth_and_with_one_scoring(
    snapshot_home: Path, app_runner: Runner, downloads: dict
) -> None:
    path = snapshot_home / "serving.duckdb"
    add_model_tables(path)
    with duckdb.connect(str(path)) as con:
        con.execute("delete from ml.score_history where scored_at < '2024-03-31'")
    at = open_page(app_runner, PAGE)
    infos = [i.value for i in at.info]
    assert "One scoring so far (2024-03-31): the PSI compares two consecutive scorings." in infos
    assert any(i.startswith("No ground truth:") for i in infos)
    assert "dl_models_psi" not in downloads and "dl_models_truth_scores" not in downloads


def test_empty_states(home: Path, snapshot_builder: Builder, app_runner: Runner) -> None:
    at = open_page(app_runner, PAGE)
    assert "No data yet" in at.info[0].value
    assert not at.get("download_button")
    snapshot_builder(home, with_scores=False)
    at = open_page(app_runner, PAGE)
    infos = [i.value for i in at.info]
    assert infos[:5] == [
        "No model trained yet: run `churniq run` once the business has a few months of history "
        "(the snapshot has no `ml.model_runs` table).",
        "The snapshot has no `ml.backtests` table yet.",
        "The snapshot has no `ml.calibration_curves` table yet.",
        "The snapshot has no `ml.score_history` table yet.",
        infos[4],
    ]
    assert infos[4].startswith("No ground truth:")
    assert not at.get("download_button")
