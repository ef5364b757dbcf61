"""A simulated streaming business that drives the operational core's service layer in-process.

Why. `churniq demo` normally fabricates contract events with the numpy simulator
(`ingestion.simulator`), which never touches the core. `churniq demo --via-core` instead lets a
simulated business *use* the core, through the same service functions the REST API calls
(sign-ups, the daily billing cycle with its renewals, trial conversions and dunning retries,
cancellations, pauses, plan changes, purchases, refunds, support tickets, engagement reports, a
retention campaign), so that every event the dashboards show comes out of the core's
transactional outbox, exactly as in production. Nothing here writes the core's tables or outbox
directly.

Time. The core runs on a `FixedClock` that walks a window of past months day by day and never
goes back: at 02:00 the players report last week's engagement, at 04:00 the nightly billing job
(`run_billing_cycle`) runs, then customers act in eight time slots from 08:00 to 22:00. The
window ends at the start of the current UTC day by default, so every event is in the past.

Behaviour. Latent per-customer traits (engagement and its drift, price sensitivity, support
proneness, acquisition channel) set a monthly churn hazard whose largest term names the
cancellation reason; the card on file is one of the sandbox gateway's test cards, so payments
decline exactly as such cards do (`renewals_fail`: the first charge is paid, every renewal is
declined until dunning ends the subscription for `payment_failed`; `retry_recovers`: each
renewal's first attempt is declined and the retry recovers; `insufficient_funds`: a paid
sign-up is refused, a trial never converts; cards that expire during the window).

Determinism. Every draw comes from one seeded numpy Generator, in an order that depends only on
the simulated state. The core's ids are random, so no decision depends on them; the customer
ids this module chooses sort in sign-up order, so the campaign's seeded control group (drawn
from the sorted ids) is the same for the same seed too.

Speed. The billing cycle runs one transaction per due subscription, as in production; around it
the simulation needs only a handful of transactions per simulated day, because each time slot's
actions share one unit of work, every action inside its own savepoint so that a refusal (a
declined card) undoes that action only.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, select

from core import activity, campaigns, catalog, customers, money, purchases, subscriptions, support
from core.clock import FixedClock
from core.cycle import run_billing_cycle
from core.errors import CoreError, PaymentDeclined
from core.payments import PLATFORM_PROVIDERS
from core.schema import OUTBOX, CampaignMember, Offer, Payment, PaymentMethod, Subscription
from core.unit import Core, Unit
from ingestion.simulator import catalogue as ref

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
ENGAGEMENT_HOUR, BILLING_HOUR, BACK_OFFICE_HOUR = 2, 4, 5
SLOT_HOURS = (8, 10, 12, 14, 16, 18, 20, 22)  # when customers act
N_SLOTS = len(SLOT_HOURS)
ACTOR = "simulator"

# ---------------------------------------------------------------------- reference data
CURRENCIES = ("EUR", "USD", "GBP")
_COUNTRIES = [(c, cur, w) for c, cur, w in ref.COUNTRIES if cur in CURRENCIES]
COUNTRY_CODES = tuple(c for c, _, _ in _COUNTRIES)
COUNTRY_CURRENCY = tuple(cur for _, cur, _ in _COUNTRIES)
COUNTRY_WEIGHTS = np.array([w for _, _, w in _COUNTRIES]) / sum(w for _, _, w in _COUNTRIES)
PLATFORM_WEIGHTS = ref.PLATFORM_WEIGHTS / ref.PLATFORM_WEIGHTS.sum()
CHANNEL_WEIGHTS = ref.CHANNEL_WEIGHTS / ref.CHANNEL_WEIGHTS.sum()
WEB_PROVIDERS = ref.PROVIDERS[:3]  # stripe, adyen, paypal; the stores bill their own platforms
WEB_PROVIDER_WEIGHTS = ref.WEB_PROVIDER_WEIGHTS / ref.WEB_PROVIDER_WEIGHTS.sum()

# offer id, title, type, tier (row of ref.MONTHLY_PRICE), price factor, billing, access, trial
OFFERS: tuple[tuple[str, str, str, int, float, str | None, str | None, str | None], ...] = (
    ("monthly", "Standard Monthly", "subscription", 1, 1.0, "P1M", None, "P7D"),
    ("premium", "Premium Monthly", "subscription", 2, 1.0, "P1M", None, None),
    ("yearly", "Standard Yearly", "subscription", 1, 10.0, "P1Y", None, None),
    ("pass30", "30-Day Pass", "pass", 1, 1.3, None, "P30D", None),
    ("fight_night", "Fight Night (live)", "live_ppv", 2, 1.9, None, None, None),
    ("rental", "New Release Rental", "tvod", 1, 0.45, None, "P2D", None),
)
MONTHLY, PREMIUM, YEARLY, PASS, PPV, RENTAL = (o[0] for o in OFFERS)
PLANS = (MONTHLY, PREMIUM, YEARLY, PASS)  # what a new customer goes for
PLAN_WEIGHTS = np.array([0.56, 0.20, 0.12, 0.12])
PRICE_RISE = 1.15  # the monthly offer's new version, partway through the window

WELCOME, SPRING, SAVE = "WELCOME50", "SPRING30", "STAY40"
CAMPAIGN_ID = "camp_demo_save"
SIGNUP_COUPONS = (None, WELCOME, SPRING)
SIGNUP_COUPON_WEIGHTS = np.array([0.82, 0.12, 0.06])

# the sandbox gateway's test cards (core/payments.py TEST_CARDS) and how often each is on file
CARD_NUMBERS = {
    "approve": "4242424242424242",
    "expiring": "5555555555554444",  # approves until its expiry month passes
    "renewals_fail": "4000000000000341",
    "retry_recovers": "4000000000003220",
    "insufficient_funds": "4000000000009995",
}
CARD_KINDS = tuple(CARD_NUMBERS)
CARD_WEIGHTS = np.array([0.80, 0.04, 0.05, 0.07, 0.04])

NONE, TRIALING, ACTIVE, PAST_DUE, PENDING, PAUSED, ENDED = range(7)
STATUS = {
    "trialing": TRIALING,
    "active": ACTIVE,
    "past_due": PAST_DUE,
    "cancellation_pending": PENDING,
    "paused": PAUSED,
    "ended": ENDED,
}
ACCESS = (TRIALING, ACTIVE, PAST_DUE, PENDING)  # statuses that watch (and can get a coupon)
NEVER = float("inf")

REASONS = ref.CANCEL_REASONS
# ref.REASON_BY_DRIVER rows: baseline, engagement drop, payment failures, support, price
DRIVER_ROWS = (0, 1, 2, 3, 4)
TICKET_CATEGORY_WEIGHTS = np.array([0.15, 0.35, 0.20, 0.20, 0.0, 0.10])  # ref.TICKET_CATEGORIES
TICKET_CHANNEL_WEIGHTS = ref.TICKET_CHANNEL_WEIGHTS / ref.TICKET_CHANNEL_WEIGHTS.sum()


def _price(currency: str, tier: int, factor: float) -> int:
    base = ref.MONTHLY_PRICE[currency][tier] * factor
    return int(base) if factor == 1.0 else max(99, round(base / 100) * 100 - 1)


def _prices(tier: int, factor: float) -> dict[str, int]:
    return {cur: _price(cur, tier, factor) for cur in CURRENCIES}


def demo_window(months: int, end: datetime | None = None) -> tuple[datetime, datetime]:
    """The simulated window: `months` months up to `end` (default: the start of today, UTC).
    Build the core's `FixedClock` at the window start (or earlier)."""
    if end is None:
        end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    end = end.astimezone(UTC) if end.tzinfo else end.replace(tzinfo=UTC)
    return end - relativedelta(months=months), end


