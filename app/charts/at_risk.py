"""Charts of the "At-risk subscribers" page."""

from __future__ import annotations

import altair as alt
import pandas as pd

from app.charts.base import currency_unit


def reasons_chart(frame: pd.DataFrame, currency: str | None) -> alt.LayerChart:
    """MRR at risk per top-reason group (horizontal bars, most first), labelled with the number
    of subscribers.

    ``frame`` has ``label`` (plain words), ``subscribers`` and ``mrr_at_risk``.
    """
    unit = currency_unit(currency)
    shown = frame.assign(count_label=frame["subscribers"].map(lambda n: f"{n:,} subscribers"))
    base = alt.Chart(shown).encode(
        y=alt.Y("label:N", sort=list(frame["label"]), title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("mrr_at_risk:Q", title=f"MRR at risk{unit}"),
        tooltip=[
            alt.Tooltip("label:N", title="Top reason"),
            alt.Tooltip("subscribers:Q", title="Subscribers", format=","),
            alt.Tooltip("mrr_at_risk:Q", title=f"MRR at risk{unit}", format=",.2f"),
        ],
    )
    bars = base.mark_bar(color="#c62828")
    counts = base.mark_text(align="left", dx=4, color="#424242").encode(text="count_label:N")
    return alt.layer(bars, counts)
