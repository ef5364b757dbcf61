"""The snapshot itself: where it is, which version, its tables and columns, the one way to
query it, and what every page's queries share (the sidebar's options, conversions, segment
filters). The package's docstring (:mod:`app.data`) states the rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pandas as pd
import streamlit as st

from foundation.home import Home
from foundation.settings import get_settings

#: MRR movement columns in bridge order (gains first, then losses).


class Source(NamedTuple):
    """Where the snapshot is and which version of it: the cache key of every query."""

    path: str
    version: str


@dataclass(frozen=True)
class SnapshotMeta:
    """``meta.snapshot`` of the serving file (fields None when the publisher wrote none)."""

    version: str
    published_at: datetime | None
    watermark: datetime | None
    reporting_currency: str | None


def home() -> Path:
    """The home folder of the settings (``$CHURNIQ_HOME``, default ``./.churniq``)."""
    return get_settings().home


def paths() -> Home:
    """The layout of the home folder."""
    return Home(home())


def serving_path() -> Path:
    return paths().serving


def current_source() -> Source | None:
    """The snapshot file and a version string, or None when nothing was published yet.

    The version is the file's identity (inode, mtime, size) rather than ``meta.snapshot.version``
    because a ``stat`` costs nothing on every rerun, whereas reading the table means opening the
    database; the publish step's atomic swap always changes the identity.
    """
    path = serving_path()
    try:
        st_ = path.stat()
    except FileNotFoundError:
        return None
    return Source(str(path.resolve()), f"{st_.st_ino}-{st_.st_mtime_ns}-{st_.st_size}")


def query(source: Source, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame | None:
    """Run one query on a fresh read-only connection; None when a table is missing."""
    try:
        with duckdb.connect(source.path, read_only=True) as con:
            return con.execute(sql, params or []).df()
    except duckdb.CatalogException:
        return None


@st.cache_data(show_spinner=False)
def tables(source: Source) -> frozenset[str]:
    """Qualified names (``schema.table``) of the tables in the snapshot."""
    df = query(source, "select schema_name || '.' || table_name as t from duckdb_tables()")
    return frozenset() if df is None else frozenset(df["t"])


@st.cache_data(show_spinner=False)
def columns(source: Source, table: str) -> tuple[str, ...]:
    """Column names of ``schema.table``, empty when the table does not exist."""
    schema, name = table.split(".", 1)
    df = query(
        source,
        "select column_name from duckdb_columns() where schema_name = ? and table_name = ?"
        " order by column_index",
        [schema, name],
    )
    return () if df is None else tuple(df["column_name"])


@st.cache_data(show_spinner=False)
def snapshot_meta(source: Source) -> SnapshotMeta:
    """Version, publication time, watermark and reporting currency of the snapshot."""
    df = None
    if "meta.snapshot" in tables(source):
        df = query(
            source,
            "select version, published_at, watermark, reporting_currency from meta.snapshot"
            " order by published_at desc nulls last limit 1",
        )
    if df is None or df.empty:
        return SnapshotMeta(source.version, None, None, None)
    row = df.iloc[0]
    return SnapshotMeta(
        version=str(row["version"]),
        published_at=to_datetime(row["published_at"]),
        watermark=to_datetime(row["watermark"]),
        reporting_currency=to_str(row["reporting_currency"]),
    )


def has_metrics(source: Source | None) -> bool:
    """Whether the snapshot has the monthly metrics the dashboards start from."""
    return source is not None and "marts.metrics_monthly" in tables(source)


@st.cache_data(show_spinner=False)
def months(source: Source) -> list[date]:
    """Months (first days) present in ``marts.metrics_monthly``, ascending."""
    if not has_metrics(source):
        return []
    df = query(source, "select distinct month::date as month from marts.metrics_monthly order by 1")
    return [] if df is None else [to_date(m) for m in df["month"]]


#: Where the global filters' choices come from: the distinct values of the tables that exist.
_OPTION_TABLES: dict[str, tuple[str, ...]] = {
    "platform": ("marts.metrics_monthly_by_segment",),
    "country": ("marts.metrics_monthly_by_segment",),
    "offer_type": (
        "marts.revenue_monthly_by_segment",
        "marts.fct_subscriptions",
        "marts.offer_performance",
        "ml.churn_scores",
    ),
}


@st.cache_data(show_spinner=False)
def segment_options(source: Source) -> dict[str, list[str]]:
    """Distinct platforms, countries (of ``marts.metrics_monthly_by_segment``) and offer types
    (of revenue, subscriptions and scores)."""
    options: dict[str, list[str]] = {dim: [] for dim in _OPTION_TABLES}
    present = tables(source)
    for dim, candidates in _OPTION_TABLES.items():
        found = [t for t in candidates if t in present]
        if not found:
            continue
        union = " union ".join(f"select {dim} as v from {t} where {dim} is not null" for t in found)
        df = query(source, f"select distinct v from ({union}) order by 1")
        options[dim] = [] if df is None else [str(v) for v in df["v"]]
    return options


def to_datetime(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def to_str(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def to_date(value: Any) -> date:
    return pd.Timestamp(value).date()


def in_list(column: str, values: tuple[str, ...]) -> str:
    """``column in (?, ?, ...)``: one parameter per value."""
    return f"{column} in ({', '.join('?' * len(values))})"


def segment_filter(
    platforms: tuple[str, ...], countries: tuple[str, ...]
) -> tuple[list[str], list[Any]]:
    """The conditions and parameters of a platform and country selection (none: every
    segment)."""
    where: list[str] = []
    params: list[Any] = []
    for dim, values in (("platform", platforms), ("country", countries)):
        if values:
            where.append(in_list(dim, values))
            params.extend(values)
    return where, params


def months_frame(df: pd.DataFrame | None) -> pd.DataFrame | None:
    """A monthly frame with ``month`` as a timestamp and a fresh index; None stays None."""
    if df is None:
        return None
    df["month"] = pd.to_datetime(df["month"])
    return df.reset_index(drop=True)


def monthly_frame(source: Source, sql: str, params: list[Any]) -> pd.DataFrame | None:
    """:func:`months_frame` of a query's result."""
    return months_frame(query(source, sql, params))
