"""Models: backtest quality of the churn models, calibration and lift, score drift across
scorings and, on simulated data, the comparison with the simulator's ground truth.

Every figure is over all customers: the ``ml`` tables have no segment columns, and the page says
so when a sidebar filter is set.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app import filters
from app import formatting as fmt
from app.charts.models import (
    BACKTESTS_HELP,
    CALIBRATION_HELP,
    DRIFT_HELP,
    LIFT_HELP,
    METRIC_HELP,
    METRIC_LABELS,
    RUNS_HELP,
    TRUTH_CALIBRATION_HELP,
    TRUTH_HELP,
    backtest_chart,
    calibration_chart,
    drift_chart,
    lift_chart,
    truth_calibration_chart,
)
from app.components import (
    csv_download,
    missing_table_text,
    open_snapshot,
    snapshot_caption,
    table,
    table_missing,
)
from app.data import models as models_data
from app.data import snapshot

NO_RUNS = (
    "No model trained yet: run `churniq run` once the business has a few months of history "
    "(the snapshot has no `ml.model_runs` table)."
)
VERSION_KEY = "models_calibration_version"
BACKTEST_METRIC_KEY = "models_backtest_metric"
PSI_SHIFT = 0.2

#: Champion KPIs: metric column, how it is shown.
KPI_SPECS: tuple[tuple[str, str], ...] = (
    ("roc_auc", "ratio3"),
    ("pr_auc", "ratio3"),
    ("brier_skill", "ratio3"),
    ("top_decile_lift", "times"),
    ("calibration_error", "percent"),
    ("concordance", "ratio3"),
)


def shown(value: object, kind: str) -> str | None:
    if fmt.is_missing(value):
        return None
    if kind == "times":
        return f"{fmt.ratio(value, 2)}×"
    if kind == "percent":
        return fmt.percent(value, 2)
    return fmt.ratio(value, 3)


def role(row: pd.Series) -> str:
    if bool(row.get("is_champion")):
        return "champion"
    if bool(row.get("is_challenger")):
        return "challenger"
    return ""


def filters_note(chosen: filters.Filters) -> str:
    ignored = [
        label
        for value, label in (
            (chosen.platforms, "platform"),
            (chosen.countries, "country"),
            (chosen.offer_types, "offer type"),
        )
        if value
    ]
    base = "Model quality is measured over all customers and every backtest origin"
    if ignored:
        return (
            f"{base}: the {', '.join(ignored)} and period filters do not apply to this page "
            "(the `ml` tables have no segment columns)."
        )
    return f"{base}: the period filter does not apply to this page."


def champion_row(runs: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The champion's run, or the newest run when there is no champion (False)."""
    champions = runs[runs["is_champion"].fillna(False).astype(bool)]
    if not champions.empty:
        return champions.iloc[0], True
    return runs.iloc[0], False


def render_runs(runs: pd.DataFrame) -> pd.Series:
    best, is_champion = champion_row(runs)
    trained = best["trained_at"]
    parts = [
        f"{'Champion' if is_champion else 'No champion yet: latest run'} {best['model_version']}"
        f" ({best['model_type']})",
        f"trained {pd.Timestamp(trained):%Y-%m-%d %H:%M}" if not pd.isna(trained) else None,
        f"{int(best['horizon_days'])}-day horizon" if not pd.isna(best["horizon_days"]) else None,
        f"{fmt.count(best['training_rows'])} training rows"
        if not pd.isna(best["training_rows"])
        else None,
        f"backtest origins {best['backtest_origins']}" if best["backtest_origins"] else None,
    ]
    st.caption(" · ".join(p for p in parts if p))
    columns = st.columns(len(KPI_SPECS))
    for column, (metric, kind) in zip(columns, KPI_SPECS, strict=True):
        with column:
            st.metric(
                METRIC_LABELS[metric],
                shown(best[metric], kind),
                help=METRIC_HELP[metric],
                border=True,
            )
    leaky = runs[runs["suspected_leak"].fillna(False).astype(bool)]
    if not leaky.empty:
        st.warning(
            f"Suspected leak (pooled ROC AUC above 0.95) in {', '.join(leaky['model_version'])}: "
            "such a model is never promoted; check the features for post-origin information.",
            icon=":material/warning:",
        )

    st.subheader("Backtest metrics by model version", help=RUNS_HELP)
    runs_table = runs.assign(role=runs.apply(role, axis=1))
    ordered = [
        "model_version",
        "role",
        "model_type",
        "trained_at",
        "horizon_days",
        *models_data.RUN_METRICS,
        "suspected_leak",
        "training_rows",
        "backtest_rows",
        "backtest_origins",
    ]
    runs_table = runs_table[ordered]
    table(
        runs_table,
        hide_index=True,
        column_config={
            "model_version": "Model version",
            "role": "Role",
            "model_type": "Kind",
            "trained_at": st.column_config.DatetimeColumn("Trained", format="YYYY-MM-DD HH:mm"),
            "horizon_days": st.column_config.NumberColumn("Horizon (days)", format="%d"),
            **{
                m: st.column_config.NumberColumn(
                    METRIC_LABELS[m],
                    format="percent" if m in ("base_rate", "top_decile_capture") else "%.4f",
                    help=METRIC_HELP[m],
                )
                for m in models_data.RUN_METRICS
            },
            "suspected_leak": st.column_config.CheckboxColumn("Suspected leak"),
            "training_rows": st.column_config.NumberColumn("Training rows", format="%d"),
            "backtest_rows": st.column_config.NumberColumn("Backtest rows", format="%d"),
            "backtest_origins": "Backtest origins",
        },
        subscribers=False,
    )
    csv_download(runs_table, "model_runs.csv", "Download model runs (CSV)", key="dl_models_runs")
    return best


