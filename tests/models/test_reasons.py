"""Plain-words reasons: every group has a sentence, numbers read naturally, the vectorized path
says exactly what the one-row path says."""

from __future__ import annotations

import polars as pl
import pytest

from models.features import GROUP_NAMES
from models.reasons import REASON_COLUMNS, TEMPLATES, reason, sentences

BASE = {
    "tenure_days": 400,
    "paid_tenure_days": 390,
    "mrr": 9.99,
    "price_increases_90d": 0,
    "price_decreases_90d": 0,
    "last_price_change_pct_90d": None,
    "has_discount": False,
    "coupon_expiring_30d": False,
    "failed_payments_30d": 0,
    "failed_payments_90d": 0,
    "recovered_payments_90d": 0,
    "tickets_30d": 0,
    "billing_tickets_30d": 0,
    "technical_tickets_30d": 0,
    "tickets_90d": 0,
    "billing_tickets_90d": 0,
    "technical_tickets_90d": 0,
    "last_csat": None,
    "minutes_watched_4w": 600.0,
    "minutes_watched_prev_4w": 600.0,
    "minutes_watched_trend": 1.0,
    "sessions_4w": 12,
    "has_pending_cancellation": False,
    "days_to_cancellation": None,
    "in_dunning": False,
    "days_to_trial_end": None,
    "past_churns": 0,
    "past_reactivations": 0,
    "trialing_subscriptions": 0,
    "paused_subscriptions": 0,
    "live_subscriptions": 1,
    "offer_type": "subscription",
    "billing_period": "P1M",
    "platform": "ios",
}


def say(group: str, **changes) -> str:
    return reason(group, {**BASE, **changes})


def test_every_group_has_a_sentence_for_ordinary_and_empty_rows():
    assert set(TEMPLATES) == set(GROUP_NAMES)
    empty = dict.fromkeys(REASON_COLUMNS)
    for group in GROUP_NAMES:
        for row in (BASE, empty):
            text = reason(group, row)
            assert isinstance(text, str) and 3 < len(text) < 80, (group, text)
            assert "nan" not in text.lower() and "none" not in text, (group, text)


@pytest.mark.parametrize(
    ("group", "changes", "expected"),
    [
        ("failed_payments", {"failed_payments_30d": 3, "failed_payments_90d": 3},
         "3 failed payments in the last 30 days"),
        ("failed_payments", {"failed_payments_30d": 1, "failed_payments_90d": 1},
         "1 failed payment in the last 30 days"),
        ("failed_payments", {"failed_payments_90d": 2, "recovered_payments_90d": 1},
         "2 failed payments in the last 90 days (1 recovered)"),
        ("engagement", {"minutes_watched_4w": 240.0, "minutes_watched_trend": 0.4},
         "watch time down 60 % over 4 weeks"),
        ("engagement", {"minutes_watched_4w": 0.0, "minutes_watched_prev_4w": 0.0,
                        "minutes_watched_trend": None}, "no viewing in the last 4 weeks"),
        ("engagement", {"minutes_watched_4w": 0.0, "minutes_watched_trend": 0.0},
         "no viewing in the last 4 weeks (after 10 hours before)"),
        ("engagement", {"minutes_watched_4w": 45.4, "sessions_4w": 1},
         "45 minutes watched in the last 4 weeks (1 session)"),
        ("pending_cancellation", {"has_pending_cancellation": True}, "cancellation requested"),
        (
            "pending_cancellation",
            {"has_pending_cancellation": True, "days_to_cancellation": 12},
            "cancellation requested, takes effect in 12 days",
        ),
        ("trial", {"trialing_subscriptions": 1, "days_to_trial_end": 1}, "free trial ends tomorrow"),
        ("price_change", {"last_price_change_pct_90d": 0.2, "price_increases_90d": 1},
         "price up 20 % in the last 90 days"),
        ("price_change", {"last_price_change_pct_90d": -0.15}, "price down 15 % in the last 90 days"),
        ("billing_tickets", {"billing_tickets_30d": 2, "billing_tickets_90d": 2},
         "2 billing tickets in the last 30 days"),
        ("technical_tickets", {"technical_tickets_90d": 1}, "1 technical ticket in the last 90 days"),
        ("other_tickets", {"tickets_30d": 3, "billing_tickets_30d": 1, "technical_tickets_30d": 1},
         "1 other support ticket in the last 30 days"),
        ("satisfaction", {"last_csat": 1}, "last support rating 1/5"),
        ("satisfaction", {}, "never rated support"),
        ("coupon_expiry", {"coupon_expiring_30d": True}, "coupon discount ends within 30 days"),
        ("discount", {"has_discount": True}, "on a discounted price"),
        ("tenure", {"tenure_days": 12, "paid_tenure_days": 5}, "new subscriber: 12 days"),
        ("tenure", {"tenure_days": 10, "paid_tenure_days": None},
         "not paying yet: 10 days since sign-up"),
        ("tenure", {"tenure_days": 400}, "subscriber for 13 months"),
        ("tenure", {"tenure_days": 1000}, "subscriber for 2.7 years"),
        ("plan", {}, "on a monthly plan"),
        ("plan", {"billing_period": "P1Y"}, "on an annual plan"),
        ("plan", {"offer_type": "pass", "billing_period": "P1W"}, "on a weekly pass"),
        ("plan", {"offer_type": "tvod", "billing_period": None}, "rentals and purchases only (TVOD)"),
        ("platform", {}, "subscribed via iOS"),
        ("platform", {"platform": "smartfridge"}, "subscribed via smartfridge"),
        ("churn_history", {"past_churns": 2}, "churned before (twice)"),
        ("churn_history", {"past_churns": 3, "past_reactivations": 1},
         "churned before (3 times), came back once"),
        ("trial", {"trialing_subscriptions": 1}, "in a free trial"),
        ("paused", {"paused_subscriptions": 1}, "1 paused subscription"),
        ("subscriptions", {"live_subscriptions": 3}, "3 live subscriptions"),
        ("price_level", {"mrr": 1234.5}, "pays 1,234.50 a month"),
        ("price_level", {"mrr": 0}, "no recurring revenue at the moment"),
    ],
)  # fmt: skip
def test_sentences_read_naturally(group, changes, expected):
    assert say(group, **changes) == expected


def test_unknown_group_is_refused():
    with pytest.raises(KeyError, match="no reason sentence"):
        reason("astrology", BASE)


def test_vectorized_sentences_equal_one_row_sentences(synthetic_train):
    frame = synthetic_train.iloc[::37].reset_index(drop=True)
    records = frame[list(REASON_COLUMNS)].to_dict("records")
    for group in GROUP_NAMES:
        expected = [reason(group, r) for r in records]
        assert sentences(group, frame) == expected, group
    polars = pl.from_pandas(frame)
    assert sentences("engagement", polars) == sentences("engagement", frame)


def test_sentences_of_an_empty_frame():
    assert (
        sentences("platform", pl.DataFrame({"platform": []}, schema={"platform": pl.String})) == []
    )


def test_rounding_is_what_is_shown():
    assert say("engagement", minutes_watched_4w=0.0, minutes_watched_prev_4w=119.6) == (
        "no viewing in the last 4 weeks (after 2 hours before)"
    )
    assert say("engagement", minutes_watched_trend=0.333) == "watch time down 67 % over 4 weeks"
