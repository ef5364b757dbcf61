"""Training and scoring the churn models at scale, with the obvious baseline in the same run.

    .venv/bin/python -m benchmarks.bench_models [--customers 1000000] [--months 24]

Uses the warehouse of bench_marts (built once under benchmarks/out/), copies it and builds every
mart on the copy once (kept for later runs). Then, each in a fresh process:
- churniq: `models.training.train` (sampled training rows, a 3-origin rolling backtest of the
  logistic and the gradient-boosted model, the 30/60/90-day classifiers of the better one, the
  survival model) and `score_and_publish` (every live subscriber: probabilities, risk band,
  remaining months and LTV with intervals, top three reasons, written to `ml.churn_scores`);
- baseline: every observable customer month read into pandas and one default scikit-learn
  gradient-boosting classifier fitted on all of them, then the live subscribers scored (no
  backtest, no calibration, no reasons, no intervals).
Target (2 cores): training and scoring 1M subscribers in at most 2 minutes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import duckdb

from benchmarks.bench_marts import DBT, DBT_ARGS, build_warehouse
from benchmarks.common import machine, python, run_measured, write_result

OURS = """
import sys, json, time, pathlib, duckdb
from models.training import train, score_and_publish
con = duckdb.connect(sys.argv[1])
con.execute("set threads=2; set memory_limit='4GB'")
con.execute("drop schema if exists ml cascade")
artifacts = pathlib.Path(sys.argv[2])
t = time.perf_counter()
result = train(con, artifacts)
trained = time.perf_counter() - t
meta = score_and_publish(con, artifacts)
runs = result.runs.to_dict(orient="records")
for run in runs:  # the file name only: results carry no machine paths
    run["artifact"] = pathlib.Path(str(run["artifact"])).name
print(json.dumps({"train_s": trained, "score_s": time.perf_counter() - t - trained,
                  "scored": meta["scored"], "runs": runs}, default=str))
"""

BASELINE = """
import sys, json, time, duckdb, numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
con = duckdb.connect(sys.argv[1], read_only=True)
t = time.perf_counter()
frame = con.execute("select * from marts.customer_months").df()
num = [c for c in frame.columns if frame[c].dtype.kind in "biuf" or c in ("mrr", "minutes_watched_4w", "minutes_watched_prev_4w")]
num = [c for c in num if not c.startswith(("churned_within", "label_observable"))]
X = frame[num].astype(float).to_numpy()
train = frame["label_observable_30d"].to_numpy(bool)
model = HistGradientBoostingClassifier(random_state=0).fit(X[train], frame["churned_within_30d"].to_numpy(bool)[train])
live = (frame["month_end"] == frame["month_end"].max()).to_numpy()
p = model.predict_proba(X[live])[:, 1]
print(json.dumps({"seconds": time.perf_counter() - t, "train_rows": int(train.sum()), "scored": int(live.sum())}))
"""


def built_marts(customers: int, months: int) -> Path:
    """A copy of the bench_marts warehouse with every mart built (once)."""
    home = build_warehouse(customers, months)
    target = home / "with-marts.duckdb"
    if not (home / "with-marts.ready").exists():
        shutil.copy(home / "warehouse.duckdb", target)
        env = {"CHURNIQ_WAREHOUSE": str(target), "CHURNIQ_DUCKDB_MEMORY_LIMIT": "4GB",
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}  # fmt: skip
        run_measured("build marts", [*DBT, "run", *DBT_ARGS, "--full-refresh"], env=env)
        (home / "with-marts.ready").touch()
    return target


def main() -> None:
    import json

    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    warehouse = built_marts(args.customers, args.months)
    con = duckdb.connect(str(warehouse), read_only=True)
    rows = con.execute("select count(*) from marts.customer_months").fetchone()[0]
    live = con.execute(
        "select count(*) from marts.customer_months "
        "where month_end = (select max(month_end) from marts.customer_months)"
    ).fetchone()[0]
    con.close()
    artifacts = warehouse.parent / "model-artifacts"
    shutil.rmtree(artifacts, ignore_errors=True)
    ours = run_measured("churniq train + score", python("-c", OURS, str(warehouse), str(artifacts)))
    detail = json.loads(ours.output.strip().splitlines()[-1])
    base = run_measured("baseline", python("-c", BASELINE, str(warehouse)))
    base_detail = json.loads(base.output.strip().splitlines()[-1])
    lines = [
        f"### Churn models ({args.customers:,} customers, {args.months} months; {machine()})",
        "",
        "| customer months | live subscribers scored | churniq: train (backtest included) + score "
        "| peak memory | baseline: one default GBM on every row, then score | peak memory |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {rows:,} | {detail['scored']:,} | {ours.seconds:.1f} s ({detail['train_s']:.1f} + "
        f"{detail['score_s']:.1f}) | {ours.peak_mb:,.0f} MB | {base.seconds:.1f} s "
        f"({base_detail['train_rows']:,} training rows) | {base.peak_mb:,.0f} MB |",
        "",
        "| model | backtest origins | ROC AUC | PR AUC | Brier skill | top-decile lift | "
        "calibration error | survival concordance | champion candidate |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in detail["runs"]:
        lines.append(
            f"| {run['model_type']} | {run['backtest_origins']} | {run['roc_auc']:.3f} | "
            f"{run['pr_auc']:.3f} | {run['brier_skill']:.3f} | {run['top_decile_lift']:.2f} | "
            f"{run['calibration_error']:.4f} | {run['concordance']:.3f} | "
            f"{'yes' if run['is_challenger'] else 'no'} |"
        )
    lines.append("")
    data = {"customer_months": rows, "live": live, "seconds": ours.seconds,
            "peak_mb": ours.peak_mb, "baseline_s": base.seconds, **detail}  # fmt: skip
    print(write_result("models", "\n".join(lines), data).read_text())


if __name__ == "__main__":
    main()
