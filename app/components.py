"""Small building blocks shared by pages: empty state, snapshot caption, KPI, tables, CSV
download."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from app import filters, signin
from app import formatting as fmt
from app.csv_cells import frame_csv
from app.data import snapshot
from app.metric_help import DEFINITIONS
from app.users import EXPORT_ROLE

EMPTY_STATE = "No data yet: run `churniq run` (or `churniq demo`)"


def empty_state(detail: str | None = None) -> None:
    """Tell the user what to do when there is nothing to show yet."""
    st.info(f"{EMPTY_STATE}.", icon=":material/database:")
    st.caption(detail or f"Looked for a published snapshot at `{snapshot.serving_path()}`.")


def missing_table_text(*tables: str) -> str:
    """What a page says when the snapshot has none of `tables` (not published yet)."""
    return f"The snapshot has no {' or '.join(f'`{t}`' for t in tables)} table yet."


def table_missing(result: object, table: str) -> bool:
    """Whether a page's query found no `table` (it returned None), after saying so: the one
    guard of a section whose table is not published yet.

    ``if table_missing(frame, TABLE): return``
    """
    if result is not None:
        return False
    st.info(missing_table_text(table))
    return True


def previous_month(month: date) -> date:
    """The first day of the month before `month`."""
    return (month.replace(day=1) - timedelta(days=1)).replace(day=1)


def month_row(df: pd.DataFrame, month: date) -> pd.Series | None:
    """The row of `month` in a frame with a `month` column, or None."""
    rows = df[df["month"].dt.date == month]
    return None if rows.empty else rows.iloc[0]


@dataclass(frozen=True)
class MetricsPage:
    """What a page on the monthly metrics starts from: the snapshot, its metadata, the filters."""

    source: snapshot.Source
    meta: snapshot.SnapshotMeta
    chosen: filters.Filters

    @property
    def currency(self) -> str | None:
        return self.meta.reporting_currency

    @property
    def segments(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The selected (platforms, countries), as the data module's queries take them."""
        return self.chosen.platforms, self.chosen.countries

    def monthly_series(self, query: Callable[..., pd.DataFrame | None]) -> pd.DataFrame | None:
        """`query(source, start, end, platforms, countries)` from the month before the period
        (for the first month's deltas) to its end; None, after the empty state, when the
        snapshot has no segment table."""
        start = previous_month(self.chosen.start)
        series = query(self.source, start, self.chosen.end, *self.segments)
        if series is None:
            empty_state(missing_table_text("marts.metrics_monthly_by_segment"))
        return series


def open_snapshot(
    title: str, needs: Collection[str] = (), missing: str | None = None
) -> tuple[snapshot.Source, snapshot.SnapshotMeta] | None:
    """The page's title, then the snapshot and its metadata; None, after the empty state that
    says what to do, when nothing was published yet or the snapshot has none of the tables in
    `needs` (`missing` words that case)."""
    st.title(title)
    source = snapshot.current_source()
    if source is None:
        empty_state()
        return None
    if needs and not set(needs) & snapshot.tables(source):
        empty_state(missing or missing_table_text(*needs))
        return None
    return source, snapshot.snapshot_meta(source)


def open_metrics_page(title: str) -> MetricsPage | None:
    """The page's title, then its inputs; None (after the empty state that says what to do)
    when there is no snapshot, no monthly metrics or no month in it yet."""
    opened = open_snapshot(title, needs=("marts.metrics_monthly",))
    if opened is None:
        return None
    source, meta = opened
    chosen = filters.current()
    if chosen.end is None or chosen.start is None:
        empty_state("The snapshot has no months of metrics yet.")
        return None
    note = chosen.offer_type_note("MRR and customer figures")
    if note:
        st.caption(note)
    return MetricsPage(source, meta, chosen)


def snapshot_caption(meta: snapshot.SnapshotMeta) -> None:
    """Which data the page shows: watermark (as-of), reporting currency, snapshot version."""
    watermark = meta.watermark.strftime("%Y-%m-%d %H:%M") if meta.watermark else "unknown"
    currency = meta.reporting_currency or "unknown"
    published = (
        f", published {meta.published_at:%Y-%m-%d %H:%M}" if meta.published_at is not None else ""
    )
    st.caption(
        f"Data as of {watermark} (watermark, UTC) · amounts in {currency} · "
        f"snapshot {meta.version}{published}"
    )


@dataclass(frozen=True)
class Kpi:
    """One headline number with its change against the previous month."""

    label: str
    value: str | None
    delta: str | None
    help: str | None
    inverse: bool = False  # True when a decrease is good (churn rate)
    unchanged: bool = False  # the delta is exactly zero: grey, no arrow


#: A KPI: label, metric column, kind of number (money, count, ratio or rate).
KpiSpec = tuple[str, str, str]


