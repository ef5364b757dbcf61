"""Engagement reported by the players (web, apps, TV devices) through the core: watch time
and sessions per period, passed on as `engagement.activity`."""

from __future__ import annotations

from datetime import datetime, timedelta

from .customers import PLATFORMS, get_customer
from .errors import InvalidInput
from .unit import Unit


def record_activity(
    u: Unit,
    *,
    customer_id: str,
    period_start: datetime,
    period_end: datetime,
    minutes_watched: int,
    sessions: int,
    platform: str,
) -> dict:
    get_customer(u, customer_id)
    if not period_start < period_end <= period_start + timedelta(days=7):
        raise InvalidInput("period_end: must be after period_start and at most 7 days later")
    if period_end > u.now + timedelta(minutes=5):
        raise InvalidInput("period_end: activity cannot be reported ahead of time")
    if minutes_watched < 0 or sessions < 0:
        raise InvalidInput("minutes_watched: must not be negative (nor sessions)")
    if platform not in PLATFORMS:
        raise InvalidInput(f"platform: must be one of {', '.join(PLATFORMS)}")
    return u.emit(
        "engagement.activity",
        customer_id,
        {
            "period_start": period_start,
            "period_end": period_end,
            "minutes_watched": minutes_watched,
            "sessions": sessions,
            "platform": platform,
        },
    )
