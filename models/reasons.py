"""Plain-words reasons: one short sentence per explanation group, from a row's raw mart values.

The model decides *which* groups raise a customer's risk (models.classifier); this module only
says what the customer's values in that group are, in words a retention team can act on
("3 failed payments in the last 30 days"). Sentences describe facts, never the model, so the same
sentence is right whichever model ranked the group.

Each group first maps its raw values to the values its sentence shows (`display`: rounded to
what is printed, values the sentence does not use blanked), then formats them. Scoring a million
customers thus repeats a few thousand distinct sentences, and `sentences` formats each distinct
combination once and maps it back to the rows; `reason` (one row) takes the same two steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.features import GROUP_NAMES, as_pandas, numeric_column

_KEY_DECIMALS = 4  # default display rounding of numeric values
Display = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]

BILLING_PERIODS = {
    "P1D": "daily",
    "P1W": "weekly",
    "P2W": "two-weekly",
    "P1M": "monthly",
    "P2M": "two-monthly",
    "P3M": "quarterly",
    "P6M": "half-yearly",
    "P1Y": "annual",
    "P12M": "annual",
    "P2Y": "two-year",
}
PLATFORMS = {
    "web": "the web",
    "ios": "iOS",
    "android": "Android",
    "roku": "Roku",
    "firetv": "Fire TV",
    "appletv": "Apple TV",
    "androidtv": "Android TV",
    "tizen": "Samsung TV",
    "webos": "LG TV",
    "chromecast": "Chromecast",
}


@dataclass(frozen=True)
class ReasonTemplate:
    """How one group is put into words: the mart columns it reads and the sentence they make."""

    group: str
    numeric: tuple[str, ...]
    text: tuple[str, ...]
    sentence: Callable[[Mapping[str, Any]], str]
    display: Display | None = None  # default: numeric values rounded to 4 decimals

    @property
    def columns(self) -> tuple[str, ...]:
        return self.numeric + self.text

    def shown(self, numeric: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The numeric values as the sentence shows them (vectorized)."""
        if self.display is None:
            return {c: np.round(v, _KEY_DECIMALS) for c, v in numeric.items()}
        return self.display(numeric)


# formatting helpers ---------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _int(value: Any) -> int:
    return 0 if _missing(value) else round(float(value))


def _number(n: float) -> str:
    """Whole numbers with thousands separators, others with up to 2 decimals."""
    if float(n).is_integer():
        return f"{int(n):,}"
    return f"{n:,.2f}".rstrip("0").rstrip(".")


def _plural(n: int, singular: str, plural: str | None = None) -> str:
    return f"{_number(n)} {singular if n == 1 else (plural or singular + 's')}"


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{_number(n)} times"


