"""Churn features from `marts.customer_months`, defined in one place.

Each feature is a spec: its name, the explanation group it belongs to, the mart columns it reads,
how it is computed from them and a plain-words description. The classifier, the explanations and
the reasons all read these specs, so a feature added here is encoded, explained and described
everywhere at once.

The mart is point in time (every feature uses only events up to `month_end`), so nothing here
looks at other rows: a row's features depend on that row only, and scoring one month is the same
computation as training on many.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd

from models._frames import is_polars, to_pandas

HORIZONS = (30, 60, 90)

Getter = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class FeatureGroup:
    """A set of features explained together: a reason is about a group, not one column."""

    name: str
    title: str


@dataclass(frozen=True)
class NumericFeature:
    """One numeric model input computed from mart columns (floats, NaN where the mart has null)."""

    name: str
    group: str
    columns: tuple[str, ...]
    compute: Callable[[Getter], np.ndarray]
    description: str


@dataclass(frozen=True)
class CategoricalFeature:
    """A mart column one-hot encoded over a vocabulary fixed at fit time."""

    column: str
    group: str
    description: str


GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup("tenure", "Time as a subscriber"),
    FeatureGroup("price_level", "Price paid"),
    FeatureGroup("price_change", "Recent price changes"),
    FeatureGroup("discount", "Discount"),
    FeatureGroup("coupon_expiry", "Coupon ending"),
    FeatureGroup("failed_payments", "Failed payments"),
    FeatureGroup("billing_tickets", "Billing support tickets"),
    FeatureGroup("technical_tickets", "Technical support tickets"),
    FeatureGroup("other_tickets", "Other support tickets"),
    FeatureGroup("satisfaction", "Support satisfaction"),
    FeatureGroup("engagement", "Viewing"),
    FeatureGroup("pending_cancellation", "Cancellation request"),
    FeatureGroup("churn_history", "Past churns"),
    FeatureGroup("trial", "Trial"),
    FeatureGroup("paused", "Paused subscriptions"),
    FeatureGroup("subscriptions", "Live subscriptions"),
    FeatureGroup("plan", "Offer and billing period"),
    FeatureGroup("platform", "Platform"),
)
GROUP_NAMES: tuple[str, ...] = tuple(g.name for g in GROUPS)


def _log1p_nonneg(x: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.nan_to_num(x, nan=0.0), 0.0, None))


def _count(x: np.ndarray, cap: float = 50.0) -> np.ndarray:
    """Counts with null as 0, capped so one odd account cannot dominate a linear model."""
    return np.clip(np.nan_to_num(x, nan=0.0), 0.0, cap)


def _flag(x: np.ndarray) -> np.ndarray:
    return (np.nan_to_num(x, nan=0.0) != 0).astype(float)


def _missing(x: np.ndarray) -> np.ndarray:
    return np.isnan(x).astype(float)


def _within(days: np.ndarray, limit: int) -> np.ndarray:
    """1 where a scheduled date (days from the month end, null if none) falls within `limit`."""
    return np.where(np.isnan(days), 0.0, (days <= limit).astype(float))


def _other_tickets(get: Getter, window: str) -> np.ndarray:
    total = np.nan_to_num(get(f"tickets_{window}"), nan=0.0)
    billing = np.nan_to_num(get(f"billing_tickets_{window}"), nan=0.0)
    technical = np.nan_to_num(get(f"technical_tickets_{window}"), nan=0.0)
    return _count(total - billing - technical)


def _trend_log(trend: np.ndarray) -> np.ndarray:
    # a drop to zero viewing is trend 0: clip to 1 % (log -4.6) rather than -inf
    return np.where(np.isnan(trend), 0.0, np.log(np.clip(trend, 0.01, 100.0)))


def _nf(
    name: str,
    group: str,
    columns: Sequence[str],
    compute: Callable[[Getter], np.ndarray],
    desc: str,
) -> NumericFeature:
    return NumericFeature(name, group, tuple(columns), compute, desc)


NUMERIC_FEATURES: tuple[NumericFeature, ...] = (
    _nf("log_tenure_days", "tenure", ["tenure_days"], lambda g: _log1p_nonneg(g("tenure_days")),
        "log(1 + days since the customer's first subscription started)"),
    _nf("log_paid_tenure_days", "tenure", ["paid_tenure_days"],
        lambda g: _log1p_nonneg(g("paid_tenure_days")),
        "log(1 + days since the first paid day), 0 if never paid"),
    _nf("never_paid", "tenure", ["paid_tenure_days"], lambda g: _missing(g("paid_tenure_days")),
        "1 if the customer has never paid (trial or free access only)"),
    _nf("log_mrr", "price_level", ["mrr"], lambda g: _log1p_nonneg(g("mrr")),
        "log(1 + monthly recurring revenue in the reporting currency)"),
    _nf("price_increases_90d", "price_change", ["price_increases_90d"],
        lambda g: _count(g("price_increases_90d")), "price increases in the last 90 days"),
    _nf("price_decreases_90d", "price_change", ["price_decreases_90d"],
        lambda g: _count(g("price_decreases_90d")), "price decreases in the last 90 days"),
    _nf("last_price_change_pct_90d", "price_change", ["last_price_change_pct_90d"],
        lambda g: np.clip(np.nan_to_num(g("last_price_change_pct_90d"), nan=0.0), -1.0, 2.0),
        "size of the last price change in the last 90 days (0.2 = +20 %), 0 if none"),
    _nf("has_discount", "discount", ["has_discount"], lambda g: _flag(g("has_discount")),
        "1 if the current price is discounted"),
    _nf("coupon_expiring_30d", "coupon_expiry", ["coupon_expiring_30d"],
        lambda g: _flag(g("coupon_expiring_30d")), "1 if a coupon discount ends within 30 days"),
    _nf("failed_payments_30d", "failed_payments", ["failed_payments_30d"],
        lambda g: _count(g("failed_payments_30d")), "failed payments in the last 30 days"),
    _nf("failed_payments_90d", "failed_payments", ["failed_payments_90d"],
        lambda g: _count(g("failed_payments_90d")), "failed payments in the last 90 days"),
    _nf("in_dunning", "failed_payments", ["in_dunning"], lambda g: _flag(g("in_dunning")),
        "1 if a failed renewal is still unrecovered within the dunning window"),
    _nf("recovered_payments_90d", "failed_payments", ["recovered_payments_90d"],
        lambda g: _count(g("recovered_payments_90d")),
        "failed payments recovered in the last 90 days"),
    _nf("billing_tickets_30d", "billing_tickets", ["billing_tickets_30d"],
        lambda g: _count(g("billing_tickets_30d")), "billing tickets in the last 30 days"),
    _nf("billing_tickets_90d", "billing_tickets", ["billing_tickets_90d"],
        lambda g: _count(g("billing_tickets_90d")), "billing tickets in the last 90 days"),
    _nf("technical_tickets_30d", "technical_tickets", ["technical_tickets_30d"],
        lambda g: _count(g("technical_tickets_30d")), "technical tickets in the last 30 days"),
    _nf("technical_tickets_90d", "technical_tickets", ["technical_tickets_90d"],
        lambda g: _count(g("technical_tickets_90d")), "technical tickets in the last 90 days"),
    _nf("other_tickets_30d", "other_tickets",
        ["tickets_30d", "billing_tickets_30d", "technical_tickets_30d"],
        lambda g: _other_tickets(g, "30d"), "tickets neither billing nor technical, last 30 days"),
    _nf("other_tickets_90d", "other_tickets",
        ["tickets_90d", "billing_tickets_90d", "technical_tickets_90d"],
        lambda g: _other_tickets(g, "90d"), "tickets neither billing nor technical, last 90 days"),
    _nf("last_csat", "satisfaction", ["last_csat"],
        lambda g: np.nan_to_num(g("last_csat"), nan=0.0),
        "last support satisfaction rating 1-5, 0 if none (see csat_missing)"),
    _nf("csat_missing", "satisfaction", ["last_csat"], lambda g: _missing(g("last_csat")),
        "1 if the customer never rated support"),
    _nf("log_minutes_4w", "engagement", ["minutes_watched_4w"],
        lambda g: _log1p_nonneg(g("minutes_watched_4w")),
        "log(1 + minutes watched in the last 4 weeks)"),
    _nf("watch_trend_log", "engagement", ["minutes_watched_trend"],
        lambda g: _trend_log(g("minutes_watched_trend")),
        "log(minutes watched last 4 weeks / previous 4 weeks), clipped at 1 %..100x, 0 if no "
        "viewing in the previous 4 weeks"),
    _nf("watch_trend_missing", "engagement", ["minutes_watched_trend"],
        lambda g: _missing(g("minutes_watched_trend")),
        "1 if there was no viewing in the previous 4 weeks (trend undefined)"),
    _nf("log_sessions_4w", "engagement", ["sessions_4w"],
        lambda g: _log1p_nonneg(g("sessions_4w")), "log(1 + sessions in the last 4 weeks)"),
    _nf("has_pending_cancellation", "pending_cancellation", ["has_pending_cancellation"],
        lambda g: _flag(g("has_pending_cancellation")),
        "1 if a cancellation is requested and not yet effective"),
    _nf("cancellation_within_30d", "pending_cancellation", ["days_to_cancellation"],
        lambda g: _within(g("days_to_cancellation"), 30),
        "1 if a requested cancellation takes effect within 30 days"),
    _nf("past_churns", "churn_history", ["past_churns"], lambda g: _count(g("past_churns")),
        "times the customer churned before"),
    _nf("past_reactivations", "churn_history", ["past_reactivations"],
        lambda g: _count(g("past_reactivations")), "times the customer came back after churning"),
    _nf("trialing_subscriptions", "trial", ["trialing_subscriptions"],
        lambda g: _count(g("trialing_subscriptions")), "subscriptions in a trial"),
    _nf("trial_ends_within_30d", "trial", ["days_to_trial_end"],
        lambda g: _within(g("days_to_trial_end"), 30), "1 if a trial ends within 30 days"),
    _nf("paused_subscriptions", "paused", ["paused_subscriptions"],
        lambda g: _count(g("paused_subscriptions")), "paused subscriptions"),
    _nf("live_subscriptions", "subscriptions", ["live_subscriptions"],
        lambda g: _count(g("live_subscriptions")), "live subscriptions"),
)  # fmt: skip

CATEGORICAL_FEATURES: tuple[CategoricalFeature, ...] = (
    CategoricalFeature("offer_type", "plan", "offer type (subscription, pass, live_ppv, tvod)"),
    CategoricalFeature("billing_period", "plan", "billing period (ISO 8601: P1M, P1Y, ...)"),
    CategoricalFeature("platform", "platform", "platform of the subscription (web, ios, ...)"),
)

NUMERIC_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(c for f in NUMERIC_FEATURES for c in f.columns)
)
CATEGORICAL_COLUMNS: tuple[str, ...] = tuple(f.column for f in CATEGORICAL_FEATURES)
FEATURE_COLUMNS: tuple[str, ...] = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS


def _check_groups() -> None:
    used = {f.group for f in NUMERIC_FEATURES} | {f.group for f in CATEGORICAL_FEATURES}
    if used != set(GROUP_NAMES):
        raise RuntimeError(f"feature groups out of sync: {sorted(used ^ set(GROUP_NAMES))}")


_check_groups()


# frame access ---------------------------------------------------------------------------------
def as_pandas(frame: Any, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A pandas frame of the needed columns; polars decimals become floats before conversion.

    Converting a polars Decimal column yields Python `Decimal` objects (slow on millions of rows),
    so money columns are cast in polars first.
    """
    if is_polars(frame):
        import polars as pl

        if columns is not None:
            frame = frame.select([c for c in columns if c in frame.columns])
        decimals = [n for n, t in frame.schema.items() if isinstance(t, pl.Decimal)]
        if decimals:
            frame = frame.with_columns(pl.col(decimals).cast(pl.Float64))
        return frame.to_pandas()
    return to_pandas(frame)


