"""The obvious pandas version of month-end MRR from raw events: the pipeline's baseline.

    python -m benchmarks.pandas_mrr WAREHOUSE  → prints month,mrr lines

Reads the subscription events and FX rates out of DuckDB, parses the payloads with json.loads,
replays each subscription with groupby/ffill (shared with `pandas_movements`) and prices
every month end.
"""

from __future__ import annotations

import sys

import duckdb
import pandas as pd

from benchmarks.pandas_movements import FACTORS, load_states


def month_end_mrr(warehouse: str) -> pd.Series:
    con = duckdb.connect(warehouse, read_only=True)
    ev, _ = load_states(con)
    fx = con.execute("select rate_date, currency, rate::double as rate from raw.fx_rates").df()
    units = con.execute(
        "select currency, minor_unit_value::double as unit from raw.currencies"
    ).df()
    watermark = con.execute("select max(occurred_at) from raw.events").fetchall()[0][0]
    con.close()

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