def _duration(days: int) -> str:
    """Days under 3 months, then months under 2 years, then years."""
    if days < 90:
        return _plural(days, "day")
    if days < 730:
        return _plural(days // 30, "month")
    return f"{days / 365:.1f} years".replace(".0 ", " ")


def _watch_time(minutes: float) -> str:
    if minutes < 120:
        return _plural(round(minutes), "minute")
    return _plural(round(minutes / 60), "hour")


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def _pct(fraction: float) -> str:
    return f"{abs(fraction) * 100:.0f} %"


# sentences per group --------------------------------------------------------------------------
def _tenure(v: Mapping[str, Any]) -> str:
    days = _int(v["tenure_days"])
    if _missing(v["paid_tenure_days"]):
        return f"not paying yet: {_duration(days)} since sign-up"
    if days < 90:
        return f"new subscriber: {_duration(days)}"
    return f"subscriber for {_duration(days)}"


def _tenure_display(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    days = np.clip(np.nan_to_num(c["tenure_days"]), 0, None).round()
    shown = np.where(
        days < 90, days, np.where(days < 730, (days // 30) * 30, np.round(days / 365, 1) * 365)
    )
    paid = np.where(np.isnan(c["paid_tenure_days"]), np.nan, 0.0)  # only "ever paid" is shown
    return {"tenure_days": shown, "paid_tenure_days": paid}


def _price_level(v: Mapping[str, Any]) -> str:
    mrr = 0.0 if _missing(v["mrr"]) else float(v["mrr"])
    if mrr <= 0:
        return "no recurring revenue at the moment"
    return f"pays {mrr:,.2f} a month"


def _price_change(v: Mapping[str, Any]) -> str:
    pct = v["last_price_change_pct_90d"]
    ups, downs = _int(v["price_increases_90d"]), _int(v["price_decreases_90d"])
    if not _missing(pct) and pct > 0:
        return f"price up {_pct(pct)} in the last 90 days"
    if not _missing(pct) and pct < 0:
        return f"price down {_pct(pct)} in the last 90 days"
    if ups:
        return f"{_plural(ups, 'price increase')} in the last 90 days"
    if downs:
        return f"{_plural(downs, 'price decrease')} in the last 90 days"
    return "no price change in the last 90 days"


def _discount(v: Mapping[str, Any]) -> str:
    return "on a discounted price" if _int(v["has_discount"]) else "paying full price (no discount)"


def _coupon(v: Mapping[str, Any]) -> str:
    if _int(v["coupon_expiring_30d"]):
        return "coupon discount ends within 30 days"
    return "no coupon ending within 30 days"


def _payments(v: Mapping[str, Any]) -> str:
    f30, f90 = _int(v["failed_payments_30d"]), _int(v["failed_payments_90d"])
    recovered = _int(v["recovered_payments_90d"])
    if _int(v.get("in_dunning")):
        return "renewal payment failed, not recovered yet" + (
            f" ({_plural(f30, 'failed attempt')} in 30 days)" if f30 > 1 else ""
        )
    if f30:
        return f"{_plural(f30, 'failed payment')} in the last 30 days"
    if f90:
        tail = f" ({_number(recovered)} recovered)" if recovered else ""
        return f"{_plural(f90, 'failed payment')} in the last 90 days{tail}"
    if recovered:
        return f"{_plural(recovered, 'recovered payment failure')} in the last 90 days"
    return "no failed payments in the last 90 days"


def _tickets(kind: str, prefix: str) -> Callable[[Mapping[str, Any]], str]:
    def sentence(v: Mapping[str, Any]) -> str:
        n30, n90 = _int(v[f"{prefix}tickets_30d"]), _int(v[f"{prefix}tickets_90d"])
        if n30:
            return f"{_plural(n30, f'{kind} ticket')} in the last 30 days"
        if n90:
            return f"{_plural(n90, f'{kind} ticket')} in the last 90 days"
        return f"no {kind} tickets in the last 90 days"

    return sentence


def _other_tickets(v: Mapping[str, Any]) -> str:
    def other(window: str) -> int:
        total = _int(v[f"tickets_{window}"])
        return max(
            total - _int(v[f"billing_tickets_{window}"]) - _int(v[f"technical_tickets_{window}"]),
            0,
        )

    n30, n90 = other("30d"), other("90d")
    if n30:
        return f"{_plural(n30, 'other support ticket')} in the last 30 days"
    if n90:
        return f"{_plural(n90, 'other support ticket')} in the last 90 days"
    return "no other support tickets in the last 90 days"


def _satisfaction(v: Mapping[str, Any]) -> str:
    if _missing(v["last_csat"]):
        return "never rated support"
    return f"last support rating {_int(v['last_csat'])}/5"


def _watch_round(minutes: np.ndarray) -> np.ndarray:
    return np.where(minutes < 120, np.round(minutes), np.round(minutes / 60) * 60)


def _engagement_display(c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """No viewing (with the previous 4 weeks' time), a drop of 10 % or more (the trend), or else
    the level (time, sessions, and a rise of 10 % or more)."""
    minutes = np.nan_to_num(c["minutes_watched_4w"])
    previous, trend = c["minutes_watched_prev_4w"], c["minutes_watched_trend"]
    with np.errstate(invalid="ignore"):
        zero = minutes <= 0
        down = ~zero & (trend <= 0.9)
        level = ~zero & ~down
        rising = level & (trend >= 1.1)
        return {
            "minutes_watched_4w": np.where(
                zero, 0.0, np.where(level, _watch_round(minutes), np.nan)
            ),
            "minutes_watched_prev_4w": np.where(
                zero & (previous > 0), _watch_round(previous), np.nan
            ),
            "minutes_watched_trend": np.where(down | rising, np.round(trend, 2), np.nan),
            "sessions_4w": np.where(level, np.nan_to_num(c["sessions_4w"]), np.nan),
        }


def _engagement(v: Mapping[str, Any]) -> str:
    minutes, previous = v["minutes_watched_4w"], v["minutes_watched_prev_4w"]
    trend, sessions = v["minutes_watched_trend"], _int(v["sessions_4w"])
    if not _missing(minutes) and minutes <= 0:
        if not _missing(previous) and previous > 0:
            return f"no viewing in the last 4 weeks (after {_watch_time(previous)} before)"
        return "no viewing in the last 4 weeks"
    if not _missing(trend) and trend <= 0.9:
        return f"watch time down {_pct(1 - trend)} over 4 weeks"
    level = f"{_watch_time(0.0 if _missing(minutes) else minutes)} watched in the last 4 weeks"
    if sessions:
        level += f" ({_plural(sessions, 'session')})"
    if not _missing(trend) and trend >= 1.1:
        level += f", up {_pct(trend - 1)}"
    return level


def _in_days(days: Any) -> str:
    n = _int(days)
    return "today" if n <= 0 else ("tomorrow" if n == 1 else f"in {n} days")


def _pending(v: Mapping[str, Any]) -> str:
    if _int(v["has_pending_cancellation"]):
        days = v.get("days_to_cancellation")
        if days is not None and not _missing(days):
            return f"cancellation requested, takes effect {_in_days(days)}"
        return "cancellation requested"
    return "no cancellation requested"


def _history(v: Mapping[str, Any]) -> str:
    churns, returns = _int(v["past_churns"]), _int(v["past_reactivations"])
    if churns:
        text = "churned before" if churns == 1 else f"churned before ({_times(churns)})"
        return f"{text}, came back {_times(returns)}" if returns else text
    if returns:
        return f"came back after leaving {_times(returns)}"
    return "never churned before"


def _trial(v: Mapping[str, Any]) -> str:
    n = _int(v["trialing_subscriptions"])
    days = v.get("days_to_trial_end")
    if n and days is not None and not _missing(days):
        return f"free trial ends {_in_days(days)}"
    if n == 1:
        return "in a free trial"
    return f"{_plural(n, 'subscription')} in a trial" if n else "not in a trial"


def _paused(v: Mapping[str, Any]) -> str:
    n = _int(v["paused_subscriptions"])
    return f"{_plural(n, 'paused subscription')}" if n else "no paused subscription"


def _subscriptions(v: Mapping[str, Any]) -> str:
    n = _int(v["live_subscriptions"])
    return f"{_plural(n, 'live subscription')}" if n else "no live subscription"


def _plan(v: Mapping[str, Any]) -> str:
    offer, period = v["offer_type"], v["billing_period"]
    words = None if _missing(period) else BILLING_PERIODS.get(str(period), f"{period}")
    if offer == "pass":
        return f"on {_a(words)} pass" if words else "on a pass"
    if offer == "live_ppv":
        return "live pay-per-view only"
    if offer == "tvod":
        return "rentals and purchases only (TVOD)"
    if offer == "subscription" or (words and _missing(offer)):
        return f"on {_a(words)} plan" if words else "on a subscription plan"
    return f"on {_a(words)} plan of an unknown offer" if words else "on an unknown offer"


def _platform(v: Mapping[str, Any]) -> str:
    platform = v["platform"]
    if _missing(platform):
        return "platform unknown"
    return f"subscribed via {PLATFORMS.get(str(platform), str(platform))}"


TEMPLATES: dict[str, ReasonTemplate] = {
    t.group: t
    for t in (
        ReasonTemplate("tenure", ("tenure_days", "paid_tenure_days"), (), _tenure, _tenure_display),
        ReasonTemplate(
            "price_level", ("mrr",), (), _price_level, lambda c: {"mrr": np.round(c["mrr"], 2)}
        ),
        ReasonTemplate(
            "price_change",
            ("last_price_change_pct_90d", "price_increases_90d", "price_decreases_90d"),
            (),
            _price_change,
        ),
        ReasonTemplate("discount", ("has_discount",), (), _discount),
        ReasonTemplate("coupon_expiry", ("coupon_expiring_30d",), (), _coupon),
        ReasonTemplate(
            "failed_payments",
            ("failed_payments_30d", "failed_payments_90d", "recovered_payments_90d", "in_dunning"),
            (),
            _payments,
        ),
        ReasonTemplate(
            "billing_tickets",
            ("billing_tickets_30d", "billing_tickets_90d"),
            (),
            _tickets("billing", "billing_"),
        ),
        ReasonTemplate(
            "technical_tickets",
            ("technical_tickets_30d", "technical_tickets_90d"),
            (),
            _tickets("technical", "technical_"),
        ),
        ReasonTemplate(
            "other_tickets",
            (
                "tickets_30d",
                "billing_tickets_30d",
                "technical_tickets_30d",
                "tickets_90d",
                "billing_tickets_90d",
                "technical_tickets_90d",
            ),
            (),
            _other_tickets,
        ),
        ReasonTemplate("satisfaction", ("last_csat",), (), _satisfaction),
        ReasonTemplate(
            "engagement",
            (
                "minutes_watched_4w",
                "minutes_watched_prev_4w",
                "minutes_watched_trend",
                "sessions_4w",
            ),
            (),
            _engagement,
            _engagement_display,
        ),
        ReasonTemplate(
            "pending_cancellation",
            ("has_pending_cancellation", "days_to_cancellation"),
            (),
            _pending,
        ),
        ReasonTemplate("churn_history", ("past_churns", "past_reactivations"), (), _history),
        ReasonTemplate("trial", ("trialing_subscriptions", "days_to_trial_end"), (), _trial),
        ReasonTemplate("paused", ("paused_subscriptions",), (), _paused),
        ReasonTemplate("subscriptions", ("live_subscriptions",), (), _subscriptions),
        ReasonTemplate("plan", (), ("offer_type", "billing_period"), _plan),
        ReasonTemplate("platform", (), ("platform",), _platform),
    )
}
if set(TEMPLATES) != set(GROUP_NAMES):
    raise RuntimeError(f"reason templates out of sync: {sorted(set(TEMPLATES) ^ set(GROUP_NAMES))}")

REASON_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(c for t in TEMPLATES.values() for c in t.numeric + t.text)
)


def _template(group: str) -> ReasonTemplate:
    if group not in TEMPLATES:
        raise KeyError(f"no reason sentence for group {group!r}; groups: {list(TEMPLATES)}")
    return TEMPLATES[group]


def _text(values: Any) -> np.ndarray:
    """Text values as an object array with None for null (NaN, pd.NA, None)."""
    series = pd.Series(values, dtype=object)
    return series.where(series.notna(), None).astype(object).to_numpy()


def _values(template: ReasonTemplate, df: pd.DataFrame) -> list[np.ndarray]:
    shown = template.shown({c: numeric_column(df, c) for c in template.numeric})
    return [shown[c] for c in template.numeric] + [_text(df[c]) for c in template.text]


def _row(template: ReasonTemplate, values: list[np.ndarray], i: int) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name, column in zip(template.columns, values, strict=True):
        value = column[i]
        row[name] = float(value) if name in template.numeric else value
    return row


def _scalar(value: Any) -> float:
    """One raw value as a float, NaN for null or non-numbers (as `numeric_column` does)."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def reason(group: str, row: Mapping[str, Any]) -> str:
    """The sentence for one row: `row` maps the mart column names to their raw values."""
    template = _template(group)
    shown = template.shown({c: np.array([_scalar(row[c])]) for c in template.numeric})
    values = [shown[c] for c in template.numeric]
    values += [_text([row[c]]) for c in template.text]
    return template.sentence(_row(template, values, 0))


def sentences(group: str, frame: Any) -> list[str]:
    """The sentence of `group` for every row of a frame (pandas or polars) of mart columns.

    Each distinct combination of the values shown is formatted once.
    """
    template = _template(group)
    df = as_pandas(frame, template.columns)
    if len(df) == 0:
        return []
    values = _values(template, df)
    codes = np.zeros(len(df), dtype=np.int64)
    for column in values:
        code, uniques = pd.factorize(column, use_na_sentinel=False)
        codes = pd.factorize(codes * max(len(uniques), 1) + code)[0]  # keep the key small
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    texts = [template.sentence(_row(template, values, i)) for i in first]
    return np.asarray(texts, dtype=object)[inverse].tolist()