@dataclass(frozen=True)
class CoreDemoSummary:
    """What a `simulate_via_core` run wrote: counted from the core's outbox."""

    customers: int
    months: int
    start: datetime
    end: datetime
    events: int
    by_type: dict[str, int]
    billing: dict[str, int]  # outcomes of the billing cycle runs (renewed, failed, ...)
    refused: dict[str, int]  # operations the core refused (declined cards, mostly)
    elapsed_seconds: float

    def __str__(self) -> str:
        main = ("customer.created", "subscription.started", "subscription.renewed",
                "payment.failed", "subscription.ended", "engagement.activity")  # fmt: skip
        counts = ", ".join(f"{self.by_type.get(t, 0):,} {t}" for t in main)
        return (
            f"core demo: {self.customers:,} customers × {self.months} months "
            f"({self.start:%Y-%m-%d} → {self.end:%Y-%m-%d}): {self.events:,} events in the core "
            f"outbox in {self.elapsed_seconds:.1f}s\n  {counts}"
        )


@dataclass
class _Members:
    """The simulated customers as parallel arrays (index = sign-up order)."""

    ids: list[str]
    signup_day: np.ndarray
    signup_slot: np.ndarray
    country: np.ndarray
    platform: np.ndarray
    channel: np.ndarray
    web_provider: np.ndarray
    card: list[str]
    plan: np.ndarray
    coupon: np.ndarray
    expiry_months: np.ndarray  # months after sign-up an `expiring` card expires
    engagement: np.ndarray
    trend: np.ndarray
    price_sensitivity: np.ndarray
    support_prone: np.ndarray
    weekday: np.ndarray
    consent: np.ndarray
    # state, updated as the simulation goes
    status: np.ndarray = field(init=False)
    created: np.ndarray = field(init=False)
    erased: np.ndarray = field(init=False)
    period_end: np.ndarray = field(init=False)  # epoch seconds of the current period's end
    cancel_at: np.ndarray = field(init=False)
    last_end_day: np.ndarray = field(init=False)  # when they last lost access
    pass_until: np.ndarray = field(init=False)  # day index their pass ends
    open_tickets: np.ndarray = field(init=False)
    bad_csat_until: np.ndarray = field(init=False)
    pay_trouble_until: np.ndarray = field(init=False)
    treated_until: np.ndarray = field(init=False)
    signup_ts: np.ndarray = field(init=False)
    offer: list[str | None] = field(init=False)
    sub_id: list[str | None] = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.status = np.full(n, NONE, dtype=np.int8)
        self.created = np.zeros(n, dtype=bool)
        self.erased = np.zeros(n, dtype=bool)
        self.period_end = np.full(n, NEVER)
        self.cancel_at = np.full(n, NEVER)
        self.last_end_day = np.full(n, 10**9, dtype=np.int64)
        self.pass_until = np.full(n, -1, dtype=np.int64)
        self.open_tickets = np.zeros(n, dtype=np.int64)
        self.bad_csat_until = np.full(n, -1, dtype=np.int64)
        self.pay_trouble_until = np.full(n, -1, dtype=np.int64)
        self.treated_until = np.full(n, -1, dtype=np.int64)
        self.signup_ts = np.full(n, NEVER)
        self.offer = [None] * n
        self.sub_id = [None] * n


