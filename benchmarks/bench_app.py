"""Dashboard speed on a large snapshot: every page's script run, cold and cached, and the page
in a real browser, with the obvious baseline in the same run.

    .venv/bin/python -m benchmarks.bench_app [--customers 1000000] [--months 24] [--no-browser]

Builds (once, kept under benchmarks/out/) a home with `--customers` simulated customers: the
simulator in chunks of 100,000 into the landing folder, then `churniq run` (ingest, marts,
models, publish). Then, on its published snapshot:
- churniq, script run: each page of the app run through Streamlit's AppTest, signed in as an
  admin, switched to the page after clearing every cache (cold), then run again (cached);
- baseline, "load the tables": what a page without our aggregation in DuckDB would do first,
  reading every table the page uses whole into pandas (raw DuckDB, no filter, no cache);
- browser: the app served by `streamlit run`, headless Chromium (Debian's package) signed in,
  each page opened from the navigation until its content is drawn and the script finished
  (first visit after the server started: cold; second visit: cached).
Targets (issue 6): script run at most 1 s cold and 200 ms cached, page ready at most 3 s.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import time
from pathlib import Path

import duckdb

from benchmarks.common import REPO, machine, python, run_measured, write_result

OUT = REPO / "benchmarks" / "out"
CHUNK = 100_000
MAIN = REPO / "app" / "main.py"
USER, PASSWORD = "bench", "bench-password-1"

# page file, navigation title, a text that says the page is drawn, the tables it reads
PAGES: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("views/overview.py", "Overview", "MRR movements", ("marts.metrics_monthly_by_segment",)),
    (
        "views/mrr.py",
        "MRR & movements",
        "Movements by segment",
        ("marts.metrics_monthly_by_segment",),
    ),
    (
        "views/churn.py",
        "Churn",
        "Scheduled churn",
        (
            "marts.metrics_monthly_by_segment",
            "marts.churn_reasons_monthly",
            "marts.scheduled_churn_monthly",
        ),
    ),
    (
        "views/cohorts.py",
        "Cohorts & survival",
        "Cohort projections",
        ("marts.cohort_retention_by_segment", "ml.survival_curves", "ml.cohort_projections"),
    ),
    (
        "views/at_risk.py",
        "At-risk subscribers",
        "Why they are at risk",
        ("ml.churn_scores", "marts.campaign_results"),
    ),
    (
        "views/subscriber.py",
        "Subscriber 360",
        "Timeline",
        (
            "marts.dim_customers",
            "marts.fct_subscriptions",
            "marts.customer_timeline",
            "marts.customer_months",
            "ml.churn_scores",
        ),
    ),
    (
        "views/revenue.py",
        "Revenue & payments",
        "Failed payments by failure code and provider",
        (
            "marts.revenue_monthly_by_segment",
            "marts.payment_recovery_monthly",
            "marts.payment_recovery_by_code",
        ),
    ),
    (
        "views/offers.py",
        "Offers & coupons",
        "Coupons and campaigns",
        ("marts.offer_performance", "marts.coupon_performance", "marts.trial_conversion_monthly"),
    ),
    (
        "views/support.py",
        "Support",
        "Churn with and without a recent ticket",
        ("marts.support_monthly", "marts.support_churn"),
    ),
    (
        "views/models.py",
        "Models",
        "Score drift",
        ("ml.model_runs", "ml.backtests", "ml.calibration_curves", "ml.score_history"),
    ),
    (
        "views/data_health.py",
        "Data health",
        "Row counts of published tables",
        ("ops.sources", "ops.quarantine_reasons", "ops.check_results", "ops.table_rows"),
    ),
]
SUBSCRIBER_PAGE = "views/subscriber.py"
SUBSCRIBER_KEY = "subscriber_id"  # the page's search box


def build_home(customers: int, months: int) -> Path:
    """A home with `customers` simulated customers, ingested, modelled and published (kept)."""
    home = OUT / f"app-{customers}-{months}"
    if (home / "ready").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    landing = home / "landing"
    landing.mkdir(parents=True)
    for i in range(math.ceil(customers / CHUNK)):
        n = min(CHUNK, customers - i * CHUNK)
        sim = home / f"sim-{i}"
        run_measured("simulate", python("-m", "cli", "simulate", "--customers", str(n),
                     "--months", str(months), "--seed", str(2000 + i), "--out", str(sim)))  # fmt: skip
        for f in sorted((sim / "events").glob("*.parquet")):
            f.rename(landing / f"c{i}-{f.name}")
        shutil.rmtree(sim)
    run = run_measured("churniq run", python("-m", "cli", "--home", str(home), "run"))
    print(f"built {home} in {run.seconds:.0f} s (peak {run.peak_mb:,.0f} MB)", flush=True)
    (home / "ready").write_text(f"{run.seconds:.1f}\n")
    return home


def snapshot_facts(home: Path) -> dict[str, int]:
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        customers = con.execute("select count(*) from marts.dim_customers").fetchone()[0]
        scored = con.execute(
            "select count(*) from ml.churn_scores"
            " where scored_at = (select max(scored_at) from ml.churn_scores)"
        ).fetchone()[0]
    return {
        "customers": customers,
        "scored": scored,
        "bytes": (home / "serving.duckdb").stat().st_size,
    }


def baseline_seconds(home: Path, tables: tuple[str, ...]) -> float:
    """Every table of the page read whole into pandas (raw DuckDB, a fresh connection)."""
    started = time.perf_counter()
    with duckdb.connect(str(home / "serving.duckdb"), read_only=True) as con:
        present = {r[0] for r in con.execute(
            "select schema_name || '.' || table_name from duckdb_tables()"
        ).fetchall()}  # fmt: skip
        for table in tables:
            if table in present:
                con.execute(f"select * from {table}").df()
    return time.perf_counter() - started


def script_runs(home: Path, customer_id: str, repeats: int = 3) -> dict[str, dict[str, float]]:
    """Per page: the script run after clearing every cache (cold) and again (cached), the
    median of `repeats` (Subscriber 360 looks up the riskiest customer)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app.signin import SESSION_KEY

    os.environ["CHURNIQ_HOME"] = str(home)
    out: dict[str, dict[str, float]] = {}
    for path, title, _, _ in PAGES:
        cold, cached = [], []
        for _ in range(repeats):
            at = AppTest.from_file(str(MAIN), default_timeout=300)
            at.session_state[SESSION_KEY] = USER
            if path == SUBSCRIBER_PAGE:
                at.session_state[SUBSCRIBER_KEY] = customer_id
            at.run()
            st.cache_data.clear()
            started = time.perf_counter()
            at.switch_page(path).run()
            cold.append(time.perf_counter() - started)
            if at.exception:
                raise RuntimeError(f"{title}: {[e.value for e in at.exception]}")
            started = time.perf_counter()
            at.run()
            cached.append(time.perf_counter() - started)
        out[title] = {"cold_s": statistics.median(cold), "cached_s": statistics.median(cached)}
        print(f"{title}: script {out[title]}", flush=True)
    return out


