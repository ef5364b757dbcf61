"""An independent reference implementation of METRICS.md's MRR, movement and monthly rules.

Plain Python over the raw events, day by day, written from the definitions and not from the
dbt SQL, so the end-to-end tests can check the marts against it. Deliberately simple and slow:
only for small simulated homes.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

import duckdb

Q6 = Decimal("0.000001")


def monthly_factor(period: str) -> tuple[int, int]:
    """(numerator, denominator) turning one billing period's price into one month's."""
    fixed = {
        "P1M": (1, 1),
        "P3M": (1, 3),
        "P6M": (1, 6),
        "P1Y": (1, 12),
        "P1W": (52, 12),
        "P1D": (365, 12),
    }
    if period in fixed:
        return fixed[period]
    m = re.fullmatch(r"P(\d+)([YMWD])", period)
    if not m:
        raise ValueError(period)
    n, unit = int(m.group(1)), m.group(2)
    return {"Y": (1, 12 * n), "M": (1, n), "W": (52, 12 * n), "D": (365, 12 * n)}[unit]


def local_mrr(price: int, discount: int, period: str) -> Decimal:
    num, den = monthly_factor(period)
    net = max(price - discount, 0)
    return (Decimal(net * num) / Decimal(den)).quantize(Q6, rounding=ROUND_HALF_UP)


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None) - (
        datetime.fromisoformat(text.replace("Z", "+00:00")).utcoffset() or timedelta(0)
    )


@dataclass
class SubState:
    customer_id: str
    live: bool = False
    paused: bool = False
    paid_from: date | None = None
    price: int = 0
    discount: int = 0
    currency: str = "EUR"
    period: str = "P1M"

    def mrr(self, day: date) -> Decimal:
        if not self.live or self.paused or self.paid_from is None or day < self.paid_from:
            return Decimal(0)
        return local_mrr(self.price, self.discount, self.period)

    def trial_mrr(self, day: date) -> Decimal:
        if not self.live or self.paused or self.paid_from is None or day >= self.paid_from:
            return Decimal(0)
        return local_mrr(self.price, self.discount, self.period)


class Movement(NamedTuple):
    """One row of `marts.fct_mrr_movements`: a and b both priced at the day's rate."""

    movement_date: date
    customer_id: str
    movement_type: str
    mrr_change: Decimal
    mrr_before: Decimal
    mrr_after: Decimal


# The business movements of the MRR bridge (everything but fx_adjustment).
BUSINESS_MOVEMENTS = ("new", "reactivation", "expansion", "contraction", "churn", "pause", "resume")


@dataclass
class Reference:
    months: dict[date, dict] = field(default_factory=dict)
    movements: list[Movement] = field(default_factory=list)


# METRICS.md: one-time purchases are one-time revenue (the purchase's day and rate); revenue
# (cash) = successful payments - refunds - chargebacks, each at the rate of the day it happened.
CASH_EVENTS = {
    "purchase.completed": "one_time_revenue",
    "payment.succeeded": "payments",
    "payment.refunded": "refunds",
    "payment.chargeback": "chargebacks",
}


def _month(d: date) -> date:
    return d.replace(day=1)