def _draw_members(rng: np.random.Generator, n: int, n_days: int) -> _Members:
    """Everyone's traits, drawn up front in one fixed order. Sign-ups come steadily with a
    launch bump at the start of the window (more early than late)."""
    weights = 1.6 - np.arange(n_days) / n_days
    days = rng.choice(n_days, size=n, p=weights / weights.sum())
    slots = rng.integers(0, N_SLOTS, n)
    order = np.lexsort((slots, days))
    tag = secrets.token_hex(4)  # ids sort in sign-up order and never clash with another run
    return _Members(
        ids=[f"c_{tag}_{i:06d}" for i in range(n)],
        signup_day=days[order],
        signup_slot=slots[order],
        country=rng.choice(len(COUNTRY_CODES), size=n, p=COUNTRY_WEIGHTS),
        platform=rng.choice(len(ref.PLATFORMS), size=n, p=PLATFORM_WEIGHTS),
        channel=rng.choice(len(ref.CHANNELS), size=n, p=CHANNEL_WEIGHTS),
        web_provider=rng.choice(len(WEB_PROVIDERS), size=n, p=WEB_PROVIDER_WEIGHTS),
        card=[CARD_KINDS[k] for k in rng.choice(len(CARD_KINDS), size=n, p=CARD_WEIGHTS)],
        plan=rng.choice(len(PLANS), size=n, p=PLAN_WEIGHTS),
        coupon=rng.choice(len(SIGNUP_COUPONS), size=n, p=SIGNUP_COUPON_WEIGHTS),
        expiry_months=rng.integers(2, 9, n),
        engagement=rng.beta(2.4, 1.8, n),
        trend=rng.normal(-0.004, 0.012, n),
        price_sensitivity=rng.beta(2.0, 3.0, n),
        support_prone=rng.beta(1.3, 8.0, n),
        weekday=rng.integers(0, 7, n),
        consent=rng.random(n) < 0.55,
    )


Action = tuple  # (kind, member index, *arguments)