def _shown(kind: str, value: Any, before: Any, currency: str | None) -> tuple[str | None, ...]:
    if kind == "money":
        return fmt.money(value, currency), fmt.money_delta(value, before, currency)
    if kind == "count":
        return fmt.count(value), fmt.count_delta(value, before)
    if kind == "ratio":
        return fmt.ratio(value), fmt.ratio_delta(value, before)
    return fmt.percent(value), fmt.rate_delta_pp(value, before)


def month_kpis(
    specs: tuple[KpiSpec, ...],
    current: pd.Series,
    previous: pd.Series | None,
    currency: str | None = None,
    lower_is_better: Collection[str] = (),
    definitions: Mapping[str, str] = DEFINITIONS,
) -> list[Kpi]:
    """A month's KPIs with their change against the previous month and their help texts
    (`definitions`, by metric column: the MRR definitions unless told); the columns in
    `lower_is_better` show a decrease as good news."""
    kpis = []
    for label, column, kind in specs:
        value = current.get(column)
        before = None if previous is None else previous.get(column)
        shown, delta = _shown(kind, value, before, currency)
        unchanged = not (fmt.is_missing(value) or fmt.is_missing(before)) and value == before
        kpis.append(
            Kpi(label, shown, delta, definitions[column], column in lower_is_better, unchanged)
        )
    return kpis


def metric(kpi: Kpi) -> None:
    if kpi.unchanged:
        color, arrow = "off", "off"
    else:
        color, arrow = ("inverse" if kpi.inverse else "normal"), "auto"
    st.metric(
        kpi.label,
        kpi.value,
        kpi.delta,
        delta_color=color,
        delta_arrow=arrow,
        help=kpi.help,
        border=True,
    )


def csv_download(frame: pd.DataFrame, file_name: str, label: str, key: str) -> None:
    """A download button for the (small, aggregated) data behind a chart; text cells that a
    spreadsheet would evaluate are escaped (:mod:`app.csv_cells`)."""
    st.download_button(
        label,
        frame_csv(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


def table(
    frame: pd.DataFrame,
    *,
    subscribers: bool,
    column_config: Mapping[str, Any] | None = None,
    **options: Any,
) -> None:
    """Every page's tables (no page calls ``st.dataframe`` itself).

    `subscribers`: the rows are subscribers of a selection (the at-risk list), which only roles
    that may export (:data:`app.users.EXPORT_ROLE`) take out of the app. They get the
    interactive grid, whose toolbar has "Download as CSV"; every other role gets a static table
    of the same rows and formats, which has no toolbar, no download and no copy of a selection.
    Other tables hold figures every role may download (their pages offer the CSV anyway), or one
    customer's history on Subscriber 360, whose downloads are for every role too.
    """
    user = signin.current_user()
    if subscribers and (user is None or not user.may(EXPORT_ROLE)):
        st.table(static_frame(frame, column_config), hide_index=True)
        return
    st.dataframe(frame, column_config=column_config, **options)


_MARKDOWN = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
_MOMENT = {"YYYY": "%Y", "MMM": "%b", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def _markdown_text(text: str) -> str:
    """`text` shown literally by ``st.table``, which renders Markdown in every cell: a value
    never becomes a link, an image or a formula."""
    return _MARKDOWN.sub(r"\\\1", " ".join(text.splitlines()))


def _cell_text(value: Any, number_format: str | None) -> str:
    """One cell as the grid shows it with the column's format (``column_config``)."""
    if isinstance(value, list | tuple | np.ndarray):
        return "; ".join(str(v) for v in value)
    if fmt.is_missing(value):
        return ""
    if isinstance(value, date) and number_format:
        pattern = re.sub("|".join(_MOMENT), lambda m: _MOMENT[m.group()], number_format)
        return value.strftime(pattern)
    if isinstance(value, numbers.Real) and number_format:
        if number_format == "percent":
            return fmt.percent(value) or ""
        if number_format == "localized":
            return fmt.count(value) if float(value).is_integer() else f"{value:,}"
        if "%" in number_format:
            return number_format % value
    return str(value)


def static_frame(frame: pd.DataFrame, column_config: Mapping[str, Any] | None) -> pd.DataFrame:
    """`frame` as a static table shows it: the grid's labels and number formats applied,
    columns configured as None left out, every cell Markdown-escaped text."""
    shown: dict[str, list[str]] = {}
    for column in frame.columns:
        spec = (column_config or {}).get(column, column)
        if spec is None:
            continue
        label, number_format = (
            (spec, None)
            if isinstance(spec, str)
            else (spec.get("label") or column, (spec.get("type_config") or {}).get("format"))
        )
        shown[_markdown_text(str(label))] = [
            _markdown_text(_cell_text(v, number_format)) for v in frame[column]
        ]
    return pd.DataFrame(shown)
