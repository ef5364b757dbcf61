"""The obvious pandas version of the MRR movements and monthly metrics: the marts' baseline.

    python -m benchmarks.pandas_movements WAREHOUSE [SAMPLE_CUSTOMERS] → month,mrr,new,...

Replays each subscription with groupby/ffill, expands every subscription to one row per day
(`explode` of a date range), sums per customer and day at that day's FX rate, compares each
day with the day before and classifies the change, then sums per month. It follows
METRICS.md's rules (pause/resume, churn, reactivation) but, as the obvious version does, works
in floats.
"""

from __future__ import annotations

import json
import sys

import duckdb
import numpy as np
import pandas as pd

FACTORS = {"P1M": 1.0, "P3M": 1 / 3, "P6M": 1 / 6, "P1Y": 1 / 12, "P1W": 52 / 12, "P1D": 365 / 12}


def load_states(con, sample: int | None = None) -> tuple[pd.DataFrame, pd.Timestamp]:
    ev = con.execute(
        "select event_id, event_type, occurred_at, customer_id, data::varchar as data "
        "from raw.events where event_type like 'subscription.%'"
    ).df()
    if sample:  # the first `sample` customers (by id), for sizes that do not fit in memory
        keep = pd.Series(ev["customer_id"].unique()).sort_values().head(sample)
        ev = ev[ev["customer_id"].isin(keep)].reset_index(drop=True)
    watermark = pd.Timestamp(
        con.execute("select max(occurred_at) from raw.events").fetchall()[0][0]
    )
    payload = pd.json_normalize(ev["data"].map(json.loads))
    ev = pd.concat([ev.drop(columns="data"), payload], axis=1)
    ev["effective"] = ev["occurred_at"]
    for kind, col in (
        ("subscription.changed", "effective_at"),
        ("subscription.renewed", "period_start"),
    ):
        mask = ev["event_type"] == kind
        ev.loc[mask, "effective"] = pd.to_datetime(ev.loc[mask, col], utc=True).dt.tz_localize(None)
    ev["day"] = ev["effective"].dt.normalize()
    ev = ev.sort_values(["subscription_id", "effective", "occurred_at", "event_id"])
    ev["customer_id"] = ev.groupby("subscription_id")["customer_id"].transform("first")
    ev["live"] = ev["event_type"].map({"subscription.started": True, "subscription.ended": False})
    ev["paused"] = ev["event_type"].map(
        {"subscription.paused": True, "subscription.resumed": False, "subscription.started": False}
    )
    started = ev["event_type"] == "subscription.started"
    trial = pd.to_datetime(ev["trial_ends_at"], utc=True).dt.tz_localize(None).dt.normalize()
    ev["paid_from"] = pd.NaT
    ev.loc[started, "paid_from"] = trial.where(trial > ev["day"], ev["day"])[started]
    cols = [
        "live",
        "paused",
        "paid_from",
        "price_minor",
        "discount_minor",
        "currency",
        "billing_period",
    ]
    for col in cols:
        ev[col] = ev.groupby("subscription_id")[col].ffill()
    ev = ev.groupby(["subscription_id", "day"]).tail(1)
    return ev, watermark.normalize()


def main(warehouse: str, sample: int | None = None) -> pd.DataFrame:
    con = duckdb.connect(warehouse, read_only=True)
    states, watermark = load_states(con, sample)
    fx = con.execute(
        "select rate_date, currency, (rate * u.minor_unit_value)::double as rate "
        "from raw.fx_rates join raw.currencies u using (currency)"
    ).df()
    con.close()
    fx["rate_date"] = pd.to_datetime(fx["rate_date"])

    # one row per subscription and day, from each state to the next
    states["until"] = (
        states.groupby("subscription_id")["day"].shift(-1).fillna(watermark + pd.Timedelta(days=1))
    )
    states["days"] = [
        pd.date_range(a, b - pd.Timedelta(days=1))
        for a, b in zip(states["day"], states["until"], strict=True)
    ]
    daily = states.explode("days").rename(columns={"days": "date"}).dropna(subset=["date"])
    paying = (
        daily["live"].eq(True) & daily["paused"].ne(True) & (daily["date"] >= daily["paid_from"])
    )
    net = (daily["price_minor"] - daily["discount_minor"].fillna(0)).clip(lower=0)
    daily["local"] = np.where(paying, net * daily["billing_period"].map(FACTORS), 0.0)
    daily["is_paused"] = daily["live"].eq(True) & daily["paused"].eq(True)
    daily = daily.merge(fx, left_on=["date", "currency"], right_on=["rate_date", "currency"])
    daily["mrr"] = daily["local"] * daily["rate"]

    per_day = daily.groupby(["customer_id", "date"]).agg(
        mrr=("mrr", "sum"), paused=("is_paused", "any")
    )
    # every customer on every day of their span, so that "yesterday" exists
    per_day = per_day.reset_index()
    full = []
    for customer, g in per_day.groupby("customer_id"):
        idx = pd.date_range(g["date"].min(), watermark)
        g = g.set_index("date").reindex(idx, fill_value=0)
        g["customer_id"] = customer
        full.append(g)
    cust = pd.concat(full).rename_axis("date").reset_index()
    cust["mrr_before"] = cust.groupby("customer_id")["mrr"].shift(1).fillna(0.0)
    a, b = cust["mrr_before"], cust["mrr"]
    had = cust.groupby("customer_id")["mrr"].transform(
        lambda s: s.gt(0).cummax().shift(1, fill_value=False)
    )
    kind = np.select(
        [
            (a == 0) & (b > 0) & ~had,
            (a == 0) & (b > 0),
            (a > 0) & (b == 0) & cust["paused"].astype(bool),
            (a > 0) & (b == 0),
            (a > 0) & (b > a),
            (b > 0) & (b < a),
        ],
        ["new", "reactivation_or_resume", "pause", "churn", "expansion", "contraction"],
        default="",
    )
    cust["kind"] = kind
    moves = cust[cust["kind"] != ""].copy()
    moves["change"] = moves["mrr"] - moves["mrr_before"]
    moves["month"] = moves["date"].dt.to_period("M")
    monthly = moves.pivot_table(
        index="month", columns="kind", values="change", aggfunc="sum"
    ).fillna(0)
    ends = cust[cust["date"].dt.is_month_end | (cust["date"] == watermark)]
    monthly["mrr"] = ends.groupby(ends["date"].dt.to_period("M"))["mrr"].sum()
    return monthly


if __name__ == "__main__":
    print(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None).to_csv())
