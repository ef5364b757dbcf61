"""Charts of the "MRR & movements" page: the month's MRR bridge as a waterfall and per
segment."""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import MOVEMENTS, currency_unit

#: Steps of the MRR bridge (waterfall) between the two totals, in display order.
BRIDGE_STEPS: tuple[str, ...] = tuple(MOVEMENTS)
TOTAL_COLOUR = "#1565c0"


def bridge_frame(row: pd.Series) -> pd.DataFrame:
    """The waterfall of one month: MRR at start, each movement, FX, MRR at end.

    ``start``/``end`` are the running MRR before and after each step (the bar's extent); the
    totals run from 0. The movements' ``end`` of the last step equals MRR at end exactly when the
    bridge balances.
    """
    rows = [("start", "MRR at start", float(row["mrr_at_start"]), 0.0, float(row["mrr_at_start"]))]
    level = float(row["mrr_at_start"])
    for column in BRIDGE_STEPS:
        amount = float(row[column])
        rows.append((column, MOVEMENTS[column][0], amount, level, level + amount))
        level += amount
    rows.append(("end", "MRR at end", float(row["mrr"]), 0.0, float(row["mrr"])))
    return pd.DataFrame(rows, columns=["column", "step", "amount", "start", "end"])


def waterfall_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    unit = currency_unit(currency)
    colour = frame["column"].map(lambda c: MOVEMENTS[c][1] if c in MOVEMENTS else TOTAL_COLOUR)
    # The axis starts below the lowest running level, not at zero: a month's movements are a
    # few percent of the MRR they move and would not show. The two totals start at that floor.
    levels = frame[["start", "end"]].where(frame["column"].isin(BRIDGE_STEPS), frame["end"], axis=0)
    low, high = float(levels.min().min()), float(levels.max().max())
    pad = max(high - low, abs(high) * 0.01, 1.0) * 0.25
    floor, top = max(low - pad, 0.0), high + pad
    shown = frame.assign(
        colour=colour, start=frame["start"].where(frame["column"].isin(BRIDGE_STEPS), floor)
    )
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            x=alt.X("step:N", sort=list(frame["step"]), title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("start:Q", title=f"MRR{unit}", scale=alt.Scale(domain=[floor, top])),
            y2="end:Q",
            color=alt.Color("colour:N", scale=None),
            tooltip=[
                alt.Tooltip("step:N", title="Step"),
                alt.Tooltip("amount:Q", title=f"Amount{unit}", format=",.2f"),
                alt.Tooltip("end:Q", title=f"MRR after{unit}", format=",.2f"),
            ],
        )
    )


def segment_bridge_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Country, platform, MRR at start, the movements, FX, net new MRR and MRR at end."""
    cols = ["country", "platform", "mrr_at_start", *BRIDGE_STEPS, "net_new_mrr", "mrr"]
    return df[cols].reset_index(drop=True)


def segment_movements_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """Movements of one month stacked per country × platform segment (FX only when not 0)."""
    shown = [c for c in BRIDGE_STEPS if c != "fx_adjustment" or frame[c].fillna(0).ne(0).any()]
    long = frame.assign(segment=frame["country"] + " · " + frame["platform"]).melt(
        id_vars="segment", value_vars=shown, var_name="column", value_name="amount"
    )
    long["movement"] = long["column"].map(lambda c: MOVEMENTS[c][0])
    long["order"] = long["column"].map(list(BRIDGE_STEPS).index)
    unit = currency_unit(currency)
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("segment:N", title=None),
            x=alt.X("sum(amount):Q", title=f"MRR movement{unit}", stack="zero"),
            color=alt.Color(
                "movement:N",
                title=None,
                scale=alt.Scale(
                    domain=[MOVEMENTS[c][0] for c in shown],
                    range=[MOVEMENTS[c][1] for c in shown],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("segment:N", title="Segment"),
                alt.Tooltip("movement:N", title="Movement"),
                alt.Tooltip("sum(amount):Q", title=f"Amount{unit}", format=",.2f"),
            ],
        )
    )