def render_backtests(source: snapshot.Source) -> None:
    st.subheader("Backtests per origin", help=BACKTESTS_HELP)
    frame = models_data.backtests(source)
    if table_missing(frame, models_data.BACKTESTS_TABLE):
        return
    if frame.empty:
        st.info("No backtest origin yet.")
        return
    metrics = [
        m
        for m in ("pr_auc", "roc_auc", "brier", "brier_skill", "top_decile_lift", "ece")
        if m in frame.columns
    ]
    metric = st.selectbox(
        "Metric",
        metrics,
        format_func=lambda m: METRIC_LABELS.get(m, m),
        key=BACKTEST_METRIC_KEY,
    )
    st.altair_chart(backtest_chart(frame, metric), width="stretch")
    csv_download(frame, "backtests.csv", "Download backtests (CSV)", key="dl_models_backtests")


def render_calibration(source: snapshot.Source, best: pd.Series | None) -> None:
    st.subheader("Calibration", help=CALIBRATION_HELP)
    versions = models_data.calibration_versions(source)
    if models_data.CALIBRATION_TABLE not in snapshot.tables(source):
        st.info(missing_table_text(models_data.CALIBRATION_TABLE))
        return
    if not versions:
        st.info("No calibration bins yet.")
        return
    if st.session_state.get(VERSION_KEY) not in versions:
        st.session_state.pop(VERSION_KEY, None)
    default = (
        versions.index(best["model_version"])
        if best is not None and best["model_version"] in versions
        else len(versions) - 1
    )
    version = st.selectbox("Model version", versions, index=default, key=VERSION_KEY)
    bins = models_data.calibration(source, version)
    if bins is None or bins.empty:
        st.info("No calibration bins for this model version.")
        return
    lift = models_data.lift_frame(bins)
    st.caption(
        f"{len(bins)} equal-count bins of {fmt.count(bins['n'].sum())} backtest predictions · "
        f"base rate {fmt.percent(lift['base_rate'].iloc[0])}"
    )
    left, right = st.columns(2)
    with left:
        st.altair_chart(calibration_chart(bins), width="stretch")
        csv_download(
            bins.assign(model_version=version)[["model_version", *bins.columns]],
            "calibration.csv",
            "Download calibration (CSV)",
            key="dl_models_calibration",
        )
    with right:
        st.markdown("**Lift by decile**", help=LIFT_HELP)
        st.altair_chart(lift_chart(lift), width="stretch")
        csv_download(
            lift.assign(model_version=version)[["model_version", *lift.columns]],
            "lift.csv",
            "Download lift (CSV)",
            key="dl_models_lift",
        )
    top = lift.iloc[-1]
    st.caption(
        f"Top decile: observed churn {fmt.percent(top['observed_rate'])}, lift "
        f"{fmt.ratio(top['lift'])}× the base rate."
    )


