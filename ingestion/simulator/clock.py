"""Vectorised calendar arithmetic on epoch seconds / epoch days (UTC)."""

from __future__ import annotations

import calendar
from datetime import date

import numpy as np

SEC_DAY = 86_400
EPOCH = date(1970, 1, 1)


def epoch_day(d: date) -> int:
    return (d - EPOCH).days


def add_months_date(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    y += d.year
    m += 1

    return date(y, m, min(d.day, calendar.monthrange(y, m)[1]))


def add_months(ts: np.ndarray, months) -> np.ndarray:
    """Add calendar months to epoch-second timestamps, clipping the day to the month's length
    (Jan 31 + 1 month = Feb 28/29), keeping the time of day."""
    ts = np.asarray(ts, dtype=np.int64)
    days = ts // SEC_DAY
    tod = ts - days * SEC_DAY
    d64 = days.astype("datetime64[D]")
    ym = d64.astype("datetime64[M]")
    dom = (d64 - ym.astype("datetime64[D]")).astype(np.int64)
    ym2 = ym + np.asarray(months, dtype=np.int64).astype("timedelta64[M]")
    first = ym2.astype("datetime64[D]")
    month_len = ((ym2 + np.timedelta64(1, "M")).astype("datetime64[D]") - first).astype(np.int64)
    new_days = first.astype(np.int64) + np.minimum(dom, month_len - 1)
    return new_days * SEC_DAY + tod
