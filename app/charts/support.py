"""Charts and help texts of the Support page.

The definitions follow the dbt docs of ``marts.support_monthly`` and ``marts.support_churn``
(``dbt_project/models/marts/_marts__models.yml``); METRICS.md has no support section yet.
"""

from __future__ import annotations

from typing import Final

import altair as alt
import pandas as pd

from app.charts.base import rate_lines_chart
from app.data.support import CONFIDENCE

_LEVEL = f"{CONFIDENCE:.0%}"

_CATEGORY_CHANNEL: Final = (
    "Category and channel are those of the ticket's `support.ticket_opened` event (`unknown` "
    "if missing)."
)
_FLOW: Final = (
    "Tickets opened count in the month they were opened; tickets resolved, resolution time and "
    "CSAT in the month of `support.ticket_resolved` (a ticket opened in March and resolved in "
    "April counts as opened in March and resolved in April)."
)
_WEIGHTED: Final = (
    "Over several months, categories or channels the averages are recomputed weighted by their "
    "counts: mean resolution minutes by tickets resolved, CSAT average by CSAT responses. The "
    "median cannot be combined across rows: it is shown per month × category × channel only."
)

SUPPORT_DEFINITIONS: Final[dict[str, str]] = {
    "tickets_opened": "**Tickets opened**: tickets opened in the month. " + _CATEGORY_CHANNEL,
    "tickets_resolved": (
        "**Tickets resolved**: tickets resolved in the month (by the month of "
        "`support.ticket_resolved`, whenever they were opened)."
    ),
    "mean_resolution_minutes": (
        "**Mean resolution time**: mean `resolution_minutes` of the tickets resolved in the "
        "month; over several rows, weighted by tickets resolved."
    ),
    "median_resolution_minutes": (
        "**Median resolution time**: median `resolution_minutes` of the tickets resolved in the "
        "month (continuous median), per month × category × channel; medians of several rows "
        "cannot be combined."
    ),
    "csat_average": (
        "**CSAT average**: mean CSAT (1–5) of the resolved tickets that have one; over several "
        "rows, weighted by CSAT responses."
    ),
    "csat_responses": "**CSAT responses**: resolved tickets with a CSAT.",
}

TICKETS_BY_CATEGORY_HELP: Final = (
    "Tickets of the period by category and channel: opened, resolved, mean resolution time and "
    "CSAT. " + _CATEGORY_CHANNEL + " " + _FLOW + " " + _WEIGHTED
)
TICKETS_TREND_HELP: Final = (
    "Tickets opened and resolved per month, over every category and channel. " + _FLOW
)
SUPPORT_ROWS_HELP: Final = (
    "The monthly rows of `marts.support_monthly` (month × category × channel), newest first, "
    "with the median and the mean resolution time of each. "
    + SUPPORT_DEFINITIONS["median_resolution_minutes"]
)
CSAT_TREND_HELP: Final = (
    "CSAT average per month over every category and channel, weighted by CSAT responses, with "
    "the number of responses. " + SUPPORT_DEFINITIONS["csat_average"]
)

_AT_RISK: Final = (
    "Among the customers paying at the start of the month (MRR > 0 at the end of the previous "
    "month), those who opened a support ticket in the 30 days before the month started vs those "
    "who did not. Churned = a churn movement in the month (their last active subscription "
    "ended), as in the customer churn rate; the two groups add up to the customers paying at "
    "the start of the month."
)
CI_METHOD: Final = (
    f"{_LEVEL} confidence intervals from the counts: Newcombe's hybrid score interval (from the "
    "two Wilson score intervals) for the difference of the churn rates, the Katz log interval "
    "for their ratio (undefined when a group has no churner)."
)
SUPPORT_CHURN_HELP: Final = (
    "**Churn with vs without a recent ticket**: customer churn rate of each group = churned ÷ "
    "customers of the group. " + _AT_RISK + " **Relative churn risk** = churn rate with ticket "
    "÷ churn rate without ticket. " + CI_METHOD + " An association, not a cause: customers "
    "with problems both open tickets and churn."
)
SUPPORT_CHURN_POOLED_HELP: Final = (
    "The period's months pooled: the counts summed over the months (customer-months: a customer "
    "at risk in several months counts once per month), then the rates, difference and ratio "
    "recomputed from the sums. " + CI_METHOD
)

CHANNEL_COLOURS: Final[dict[str, str]] = {
    "email": "#1565c0",
    "chat": "#2e7d32",
    "phone": "#ef6c00",
    "social": "#8e24aa",
    "in_app": "#00838f",
    "unknown": "#9e9e9e",
}


def _channel_scale(channels: list[str]) -> alt.Scale:
    known = [c for c in CHANNEL_COLOURS if c in channels]
    others = sorted(set(channels) - set(CHANNEL_COLOURS))
    return alt.Scale(
        domain=known + others,
        range=[CHANNEL_COLOURS[c] for c in known] + ["#616161"] * len(others),
    )