def render_drift(source: snapshot.Source) -> None:
    st.subheader("Score drift", help=DRIFT_HELP)
    history = models_data.score_history(source)
    if table_missing(history, models_data.HISTORY_TABLE):
        return
    if history.empty:
        st.info("No scoring yet.")
        return
    scorings = history["scored_at"].nunique()
    st.altair_chart(drift_chart(history), width="stretch")
    csv_download(
        history,
        "score_distribution.csv",
        "Download score distributions (CSV)",
        key="dl_models_history",
    )
    if scorings < 2:
        st.info(
            f"One scoring so far ({history['scored_at'].iloc[0]:%Y-%m-%d}): the PSI compares two "
            "consecutive scorings."
        )
        return
    drift = models_data.drift_table(history)
    latest = drift.iloc[-1]
    verdict = "a shift worth a look" if latest["psi"] > PSI_SHIFT else "no notable shift"
    st.caption(
        f"Latest scoring {latest['scoring']:%Y-%m-%d} against {latest['previous_scoring']:%Y-%m-%d}:"
        f" PSI {fmt.ratio(latest['psi'], 3)} ({verdict}) · the last {scorings} scorings"
    )
    table(
        drift,
        hide_index=True,
        column_config={
            "previous_scoring": st.column_config.DatetimeColumn("Previous", format="YYYY-MM-DD"),
            "scoring": st.column_config.DatetimeColumn("Scoring", format="YYYY-MM-DD"),
            "customers_before": st.column_config.NumberColumn("Customers before", format="%d"),
            "customers": st.column_config.NumberColumn("Customers", format="%d"),
            "mean_probability_before": st.column_config.NumberColumn(
                "Mean probability before", format="percent"
            ),
            "mean_probability": st.column_config.NumberColumn("Mean probability", format="percent"),
            "psi": st.column_config.NumberColumn("PSI", format="%.4f"),
        },
        subscribers=False,
    )
    csv_download(drift, "score_drift_psi.csv", "Download PSI (CSV)", key="dl_models_psi")