def browser_runs(home: Path, customer_id: str) -> dict[str, dict[str, float]]:
    """Per page: seconds from the click in the navigation to the page drawn and idle, on the
    first visit after the server started (cold caches) and on the second (cached). The server
    gets a few seconds after sign-in, as a user would take to pick a page."""
    from tests.browser.shoot import SHOTS, browser_page, served, sign_in, visit

    shots = {s.title: s for s in SHOTS}
    out: dict[str, dict[str, float]] = {}
    with served(home) as url, browser_page() as page:
        page.goto(url)
        sign_in(page, USER, PASSWORD)
        time.sleep(5)
        for attempt in ("cold_s", "cached_s"):
            for _, title, _, _ in PAGES:
                started = time.perf_counter()
                visit(page, shots[title], customer_id)
                out.setdefault(title, {})[attempt] = time.perf_counter() - started
    for title, times in out.items():
        print(f"{title}: browser {times}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    from app.users import save_user

    home = build_home(args.customers, args.months)
    save_user(home, USER, PASSWORD, "admin")
    from tests.browser.shoot import riskiest_customer

    facts = snapshot_facts(home)
    customer_id = riskiest_customer(home)
    scripts = script_runs(home, customer_id)
    browser = {} if args.no_browser else browser_runs(home, customer_id)
    rows, data = [], {"machine": machine(), **facts, "pages": {}}
    for _, title, _, tables in PAGES:
        base = baseline_seconds(home, tables)
        s = scripts[title]
        b = browser.get(title, {})
        data["pages"][title] = {**s, "baseline_s": base, "browser": b}
        rows.append(
            f"| {title} | {s['cold_s'] * 1000:,.0f} ms | {s['cached_s'] * 1000:,.0f} ms | "
            f"{base * 1000:,.0f} ms | {base / s['cold_s']:.1f}× | "
            + (f"{b['cold_s']:.2f} s | {b['cached_s']:.2f} s |" if b else "– | – |")
        )
    markdown = (
        f"### Dashboards ({facts['customers']:,} customers, {facts['scored']:,} scored, "
        f"snapshot {facts['bytes'] / 2**30:.1f} GiB; {machine()})\n\n"
        "| page | script run, cold | cached | baseline: its tables read into pandas | "
        "baseline ÷ cold | browser page-ready, first visit | second visit |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        "Targets: script run ≤ 1 s cold and ≤ 200 ms cached; page ready in the browser ≤ 3 s. "
        "Script runs are the median of 3 AppTest runs of the whole app (sign-in check, sidebar "
        "filters, navigation, the page), signed in as an admin; Subscriber 360 shows the "
        "riskiest customer. Browser times run from the click in the navigation (for Subscriber "
        "360 also typing the id) to the page drawn and idle.\n"
    )
    path = write_result("app", markdown, data)
    print(path.read_text())


if __name__ == "__main__":
    main()