def category_channel_chart(frame: pd.DataFrame) -> alt.Chart:
    """Tickets opened per category (horizontal bars, most first), stacked by channel."""
    order = list(
        frame.groupby("category")["tickets_opened"].sum().sort_values(ascending=False).index
    )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("category:N", sort=order, title=None),
            x=alt.X("sum(tickets_opened):Q", title="Tickets opened", stack="zero"),
            color=alt.Color(
                "channel:N",
                title="Channel",
                scale=_channel_scale(list(frame["channel"].unique())),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("category:N", title="Category"),
                alt.Tooltip("channel:N", title="Channel"),
                alt.Tooltip("tickets_opened:Q", title="Tickets opened", format=","),
                alt.Tooltip("tickets_resolved:Q", title="Tickets resolved", format=","),
                alt.Tooltip(
                    "mean_resolution_minutes:Q", title="Mean resolution (min)", format=",.0f"
                ),
                alt.Tooltip("csat_average:Q", title="CSAT average", format=".2f"),
            ],
        )
    )


def trend_frame(trend: pd.DataFrame) -> pd.DataFrame:
    """The monthly figures with plain dates: the data behind the ticket and CSAT trends."""
    return trend.assign(month=trend["month"].dt.date)


_TICKET_SERIES: Final = {"tickets_opened": "Opened", "tickets_resolved": "Resolved"}


def tickets_trend_chart(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars="month", value_vars=list(_TICKET_SERIES), var_name="column", value_name="tickets"
    )
    long["series"] = long["column"].map(_TICKET_SERIES)
    long["month"] = pd.to_datetime(long["month"])
    return (
        alt.Chart(long)
        .mark_line(point=True)
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("tickets:Q", title="Tickets"),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=list(_TICKET_SERIES.values()), range=["#1565c0", "#2e7d32"]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("series:N", title="Tickets"),
                alt.Tooltip("tickets:Q", title="Count", format=","),
            ],
        )
    )


def csat_trend_chart(frame: pd.DataFrame) -> alt.Chart:
    shown = frame[frame["csat_average"].notna()].assign(month=lambda f: pd.to_datetime(f["month"]))
    return (
        alt.Chart(shown)
        .mark_line(point=True, color="#6a1b9a")
        .encode(
            x=alt.X("yearmonth(month):T", title=None),
            y=alt.Y("csat_average:Q", title="CSAT average (1–5)", scale=alt.Scale(domain=[1, 5])),
            tooltip=[
                alt.Tooltip("yearmonth(month):T", title="Month"),
                alt.Tooltip("csat_average:Q", title="CSAT average", format=".2f"),
                alt.Tooltip("csat_responses:Q", title="CSAT responses", format=","),
            ],
        )
    )


_RATE_SERIES: Final = {
    "churn_rate_with_ticket": "With a recent ticket",
    "churn_rate_without_ticket": "Without",
}


def support_churn_frame(monthly: pd.DataFrame) -> pd.DataFrame:
    """The monthly comparison with plain dates: the data behind both churn charts."""
    return monthly.assign(month=monthly["month"].dt.date)


def support_churn_rates_chart(frame: pd.DataFrame) -> alt.Chart:
    return rate_lines_chart(frame, _RATE_SERIES, "Customer churn rate", "Customers")


def relative_risk_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Relative churn risk per month with its interval (error bars) and a rule at 1 (no
    difference)."""
    shown = frame.dropna(subset=["relative_churn_risk"]).assign(
        month=lambda f: pd.to_datetime(f["month"])
    )
    x = alt.X("yearmonth(month):T", title=None)
    tooltip = [
        alt.Tooltip("yearmonth(month):T", title="Month"),
        alt.Tooltip("relative_churn_risk:Q", title="Relative churn risk", format=".2f"),
        alt.Tooltip("relative_churn_risk_lower:Q", title=f"{_LEVEL} CI low", format=".2f"),
        alt.Tooltip("relative_churn_risk_upper:Q", title=f"{_LEVEL} CI high", format=".2f"),
    ]
    bars = (
        alt.Chart(shown)
        .mark_rule(color="#c62828")
        .encode(
            x=x,
            y=alt.Y("relative_churn_risk_lower:Q", title="Relative churn risk (with ÷ without)"),
            y2="relative_churn_risk_upper:Q",
            tooltip=tooltip,
        )
    )
    points = (
        alt.Chart(shown)
        .mark_point(filled=True, color="#c62828", size=50)
        .encode(x=x, y="relative_churn_risk:Q", tooltip=tooltip)
    )
    one = alt.Chart(pd.DataFrame({"y": [1.0]})).mark_rule(color="#616161", strokeDash=[4, 4])
    return alt.layer(bars, points, one.encode(y="y:Q"))
