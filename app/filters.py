"""Global sidebar filters (period, platform, country, offer type), shared by every page.

``main.py`` renders the widgets on every rerun, before the page runs, so their values survive
page switches (Streamlit drops the state of widgets that are not rendered in a run). The
resulting :class:`Filters` is stored under ``st.session_state["filters"]``; pages call
:func:`current` and never read the widget keys themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st

from app.data import snapshot

STATE_KEY = "filters"
PERIOD_KEY = "filter_period"
PLATFORM_KEY = "filter_platforms"
COUNTRY_KEY = "filter_countries"
OFFER_TYPE_KEY = "filter_offer_types"


@dataclass(frozen=True)
class Filters:
    """A month range (first days, inclusive) and segment selections (empty = all)."""

    start: date | None = None
    end: date | None = None
    platforms: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    offer_types: tuple[str, ...] = ()

    @property
    def segmented(self) -> bool:
        """Whether a platform or country selection is active (numbers come from segments)."""
        return bool(self.platforms or self.countries)

    def describe(self) -> str:
        """Short human description of the segment selection."""
        parts = []
        if self.platforms:
            parts.append("platform: " + ", ".join(self.platforms))
        if self.countries:
            parts.append("country: " + ", ".join(self.countries))
        if self.offer_types:
            parts.append("offer type: " + ", ".join(self.offer_types))
        return " · ".join(parts) or "all platforms and countries"

    def without_offer_types(self) -> Filters:
        """The same selection for figures that have no offer-type breakdown."""
        return Filters(self.start, self.end, self.platforms, self.countries)

    def offer_type_note(self, figure: str = "These figures") -> str | None:
        """Caption for figures without an offer-type breakdown when an offer type is chosen."""
        if not self.offer_types:
            return None
        return (
            f"{figure} have no offer-type breakdown: the offer-type filter "
            f"({', '.join(self.offer_types)}) does not apply to them."
        )


def month_label(month: date) -> str:
    return month.strftime("%b %Y")


def current() -> Filters:
    """The filters chosen in the sidebar (everything when none were rendered)."""
    value = st.session_state.get(STATE_KEY)
    return value if isinstance(value, Filters) else Filters()


def render_sidebar(source: snapshot.Source | None) -> Filters:
    """Draw the filter widgets from the snapshot's months and segments; store and return them."""
    months = snapshot.months(source) if source is not None else []
    if not months:
        filters = Filters()
        st.session_state[STATE_KEY] = filters
        return filters
    options = snapshot.segment_options(source)
    _reset_stale(months, options)

    with st.sidebar:
        st.header("Filters")
        if len(months) > 1:
            start, end = st.select_slider(
                "Period",
                options=months,
                value=(months[0], months[-1]),  # also what makes it a range slider
                format_func=month_label,
                key=PERIOD_KEY,
                help="Months shown in charts; KPIs are for the last month of the period.",
            )
        else:
            start = end = months[0]
            st.caption(f"Period: {month_label(start)}")
        platforms = st.multiselect(
            "Platform", options["platform"], key=PLATFORM_KEY, placeholder="All platforms"
        )
        countries = st.multiselect(
            "Country", options["country"], key=COUNTRY_KEY, placeholder="All countries"
        )
        offer_types = st.multiselect(
            "Offer type",
            options["offer_type"],
            key=OFFER_TYPE_KEY,
            placeholder="All offer types",
            help="Applies to figures with an offer-type breakdown (revenue, offers, at-risk "
            "subscribers); pages say where it does not apply.",
        )

    filters = Filters(start, end, tuple(platforms), tuple(countries), tuple(offer_types))
    st.session_state[STATE_KEY] = filters
    return filters


def _reset_stale(months: list[date], options: dict[str, list[str]]) -> None:
    """Initialise widget state, and drop values a newly published snapshot no longer has."""
    state = st.session_state
    period = state.get(PERIOD_KEY)
    if period is not None and not (
        isinstance(period, tuple | list) and len(period) == 2 and set(period) <= set(months)
    ):
        del state[PERIOD_KEY]  # the widget falls back to its default, the whole range
    for key, dim in (
        (PLATFORM_KEY, "platform"),
        (COUNTRY_KEY, "country"),
        (OFFER_TYPE_KEY, "offer_type"),
    ):
        chosen = state.get(key)
        kept = [v for v in chosen or [] if v in options[dim]]
        if chosen is None or kept != list(chosen):
            state[key] = kept
