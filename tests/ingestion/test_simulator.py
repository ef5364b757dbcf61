"""Subscriber simulator: contract conformance, determinism, consistency, realism and truth.

Realism figures are computed from the emitted events only (polars), never from engine internals.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pycountry
import pytest
from currency_converter import CurrencyConverter

from foundation.contract import EVENT_MODELS, field_rules, validate_line
from ingestion.simulator import SimulationSummary, simulate

START = date(2023, 11, 1)  # well in the past, whatever the clock says
MID = {"customers": 5_000, "months": 24, "seed": 11, "start": START}

CATALOGUE = {
    "offer.published",
    "customer.created",
    "customer.updated",
    "subscription.started",
    "subscription.renewed",
    "subscription.changed",
    "subscription.cancelled",
    "subscription.reactivated",
    "subscription.paused",
    "subscription.resumed",
    "subscription.ended",
    "purchase.completed",
    "payment.succeeded",
    "payment.failed",
    "payment.refunded",
    "payment.chargeback",
    "coupon.redeemed",
    "support.ticket_opened",
    "support.ticket_resolved",
    "engagement.activity",
}
# Required payload fields and allowed values, from the contract's own models; the simulator
# does not emit customer.erased or retention.action_taken.
NOT_SIMULATED = {"customer.erased", "retention.action_taken"}
REQUIRED = {
    t: [r.name for r in field_rules(m) if r.required]
    for t, m in EVENT_MODELS.items()
    if t not in NOT_SIMULATED
}
ENUMS = {
    f"{r.name}@{t}": set(r.enum)
    for t, m in EVENT_MODELS.items()
    for r in field_rules(m)
    if r.enum is not None and r.kind not in ("currency", "country")
} | {"provider": {"adyen", "paypal", "stripe", "app_store", "google_play", "roku", "amazon"}}
TS_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
ISO_DURATION = re.compile(r"^P(\d+[YMWD])+$")


def _ts(col: str | pl.Expr) -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return e.str.to_datetime("%Y-%m-%dT%H:%M:%SZ")


def _field(name: str) -> pl.Expr:
    return pl.col("data").str.json_path_match(f"$.{name}")


def _run(root: Path, name: str, fmt: str = "parquet", **kw) -> tuple[SimulationSummary, Path, Path]:
    ev, tr = root / name / "events", root / name / "truth"
    s = simulate(events_dir=ev, truth_dir=tr, fmt=fmt, **kw)
    return s, ev, tr


@pytest.fixture(scope="module")
def mid(tmp_path_factory):
    summary, ev, tr = _run(tmp_path_factory.mktemp("sim"), "mid", **MID)
    df = pl.read_parquet(sorted(ev.glob("*.parquet")))
    df = df.with_columns(
        at=_ts("occurred_at"), pos=pl.col("event_id").str.split("-").list.last().cast(pl.Int64)
    )
    return summary, df, ev, tr


@pytest.fixture(scope="module")
def subs(mid):
    """One row per subscription, rebuilt from the events."""
    _, df, _, _ = mid
    d = df.filter(pl.col("event_type").str.contains(r"^(subscription|payment)\."))
    d = d.with_columns(sub=_field("subscription_id"))
    started = d.filter(pl.col("event_type") == "subscription.started").select(
        "sub", "customer_id", start=pl.col("at"), trial_end=_ts(_field("trial_ends_at"))
    )
    ended = d.filter(pl.col("event_type") == "subscription.ended").select(
        "sub", end=pl.col("at"), ended_reason=_field("ended_reason")
    )
    paid = (
        d.filter(pl.col("event_type") == "payment.succeeded", pl.col("sub").is_not_null())
        .group_by("sub")
        .agg(first_paid=pl.col("at").min())
    )
    cancel = (
        d.filter(
            pl.col("event_type") == "subscription.cancelled", _field("initiated_by") == "customer"
        )
        .group_by("sub")
        .agg(first_cancel=pl.col("at").min())
    )
    return (
        started.join(ended, on="sub", how="left")
        .join(paid, on="sub", how="left")
        .join(cancel, on="sub", how="left")
    )


# ---------------------------------------------------------------------------------------------
def test_summary_and_files(mid):
    summary, df, ev, tr = mid
    assert summary.customers == MID["customers"]
    assert summary.events == df.height == sum(summary.event_counts.values())
    assert summary.files and all(p.parent == ev and p.suffix == ".parquet" for p in summary.files)
    assert all(re.fullmatch(r"sim-s11-\d{3}\.parquet", p.name) for p in summary.files)
    assert summary.elapsed_seconds > 0
    assert set(summary.event_counts) == CATALOGUE


def test_envelope(mid):
    _, df, _, _ = mid
    assert df.columns[:7] == [
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "source",
        "customer_id",
        "data",
    ]
    assert df.schema["schema_version"] in (pl.Int32, pl.Int64)
    assert sum(df[c].null_count() for c in df.columns) == 0
    assert df["event_id"].n_unique() == df.height
    assert df["event_id"].str.len_chars().max() <= 128
    assert df["event_id"].str.starts_with("sim11-").all()
    assert set(df["event_type"].unique()) == CATALOGUE
    assert (df["schema_version"] == 1).all()
    assert (df["source"] == "simulator").all()
    assert df["occurred_at"].str.contains(TS_RE.pattern).all()
    offers = df["event_type"] == "offer.published"
    assert (df.filter(offers)["customer_id"] == "").all()
    assert df.filter(~offers)["customer_id"].str.contains(r"^c11-\d+$").all()
    assert not df["customer_id"].str.contains("@").any()
    assert df["data"].str.starts_with("{").all() and df["data"].str.ends_with("}").all()


def test_required_fields_and_values(mid):
    _, df, _, _ = mid
    cc = CurrencyConverter()
    countries = {c.alpha_2 for c in pycountry.countries}
    for etype, fields in REQUIRED.items():
        sub = df.filter(pl.col("event_type") == etype)
        assert sub.height > 0, etype
        decoded = [json.loads(x) for x in sub["data"].head(300)]  # real JSON objects
        assert all(isinstance(x, dict) for x in decoded)
        for f in fields:
            assert sub.select(_field(f).is_null().sum()).item() == 0, (etype, f)
        for f in (
            "price_minor",
            "amount_minor",
            "discount_minor",
            "minutes_watched",
            "sessions",
            "resolution_minutes",
            "attempt",
            "discount_value",
        ):
            if f in fields or any(f in x for x in decoded):
                vals = sub.select(_field(f)).to_series().drop_nulls()
                assert vals.str.contains(r"^\d+$").all(), (etype, f)  # non-negative integers
        for key, allowed in ENUMS.items():
            f, _, only = key.partition("@")
            if only and only != etype:
                continue
            vals = set(sub.select(_field(f)).to_series().drop_nulls().unique())
            if f == "reason" and not only:
                continue
            assert vals <= allowed, (etype, f, vals - allowed)
        cur = set(sub.select(_field("currency")).to_series().drop_nulls().unique())
        assert cur <= set(cc.currencies), cur
        for f in (
            "current_period_end",
            "trial_ends_at",
            "period_start",
            "period_end",
            "effective_at",
            "resume_at",
            "access_until",
        ):
            vals = sub.select(_field(f)).to_series().drop_nulls()
            assert vals.str.contains(TS_RE.pattern).all(), (etype, f)
    created = df.filter(pl.col("event_type") == "customer.created")
    assert set(created.select(_field("country")).to_series()) <= countries
    # ISO 8601 durations
    pub = df.filter(pl.col("event_type") == "offer.published")
    for f in ("billing_period", "access_period", "trial_period"):
        vals = pub.select(_field(f)).to_series().drop_nulls()
        assert vals.str.contains(ISO_DURATION.pattern).all()
    dur = (
        df.filter(pl.col("event_type") == "coupon.redeemed").select(_field("duration")).to_series()
    )
    assert dur.str.contains(r"^(once|forever|P\d+[YMWD])$").all()
    # engagement periods at most 7 days apart
    eng = df.filter(pl.col("event_type") == "engagement.activity").select(
        span=_ts(_field("period_end")) - _ts(_field("period_start"))
    )
    assert (eng["span"] <= timedelta(days=7)).all() and (eng["span"] > timedelta(0)).all()
    # JPY has no minor unit: monthly prices stay in yen (hundreds to a few thousand)
    jpy = pub.filter(_field("currency") == "JPY", _field("billing_period") == "P1M")
    prices = jpy.select(_field("price_minor").cast(pl.Int64)).to_series()
    assert prices.min() >= 100 and prices.max() < 5_000
    assert (
        df.filter(pl.col("event_type") == "subscription.started")
        .select(_field("trial_ends_at").is_not_null().sum())
        .item()
        > 0
    )


def test_window(mid):
    summary, df, _, _ = mid
    end = datetime(2025, 11, 1)
    first_real = df.filter(pl.col("event_type") != "offer.published")["at"].min()
    pub = df.filter(pl.col("event_type") == "offer.published").with_columns(oid=_field("offer_id"))
    assert pub.group_by("oid").agg(pl.col("at").min())["at"].max() < datetime(2023, 11, 1)
    assert first_real >= datetime(2023, 11, 1)
    assert df["at"].max() < end
    assert summary.window_end == date(2025, 11, 1)
    # one price rise: a second version of some offers, published inside the window
    versions = pub.group_by("oid").len()
    assert versions["len"].max() == 2
    assert pub.filter(pl.col("at") > datetime(2023, 11, 1)).height > 0


def test_ordering_and_ids_follow_time(mid):
    _, df, _, _ = mid
    d = df.sort("pos")
    assert (d["pos"] == np.arange(d.height)).all()
    assert d["at"].is_sorted()


def test_subscription_lifecycles_are_consistent(mid):
    _, df, _, _ = mid
    ev = (
        df.filter(
            pl.col("event_type").str.starts_with("subscription.")
            | (
                (pl.col("event_type").str.starts_with("payment."))
                & _field("subscription_id").is_not_null()
            )
        )
        .with_columns(
            sub=_field("subscription_id"),
            eff=_ts(_field("effective_at")),
            attempt=_field("attempt").cast(pl.Int64),
        )
        .sort("sub", "pos")
        .select("sub", "event_type", "at", "eff", "attempt", "customer_id")
    )
    problems: list[str] = []
    state: dict[str, str] = {}
    last_attempt: dict[str, int] = {}
    owner: dict[str, str] = {}
    for sub, et, at, eff, attempt, cust in ev.iter_rows():
        s = state.get(sub)
        if et == "subscription.started":
            if s is not None:
                problems.append(f"{sub}: started twice")
            state[sub] = "live"
            owner[sub] = cust
            continue
        if s is None:
            problems.append(f"{sub}: {et} before started")
            continue
        if cust != owner[sub]:
            problems.append(f"{sub}: customer changed")
        if s == "ended":
            problems.append(f"{sub}: {et} after ended")
        elif et == "subscription.renewed" and s == "paused":
            problems.append(f"{sub}: renewed while paused")
        elif et == "subscription.paused":
            state[sub] = "paused"
        elif et == "subscription.resumed":
            if s != "paused":
                problems.append(f"{sub}: resumed while {s}")
            state[sub] = "live"
        elif et == "subscription.cancelled":
            if eff is None or eff < at:
                problems.append(f"{sub}: cancellation effective before request")
            state[sub] = "pending"
        elif et == "subscription.reactivated":
            if s != "pending":
                problems.append(f"{sub}: reactivated while {s}")
            state[sub] = "live"
        elif et == "subscription.ended":
            state[sub] = "ended"
        elif et == "payment.failed":
            prev = last_attempt.get(sub, 0)
            if attempt != 1 and attempt != prev + 1:
                problems.append(f"{sub}: attempt {attempt} after {prev}")
            last_attempt[sub] = attempt
        elif et in ("payment.succeeded", "subscription.renewed"):
            last_attempt[sub] = 0
    assert not problems, problems[:20]
    # ended for `cancelled` always follows a cancellation request
    ends = df.filter(pl.col("event_type") == "subscription.ended").with_columns(
        sub=_field("subscription_id"), why=_field("ended_reason")
    )
    cancelled = set(
        df.filter(pl.col("event_type") == "subscription.cancelled")
        .select(_field("subscription_id"))
        .to_series()
    )
    assert set(ends.filter(pl.col("why") == "cancelled")["sub"]) <= cancelled
    # renewals: period_end after period_start, customers hold one live subscription at a time
    ren = df.filter(pl.col("event_type") == "subscription.renewed").select(
        a=_ts(_field("period_start")), b=_ts(_field("period_end"))
    )
    assert (ren["b"] > ren["a"]).all()


def test_payments_reference_known_ids(mid):
    _, df, _, _ = mid
    pays = df.filter(pl.col("event_type").is_in(["payment.succeeded", "payment.failed"]))
    assert pays["data"].str.json_path_match("$.payment_id").n_unique() == pays.height
    ok = set(
        df.filter(pl.col("event_type") == "payment.succeeded")
        .select(_field("payment_id"))
        .to_series()
    )
    for et in ("payment.refunded", "payment.chargeback"):
        refs = set(df.filter(pl.col("event_type") == et).select(_field("payment_id")).to_series())
        assert refs and refs <= ok
    purchases = set(
        df.filter(pl.col("event_type") == "purchase.completed")
        .select(_field("purchase_id"))
        .to_series()
    )
    paid_for = set(
        df.filter(pl.col("event_type") == "payment.succeeded")
        .select(_field("purchase_id"))
        .to_series()
        .drop_nulls()
    )
    assert purchases == paid_for
    opened = set(
        df.filter(pl.col("event_type") == "support.ticket_opened")
        .select(_field("ticket_id"))
        .to_series()
    )
    resolved = set(
        df.filter(pl.col("event_type") == "support.ticket_resolved")
        .select(_field("ticket_id"))
        .to_series()
    )
    assert resolved <= opened and len(resolved) > 0.8 * len(opened)
    # each payment of a subscription matches its net price
    both = df.filter(pl.col("event_type").is_in(["subscription.started", "payment.succeeded"]))
    assert both.height > 0


def test_realism_monthly_churn(subs):
    rates = []
    months = pl.datetime_range(datetime(2024, 2, 1), datetime(2025, 11, 1), "1mo", eager=True)
    for a, b in zip(months[:-1], months[1:], strict=True):
        base = subs.filter(pl.col("first_paid") <= a, pl.col("end").is_null() | (pl.col("end") > a))
        churned = base.filter(pl.col("end") < b)
        rates.append(churned["customer_id"].n_unique() / base["customer_id"].n_unique())
    mean = float(np.mean(rates))
    assert 0.02 <= mean <= 0.08, rates
    assert max(rates) < 0.12


def test_realism_involuntary_share(subs):
    ended = subs.filter(pl.col("first_paid").is_not_null(), pl.col("end").is_not_null())
    invol = ended.filter(
        pl.col("ended_reason") == "payment_failed",
        pl.col("first_cancel").is_null() | (pl.col("first_cancel") > pl.col("end")),
    )
    share = invol.height / ended.height
    assert 0.15 <= share <= 0.40, share
    # customers who cancel during dunning exist and count as voluntary
    dunning_cancel = ended.filter(
        pl.col("ended_reason") == "payment_failed", pl.col("first_cancel").is_not_null()
    )
    assert dunning_cancel.height > 0


def test_realism_trial_conversion(subs):
    trials = subs.filter(
        pl.col("trial_end").is_not_null(), pl.col("trial_end") < datetime(2025, 11, 1)
    )
    conv = trials.filter(pl.col("first_paid").is_not_null()).height / trials.height
    assert trials.height > 200
    assert 0.35 <= conv <= 0.75, conv


def test_realism_win_backs_and_offer_types(mid, subs):
    _, df, _, _ = mid
    per_customer = subs.group_by("customer_id").len()
    assert per_customer.filter(pl.col("len") > 1).height > 20  # win-backs
    started = df.filter(pl.col("event_type") == "subscription.started").with_columns(
        period=_field("billing_period")
    )
    assert set(started["period"].unique()) == {"P1M", "P3M", "P1Y"}
    # monthly subscribers churn more than annual ones
    s = subs.join(started.select(sub=_field("subscription_id"), period="period"), on="sub")
    s = s.filter(pl.col("first_paid").is_not_null())
    share = s.group_by("period").agg(ended=pl.col("end").is_not_null().mean())
    rate = dict(share.iter_rows())
    assert rate["P1M"] > rate["P1Y"]
    purchases = df.filter(pl.col("event_type") == "purchase.completed").select(_field("offer_type"))
    assert set(purchases.to_series()) == {"pass", "live_ppv", "tvod"}


def test_truth_files_and_signal(mid, subs):
    _, df, ev, tr = mid
    assert tr != ev and not any(tr.glob("*.ndjson"))
    assert not list(ev.glob("*truth*"))
    truth = pl.read_parquet(tr / "sim-s11-customer_month_truth.parquet")
    customers = pl.read_parquet(tr / "sim-s11-customers.parquet")
    assert {"customer_id", "as_of", "churn_propensity_30d", "hazard", "main_driver"} <= set(
        truth.columns
    )
    assert truth.schema["as_of"] == pl.Date
    assert truth["churn_propensity_30d"].is_between(0, 1).all()
    assert set(truth["main_driver"].unique()) <= {
        "engagement_drop",
        "payment_failures",
        "support_trouble",
        "price_increase",
        "offer_type",
        "tenure",
        "baseline",
    }
    assert truth["main_driver"].n_unique() == 7
    assert customers.height == MID["customers"]
    assert {"customer_id", "signup_date", "churned", "churn_date", "churn_type"} <= set(
        customers.columns
    )
    # truth agrees with the events on who churned
    ids_with_events = set(df.filter(pl.col("event_type") == "customer.created")["customer_id"])
    assert set(customers["customer_id"]) == ids_with_events
    # propensity vs churn in the following month (from the events)
    ends = subs.filter(pl.col("end").is_not_null()).select("customer_id", "end")
    lab = (
        truth.filter(pl.col("as_of") <= date(2025, 9, 1))
        .with_columns(a=pl.col("as_of").cast(pl.Datetime("us")))
        .join(ends, on="customer_id", how="left")
        .with_columns(
            hit=(
                (pl.col("end") >= pl.col("a")) & (pl.col("end") < pl.col("a").dt.offset_by("1mo"))
            ).fill_null(False)
        )
        .group_by("customer_id", "as_of")
        .agg(pl.col("churn_propensity_30d").first(), y=pl.col("hit").any())
    )
    assert 0.01 < lab["y"].mean() < 0.15
    assert _auc(lab["y"].to_numpy(), lab["churn_propensity_30d"].to_numpy()) > 0.65


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ranks = pl.Series(score).rank("average").to_numpy()
    pos = y.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_deterministic_by_seed(tmp_path):
    kw = {"customers": 600, "months": 10, "start": START}
    _, ev1, tr1 = _run(tmp_path, "a", seed=3, **kw)
    _, ev2, tr2 = _run(tmp_path, "b", seed=3, **kw)
    _, ev3, _ = _run(tmp_path, "c", seed=4, **kw)
    assert _files(ev1) == _files(ev2)
    assert _files(tr1) == _files(tr2)
    assert [p.name for p in ev3.iterdir()] == ["sim-s4-000.parquet"]
    a = pl.read_parquet(ev1 / "sim-s3-000.parquet")
    c = pl.read_parquet(ev3 / "sim-s4-000.parquet")
    assert a.height != c.height or not a["data"].equals(c["data"])


def test_ndjson_matches_parquet(tmp_path):
    kw = {"customers": 400, "months": 10, "seed": 5, "start": START}
    s_nd, ev_nd, _ = _run(tmp_path, "nd", fmt="ndjson", rows_per_file=5_000, **kw)
    _, ev_pq, _ = _run(tmp_path, "pq", **kw)
    assert len(s_nd.files) > 1 and all(p.suffix == ".ndjson" for p in s_nd.files)
    lines = [line for p in s_nd.files for line in p.read_text().splitlines()]
    refused = [(v.reason, v.detail) for v in map(validate_line, lines) if not v.ok]
    assert not refused, refused[:10]  # the project's own contract validator accepts every event
    rows = [json.loads(line) for line in lines]
    assert all(isinstance(r["data"], dict) and r["schema_version"] == 1 for r in rows)
    pq_rows = pl.read_parquet(sorted(ev_pq.glob("*.parquet"))).to_dicts()
    assert len(rows) == len(pq_rows) == s_nd.events
    for r, p in zip(rows, pq_rows, strict=True):
        assert r["data"] == json.loads(p.pop("data"))
        assert {k: v for k, v in r.items() if k != "data"} == p


def test_rerun_replaces_previous_parts(tmp_path):
    kw = {"customers": 300, "months": 6, "seed": 9, "start": START}
    s1, ev, _ = _run(tmp_path, "x", rows_per_file=2_000, **kw)
    s2, ev, _ = _run(tmp_path, "x", **kw)
    assert len(s1.files) > 1 and len(s2.files) == 1
    assert sorted(p.name for p in ev.iterdir()) == ["sim-s9-000.parquet"]


@pytest.mark.parametrize("customers,months", [(1, 1), (3, 2), (50, 1)])
def test_tiny_runs(tmp_path, customers, months):
    s, ev, tr = _run(tmp_path, "tiny", customers=customers, months=months, seed=2, start=START)
    assert s.event_counts["customer.created"] == customers
    assert pl.read_parquet(sorted(ev.glob("*.parquet"))).height == s.events
    assert (tr / "sim-s2-customers.parquet").exists()


def test_guards(tmp_path):
    with pytest.raises(ValueError, match="separate"):
        simulate(10, 2, 1, tmp_path / "e", tmp_path / "e")
    with pytest.raises(ValueError, match="separate"):
        simulate(10, 2, 1, tmp_path / "e", tmp_path / "e" / "truth")
    with pytest.raises(ValueError, match="format"):
        simulate(10, 2, 1, tmp_path / "e", tmp_path / "t", fmt="csv")
    future = datetime.now(UTC).date() - timedelta(days=20)
    with pytest.raises(ValueError, match="after today"):
        simulate(10, 2, 1, tmp_path / "e", tmp_path / "t", start=future)
    assert not (tmp_path / "e").exists()