def numeric_column(df: pd.DataFrame, name: str) -> np.ndarray:
    """A column as float64 with NaN for null, whatever its dtype (nullable ints, Decimal, bool)."""
    s = df[name]
    if s.dtype == object:
        s = pd.to_numeric(s, errors="coerce")
    return s.to_numpy(dtype=float, na_value=np.nan)


def _require(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"customer_months columns missing: {missing}")


def numeric_features(frame: Any) -> tuple[np.ndarray, list[str]]:
    """The numeric features (no categoricals) as an (n, k) float matrix and their names."""
    df = as_pandas(frame, NUMERIC_COLUMNS)
    _require(df, NUMERIC_COLUMNS)
    cache: dict[str, np.ndarray] = {}

    def get(name: str) -> np.ndarray:
        if name not in cache:
            cache[name] = numeric_column(df, name)
        return cache[name]

    X = np.empty((len(df), len(NUMERIC_FEATURES)), dtype=float)
    for j, feature in enumerate(NUMERIC_FEATURES):
        X[:, j] = feature.compute(get)
    return X, [f.name for f in NUMERIC_FEATURES]


class FeatureEncoder:
    """Numeric features plus one-hot categoricals over a vocabulary fixed at fit time.

    Each categorical keeps its `max_categories` most frequent values seen at least `min_count`
    times in training; any other value at scoring time (unseen, rare or null) encodes as all
    zeros, so a new platform or billing period never breaks scoring: the model then treats the
    row like the average of the known categories' complement.
    """

    def __init__(self, max_categories: int = 20, min_count: int = 1) -> None:
        self.max_categories = max_categories
        self.min_count = min_count

    def fit(self, frame: Any) -> Self:
        """Learn the category vocabulary of each categorical column."""
        df = as_pandas(frame, FEATURE_COLUMNS)
        _require(df, FEATURE_COLUMNS)
        self.categories_: dict[str, list[str]] = {}
        self.most_common_: dict[str, str | None] = {}
        for spec in CATEGORICAL_FEATURES:
            counts = df[spec.column].dropna().astype(str).value_counts()
            counts = counts[counts >= self.min_count]
            # most frequent first, ties by name: the same data always gives the same columns
            ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            kept = [k for k, _ in ordered[: self.max_categories]]
            self.most_common_[spec.column] = kept[0] if kept else None
            self.categories_[spec.column] = sorted(kept)
        names = [f.name for f in NUMERIC_FEATURES]
        groups = [f.group for f in NUMERIC_FEATURES]
        for spec in CATEGORICAL_FEATURES:
            names += [f"{spec.column}={v}" for v in self.categories_[spec.column]]
            groups += [spec.group] * len(self.categories_[spec.column])
        self.feature_names_: list[str] = names
        self.feature_groups_: list[str] = groups
        return self

    def transform(self, frame: Any) -> np.ndarray:
        """The (n, len(feature_names_)) float64 design matrix."""
        df = as_pandas(frame, FEATURE_COLUMNS)
        _require(df, FEATURE_COLUMNS)
        numeric, _ = numeric_features(df)
        blocks = [numeric]
        for spec in CATEGORICAL_FEATURES:
            vocab = self.categories_[spec.column]
            codes = pd.Categorical(df[spec.column].astype("string"), categories=vocab).codes
            onehot = np.zeros((len(df), len(vocab)), dtype=float)
            known = codes >= 0
            onehot[np.flatnonzero(known), codes[known]] = 1.0
            blocks.append(onehot)
        return np.hstack(blocks)

    def fit_transform(self, frame: Any) -> np.ndarray:
        """Fit the vocabulary and encode the same frame."""
        return self.fit(frame).transform(frame)

    def group_indices(self) -> dict[str, np.ndarray]:
        """Column positions of each group, in `GROUP_NAMES` order (a group may have none)."""
        groups = np.asarray(self.feature_groups_)
        return {g: np.flatnonzero(groups == g) for g in GROUP_NAMES}


