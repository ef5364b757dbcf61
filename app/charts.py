"""Altair charts and the (small, aggregated) frames behind them, reused by pages.

Each chart has a ``*_frame`` function returning exactly the data it plots, so pages can offer
that frame as the chart's CSV download.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

#: Movement column → (label, colour); gains first, then losses, then FX.
MOVEMENTS: dict[str, tuple[str, str]] = {
    "new_mrr": ("New", "#2e7d32"),
    "expansion_mrr": ("Expansion", "#66bb6a"),
    "reactivation_mrr": ("Reactivation", "#26a69a"),
    "resume_mrr": ("Resume", "#9ccc65"),
    "contraction_mrr": ("Contraction", "#ef9a9a"),
    "churned_mrr": ("Churn", "#c62828"),
    "pause_mrr": ("Pause", "#ffb74d"),
    "fx_adjustment": ("FX adjustment", "#9e9e9e"),
}


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
    unit = f" ({currency})" if currency else ""
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
    unit = f" ({currency})" if currency else ""
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


#: Steps of the MRR bridge (waterfall) between the two totals, in display order.
BRIDGE_STEPS: tuple[str, ...] = (
    "new_mrr",
    "reactivation_mrr",
    "expansion_mrr",
    "resume_mrr",
    "contraction_mrr",
    "churned_mrr",
    "pause_mrr",
    "fx_adjustment",
)
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
    unit = f" ({currency})" if currency else ""
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
    unit = f" ({currency})" if currency else ""
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


def reasons_chart(frame: pd.DataFrame, currency: str | None) -> alt.LayerChart:
    """MRR at risk per top-reason group (horizontal bars, most first), labelled with the number
    of subscribers.

    ``frame`` has ``label`` (plain words), ``subscribers`` and ``mrr_at_risk``.
    """
    unit = f" ({currency})" if currency else ""
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


#: Churn rate column → label, in legend order.
CHURN_RATES: dict[str, str] = {
    "customer_churn_rate": "Customer churn rate",
    "gross_mrr_churn_rate": "Gross MRR churn rate",
}
#: Churned customers by churn type: column → (label, colour), stacked in this order.
CHURN_TYPES: dict[str, tuple[str, str]] = {
    "voluntary_churned_customers": ("Voluntary", "#c62828"),
    "involuntary_churned_customers": ("Involuntary", "#ffb74d"),
}
#: ``churn_type`` values of ``marts.churn_reasons_monthly`` → (label, colour).
CHURN_TYPE_VALUES: dict[str, tuple[str, str]] = {
    "voluntary": CHURN_TYPES["voluntary_churned_customers"],
    "involuntary": CHURN_TYPES["involuntary_churned_customers"],
}


def churn_rates_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Month, customer churn rate and gross MRR churn rate: the data behind the rates chart."""
    out = df[["month", *CHURN_RATES]].copy()
    out["month"] = out["month"].dt.date
    return out


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


def churn_rates_chart(frame: pd.DataFrame) -> alt.Chart:
    return rate_lines_chart(frame, CHURN_RATES)


def churn_types_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Month, churned customers, voluntary and involuntary churned customers, and first-month
    churners: the data behind the churn type chart."""
    cols = [
        "churned_customers",
        *CHURN_TYPES,
        "churned_in_first_month_customers",
    ]
    out = df[["month", *cols]].copy()
    out["month"] = out["month"].dt.date
    out[cols] = out[cols].astype("int64")
    return out


def churn_types_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="month", value_vars=list(CHURN_TYPES), var_name="column", value_name="customers"
    )
    long["churn_type"] = long["column"].map(lambda c: CHURN_TYPES[c][0])
    long["order"] = long["column"].map(list(CHURN_TYPES).index)
    long["label"] = pd.to_datetime(long["month"]).dt.strftime("%Y-%m")
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title=None, axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("sum(customers):Q", title="Churned customers", stack="zero"),
            color=alt.Color(
                "churn_type:N",
                title=None,
                scale=alt.Scale(
                    domain=[v[0] for v in CHURN_TYPES.values()],
                    range=[v[1] for v in CHURN_TYPES.values()],
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                alt.Tooltip("label:O", title="Month"),
                alt.Tooltip("churn_type:N", title="Churn"),
                alt.Tooltip("sum(customers):Q", title="Churned customers", format=","),
            ],
        )
    )


def churn_reasons_chart(frame: pd.DataFrame) -> alt.Chart:
    """Churned customers per cancellation reason (horizontal bars, most first), stacked by
    voluntary / involuntary; initiated by in the tooltip.

    ``frame`` has ``reason``, ``initiated_by``, ``churn_type`` and ``churned_customers``.
    """
    order = list(
        frame.groupby("reason")["churned_customers"].sum().sort_values(ascending=False).index
    )
    known = [t for t in CHURN_TYPE_VALUES if t in set(frame["churn_type"])]
    others = sorted(set(frame["churn_type"]) - set(CHURN_TYPE_VALUES))
    shown = frame.assign(
        churn=frame["churn_type"].map(lambda t: CHURN_TYPE_VALUES.get(t, (t, ""))[0])
    )
    return (
        alt.Chart(shown)
        .mark_bar()
        .encode(
            y=alt.Y("reason:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("sum(churned_customers):Q", title="Churned customers", stack="zero"),
            color=alt.Color(
                "churn:N",
                title=None,
                scale=alt.Scale(
                    domain=[CHURN_TYPE_VALUES[t][0] for t in known] + others,
                    range=[CHURN_TYPE_VALUES[t][1] for t in known] + ["#9e9e9e"] * len(others),
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("reason:N", title="Reason"),
                alt.Tooltip("initiated_by:N", title="Initiated by"),
                alt.Tooltip("churn:N", title="Churn"),
                alt.Tooltip("sum(churned_customers):Q", title="Churned customers", format=","),
            ],
        )
    )


def scheduled_churn_chart(frame: pd.DataFrame, currency: str | None) -> alt.Chart:
    """MRR at stake of the pending cancellations per month they take effect (months with a
    date only), with the number of subscriptions and customers in the tooltip."""
    unit = f" ({currency})" if currency else ""
    dated = frame[frame["month"].notna()]
    shown = dated.assign(label=pd.to_datetime(dated["month"]).dt.strftime("%Y-%m"))
    return (
        alt.Chart(shown)
        .mark_bar(color="#ef6c00")
        .encode(
            x=alt.X("label:O", title="Takes effect", axis=alt.Axis(labelAngle=-45)),
            y=alt.Y("mrr_at_stake:Q", title=f"MRR at stake{unit}"),
            tooltip=[
                alt.Tooltip("label:O", title="Takes effect"),
                alt.Tooltip("subscriptions:Q", title="Pending cancellations", format=","),
                alt.Tooltip("churning_customers:Q", title="Customers churning", format=","),
                alt.Tooltip("mrr_at_stake:Q", title=f"MRR at stake{unit}", format=",.2f"),
            ],
        )
    )
