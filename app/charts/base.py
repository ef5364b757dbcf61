"""Altair charts and the (small, aggregated) frames behind them: what several pages share.

Each chart has a ``*_frame`` function returning exactly the data it plots, so pages can offer
that frame as the chart's CSV download. One module a page (``app.charts.<page>`` beside
``app/views/<page>.py``).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

#: The app's one mapping of the MRR movements (`foundation.vocabulary.BRIDGE_COLUMNS`): column →
#: (label, colour), in the order every page shows them: gains, then losses, then FX.
MOVEMENTS: dict[str, tuple[str, str]] = {
    "new_mrr": ("New", "#2e7d32"),
    "reactivation_mrr": ("Reactivation", "#26a69a"),
    "expansion_mrr": ("Expansion", "#66bb6a"),
    "resume_mrr": ("Resume", "#9ccc65"),
    "contraction_mrr": ("Contraction", "#ef9a9a"),
    "churned_mrr": ("Churn", "#c62828"),
    "pause_mrr": ("Pause", "#ffb74d"),
    "fx_adjustment": ("FX adjustment", "#9e9e9e"),
}


MONTH_AXIS = alt.Axis(labelAngle=-45)

#: One-time purchase types → label.
ONE_TIME_TYPES: dict[str, str] = {"pass": "Pass", "live_ppv": "Live pay-per-view", "tvod": "TVOD"}


def currency_unit(currency: str | None) -> str:
    return f" ({currency})" if currency else ""


def labelled(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(label=pd.to_datetime(frame["month"]).dt.strftime("%Y-%m"))


def month_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """`month` (as a date) and `columns` of a monthly frame: what a chart plots and a download
    holds."""
    out = df[["month", *columns]].copy()
    out["month"] = pd.to_datetime(out["month"]).dt.date
    return out.reset_index(drop=True)


def rate_lines_chart(
    frame: pd.DataFrame,
    series: dict[str, str],
    y_title: str = "Churn rate",
    series_title: str = "Rate",
) -> alt.Chart:
    """Monthly rates as lines, one per column of `series` (column → legend label)."""
    long = frame.melt(
        id_vars="month", value_vars=list(series), var_name="column", value_name="rate"
    )
    long["series"] = long["column"].map(series)
    long["month"] = pd.to_datetime(long["month"])
    return (
        alt.Chart(long.dropna(subset=["rate"]))
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("rate:Q", title=y_title, axis=alt.Axis(format="%")),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=list(series.values()), range=["#c62828", "#1565c0"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("series:N", title=series_title),
                alt.Tooltip("rate:Q", title=y_title, format=".2%"),
            ],
        )
    )