def render_truth(source: snapshot.Source, best: pd.Series | None) -> None:
    st.subheader("Against the simulator's ground truth", help=TRUTH_HELP)
    truth = models_data.truth_files()
    if truth is None:
        st.info(
            f"No ground truth: `{snapshot.paths().ground_truth}` holds no simulator files. Real data "
            "has no known true churn probability; the backtests above are the measure of quality."
        )
        return
    horizon = 30
    if best is not None and not pd.isna(best["horizon_days"]):
        horizon = int(best["horizon_days"])
    notes = [
        f"Simulation `{truth.months.rsplit('/', 1)[-1].removesuffix('-customer_month_truth.parquet')}`"
        + (f", window ending {truth.window_end:%Y-%m-%d}" if truth.window_end else ""),
    ]
    if horizon != 30:
        notes.append(
            f"the model's horizon is {horizon} days, the truth's probability 30 days: outcomes "
            f"use {horizon} days"
        )
    st.caption(" · ".join(notes))

    # 1. The backtest origins: the model's metrics against the true probability's, same rows.
    backtests = models_data.backtests(source)
    if backtests is not None and not backtests.empty and best is not None:
        mine = backtests[backtests["model_version"] == best["model_version"]].copy()
        mine["as_of"] = pd.to_datetime(mine["origin"]) + pd.Timedelta(days=1)
        dates = tuple(
            d.date() for d in mine["as_of"] if models_data.observable(truth, d.date(), horizon)
        )
        bench = models_data.truth_benchmark(source, truth, dates, horizon)
        if bench is not None and not bench.empty:
            truth_side = bench.rename(
                columns={c: f"{c}_truth" for c in bench.columns if c != "as_of"}
            )
            joined = mine.merge(truth_side, on="as_of", how="inner")
            missing = pd.Series(float("nan"), index=joined.index)
            comparison = pd.DataFrame(
                {
                    "origin": pd.to_datetime(joined["origin"]).dt.date,
                    "test_rows": joined.get("n", missing),
                    "truth_rows": joined["n_truth"],
                    "true_churners": joined["positives_truth"],
                    "true_base_rate": joined["base_rate_truth"],
                    "mean_true_probability": joined["mean_score_truth"],
                    "model_roc_auc": joined.get("roc_auc", missing),
                    "truth_roc_auc": joined["roc_auc_truth"],
                    "model_brier": joined.get("brier", missing),
                    "truth_brier": joined["brier_truth"],
                }
            )
            st.markdown(
                f"**Backtests of {best['model_version']} against the true probability**",
                help=TRUTH_HELP + " " + METRIC_HELP["roc_auc"] + " " + METRIC_HELP["brier"],
            )
            st.caption(
                "Per backtest origin: the model's ROC AUC and Brier score on its test rows, and "
                "those the simulator's true probability reaches on the customers of the truth "
                "snapshot of the next day against their true outcomes."
            )
            table(
                comparison,
                hide_index=True,
                column_config={
                    "origin": "Origin",
                    "test_rows": st.column_config.NumberColumn("Model test rows", format="%d"),
                    "truth_rows": st.column_config.NumberColumn("Truth rows", format="%d"),
                    "true_churners": st.column_config.NumberColumn("True churners", format="%d"),
                    "true_base_rate": st.column_config.NumberColumn(
                        "True base rate", format="percent"
                    ),
                    "mean_true_probability": st.column_config.NumberColumn(
                        "Mean true probability", format="percent"
                    ),
                    "model_roc_auc": st.column_config.NumberColumn("Model ROC AUC", format="%.4f"),
                    "truth_roc_auc": st.column_config.NumberColumn("Truth ROC AUC", format="%.4f"),
                    "model_brier": st.column_config.NumberColumn("Model Brier", format="%.4f"),
                    "truth_brier": st.column_config.NumberColumn("Truth Brier", format="%.4f"),
                },
                subscribers=False,
            )
            csv_download(
                comparison,
                "backtests_vs_truth.csv",
                "Download backtests against the truth (CSV)",
                key="dl_models_truth_backtests",
            )
        else:
            st.caption("No backtest origin whose truth and outcome the simulation knows.")

    # 2. The latest scoring, customer by customer, against the true probability.
    st.markdown("**Latest scoring against the true probability**", help=TRUTH_CALIBRATION_HELP)
    scored = models_data.scores_against_truth(source, truth, horizon)
    if scored is None:
        st.info("No scores yet (the snapshot has no `ml.churn_scores` table).")
        return
    if not scored["matched"]:
        end = f" (the simulation ends {truth.window_end:%Y-%m-%d})" if truth.window_end else ""
        st.info(
            f"The simulator wrote no truth for {scored['as_of']:%Y-%m-%d}, the day after the "
            f"latest scoring{end}: the true probability of these scores is not known. The "
            "backtests above are compared with the truth instead."
        )
        return
    bins = scored["bins"]
    st.caption(
        f"{fmt.count(scored['matched'])} scored customers matched to the truth of "
        f"{scored['as_of']:%Y-%m-%d} · mean predicted "
        f"{fmt.percent((bins['mean_predicted'] * bins['n']).sum() / bins['n'].sum())}, mean true "
        f"{fmt.percent((bins['mean_true_probability'] * bins['n']).sum() / bins['n'].sum())}"
    )
    st.altair_chart(truth_calibration_chart(bins), width="stretch")
    csv_download(
        bins,
        "scores_vs_truth.csv",
        "Download scores against the truth (CSV)",
        key="dl_models_truth_scores",
    )
    outcomes = scored["outcomes"]
    if outcomes is None or outcomes.empty:
        st.caption(
            f"The true outcomes ({horizon} days after {scored['as_of']:%Y-%m-%d}) lie beyond the "
            "simulation: no ROC AUC against them yet."
        )
        return
    by = outcomes.set_index("grp")
    st.caption(
        f"On the true outcomes ({fmt.count(by.loc['model', 'positives'])} churners of "
        f"{fmt.count(by.loc['model', 'n'])}): model ROC AUC {fmt.ratio(by.loc['model', 'roc_auc'], 3)}"
        f", Brier {fmt.ratio(by.loc['model', 'brier'], 4)} · true probability ROC AUC "
        f"{fmt.ratio(by.loc['truth', 'roc_auc'], 3)}, Brier {fmt.ratio(by.loc['truth', 'brier'], 4)}."
    )


def render() -> None:
    opened = open_snapshot("Models")
    if opened is None:
        return
    source, meta = opened
    st.caption(filters_note(filters.current()))
    runs = models_data.model_runs(source)
    best = None
    if runs is None or runs.empty:
        st.info(NO_RUNS, icon=":material/model_training:")
    else:
        best = render_runs(runs)
    render_backtests(source)
    render_calibration(source, best)
    render_drift(source)
    render_truth(source, best)
    snapshot_caption(meta)


render()