def design_matrix(
    frame: Any, encoder: FeatureEncoder | None = None
) -> tuple[np.ndarray, list[str]]:
    """(X, feature_names) for customer_months rows; fits a new encoder when none is given.

    Pass the encoder fitted on training data when scoring, so the columns match.
    """
    encoder = encoder if encoder is not None else FeatureEncoder().fit(frame)
    return encoder.transform(frame), list(encoder.feature_names_)


def _horizon(horizon_days: int) -> int:
    if horizon_days not in HORIZONS:
        raise ValueError(f"horizon_days must be one of {HORIZONS}, got {horizon_days!r}")
    return horizon_days


def _bool_column(frame: Any, name: str) -> np.ndarray:
    df = as_pandas(frame, [name])
    _require(df, [name])
    return np.nan_to_num(numeric_column(df, name), nan=0.0) != 0


def labels(frame: Any, horizon_days: int) -> np.ndarray:
    """churned_within_<N>d as bool (null as False): meaningful only where `observable` is True."""
    return _bool_column(frame, f"churned_within_{_horizon(horizon_days)}d")


def observable(frame: Any, horizon_days: int) -> np.ndarray:
    """label_observable_<N>d as bool (null as False): month_end + N days <= the as-of date."""
    return _bool_column(frame, f"label_observable_{_horizon(horizon_days)}d")