class _Business:
    """One simulation run: the members, the clock and the core."""

    def __init__(self, core: Core, customers: int, start: datetime, end: datetime, seed: int):
        self.core = core
        self.clock: FixedClock = core.clock  # type: ignore[assignment]
        self.start, self.end, self.seed = start, end, seed
        self.n_days = -(-int((end - start).total_seconds()) // 86_400)
        self.rng = np.random.default_rng(seed)
        self.m = _draw_members(self.rng, customers, self.n_days)
        self.by_day: dict[int, list[int]] = defaultdict(list)
        for i, day in enumerate(self.m.signup_day):
            self.by_day[int(day)].append(i)
        self.scheduled: dict[tuple[int, int], list[Action]] = defaultdict(list)
        self.campaign_day = int(self.n_days * 0.55)
        self.price_rise_day = int(self.n_days * 0.65)
        self.ppv_start = start + int(self.n_days * 0.6) * DAY + 20 * HOUR
        self.ppv_end = self.ppv_start + 3 * HOUR
        self.terms = np.zeros((4, customers))
        self.billing: Counter = Counter()
        self.refused: Counter = Counter()
        self.day = 0

    # ------------------------------------------------------------------ the run
    def run(self) -> None:
        self.clock.set(self.start)
        self._publish_catalogue()
        for day in range(self.n_days):
            self.day = day
            base = self.start + day * DAY
            if day and day % 7 == 0:
                self._drift()
            if self._at(base + ENGAGEMENT_HOUR * HOUR):
                self._report_engagement(base)
            if self._at(base + BILLING_HOUR * HOUR):
                self.billing.update(run_billing_cycle(self.core))
                self._snapshot()
            if self._at(base + BACK_OFFICE_HOUR * HOUR):
                self._back_office()
            plan = self._plan(base)
            for slot, hour in enumerate(SLOT_HOURS):
                actions = plan[slot] + self.scheduled.pop((day, slot), [])
                if actions and self._at(base + hour * HOUR):
                    self._run_slot(actions)
        self.clock.set(self.end)
        self.billing.update(run_billing_cycle(self.core))

    def _at(self, when: datetime) -> bool:
        """Move the clock to `when` unless that is past the window's end."""
        if when >= self.end:
            return False
        self.clock.set(when)
        return True

    def _run_slot(self, actions: list[Action]) -> None:
        with self.core.unit(actor=ACTOR) as u:
            for kind, i, *args in actions:
                try:
                    with u.session.begin_nested():
                        ACTIONS[kind](self, u, i, *args)
                except CoreError as exc:
                    self.refused[f"{kind}: {exc.code}"] += 1

    # ------------------------------------------------------------------ catalogue
    def _publish_catalogue(self) -> None:
        with self.core.unit(actor=ACTOR) as u:
            if u.session.scalar(select(func.count()).select_from(Offer)):
                raise ValueError("the core demo needs an empty core database (it has offers)")
            for offer_id, title, kind, tier, factor, billing, access, trial in OFFERS:
                live = kind == "live_ppv"
                catalog.create_offer(
                    u, offer_id=offer_id, title=title, offer_type=kind,
                    prices=_prices(tier, factor), billing_period=billing, access_period=access,
                    trial_period=trial, event_starts_at=self.ppv_start if live else None,
                    event_ends_at=self.ppv_end if live else None,
                )  # fmt: skip
            catalog.create_coupon(u, coupon_id=WELCOME, discount_type="percent", percent_off=50)
            catalog.create_coupon(
                u, coupon_id=SPRING, discount_type="percent", percent_off=30,
                duration="repeating", duration_months=3,
            )  # fmt: skip
            catalog.create_coupon(
                u, coupon_id=SAVE, discount_type="percent", percent_off=40,
                duration="repeating", duration_months=2, campaign_id=CAMPAIGN_ID,
            )  # fmt: skip

    # ------------------------------------------------------------------ behaviour model
    def _drift(self) -> None:
        m = self.m
        noise = self.rng.normal(0.0, 0.03, len(m.ids))
        m.engagement = np.clip(m.engagement + m.trend + noise, 0.02, 1.0)

    def _contributions(self) -> np.ndarray:
        """Log-hazard terms per member: engagement drop, payment trouble, support, price."""
        m, day = self.m, self.day
        premium = np.array([o == PREMIUM for o in m.offer])
        treated = m.treated_until > day
        return np.stack(
            [
                2.4 * np.clip(0.5 - m.engagement, 0.0, None),
                np.where(m.pay_trouble_until > day, 1.0, 0.0),
                0.6 * m.open_tickets + np.where(m.bad_csat_until > day, 0.8, 0.0),
                1.2 * m.price_sensitivity * np.where(premium, 1.3, 1.0) - np.where(treated, 1.0, 0),
            ]
        )

    def _monthly_hazard(self, terms: np.ndarray) -> np.ndarray:
        m = self.m
        yearly = np.array([o == YEARLY for o in m.offer])
        shift = ref.CHANNEL_HAZARD[m.channel] - np.where(yearly, 0.7, 0.0)
        return np.minimum(0.9, 0.022 * np.exp(terms.sum(axis=0) + shift))

    def _reason(self, terms: np.ndarray, i: int) -> str:
        top = int(np.argmax(terms[:, i]))
        row = DRIVER_ROWS[top + 1] if terms[top, i] >= 0.35 else DRIVER_ROWS[0]
        return str(REASONS[self.rng.choice(len(REASONS), p=ref.REASON_BY_DRIVER[row])])

    # ------------------------------------------------------------------ daily planning
    def _plan(self, base: datetime) -> list[list[Action]]:
        """Today's actions, per slot: sign-ups and the day's draws (follow-ups scheduled by
        earlier actions join their slot when it comes)."""
        m, day, n = self.m, self.day, len(self.m.ids)
        slots: list[list[Action]] = [[] for _ in SLOT_HOURS]
        for i in self.by_day.get(day, ()):
            slots[int(m.signup_slot[i])].append(("sign_up", i))
        r = self.rng.random((n, 8))
        slot = self.rng.integers(0, N_SLOTS, n)
        when = base.timestamp() + np.array(SLOT_HOURS)[slot] * 3600.0
        ok = m.created & ~m.erased
        busy = ~ok
        self.terms = terms = self._contributions()
        daily = 1.0 - np.power(1.0 - self._monthly_hazard(terms), 1.0 / 30.4)
        st, eng = m.status, m.engagement
        current = m.period_end > when  # the nightly job has nothing due for them yet

        def pick(kind: str, mask: np.ndarray, *args) -> np.ndarray:
            chosen = np.flatnonzero(mask & ~busy)
            busy[chosen] = True
            for i in chosen:
                slots[int(slot[i])].append((kind, int(i), *args))
            return chosen

        trial_quit = 0.035 * (1.5 - eng)
        quits = ((st == TRIALING) & (r[:, 0] < trial_quit)) | ((st == ACTIVE) & (r[:, 0] < daily))
        pick("cancel", current & quits, "churn")
        pick("cancel", (st == PAST_DUE) & (r[:, 0] < 0.03), "dunning")
        # told their renewal failed, some put a working card on the subscription
        pick("fix_card", (st == PAST_DUE) & (r[:, 0] >= 0.03) & (r[:, 0] < 0.07))
        pick("cancel", (st == PAUSED) & (r[:, 0] < 0.004), "paused")
        react = np.where(m.treated_until > day, 0.08, 0.02)
        pick("reactivate", (st == PENDING) & (m.cancel_at > when) & (r[:, 1] < react))
        pick("pause", current & (st == ACTIVE) & (r[:, 2] < 0.0008 * (1.3 - eng)))
        pick("resume", (st == PAUSED) & (r[:, 2] < 0.03))
        on = np.array([o or "" for o in m.offer])
        live = current & ((st == ACTIVE) | (st == TRIALING))
        pick("change", live & (on == MONTHLY) & (r[:, 3] < 0.0025 * eng), PREMIUM)
        pick("change", live & (on == PREMIUM) & (r[:, 3] < 0.003 * m.price_sensitivity), MONTHLY)
        pick("change", live & (on == MONTHLY) & (eng > 0.6) & (r[:, 3] > 0.9994), YEARLY)
        lapsed = ((st == ENDED) | (st == NONE)) & (m.last_end_day <= day - 10)
        pick("win_back", lapsed & (m.pass_until <= day) & (r[:, 4] < 0.0025 * (0.4 + eng)))
        expiring = m.pass_until == day
        renewed = pick("pass_renewal", expiring & (r[:, 4] < 0.55))
        expiring[renewed] = False
        m.last_end_day[expiring & ((st == NONE) | (st == ENDED))] = day
        pick("chargeback", (st == ACTIVE) & current & (r[:, 7] < 0.00004))
        pick("update", (r[:, 7] > 0.5) & (r[:, 7] < 0.5001))
        quiet = (st == ENDED) & (m.last_end_day < day - 30) & (m.open_tickets == 0)
        pick("erase", quiet & (r[:, 7] > 0.9996))
        self._plan_independent(slots, slot, when, ok, r)
        return slots

    def _plan_independent(
        self, slots: list[list[Action]], slot: np.ndarray, when: np.ndarray, ok: np.ndarray,
        r: np.ndarray,
    ) -> None:  # fmt: skip
        """Purchases and support tickets: not exclusive with the subscription's actions."""
        m, day = self.m, self.day
        eng = m.engagement
        ppv = (when >= (self.ppv_start - 21 * DAY).timestamp()) & (when < self.ppv_end.timestamp())
        trouble = (m.pay_trouble_until > day) | (m.status == PAST_DUE)
        p_ticket = 0.02 * m.support_prone + np.where(trouble, 0.02, 0.0)
        for kind, mask in (
            ("buy_rental", ok & (r[:, 6] < 0.006 * (0.3 + eng))),
            ("buy_ppv", ok & ppv & (r[:, 6] > 1 - 0.02 * eng)),
            ("open_ticket", ok & (r[:, 5] < p_ticket)),
        ):
            for i in np.flatnonzero(mask):
                slots[int(slot[i])].append((kind, int(i)))

    # ------------------------------------------------------------------ reads of the core
    def _snapshot(self) -> None:
        """After the billing run: every live subscription's status, period end, cancel date."""
        m, s = self.m, Subscription
        with self.core.engine.connect() as conn:
            rows = conn.execute(
                select(s.id, s.status, s.current_period_end, s.cancel_at).where(s.status != "ended")
            ).all()
        live = {r[0]: r[1:] for r in rows}
        for i in np.flatnonzero((m.status > NONE) & (m.status < ENDED)):
            row = live.get(m.sub_id[i] or "")
            if row is None:
                self._lost_access(int(i))
                continue
            m.status[i] = STATUS[row[0]]
            m.period_end[i] = row[1].timestamp()
            m.cancel_at[i] = row[2].timestamp() if row[2] else NEVER
            if m.status[i] == PAST_DUE:
                m.pay_trouble_until[i] = self.day + 30

    def _lost_access(self, i: int) -> None:
        self.m.status[i] = ENDED
        self.m.period_end[i] = self.m.cancel_at[i] = NEVER
        self.m.last_end_day[i] = self.day

    def _latest_payment(
        self, u: Unit, i: int, *, within: timedelta | None = None, any_payment: bool = False
    ) -> Payment | None:
        """The member's newest payment with money left to give back: of their current
        subscription (or of anything with `any_payment`), made `within` the last while."""
        p = Payment
        query = select(p).where(
            p.customer_id == self.m.ids[i],
            p.status == "succeeded",
            p.amount_minor > p.refunded_minor + p.charged_back_minor,
        )
        if not any_payment:
            query = query.where(p.subscription_id == self.m.sub_id[i])
        if within is not None:
            query = query.where(p.created_at >= u.now - within)
        return u.session.scalar(
            query.order_by(p.created_at.desc(), p.amount_minor.desc(), p.id).limit(1)
        )

    # ------------------------------------------------------------------ scheduled work
    def _report_engagement(self, base: datetime) -> None:
        """The players' weekly report of each watching customer (one transaction a night)."""
        m, n = self.m, len(self.m.ids)
        r, noise = self.rng.random(n), self.rng.lognormal(0.0, 0.4, n)
        other = self.rng.choice(len(ref.PLATFORMS), size=n, p=PLATFORM_WEIGHTS)
        device = np.where(self.rng.random(n) < 0.75, m.platform, other)
        watching = np.isin(m.status, ACCESS) | (m.pass_until > self.day - 7)
        due = m.created & ~m.erased & (m.weekday == self.day % 7) & watching
        idx = np.flatnonzero(due & (r < 0.25 + 0.75 * m.engagement) & (self.day > 0))
        if not len(idx):
            return
        with self.core.unit(actor="players") as u:
            for i in idx:
                since = max(base - 7 * DAY, datetime.fromtimestamp(m.signup_ts[i], UTC))
                minutes = int(20 + 900 * m.engagement[i] * noise[i])
                activity.record_activity(
                    u, customer_id=m.ids[i], period_start=since, period_end=base,
                    minutes_watched=minutes, sessions=max(1, minutes // 45),
                    platform=ref.PLATFORMS[device[i]],
                )  # fmt: skip

    def _back_office(self) -> None:
        """The merchant's own work of the day: the retention campaign, the price rise."""
        if self.day == self.campaign_day:
            self._campaign()
        if self.day == self.price_rise_day:
            with self.core.unit(actor=ACTOR) as u:
                catalog.new_offer_version(u, MONTHLY, prices=_prices(1, PRICE_RISE))

    def _campaign(self) -> None:
        """A coupon for the quarter of live subscribers most at risk, 20 % held out."""
        m = self.m
        hazard = self._monthly_hazard(self._contributions())
        eligible = np.flatnonzero(np.isin(m.status, ACCESS) & ~m.erased)
        if len(eligible) < 2:
            return
        order = eligible[np.lexsort((eligible, -hazard[eligible]))]
        chosen = order[: max(2, round(0.25 * len(eligible)))]
        with self.core.unit(actor="retention") as u:
            campaigns.launch_campaign(
                u, name="Save the at-risk (demo)", coupon_id=SAVE,
                customer_ids=[m.ids[i] for i in chosen], control_share=0.2, seed=self.seed,
                campaign_id=CAMPAIGN_ID,
            )  # fmt: skip
            groups = dict(
                u.session.execute(
                    select(CampaignMember.customer_id, CampaignMember.group).where(
                        CampaignMember.campaign_id == CAMPAIGN_ID
                    )
                ).all()
            )
        for i in chosen:
            if groups.get(m.ids[i]) == "treatment":
                m.treated_until[i] = self.day + 75

    def _later(self, slots_ahead: int, action: Action) -> None:
        """Schedule `action` `slots_ahead` customer slots after the current one."""
        now = SLOT_HOURS.index(self.clock.now().hour)
        at = self.day * N_SLOTS + now + slots_ahead
        self.scheduled[(at // N_SLOTS, at % N_SLOTS)].append(action)

    # ------------------------------------------------------------------ customer actions
    def _sign_up(self, u: Unit, i: int) -> None:
        m = self.m
        customers.create_customer(
            u, customer_id=m.ids[i], country=COUNTRY_CODES[m.country[i]],
            signup_platform=ref.PLATFORMS[m.platform[i]],
            acquisition_channel=ref.CHANNELS[m.channel[i]],
            marketing_consent=bool(m.consent[i]),
        )  # fmt: skip
        self._add_card(u, i, m.card[i])
        plan = PLANS[m.plan[i]]
        if plan == PASS:
            self._buy(u, i, PASS)
        else:
            self._subscribe(u, i, plan, SIGNUP_COUPONS[m.coupon[i]])
        m.created[i] = True
        m.signup_ts[i] = u.now.timestamp()

    def _add_card(self, u: Unit, i: int, kind: str) -> PaymentMethod:
        m = self.m
        exp = u.now + relativedelta(months=int(m.expiry_months[i]))
        month, year = (exp.month, exp.year) if kind == "expiring" else (12, u.now.year + 6)
        platform = ref.PLATFORMS[m.platform[i]]
        provider = WEB_PROVIDERS[m.web_provider[i]] if platform == "web" else None
        method = customers.add_payment_method(
            u, m.ids[i], provider=provider or PLATFORM_PROVIDERS[platform],
            card_number=CARD_NUMBERS[kind], exp_month=month, exp_year=year,
        )  # fmt: skip
        m.card[i] = kind
        return method

    def _fix_card(self, u: Unit, i: int) -> None:
        """A new card on a subscription in dunning: the next billing run retries with it."""
        method = self._add_card(u, i, "approve")
        subscriptions.update_payment_method(u, self.m.sub_id[i], payment_method_id=method.id)

    def _subscribe(self, u: Unit, i: int, offer: str, coupon: str | None = None) -> None:
        m = self.m
        try:
            with u.session.begin_nested():
                sub = subscriptions.start_subscription(
                    u, customer_id=m.ids[i], offer_id=offer,
                    platform=ref.PLATFORMS[m.platform[i]],
                    currency=COUNTRY_CURRENCY[m.country[i]], coupon_id=coupon,
                )  # fmt: skip
        except PaymentDeclined:
            self.refused["subscribe: payment_declined"] += 1
            m.last_end_day[i] = self.day
            if self.rng.random() < 0.6:  # comes back with another card in a day or three
                self._later(int(self.rng.integers(N_SLOTS, 3 * N_SLOTS)), ("new_card", i, offer))
            return
        m.sub_id[i], m.offer[i] = sub.id, offer
        m.status[i] = STATUS[sub.status]
        m.period_end[i] = sub.current_period_end.timestamp()
        m.cancel_at[i] = NEVER

    def _new_card(self, u: Unit, i: int, offer: str) -> None:
        self._add_card(u, i, "approve")
        if self.m.status[i] in (NONE, ENDED):
            self._subscribe(u, i, offer)

    def _win_back(self, u: Unit, i: int) -> None:
        if self.m.card[i] != "approve":
            self._add_card(u, i, "approve")
        offer = MONTHLY if self.rng.random() < 0.75 else PREMIUM
        self._subscribe(u, i, offer, WELCOME if self.rng.random() < 0.3 else None)

    def _cancel(self, u: Unit, i: int, why: str) -> None:
        m = self.m
        reason = {"dunning": "payment_failed", "paused": "not_using"}.get(why)
        reason = reason or self._reason(self.terms, i)
        sub = subscriptions.cancel_subscription(u, m.sub_id[i], reason=reason)
        if sub.status == "ended":
            self._lost_access(i)
            return
        wants_money_back = self.rng.random() < 0.15
        paid = self._latest_payment(u, i, within=14 * DAY) if wants_money_back else None
        if paid is not None:  # a recent charge refunded in full: access ends now
            money.refund_payment(u, paid.id, reason="requested_by_customer", end_access=True)
            self._lost_access(i)
            return
        m.status[i], m.cancel_at[i] = PENDING, sub.cancel_at.timestamp()

    def _reactivate(self, u: Unit, i: int) -> None:
        sub = subscriptions.reactivate_subscription(u, self.m.sub_id[i])
        self.m.status[i], self.m.cancel_at[i] = STATUS[sub.status], NEVER

    def _pause(self, u: Unit, i: int) -> None:
        resume_at = u.now + int(self.rng.integers(14, 46)) * DAY
        subscriptions.pause_subscription(u, self.m.sub_id[i], resume_at=resume_at)
        self.m.status[i] = PAUSED

    def _resume(self, u: Unit, i: int) -> None:
        sub = subscriptions.resume_subscription(u, self.m.sub_id[i])
        self.m.status[i], self.m.period_end[i] = ACTIVE, sub.current_period_end.timestamp()

    def _change(self, u: Unit, i: int, offer: str) -> None:
        subscriptions.change_offer(u, self.m.sub_id[i], offer_id=offer)
        self.m.offer[i] = offer

    def _chargeback(self, u: Unit, i: int) -> None:
        paid = self._latest_payment(u, i)
        if paid is None:
            return
        money.record_chargeback(u, paid.id, reason=str(self.rng.choice(ref.CHARGEBACK_REASONS)))
        subscriptions.end_subscription(u, self.m.sub_id[i], reason="merchant")
        self._lost_access(i)

    def _update(self, u: Unit, i: int) -> None:
        consent = not self.m.consent[i]
        customers.update_customer(u, self.m.ids[i], marketing_consent=consent)
        self.m.consent[i] = consent

    def _erase(self, u: Unit, i: int) -> None:
        customers.erase_customer(u, self.m.ids[i])
        self.m.erased[i] = True

    def _buy(self, u: Unit, i: int, offer: str) -> None:
        m = self.m
        try:
            with u.session.begin_nested():
                purchases.buy(
                    u, customer_id=m.ids[i], offer_id=offer,
                    platform=ref.PLATFORMS[m.platform[i]],
                    currency=COUNTRY_CURRENCY[m.country[i]],
                )  # fmt: skip
        except PaymentDeclined:
            self.refused[f"buy {offer}: payment_declined"] += 1
            if m.status[i] == NONE and m.last_end_day[i] > self.day:
                m.last_end_day[i] = self.day  # may come back later with another card
            return
        if offer == PASS:
            m.pass_until[i] = self.day + 30

    def _open_ticket(self, u: Unit, i: int) -> None:
        m, rng = self.m, self.rng
        if m.status[i] == PAST_DUE or m.pay_trouble_until[i] > self.day:
            category = "billing"
        elif m.status[i] == PENDING:
            category = "cancellation"
        else:
            category = ref.TICKET_CATEGORIES[rng.choice(6, p=TICKET_CATEGORY_WEIGHTS)]
        priority = str(rng.choice(ref.TICKET_PRIORITIES, p=[0.2, 0.55, 0.2, 0.05]))
        channel = ref.TICKET_CHANNELS[rng.choice(5, p=TICKET_CHANNEL_WEIGHTS)]
        ticket = support.open_ticket(
            u, customer_id=m.ids[i], channel=channel, category=category, priority=priority
        )
        m.open_tickets[i] += 1
        wait = int(rng.integers(1, 4 if priority in ("high", "urgent") else 20))
        csat = (
            None if rng.random() < 0.2 else int(np.clip(round(rng.normal(4.6 - wait / 6, 1)), 1, 5))
        )
        self._later(wait, ("resolve_ticket", i, ticket.id, csat, category == "billing"))

    def _resolve_ticket(
        self, u: Unit, i: int, ticket_id: str, csat: int | None, billing: bool
    ) -> None:
        support.resolve_ticket(u, ticket_id, csat=csat)
        m = self.m
        m.open_tickets[i] -= 1
        if csat is not None and csat <= 2:
            m.bad_csat_until[i] = self.day + 45
        if billing and self.rng.random() < 0.3 and not m.erased[i]:
            paid = self._latest_payment(u, i, any_payment=True)
            if paid is not None:
                money.refund_payment(
                    u, paid.id, amount_minor=max(1, paid.amount_minor // 2), reason="service_issue"
                )


ACTIONS: dict[str, Callable[..., None]] = {
    "sign_up": _Business._sign_up,
    "new_card": _Business._new_card,
    "win_back": _Business._win_back,
    "cancel": _Business._cancel,
    "reactivate": _Business._reactivate,
    "pause": _Business._pause,
    "resume": _Business._resume,
    "change": _Business._change,
    "chargeback": _Business._chargeback,
    "update": _Business._update,
    "fix_card": _Business._fix_card,
    "erase": _Business._erase,
    "pass_renewal": lambda b, u, i: b._buy(u, i, PASS),
    "buy_rental": lambda b, u, i: b._buy(u, i, RENTAL),
    "buy_ppv": lambda b, u, i: b._buy(u, i, PPV),
    "open_ticket": _Business._open_ticket,
    "resolve_ticket": _Business._resolve_ticket,
}


def _outbox_counts(core: Core) -> dict[str, int]:
    with core.engine.connect() as conn:
        rows = conn.execute(
            select(OUTBOX.c.event_type, func.count()).group_by(OUTBOX.c.event_type)
        ).all()
    return {event_type: int(n) for event_type, n in sorted(rows)}


def simulate_via_core(
    core: Core, *, customers: int, months: int, seed: int, end: datetime | None = None
) -> CoreDemoSummary:
    """Run a simulated streaming business of `customers` sign-ups over the `months` months
    before `end` (default: the start of today, UTC) through the core's service layer.

    `core` must be on a migrated, empty database with a `FixedClock` at or before the window's
    start (see `demo_window`); the clock ends at `end`. Same seed, same business."""
    if not isinstance(core.clock, FixedClock):
        raise ValueError("simulate_via_core needs a core built with a core.clock.FixedClock")
    if customers < 1 or months < 1:
        raise ValueError("customers and months must be at least 1")
    start, end = demo_window(months, end)
    if end > datetime.now(UTC):
        raise ValueError(
            f"the window must end in the past (ingestion refuses future events): {end}"
        )
    if core.clock.now() > start:
        raise ValueError(
            f"the core's clock is at {core.clock.now():%Y-%m-%d %H:%M}, after the window start "
            f"{start:%Y-%m-%d %H:%M}; build it with FixedClock(demo_window(months, end)[0])"
        )
    started = time.perf_counter()
    business = _Business(core, customers, start, end, seed)
    business.run()
    by_type = _outbox_counts(core)
    return CoreDemoSummary(
        customers=customers,
        months=months,
        start=start,
        end=end,
        events=sum(by_type.values()),
        by_type=by_type,
        billing=dict(sorted(business.billing.items())),
        refused=dict(sorted(business.refused.items())),
        elapsed_seconds=time.perf_counter() - started,
    )
