"""Charts of the Overview page: the monthly MRR movements and the MRR trend."""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import MOVEMENTS, currency_unit


def movements_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Month, the movement columns and net new MRR: the data behind the movements chart.

    FX adjustment is kept only when it is not zero throughout (single-currency businesses).
    """
    cols = [c for c in MOVEMENTS if c in df.columns]
    if "fx_adjustment" in cols and not df["fx_adjustment"].fillna(0).ne(0).any():
        cols.remove("fx_adjustment")
    out = df[["month", *cols, *(["net_new_mrr"] if "net_new_mrr" in df.columns else [])]].copy()
    out["month"] = out["month"].dt.date
    return out


def movements_chart(frame: pd.DataFrame, currency: str | None) -> alt.LayerChart:
    long = frame.melt(
        id_vars="month",
        value_vars=[c for c in MOVEMENTS if c in frame.columns],
        var_name="column",
        value_name="amount",
    )
    long["movement"] = long["column"].map(lambda c: MOVEMENTS[c][0])
    long["order"] = long["column"].map(list(MOVEMENTS).index)
    long["label"] = pd.to_datetime(long["month"]).dt.strftime("%Y-%m")
    shown = [c for c in MOVEMENTS if c in frame.columns]
    color = alt.Color(
        "movement:N",
        title=None,
        scale=alt.Scale(
            domain=[MOVEMENTS[c][0] for c in shown], range=[MOVEMENTS[c][1] for c in shown]
        ),
        legend=alt.Legend(orient="bottom"),
    )
    unit = currency_unit(currency)
    x = alt.X("label:O", title=None, axis=alt.Axis(labelAngle=-45))
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=x,
            y=alt.Y("sum(amount):Q", title=f"MRR movement{unit}", stack="zero"),
            color=color,
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("movement:N", title="Movement"),
                alt.Tooltip("sum(amount):Q", title=f"Amount{unit}", format=",.2f"),
            ],
        )
    )
    layers: list[alt.Chart] = [bars]
    if "net_new_mrr" in frame.columns:
        net = frame.assign(label=pd.to_datetime(frame["month"]).dt.strftime("%Y-%m"))
        layers.append(
            alt.Chart(net[["label", "net_new_mrr"]])
            .mark_line(color="#212121", point=alt.OverlayMarkDef(color="#212121"))
            .encode(
                x=x,
                y=alt.Y("net_new_mrr:Q"),
                tooltip=[
                    alt.Tooltip("label:O", title="Month"),
                    alt.Tooltip("net_new_mrr:Q", title=f"Net new MRR{unit}", format=",.2f"),
                ],
            )
        )
    return alt.layer(*layers)


def trend_frame(df: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("mrr", "arr", "paying_customers") if c in df.columns]
    out = df[["month", *cols]].copy()
    out["month"] = out["month"].dt.date
    return out


def trend_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    unit = currency_unit(currency)
    return (
        alt.Chart(frame.assign(month=pd.to_datetime(frame["month"])))
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("mrr:Q", title=f"MRR{unit}"),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("mrr:Q", title=f"MRR{unit}", format=",.2f"),
                alt.Tooltip("paying_customers:Q", title="Paying customers", format=","),
            ],
        )
    )
