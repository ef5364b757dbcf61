"""The obvious pandas version of month-end MRR from raw events: the pipeline's baseline.

    python -m benchmarks.pandas_mrr WAREHOUSE  → prints month,mrr lines

Reads the subscription events and FX rates out of DuckDB, parses the payloads with json.loads,
replays each subscription with groupby/ffill and prices every month end with merge_asof.
"""

from __future__ import annotations

import json
import sys

import duckdb
import pandas as pd

FACTORS = {"P1M": 1.0, "P3M": 1 / 3, "P6M": 1 / 6, "P1Y": 1 / 12, "P1W": 52 / 12, "P1D": 365 / 12}


def month_end_mrr(warehouse: str) -> pd.Series:
    con = duckdb.connect(warehouse, read_only=True)
    ev = con.execute(
        "select event_id, event_type, occurred_at, data::varchar as data from raw.events "
        "where event_type like 'subscription.%'"
    ).df()
    fx = con.execute("select rate_date, currency, rate::double as rate from raw.fx_rates").df()
    units = con.execute(
        "select currency, minor_unit_value::double as unit from raw.currencies"
    ).df()
    watermark = con.execute("select max(occurred_at) from raw.events").fetchall()[0][0]
    con.close()

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

    ev["live"] = ev["event_type"].map({"subscription.started": True, "subscription.ended": False})
    ev["paused"] = ev["event_type"].map(
        {"subscription.paused": True, "subscription.resumed": False, "subscription.started": False}
    )
    started = ev["event_type"] == "subscription.started"
    trial = pd.to_datetime(ev["trial_ends_at"], utc=True).dt.tz_localize(None).dt.normalize()
    ev["paid_from"] = None
    ev.loc[started, "paid_from"] = trial.where(trial > ev["day"], ev["day"])[started]
    for col in (
        "live",
        "paused",
        "paid_from",
        "price_minor",
        "discount_minor",
        "currency",
        "billing_period",
    ):
        ev[col] = ev.groupby("subscription_id")[col].ffill()
    ev = ev.groupby(["subscription_id", "day"]).tail(1)  # state at the end of the day

    months = pd.date_range(ev["day"].min().replace(day=1), watermark, freq="MS")
    ends = [min(m + pd.offsets.MonthEnd(0), pd.Timestamp(watermark).normalize()) for m in months]
    fx["rate_date"] = pd.to_datetime(fx["rate_date"])
    out = {}
    for month, end in zip(months, ends, strict=True):
        state = ev[ev["day"] <= end].groupby("subscription_id").tail(1)
        paying = state[
            state["live"].eq(True)
            & state["paused"].ne(True)
            & (pd.to_datetime(state["paid_from"]) <= end)
        ]
        net = (paying["price_minor"] - paying["discount_minor"].fillna(0)).clip(lower=0)
        local = net * paying["billing_period"].map(FACTORS)
        rates = fx[fx["rate_date"] == end].set_index("currency")["rate"]
        unit = units.set_index("currency")["unit"]
        value = local * paying["currency"].map(unit) * paying["currency"].map(rates)
        out[month.date()] = float(value.sum())
    return pd.Series(out)


if __name__ == "__main__":
    for month, mrr in month_end_mrr(sys.argv[1]).items():
        print(f"{month},{mrr:.6f}")
