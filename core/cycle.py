"""The billing cycle: renewals, trial conversions, dunning retries, scheduled ends and
resumes that are due. Run by `churniq core renew` and by a Dagster schedule.

Each subscription is advanced in its own transaction (one decline never rolls back another),
its row locked; on PostgreSQL concurrent runs skip rows another run holds. A subscription
that is several steps behind (a job that did not run for days) is advanced step by step.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from sqlalchemy import and_, or_, select

from .schema import JobRun, Subscription
from .subscriptions import advance
from .unit import Core

MAX_STEPS = 400  # per subscription and run: a daily plan that missed a year still catches up


def due_filter(now: datetime):
    s = Subscription
    return or_(
        and_(s.status.in_(("trialing", "active")), s.current_period_end <= now),
        and_(s.status == "past_due", s.next_retry_at <= now),
        and_(s.status == "cancellation_pending", s.cancel_at <= now),
        and_(s.status == "paused", s.resume_at <= now),
    )


def run_billing_cycle(core: Core, batch_size: int = 500) -> Counter:
    """Advance every due subscription as of the core's clock; returns what happened."""
    started = core.clock.now()
    done: Counter = Counter()
    skip = core.engine.dialect.name == "postgresql"
    last = ""
    while True:
        with core.unit() as u:
            ids = u.session.scalars(
                select(Subscription.id)
                .where(due_filter(u.now), Subscription.id > last)
                .order_by(Subscription.id)
                .limit(batch_size)
            ).all()
        if not ids:
            break
        last = ids[-1]
        for sub_id in ids:
            for _ in range(MAX_STEPS):
                with core.unit(actor="billing") as u:
                    # the row first, then the time (Unit.now): a step's events are never
                    # earlier than those of the change that held the row before
                    query = select(Subscription).where(Subscription.id == sub_id)
                    sub = u.session.scalar(query.with_for_update(skip_locked=skip))
                    outcome = advance(u, sub) if sub is not None else None
                if outcome is None:
                    break
                done[outcome] += 1
    with core.unit(actor="billing") as u:
        u.session.add(
            JobRun(
                job="renew",
                started_at=started,
                finished_at=core.clock.now(),
                as_of=started,
                summary=dict(done),
            )
        )
    return done