def compute(warehouse: str) -> Reference:
    con = duckdb.connect(warehouse, read_only=True)
    events = con.execute(
        "select event_id, event_type, occurred_at, customer_id, data::varchar from raw.events"
    ).fetchall()
    rates: dict[tuple[str, date], Decimal] = {
        (c, d): r
        for d, c, r in con.execute("select rate_date, currency, rate from raw.fx_rates").fetchall()
    }
    units = dict(con.execute("select currency, minor_unit_value from raw.currencies").fetchall())
    con.close()

    watermark = max(e[2] for e in events).date()
    first_day = min(e[2] for e in events).date()

    def to_report(amount_local_minor: Decimal, currency: str, day: date) -> Decimal:
        return amount_local_minor * units[currency] * rates[(currency, day)]

    # --- replay each subscription into per-day states -------------------------------------
    changes: dict[str, list[tuple]] = defaultdict(
        list
    )  # sub -> [(effective, occurred, id, type, data)]
    owner: dict[str, str] = {}
    cancels: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    ended_reason: dict[str, tuple[datetime, str]] = {}
    resumed: dict[str, set[date]] = defaultdict(set)  # sub -> days a pause ended
    # cash: column -> [(day, amount in the reporting currency at that day's rate)]
    cash: dict[str, list[tuple[date, Decimal]]] = defaultdict(list)
    for event_id, etype, occurred, customer, data_text in events:
        if etype in CASH_EVENTS:
            data = json.loads(data_text)
            day = occurred.date()
            amount = to_report(Decimal(data["amount_minor"]), data["currency"], day)
            cash[CASH_EVENTS[etype]].append((day, amount))
            continue
        if not etype.startswith("subscription."):
            continue
        data = json.loads(data_text)
        sub = data["subscription_id"]
        effective = occurred
        if etype == "subscription.changed":
            effective = _ts(data["effective_at"])
        elif etype == "subscription.renewed":
            effective = _ts(data["period_start"])
        if etype == "subscription.started":
            owner.setdefault(sub, customer)
        if etype == "subscription.cancelled":
            cancels[sub].append((occurred, data["initiated_by"]))
        if etype == "subscription.reactivated":  # the pending cancellation is withdrawn
            cancels[sub].append((occurred, WITHDRAWN))
        if etype == "subscription.ended":
            ended_reason[sub] = (occurred, data["ended_reason"])
        if etype == "subscription.resumed":
            resumed[sub].add(occurred.date())
        changes[sub].append((effective, occurred, event_id, etype, data))

    # day -> sub -> (currency, mrr_local, trial_local, live, paused) at end of day, only change days
    timeline: dict[str, list[tuple[date, tuple]]] = {}
    for sub, items in changes.items():
        if sub not in owner:
            continue
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        state = SubState(owner[sub])
        points: list[tuple[date, SubState]] = []
        for effective, occurred, _id, etype, data in items:
            if effective.date() > watermark:
                continue
            if etype == "subscription.started":
                state.live = True
                state.price, state.currency = data["price_minor"], data["currency"]
                state.discount = data.get("discount_minor") or 0
                state.period = data["billing_period"]
                trial = data.get("trial_ends_at")
                state.paid_from = (
                    _ts(trial).date()
                    if trial and _ts(trial).date() > occurred.date()
                    else occurred.date()
                )
            elif etype in ("subscription.changed", "subscription.renewed"):
                state.price, state.currency = data["price_minor"], data["currency"]
                state.discount = data.get("discount_minor") or 0
                state.period = data.get("billing_period") or state.period
            elif etype == "subscription.paused":
                state.paused = True
            elif etype == "subscription.resumed":
                state.paused = False
            elif etype == "subscription.ended":
                state.live = False
            points.append((effective.date(), SubState(**vars(state))))
        timeline[sub] = points

    def state_on(sub: str, day: date) -> SubState | None:
        found = None
        for d, s in timeline[sub]:
            if d <= day:
                found = s
            else:
                break
        return found

    subs_of: dict[str, list[str]] = defaultdict(list)
    for sub in timeline:
        subs_of[owner[sub]].append(sub)

    # change days per customer: state changes and trial ends
    change_days: dict[str, set[date]] = defaultdict(set)
    for sub, points in timeline.items():
        for d, s in points:
            change_days[owner[sub]].add(d)
            if s.paid_from and s.paid_from <= watermark:
                change_days[owner[sub]].add(s.paid_from)

    def levels(customer: str, day: date) -> tuple[dict[str, Decimal], int, int]:
        by_currency: dict[str, Decimal] = defaultdict(Decimal)
        live = paused = 0
        for sub in subs_of[customer]:
            s = state_on(sub, day)
            if s is None:
                continue
            by_currency[s.currency] += s.mrr(day)
            live += s.live
            paused += s.live and s.paused
        return by_currency, live, paused

    ref = Reference()
    had_mrr: set[str] = set()
    last_zero_reason: dict[str, str] = {}
    churn_type_rows: list[tuple[date, str, str]] = []
    for customer, days in change_days.items():
        for day in sorted(days):
            before, live_b, paused_b = levels(customer, day - timedelta(days=1))
            after, live_a, paused_a = levels(customer, day)
            a = sum((to_report(v, c, day) for c, v in before.items()), Decimal(0))
            b = sum((to_report(v, c, day) for c, v in after.items()), Decimal(0))
            # (_b: end of yesterday, _a: end of today)
            kind = None
            if a == 0 and b > 0:
                if customer not in had_mrr:
                    kind = "new"
                elif any(day in resumed[sub] for sub in subs_of[customer]):
                    # the way back from a pause; starting another subscription while paused
                    # is not "merely resuming a pause": reactivation
                    kind = "resume"
                else:
                    kind = "reactivation"
            elif a > 0 and b == 0:
                if live_a == 0:
                    kind = "churn"  # the customer's last subscription ended
                elif paused_a > 0:
                    kind = "pause"
                else:
                    # live subscriptions remain (e.g. only a trial): ending one of several
                    # subscriptions is contraction, not churn (METRICS.md)
                    kind = "contraction"
                last_zero_reason[customer] = kind
            elif 0 < a < b:
                kind = "expansion"
            elif 0 < b < a:
                kind = "contraction"
            elif (
                a == 0
                and b == 0
                and live_b > 0
                and live_a == 0
                and (paused_b > 0 or last_zero_reason.get(customer) == "contraction")
            ):
                # the last subscription ends after the MRR already left (ended while paused, or
                # the zero-MRR rest of a contraction to 0): the customer churns now, change 0
                kind = "churn"
                last_zero_reason[customer] = "churn"
            if b > 0:
                had_mrr.add(customer)
            if kind:
                ref.movements.append(Movement(day, customer, kind, b - a, a, b))
                if kind == "churn":
                    churn_type_rows.append(
                        (day, customer, _churn_type(customer, day, subs_of, ended_reason, cancels))
                    )

    # --- monthly -------------------------------------------------------------------------------
    def total_level(day: date) -> dict[str, Decimal]:
        out: dict[str, Decimal] = defaultdict(Decimal)
        for customer in subs_of:
            lv, _, _ = levels(customer, day)
            for c, v in lv.items():
                out[c] += v
        return out

    def mrr_at(day: date) -> tuple[Decimal, set[str]]:
        paying = set()
        total = Decimal(0)
        for customer in subs_of:
            lv, _, _ = levels(customer, day)
            value = sum((to_report(v, c, day) for c, v in lv.items()), Decimal(0))
            if value > 0:
                paying.add(customer)
            total += value
        return total, paying

    month = _month(first_day)
    prev_paying: set[str] = set()
    while month <= watermark:
        nxt = (month + timedelta(days=32)).replace(day=1)
        end = min(nxt - timedelta(days=1), watermark)
        mrr, paying = mrr_at(end)
        fx = Decimal(0)
        day = month
        while day <= end:
            lvl = total_level(day - timedelta(days=1))
            for c, v in lvl.items():
                if v:
                    fx += v * units[c] * (rates[(c, day)] - rates[(c, day - timedelta(days=1))])
            day += timedelta(days=1)
        moves = [m for m in ref.movements if month <= m.movement_date <= end]
        sums = defaultdict(Decimal)
        for m in moves:
            sums[m.movement_type] += m.mrr_change
        churners = {m.customer_id for m in moves if m.movement_type == "churn"}
        types = {c: t for d, c, t in churn_type_rows if month <= d <= end}
        churned_from_start = len(churners & prev_paying)
        money = {
            column: sum((amount for day, amount in rows if month <= day <= end), Decimal(0))
            for column, rows in cash.items()
        }
        ref.months[month] = {
            "mrr": mrr,
            "arr": 12 * mrr,
            "paying_customers": len(paying),
            "paying_customers_at_start": len(prev_paying),
            "new_mrr": sums["new"],
            "expansion_mrr": sums["expansion"],
            "contraction_mrr": sums["contraction"],
            "churned_mrr": sums["churn"],
            "reactivation_mrr": sums["reactivation"],
            "pause_mrr": sums["pause"],
            "resume_mrr": sums["resume"],
            "fx_adjustment": fx,
            "net_new_mrr": sum((sums[k] for k in BUSINESS_MOVEMENTS), Decimal(0)),
            "new_customers": len({m.customer_id for m in moves if m.movement_type == "new"}),
            "churned_customers": len(churners),
            "churned_from_start_customers": churned_from_start,
            # churned in the month among those paying at its start / paying at its start
            "customer_churn_rate": (churned_from_start / len(prev_paying) if prev_paying else None),
            "voluntary_churned_customers": sum(1 for t in types.values() if t == "voluntary"),
            "involuntary_churned_customers": sum(1 for t in types.values() if t == "involuntary"),
            "one_time_revenue": money.get("one_time_revenue", Decimal(0)),
            "payments": money.get("payments", Decimal(0)),
            "refunds": money.get("refunds", Decimal(0)),
            "chargebacks": money.get("chargebacks", Decimal(0)),
        }
        prev_paying = paying
        month = nxt
    return ref


WITHDRAWN = "withdrawn"


def _churn_type(customer, day, subs_of, ended_reason, cancels) -> str:
    """Involuntary when the last subscription ended for payment_failed with no customer
    cancellation requested before; otherwise voluntary.

    A request withdrawn by `subscription.reactivated` (CONTRACT.md: "a pending cancellation was
    withdrawn before it took effect") is no longer a request: a customer who cancelled, changed
    their mind and months later lost the subscription to a failed card churned involuntarily.
    METRICS.md's wording ("no customer-initiated cancellation was requested before") does not
    say so explicitly; dbt_project/README.md states this reading.
    """
    ended = [
        (ended_reason[s][0], s)
        for s in subs_of[customer]
        if s in ended_reason and ended_reason[s][0].date() <= day
    ]
    _, last = max(ended)
    at, reason = ended_reason[last]
    if reason != "payment_failed":
        return "voluntary"
    asked = False  # a customer-initiated request is pending
    for when, by in sorted(cancels.get(last, [])):
        if when > at:
            break
        if by == "customer":
            asked = True
        elif by == WITHDRAWN:
            asked = False
    return "voluntary" if asked else "involuntary"
