"""The simulation engine: every customer steps forward together, one day at a time, on numpy arrays.

Latent state per customer (engagement level and trend, payment risk, technical trouble, price
sensitivity, frailty) drives a monthly churn hazard recomputed weekly; the hazard's additive
log-contributions name the main driver, which is recorded as ground truth together with the
hazard itself. Scheduled things (renewal charges, dunning retries, trial ends, pending
cancellations, pause ends) happen at their exact timestamps; behavioural things (cancellations,
tier changes, purchases, support tickets, win-backs) are daily Bernoulli draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

from . import catalogue as cat
from .clock import SEC_DAY, add_months, add_months_date, epoch_day
from .events import EventBuffer

# status codes
NONE, TRIAL, ACTIVE, DUNNING, PAUSED = 0, 1, 2, 3, 4
STATUS_NAMES = ("none", "trial", "active", "dunning", "paused", "cancel_pending")
# how a customer's last subscription ended (truth)
END_VOL, END_INVOL, END_TRIAL, END_REFUND = 0, 1, 2, 3
END_NAMES = ("voluntary", "involuntary", "trial_not_converted", "voluntary_refund")

DRIVERS_TRUTH = cat.DRIVERS
D_BASE, D_ENG, D_PAY, D_SUP, D_PRICE, D_OFFER, D_TENURE = range(7)

BASE_MONTHLY_HAZARD = 0.021
DRIVER_THRESHOLD = 0.35
WINBACK_MONTHLY = 0.03
PASS_ONLY_SHARE = 0.05


def _daily(h_month: np.ndarray) -> np.ndarray:
    return 1.0 - np.power(1.0 - h_month, 1.0 / 30.4)


@dataclass
class EngineResult:
    tables: dict[str, dict[str, np.ndarray]]
    published: list
    catalogue: cat.Catalogue
    truth_monthly: dict[str, np.ndarray]
    truth_customers: dict[str, np.ndarray]
    start_ts: int
    end_ts: int
    extra: dict = field(default_factory=dict)


class Engine:
    def __init__(self, customers: int, months: int, seed: int, start: date):
        if customers < 1 or months < 1:
            raise ValueError("customers and months must be positive")
        self.n = customers
        self.months = months
        self.seed = seed
        self.start = start
        self.rng = np.random.default_rng(seed)
        self.cat = cat.build_catalogue(start, months)
        self.start_day = epoch_day(start)
        self.end_day = epoch_day(add_months_date(start, months))
        self.n_days = self.end_day - self.start_day
        self.start_ts = self.start_day * SEC_DAY
        self.end_ts = self.end_day * SEC_DAY
        c = self.cat
        self.rise_day = epoch_day(c.price_rise_day) if c.price_rise_day else 1 << 40
        self.rise_effective_ts = (self.rise_day + 30) * SEC_DAY
        self.ppv_days = {epoch_day(d): i for i, d in enumerate(c.ppv_days)}
        self.buf = EventBuffer()
        self.pay_seq = 0
        self.purchase_seq = 0
        self.ticket_seq = 0
        self.refund_seq = 0
        self.refunded_payments: list[np.ndarray] = []
        self.truth_rows: dict[str, list[np.ndarray]] = {
            k: [] for k in ("cust", "as_of", "propensity", "hazard", "driver", "status")
        }
        self._init_customers()

    # ------------------------------------------------------------------ setup
    def _init_customers(self) -> None:
        n, rng = self.n, self.rng
        t = np.arange(self.n_days)
        days = (self.start_day + t).astype("datetime64[D]")
        months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
        dom = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
        doy = (days - days.astype("datetime64[Y]").astype("datetime64[D]")).astype(np.int64)
        w = np.exp(np.log(1.7) * t / 365.0) * (1.0 + 0.22 * np.cos(2 * np.pi * (doy - 10) / 365.0))
        self.bf_day = ((months == 11) & (dom >= 24)) | ((months == 12) & (dom <= 1))
        w = w * np.where(self.bf_day, 2.5, 1.0) * np.where((months == 1) & (dom <= 7), 1.3, 1.0)
        for pd in self.ppv_days:
            k = pd - self.start_day
            w[max(0, k - 3) : k + 1] *= 1.8
        w = w / w.sum()
        offs = np.sort(rng.choice(self.n_days, size=n, p=w))
        self.signup_day = (self.start_day + offs).astype(np.int64)
        self.day_ptr = np.searchsorted(offs, np.arange(self.n_days + 1))
        hour_w = np.array(
            [
                1,
                0.6,
                0.4,
                0.3,
                0.3,
                0.4,
                0.8,
                1.2,
                1.5,
                1.8,
                2,
                2.1,
                2.3,
                2.3,
                2.2,
                2.2,
                2.4,
                2.8,
                3.3,
                3.8,
                4,
                3.6,
                2.6,
                1.6,
            ]
        )
        self.signup_tod = (
            rng.choice(24, size=n, p=hour_w / hour_w.sum()) * 3600 + rng.integers(0, 3540, size=n)
        ).astype(np.int64)
        country_w = np.array([c[2] for c in cat.COUNTRIES])
        self.country = rng.choice(len(cat.COUNTRIES), size=n, p=country_w / country_w.sum())
        cur_of_country = np.array([cat.CURRENCIES.index(c[1]) for c in cat.COUNTRIES])
        self.currency = cur_of_country[self.country]
        self.platform = rng.choice(len(cat.PLATFORMS), size=n, p=cat.PLATFORM_WEIGHTS)
        web_prov = rng.choice(3, size=n, p=cat.WEB_PROVIDER_WEIGHTS)
        store = np.array([0, 3, 4, 5, 6])[self.platform]
        self.provider = np.where(self.platform == 0, web_prov, store)
        self.method = cat.PROVIDER_METHOD[self.provider]
        self.channel = rng.choice(len(cat.CHANNELS), size=n, p=cat.CHANNEL_WEIGHTS)
        self.consent = (rng.random(n) < 0.55).astype(np.int64)
        self.eng_mu = rng.normal(5.2, 0.6, n)
        self.frailty = np.exp(rng.normal(-0.125, 0.5, n))
        self.pay_risk = np.exp(rng.normal(-0.18, 0.6, n))
        self.price_sens = rng.uniform(0.4, 1.6, n)
        self.tech = np.exp(rng.normal(-0.3, 0.8, n))
        self.pass_only = rng.random(n) < PASS_ONLY_SHARE

        i64 = lambda v=0: np.full(n, v, dtype=np.int64)  # noqa: E731
        f64 = lambda v=0.0: np.full(n, v, dtype=np.float64)  # noqa: E731
        self.status = np.zeros(n, dtype=np.int8)
        self.signed_up = np.zeros(n, dtype=bool)
        self.had_sub = np.zeros(n, dtype=bool)
        self.sub_k = i64(0)
        self.first_offer = i64(-1)
        self.offer = i64(-1)
        self.price = i64()
        self.disc = i64()
        self.coupon = i64(-1)
        self.coupon_left = i64(0)
        self.pv = i64()
        self.anchor = i64()
        self.paid = i64()
        self.due_ts = i64(1 << 50)
        self.due_day = i64(1 << 40)
        self.trial_end_ts = i64(-1)
        self.trial_fail = np.zeros(n, dtype=bool)
        self.trial_cancel_day = i64(-1)
        self.p_conv = f64(1.0)
        self.pending = np.zeros(n, dtype=bool)
        self.eff_ts = i64(-1)
        self.eff_day = i64(-1)
        self.withdraw_day = i64(-1)
        self.dun_attempt = i64()
        self.dun_code = i64()
        self.dun_due_ts = i64()
        self.retry_day = i64(-1)
        self.retry_ts = i64()
        self.resume_ts = i64()
        self.resume_day = i64(-1)
        self.last_ts = i64()
        self.last_pay_id = i64(-1)
        self.last_pay_amt = i64()
        self.last_paid_day = i64(-(1 << 40))
        self.tenure_start = i64()
        self.end_day = i64(-1)
        self.end_type = i64(-1)
        self.n_subs = i64()
        self.pass_until = i64(-1)
        self.eng = self.eng_mu.copy()
        self.eng_slow = self.eng_mu.copy()
        self.decline = np.zeros(n, dtype=bool)
        self.decline_rate = f64()
        self.pf_recent = f64()
        self.sup_bad = f64()
        self.price_shock = f64()
        self.hazard = f64(BASE_MONTHLY_HAZARD)
        self.driver = i64(D_BASE)
        self.active_days = i64()

    # ------------------------------------------------------------------ helpers
    def _times(self, idx: np.ndarray, day: int) -> np.ndarray:
        """Random time on `day` for a behavioural event, after the customer's last event."""
        ts = day * SEC_DAY + self.rng.integers(0, SEC_DAY - 600, size=idx.size)
        ts = np.maximum(ts, self.last_ts[idx] + 1)
        return ts

    def _touch(self, idx: np.ndarray, ts: np.ndarray) -> None:
        self.last_ts[idx] = np.maximum(self.last_ts[idx], ts)

    def _payment_failed(self, idx, ts, ids, code, attempt) -> None:
        """A declined charge of the current net price of each subscription in `idx`."""
        self.buf.add(
            "payment.failed",
            ts,
            idx,
            payment_id=ids,
            sub_k=self.sub_k[idx],
            amount_minor=self.price[idx] - self.disc[idx],
            currency=self.currency[idx],
            provider=self.provider[idx],
            method=self.method[idx],
            failure_code=code,
            attempt=attempt,
        )

    def _ids(self, attr: str, k: int) -> np.ndarray:
        start = getattr(self, attr)
        setattr(self, attr, start + k)
        return np.arange(start, start + k, dtype=np.int64)

    def _list_price(self, offer: np.ndarray, day: int) -> np.ndarray:
        c = self.cat
        return np.where(c.rises[offer] & (day >= self.rise_day), c.price_new[offer], c.price[offer])

    def _discount(self, price: np.ndarray, coupon: np.ndarray, currency: np.ndarray) -> np.ndarray:
        out = np.zeros(price.size, dtype=np.int64)
        has = coupon >= 0
        if not has.any():
            return out
        kind = np.array([0 if c[2] == "percent" else 1 for c in cat.COUPONS])
        value = np.array([c[3] for c in cat.COUPONS])
        scale = np.array([cat.AMOUNT_SCALE[c] for c in cat.CURRENCIES])
        cp = np.maximum(coupon, 0)
        pct = np.round(price * value[cp] / 100.0).astype(np.int64)
        amt = np.minimum(np.round(value[cp] * scale[currency]).astype(np.int64), price // 2)
        return np.where(has, np.where(kind[cp] == 0, pct, amt), 0)

    def _coupon_value(self, coupon: np.ndarray, currency: np.ndarray) -> np.ndarray:
        value = np.array([c[3] for c in cat.COUPONS])
        kind = np.array([0 if c[2] == "percent" else 1 for c in cat.COUPONS])
        scale = np.array([cat.AMOUNT_SCALE[c] for c in cat.CURRENCIES])
        return np.where(
            kind[coupon] == 0,
            value[coupon],
            np.round(value[coupon] * scale[currency]).astype(np.int64),
        )

    def _pay_ok(self, idx, ts, amount, sub_k=None, purchase=None) -> np.ndarray:
        ids = self._ids("pay_seq", idx.size)
        self.buf.add(
            "payment.succeeded",
            ts,
            idx,
            payment_id=ids,
            sub_k=-1 if sub_k is None else sub_k,
            purchase_id=-1 if purchase is None else purchase,
            amount_minor=amount,
            currency=self.currency[idx],
            provider=self.provider[idx],
            method=self.method[idx],
        )
        return ids

    def _ticket(self, idx, ts, category) -> None:
        """Open (and later resolve) support tickets; feeds the support-trouble latent."""
        rng, k = self.rng, idx.size
        if k == 0:
            return
        ids = self._ids("ticket_seq", k)
        channel = rng.choice(len(cat.TICKET_CHANNELS), size=k, p=cat.TICKET_CHANNEL_WEIGHTS)
        urgent = np.isin(category, (0, 1))
        u = rng.random(k)
        priority = np.where(
            u < np.where(urgent, 0.12, 0.30),
            0,
            np.where(
                u < np.where(urgent, 0.62, 0.85),
                1,
                np.where(u < np.where(urgent, 0.92, 0.98), 2, 3),
            ),
        )
        self.buf.add(
            "support.ticket_opened",
            ts,
            idx,
            ticket_id=ids,
            channel=channel,
            category=category,
            priority=priority,
        )
        minutes = np.exp(
            rng.normal(5.0, 1.2, k)
            + np.where(category == 1, 0.6, 0.0)
            + 0.25 * np.log(self.tech[idx])
        )
        minutes = np.maximum(3, np.round(minutes)).astype(np.int64)
        csat_raw = (
            4.7
            - 0.35 * np.log(minutes / 60.0)
            - 0.4 * (self.tech[idx] > 2)
            - 0.4 * (category == 0)
            + rng.normal(0, 0.9, k)
        )
        csat = np.clip(np.round(csat_raw), 1, 5).astype(np.int64)
        answered = rng.random(k) < 0.65
        self.buf.add(
            "support.ticket_resolved",
            ts + minutes * 60,
            idx,
            ticket_id=ids,
            resolution_minutes=minutes,
            csat=np.where(answered, csat, -1),
        )
        bad = (
            0.8 * urgent
            + 1.0 * (answered & (csat <= 2))
            + 0.5 * (minutes > 2 * 1440)
            + 0.3 * (csat_raw < 2.5)
        )
        np.add.at(self.sup_bad, idx, bad)

    # ------------------------------------------------------------------ subscription start
    def _start_subs(
        self, idx: np.ndarray, ts: np.ndarray, day: int, template: np.ndarray, coupon: np.ndarray
    ) -> None:
        c, rng, k = self.cat, self.rng, idx.size
        if k == 0:
            return
        cur = self.currency[idx]
        offer = c.sub_offer[template, cur]
        price = self._list_price(offer, day)
        trial = c.trial_kind[offer]
        has_trial = trial >= 0
        coupon = np.where(has_trial, -1, coupon)
        disc = self._discount(price, coupon, cur)
        pm = c.period_months[offer]
        trial_end = np.where(
            trial == 0, ts + 7 * SEC_DAY, np.where(trial == 1, ts + 14 * SEC_DAY, add_months(ts, 1))
        )
        anchor = np.where(has_trial, trial_end, ts)
        first_end = add_months(anchor, pm)
        due = np.where(has_trial, trial_end, first_end)
        cmonths = np.array([c_[5] for c_ in cat.COUPONS])[np.maximum(coupon, 0)]
        periods = np.where(cmonths < 0, -1, np.maximum(1, -(-cmonths // np.maximum(pm, 1))))
        self.sub_k[idx] += 1
        self.n_subs[idx] += 1
        self.had_sub[idx] = True
        self.first_offer[idx] = np.where(self.first_offer[idx] < 0, offer, self.first_offer[idx])
        self.offer[idx] = offer
        self.price[idx] = price
        self.disc[idx] = disc
        self.coupon[idx] = coupon
        self.pv[idx] = int(day >= self.rise_day)
        self.anchor[idx] = anchor
        self.due_ts[idx] = due
        self.due_day[idx] = due // SEC_DAY
        self.status[idx] = np.where(has_trial, TRIAL, ACTIVE)
        self.pending[idx] = False
        self.tenure_start[idx] = day
        self.trial_end_ts[idx] = np.where(has_trial, trial_end, -1)
        self.buf.add(
            "subscription.started",
            ts,
            idx,
            sub_k=self.sub_k[idx],
            offer=offer,
            platform=self.platform[idx],
            price_minor=price,
            currency=cur,
            billing_period=c.period[offer],
            discount_minor=disc,
            coupon=coupon,
            trial_ends_at=np.where(has_trial, trial_end, -1),
            current_period_end=due,
        )
        red = coupon >= 0
        if red.any():
            r = idx[red]
            self.buf.add(
                "coupon.redeemed",
                ts[red] + 1,
                r,
                coupon=coupon[red],
                sub_k=self.sub_k[r],
                discount_value=self._coupon_value(coupon[red], cur[red]),
            )
        # no trial: first period paid at once (card checked at checkout)
        paid_now = ~has_trial
        self.paid[idx] = np.where(paid_now, 1, 0)
        self.coupon_left[idx] = np.where(paid_now & (periods > 0), periods - 1, periods)
        if paid_now.any():
            p = idx[paid_now]
            amount = price[paid_now] - disc[paid_now]
            ids = self._pay_ok(p, ts[paid_now] + 2, amount, sub_k=self.sub_k[p])
            self.last_pay_id[p] = ids
            self.last_pay_amt[p] = amount
            self.last_paid_day[p] = day
        # trials: conversion decided by the latent state (truth: p_conv)
        if has_trial.any():
            t = idx[has_trial]
            tk = trial[has_trial]
            z = (
                0.25
                + 0.9 * (self.eng_mu[t] - 5.2)
                + np.where(tk == 1, 0.25, 0.0)
                + np.where(tk == 2, -0.35, 0.0)
                - 1.2 * cat.CHANNEL_HAZARD[self.channel[t]]
                - 0.5 * np.log(self.frailty[t])
            )
            pc = 1.0 / (1.0 + np.exp(-z))
            self.p_conv[t] = pc
            convert = rng.random(t.size) < pc
            cancels = ~convert & (rng.random(t.size) < 0.78)
            self.trial_fail[t] = ~convert & ~cancels
            tdays = (trial_end[has_trial] // SEC_DAY) - day
            cday = day + 1 + (rng.random(t.size) * np.maximum(tdays - 1, 1)).astype(np.int64)
            self.trial_cancel_day[t] = np.where(cancels, np.minimum(cday, day + tdays - 1), -1)
        self.eng[idx] = self.eng_mu[idx] + rng.normal(0, 0.25, k)
        self.eng_slow[idx] = self.eng[idx]
        self.decline[idx] = False
        self.pf_recent[idx] = 0.0
        self.price_shock[idx] = 0.0
        self._touch(idx, ts + 2)

    # ------------------------------------------------------------------ daily steps
    def _signups(self, d: int, day: int) -> None:
        lo, hi = self.day_ptr[d], self.day_ptr[d + 1]
        if hi <= lo:
            return
        rng = self.rng
        idx = np.arange(lo, hi, dtype=np.int64)
        ts = day * SEC_DAY + self.signup_tod[idx]
        self.signed_up[idx] = True
        self.buf.add(
            "customer.created",
            ts,
            idx,
            country=self.country[idx],
            signup_platform=self.platform[idx],
            acquisition_channel=self.channel[idx],
            marketing_consent=self.consent[idx],
        )
        self._touch(idx, ts)
        po = self.pass_only[idx]
        if po.any():
            self._buy_pass(idx[po], ts[po] + 30, day)
        subs = idx[~po]
        if subs.size:
            k = subs.size
            tpl = rng.choice(len(cat.SUB_TEMPLATES), size=k, p=cat.SUB_TEMPLATE_WEIGHTS)
            eligible = (self.platform[subs] == 0) & np.isin(tpl, (0, 1, 2, 5, 6))
            bf = bool(self.bf_day[d])
            base = rng.choice(
                len(cat.COUPONS),
                size=k,
                p=cat.COUPON_SIGNUP_WEIGHTS / cat.COUPON_SIGNUP_WEIGHTS.sum(),
            )
            coupon = np.where(bf, cat.BLACKFRIDAY_COUPON, base)
            take = eligible & (rng.random(k) < (0.55 if bf else 0.2))
            self._start_subs(subs, ts[~po] + 30, day, tpl, np.where(take, coupon, -1))

    def _buy_pass(self, idx, ts, day) -> None:
        c = self.cat
        offer = c.pass_offer[self.currency[idx]]
        self._purchase(idx, ts, offer, ts + 30 * SEC_DAY)
        self.pass_until[idx] = day + 30

    def _purchase(self, idx, ts, offer, access_until) -> None:
        if idx.size == 0:
            return
        c = self.cat
        pid = self._ids("purchase_seq", idx.size)
        amount = c.price[offer]
        self.buf.add(
            "purchase.completed",
            ts,
            idx,
            purchase_id=pid,
            offer=offer,
            offer_type=c.offer_type[offer],
            platform=self.platform[idx],
            amount_minor=amount,
            currency=self.currency[idx],
            access_until=access_until,
        )
        self._pay_ok(idx, ts + 1, amount, purchase=pid)
        self._touch(idx, ts + 1)

    def _resumes(self, day: int) -> None:
        idx = np.flatnonzero((self.status == PAUSED) & (self.resume_day == day))
        if idx.size == 0:
            return
        ts = self.resume_ts[idx]
        self.buf.add("subscription.resumed", ts, idx, sub_k=self.sub_k[idx])
        self.status[idx] = ACTIVE
        self.anchor[idx] = ts + 60
        self.paid[idx] = 0
        self.due_ts[idx] = ts + 60
        self.due_day[idx] = (ts + 60) // SEC_DAY
        self._touch(idx, ts)

    def _end(self, idx, ts, reason: int, end_type) -> None:
        self.buf.add("subscription.ended", ts, idx, sub_k=self.sub_k[idx], ended_reason=reason)
        self.status[idx] = NONE
        self.pending[idx] = False
        self.withdraw_day[idx] = -1
        self.retry_day[idx] = -1
        self.end_day[idx] = ts // SEC_DAY
        self.end_type[idx] = end_type
        self._touch(idx, ts)

    def _pending_cancellations(self, day: int) -> None:
        w = np.flatnonzero(self.pending & (self.withdraw_day == day))
        if w.size:
            ts = self._times(w, day)
            ts = np.minimum(ts, self.eff_ts[w] - 60)
            self.buf.add("subscription.reactivated", ts, w, sub_k=self.sub_k[w])
            self.pending[w] = False
            self.withdraw_day[w] = -1
            self._touch(w, ts)
        idx = np.flatnonzero(self.pending & (self.eff_day == day))
        if idx.size:
            trial = self.status[idx] == TRIAL
            self._end(idx, self.eff_ts[idx], 0, np.where(trial, END_TRIAL, END_VOL))

    def _trial_cancellations(self, d: int, day: int) -> None:
        idx = np.flatnonzero(
            (self.status == TRIAL) & (self.trial_cancel_day == day) & ~self.pending
        )
        if idx.size == 0:
            return
        rng = self.rng
        ts = self._times(idx, day)
        reason = rng.choice(
            len(cat.CANCEL_REASONS),
            size=idx.size,
            p=[0.30, 0.35, 0.20, 0.03, 0.07, 0.0, 0.03, 0.02],
        )
        self._cancel(idx, ts, self.trial_end_ts[idx], reason, day)
        self.withdraw_day[idx] = -1

    def _cancel(self, idx, ts, eff, reason, day) -> None:
        self.buf.add(
            "subscription.cancelled",
            ts,
            idx,
            sub_k=self.sub_k[idx],
            effective_at=eff,
            reason=reason,
            initiated_by=0,
        )
        self.pending[idx] = True
        self.eff_ts[idx] = eff
        self.eff_day[idx] = eff // SEC_DAY
        span = self.eff_day[idx] - day
        withdraw = (self.rng.random(idx.size) < 0.14) & (span >= 2)
        wd = day + 1 + (self.rng.random(idx.size) * np.maximum(span - 1, 1)).astype(np.int64)
        self.withdraw_day[idx] = np.where(withdraw, wd, -1)
        self._touch(idx, ts)

    def _charges(self, day: int) -> None:
        """Renewal charges (incl. first charge after a trial and after a pause) due today."""
        c, rng = self.cat, self.rng
        idx = np.flatnonzero(
            ((self.status == ACTIVE) | (self.status == TRIAL))
            & ~self.pending
            & (self.due_day == day)
        )
        if idx.size == 0:
            return
        due = self.due_ts[idx]
        offer = self.offer[idx]
        # pause instead of renewing (monthly paying subscribers only)
        monthly = (
            (c.period_months[offer] == 1) & (self.status[idx] == ACTIVE) & (self.paid[idx] > 0)
        )
        p_pause = 0.010 * np.where(self.eng[idx] < 4.6, 2.5, 1.0)
        pause = monthly & (rng.random(idx.size) < p_pause)
        if pause.any():
            p = idx[pause]
            months = rng.choice([1, 2, 3], size=p.size, p=[0.5, 0.3, 0.2])
            resume = add_months(due[pause], months)
            self.buf.add(
                "subscription.paused", due[pause], p, sub_k=self.sub_k[p], resume_at=resume
            )
            self.status[p] = PAUSED
            self.resume_ts[p] = resume
            self.resume_day[p] = resume // SEC_DAY
            self._touch(p, due[pause])
            idx, due, offer = idx[~pause], due[~pause], offer[~pause]
            if idx.size == 0:
                return
        # price rise reaching this subscriber, coupon expiry: one subscription.changed
        rise = c.rises[offer] & (self.pv[idx] == 0) & (due >= self.rise_effective_ts)
        expire = (self.coupon[idx] >= 0) & (self.coupon_left[idx] == 0)
        ch = rise | expire
        if ch.any():
            ci = idx[ch]
            self.price[ci] = np.where(rise[ch], c.price_new[offer[ch]], self.price[ci])
            self.pv[ci] = np.where(rise[ch], 1, self.pv[ci])
            self.coupon[ci] = np.where(expire[ch], -1, self.coupon[ci])
            self.disc[ci] = self._discount(self.price[ci], self.coupon[ci], self.currency[ci])
            self.price_shock[ci] += 0.6 * rise[ch] + 0.8 * expire[ch]
            self.buf.add(
                "subscription.changed",
                due[ch],
                ci,
                sub_k=self.sub_k[ci],
                effective_at=due[ch],
                offer=offer[ch],
                price_minor=self.price[ci],
                discount_minor=self.disc[ci],
                currency=self.currency[ci],
                billing_period=c.period[offer[ch]],
            )
        in_trial = self.status[idx] == TRIAL
        p_fail = (
            cat.PROVIDER_FAIL[self.provider[idx]]
            * self.pay_risk[idx]
            * np.where(in_trial, 1.4, 1.0)
        )
        fail = (rng.random(idx.size) < np.minimum(p_fail, 0.6)) | (in_trial & self.trial_fail[idx])
        self._renew(idx[~fail], due[~fail], due[~fail], day)
        f = idx[fail]
        if f.size:
            code = rng.choice(len(cat.FAILURE_CODES), size=f.size, p=cat.FAILURE_WEIGHTS)
            ids = self._ids("pay_seq", f.size)
            self._payment_failed(f, due[fail] + 2, ids, code, 1)
            self.status[f] = DUNNING
            self.dun_attempt[f] = 1
            self.dun_code[f] = code
            self.dun_due_ts[f] = due[fail]
            self.retry_day[f] = day + cat.RETRY_DAYS[0]
            self.retry_ts[f] = due[fail] + cat.RETRY_DAYS[0] * SEC_DAY
            self.pf_recent[f] += 1.0
            self._touch(f, due[fail] + 2)
            tk = f[rng.random(f.size) < 0.15]
            if tk.size:
                tts = self.due_ts[tk] + rng.integers(3600, 3 * SEC_DAY, size=tk.size)
                self._ticket(tk, tts, np.zeros(tk.size, dtype=np.int64))

    def _renew(self, idx, ts, period_start, day) -> None:
        """Successful charge for the next period: subscription.renewed + payment.succeeded."""
        if idx.size == 0:
            return
        c = self.cat
        pm = c.period_months[self.offer[idx]]
        period_end = add_months(self.anchor[idx], (self.paid[idx] + 1) * pm)
        amount = self.price[idx] - self.disc[idx]
        self.buf.add(
            "subscription.renewed",
            ts + 1,
            idx,
            sub_k=self.sub_k[idx],
            period_start=period_start,
            period_end=period_end,
            price_minor=self.price[idx],
            discount_minor=self.disc[idx],
            currency=self.currency[idx],
        )
        ids = self._pay_ok(idx, ts + 2, amount, sub_k=self.sub_k[idx])
        self.paid[idx] += 1
        self.coupon_left[idx] = np.where(
            self.coupon_left[idx] > 0, self.coupon_left[idx] - 1, self.coupon_left[idx]
        )
        self.due_ts[idx] = period_end
        self.due_day[idx] = period_end // SEC_DAY
        self.status[idx] = ACTIVE
        self.trial_fail[idx] = False
        self.last_pay_id[idx] = ids
        self.last_pay_amt[idx] = amount
        self.last_paid_day[idx] = day
        self._touch(idx, ts + 2)

    def _retries(self, day: int) -> None:
        rng = self.rng
        idx = np.flatnonzero((self.status == DUNNING) & (self.retry_day == day))
        if idx.size == 0:
            return
        ts = self.retry_ts[idx]
        attempt = self.dun_attempt[idx] + 1
        p_ok = cat.FAILURE_RECOVERY[self.dun_code[idx]] / np.sqrt(self.pay_risk[idx])
        p_ok = np.where(self.trial_fail[idx], 0.25 * p_ok, p_ok)
        ok = rng.random(idx.size) < np.minimum(p_ok, 0.95)
        self._renew(idx[ok], ts[ok], self.dun_due_ts[idx[ok]], day)
        f, fts, fatt = idx[~ok], ts[~ok], attempt[~ok]
        if f.size == 0:
            return
        ids = self._ids("pay_seq", f.size)
        same = rng.random(f.size) < 0.8
        code = np.where(
            same,
            self.dun_code[f],
            rng.choice(len(cat.FAILURE_CODES), size=f.size, p=cat.FAILURE_WEIGHTS),
        )
        self._payment_failed(f, fts + 2, ids, code, fatt)
        self._touch(f, fts + 2)
        self.dun_attempt[f] = fatt
        last = fatt > len(cat.RETRY_DAYS)
        if last.any():
            e = f[last]
            trial = self.paid[e] == 0
            self._end(e, fts[last] + 3, 1, np.where(trial, END_TRIAL, END_INVOL))
            self.pf_recent[e] += 0.5
        go = f[~last]
        if go.size:
            nxt = np.array(cat.RETRY_DAYS)[fatt[~last] - 1]
            self.retry_ts[go] = self.dun_due_ts[go] + nxt * SEC_DAY
            self.retry_day[go] = self.retry_ts[go] // SEC_DAY

    def _behaviour(self, d: int, day: int) -> None:
        """Daily Bernoulli choices: one uniform per customer, split into exclusive outcomes."""
        c, rng = self.cat, self.rng
        st = self.status
        active = (st == ACTIVE) & ~self.pending
        dunning = st == DUNNING
        access = (st == ACTIVE) | (st == TRIAL) | dunning
        p_cancel = np.where(active, _daily(self.hazard), 0.0)
        p_cancel = np.where(dunning, _daily(np.minimum(3.0 * self.hazard, 0.9)), p_cancel)
        has_up = c.up[np.maximum(self.offer, 0)] >= 0
        has_down = c.down[np.maximum(self.offer, 0)] >= 0
        p_up = np.where(active & has_up, 0.010 / 30.4 * np.exp(0.8 * (self.eng - self.eng_mu)), 0.0)
        p_down = np.where(
            active & has_down, 0.008 / 30.4 * self.price_sens * (1 + 2 * self.price_shock), 0.0
        )
        p_tvod = np.where(access, 0.03 / 30.4, 0.0)
        p_ticket = np.where(access, (0.03 * self.tech + 0.08 * self.pf_recent) / 30.4, 0.0)
        p_consent = np.where(self.signed_up, 0.004 / 30.4, 0.0)
        since = np.maximum(day - self.end_day, 0)
        p_wb = np.where(
            (st == NONE) & self.had_sub & ~self.pass_only,
            WINBACK_MONTHLY
            / 30.4
            * np.exp(-since / 180.0)
            * np.where(self.end_type == END_INVOL, 1.8, 1.0),
            0.0,
        )
        probs = (p_cancel, p_up, p_down, p_tvod, p_ticket, p_consent, p_wb)
        total = p_cancel + p_up + p_down + p_tvod + p_ticket + p_consent + p_wb
        u = rng.random(self.n)
        hits = np.flatnonzero(u < total)
        if hits.size == 0:
            return
        cum = np.cumsum(np.stack([p[hits] for p in probs]), axis=0)
        out = (u[hits][None, :] >= cum).sum(axis=0)
        # ---- voluntary cancellation (incl. during dunning)
        idx = hits[out == 0]
        if idx.size:
            ts = self._times(idx, day)
            reason_p = cat.REASON_BY_DRIVER[self.driver[idx]]
            reason = (rng.random(idx.size)[:, None] > np.cumsum(reason_p, axis=1)).sum(axis=1)
            reason = np.minimum(reason, len(cat.CANCEL_REASONS) - 1)
            dun = self.status[idx] == DUNNING
            if dun.any():
                di, dts = idx[dun], ts[dun]
                self.buf.add(
                    "subscription.cancelled",
                    dts,
                    di,
                    sub_k=self.sub_k[di],
                    effective_at=dts + 1,
                    reason=reason[dun],
                    initiated_by=0,
                )
                self._end(di, dts + 1, 1, END_VOL)
            act = ~dun
            refund = (
                act
                & (self.paid[idx] > 0)
                & (day - self.last_paid_day[idx] <= 7)
                & (rng.random(idx.size) < 0.15)
            )
            if refund.any():
                ri, rts = idx[refund], ts[refund]
                self.refunded_payments.append(self.last_pay_id[ri])
                self.buf.add(
                    "payment.refunded",
                    rts,
                    ri,
                    payment_id=self.last_pay_id[ri],
                    refund_id=self._ids("refund_seq", ri.size),
                    amount_minor=self.last_pay_amt[ri],
                    currency=self.currency[ri],
                    reason=0,
                )
                self.buf.add(
                    "subscription.cancelled",
                    rts + 1,
                    ri,
                    sub_k=self.sub_k[ri],
                    effective_at=rts + 2,
                    reason=reason[refund],
                    initiated_by=0,
                )
                self._end(ri, rts + 2, 2, END_REFUND)
            norm = act & ~refund
            if norm.any():
                ni = idx[norm]
                self._cancel(ni, ts[norm], self.due_ts[ni], reason[norm], day)
                tk = ni[rng.random(ni.size) < 0.08]
                if tk.size:
                    self._ticket(tk, self.last_ts[tk] + 30, np.full(tk.size, 4, dtype=np.int64))
        # ---- upgrades (immediate) and downgrades (at period end)
        for code, target, immediate in ((1, c.up, True), (2, c.down, False)):
            idx = hits[out == code]
            if idx.size == 0:
                continue
            ts = self._times(idx, day)
            new = target[self.offer[idx]]
            price = self._list_price(new, day)
            self.offer[idx] = new
            self.price[idx] = price
            self.pv[idx] = int(day >= self.rise_day)
            self.disc[idx] = self._discount(price, self.coupon[idx], self.currency[idx])
            eff = ts if immediate else self.due_ts[idx]
            self.buf.add(
                "subscription.changed",
                ts,
                idx,
                sub_k=self.sub_k[idx],
                effective_at=eff,
                offer=new,
                price_minor=price,
                discount_minor=self.disc[idx],
                currency=self.currency[idx],
                billing_period=c.period[new],
            )
            self._touch(idx, ts)
        # ---- TVOD rentals
        idx = hits[out == 3]
        if idx.size:
            ts = self._times(idx, day)
            kind = (rng.random(idx.size) < 0.4).astype(np.int64)
            self._purchase(idx, ts, c.tvod_offer[kind, self.currency[idx]], ts + 2 * SEC_DAY)
        # ---- support tickets
        idx = hits[out == 4]
        if idx.size:
            ts = self._times(idx, day)
            k = idx.size
            wts = np.stack(
                [
                    0.15 + 0.6 * self.pf_recent[idx] + 0.3 * self.price_shock[idx],
                    0.35 * self.tech[idx],
                    np.full(k, 0.15),
                    np.full(k, 0.15),
                    np.full(k, 0.03),
                    np.full(k, 0.10),
                ],
                axis=1,
            )
            cum = np.cumsum(wts / wts.sum(axis=1, keepdims=True), axis=1)
            category = np.minimum((rng.random(k)[:, None] > cum).sum(axis=1), 5)
            self._ticket(idx, ts, category)
        # ---- marketing consent changes
        idx = hits[out == 5]
        if idx.size:
            ts = self._times(idx, day)
            self.consent[idx] = 1 - self.consent[idx]
            self.buf.add("customer.updated", ts, idx, marketing_consent=self.consent[idx])
            self._touch(idx, ts)
        # ---- win-backs: a churned customer starts a new subscription
        idx = hits[out == 6]
        if idx.size:
            ts = self._times(idx, day)
            plain = [i for i, t in enumerate(cat.SUB_TEMPLATES) if t[3] is None]
            w = cat.SUB_TEMPLATE_WEIGHTS[plain]
            tpl = np.array(plain)[rng.choice(len(plain), size=idx.size, p=w / w.sum())]
            web = (self.platform[idx] == 0) & np.isin(tpl, (0, 1, 2, 5, 6))
            coupon = np.where(web & (rng.random(idx.size) < 0.4), cat.WINBACK_COUPON, -1)
            self._start_subs(idx, ts, day, tpl, coupon)

    def _one_time(self, d: int, day: int) -> None:
        c, rng = self.cat, self.rng
        if day in self.ppv_days:
            ev = self.ppv_days[day]
            st = self.status
            access = (st == ACTIVE) | (st == TRIAL) | (st == DUNNING)
            p = np.where(access, 0.05, 0.0) + np.where(self.pass_only & self.signed_up, 0.3, 0.0)
            idx = np.flatnonzero(rng.random(self.n) < p)
            if idx.size:
                ts = day * SEC_DAY + 17 * 3600 + rng.integers(0, 4 * 3600, size=idx.size)
                ts = np.maximum(ts, self.last_ts[idx] + 1)
                self._purchase(idx, ts, c.ppv_offer[ev, self.currency[idx]], (day + 2) * SEC_DAY)
        idx = np.flatnonzero(self.pass_only & (self.pass_until == day))
        if idx.size:
            again = rng.random(idx.size) < 0.45
            self.pass_until[idx[~again]] = -1
            b = idx[again]
            if b.size:
                self._buy_pass(b, self._times(b, day), day)

    # ------------------------------------------------------------------ weekly latent update
    def _contributions(self, day: int) -> np.ndarray:
        c = self.cat
        pm = c.period_months[np.maximum(self.offer, 0)]
        to_due = self.due_day - day
        tenure = day - self.tenure_start
        drop = np.clip(self.eng_slow - self.eng, 0.0, 3.0)
        low = np.clip(4.6 - self.eng, 0.0, 4.0)
        offer_c = np.select(
            [pm == 1, pm == 3, pm == 12],
            [
                np.full(self.n, 0.3),
                np.where(to_due <= 30, 0.6, -0.6),
                np.where(to_due <= 35, 1.7, -2.6),
            ],
            0.0,
        )
        return np.stack(
            [
                np.log(BASE_MONTHLY_HAZARD * self.frailty) + cat.CHANNEL_HAZARD[self.channel],
                1.2 * drop + 0.3 * low,
                0.75 * self.pf_recent,
                0.6 * self.sup_bad,
                0.9 * self.price_shock * self.price_sens,
                offer_c,
                0.9 * np.exp(-tenure / 100.0),
            ]
        )

    def _weekly(self, d: int, day: int) -> None:
        rng, n = self.rng, self.n
        t0 = day * SEC_DAY
        # engagement of the week that just ended
        idx = np.flatnonzero(self.active_days > 0)
        if idx.size:
            k = idx.size
            frac = self.active_days[idx] / 7.0
            mins = np.exp(self.eng[idx] + rng.normal(0, 0.35, k)) * frac
            p0 = 1.0 / (1.0 + np.exp(2.0 * (self.eng[idx] - 3.0)))
            mins = np.where(rng.random(k) < p0, 0, np.round(mins)).astype(np.int64)
            sessions = np.where(mins > 0, 1 + rng.poisson(mins / 42.0), 0)
            other = rng.random(k) < 0.3
            plat = np.where(
                other,
                rng.choice(len(cat.PLATFORMS), size=k, p=cat.PLATFORM_WEIGHTS),
                self.platform[idx],
            )
            ps = max(t0 - 7 * SEC_DAY, self.start_ts)
            self.buf.add(
                "engagement.activity",
                np.full(k, t0),
                idx,
                period_start=ps,
                period_end=t0,
                minutes_watched=mins,
                sessions=sessions,
                platform=plat,
            )
        self.active_days[:] = 0
        self._update_hazard(day)
        # latent engagement moves on
        start = ~self.decline & (rng.random(n) < 0.012 * np.sqrt(self.frailty))
        stop = self.decline & (rng.random(n) < 0.12)
        self.decline_rate = np.where(start, rng.uniform(0.10, 0.30, n), self.decline_rate)
        self.decline = (self.decline | start) & ~stop
        step = np.where(self.decline, -self.decline_rate, 0.06 * (self.eng_mu - self.eng))
        self.eng = self.eng + step + rng.normal(0, 0.12, n)
        self.eng_slow = 0.85 * self.eng_slow + 0.15 * self.eng
        self.pf_recent *= np.exp(-7 / 60.0)
        self.sup_bad *= np.exp(-7 / 45.0)
        self.price_shock *= np.exp(-7 / 50.0)

    def _update_hazard(self, day: int) -> None:
        contrib = self._contributions(day)
        self.hazard = np.minimum(np.exp(contrib.sum(axis=0)), 0.9)
        drivers = contrib[1:]
        best = drivers.argmax(axis=0)
        self.driver = np.where(drivers.max(axis=0) > DRIVER_THRESHOLD, best + 1, D_BASE)

    def _truth_snapshot(self, day: int) -> None:
        st = self.status
        idx = np.flatnonzero((st != NONE) & ~self.pass_only)
        if idx.size == 0:
            return
        self._update_hazard(day)
        h = self.hazard[idx]
        to_due = self.due_day[idx] - day
        p_fail = np.minimum(cat.PROVIDER_FAIL[self.provider[idx]] * self.pay_risk[idx], 0.6)
        rec = np.mean(cat.FAILURE_RECOVERY) / np.sqrt(self.pay_risk[idx])
        unrec = np.power(1 - np.minimum(rec, 0.95), len(cat.RETRY_DAYS))
        p_inv = np.where(to_due <= 30, p_fail * unrec, 0.0)
        prop = 1 - (1 - h) * (1 - p_inv)
        s = st[idx]
        pend = self.pending[idx]
        in30 = (self.eff_day[idx] - day) <= 30
        prop = np.where(pend, np.where(in30, 0.86, 0.5), prop)
        trial = (s == TRIAL) & ~pend
        t_in30 = (self.trial_end_ts[idx] // SEC_DAY - day) <= 30
        prop = np.where(trial, np.where(t_in30, 1 - self.p_conv[idx], 0.3), prop)
        dun = s == DUNNING
        left = len(cat.RETRY_DAYS) + 1 - self.dun_attempt[idx]
        p_rec = np.minimum(
            cat.FAILURE_RECOVERY[self.dun_code[idx]] / np.sqrt(self.pay_risk[idx]), 0.95
        )
        prop = np.where(
            dun, 1 - (1 - np.power(1 - p_rec, left)) * (1 - np.minimum(3 * h, 0.9)), prop
        )
        prop = np.where(s == PAUSED, 0.05, prop)
        driver = np.where(dun, D_PAY, self.driver[idx])
        r = self.truth_rows
        r["cust"].append(idx)
        r["as_of"].append(np.full(idx.size, day, dtype=np.int64))
        r["propensity"].append(np.clip(prop, 0.0, 1.0))
        r["hazard"].append(h)
        r["driver"].append(driver)
        r["status"].append(np.where(pend, 5, s).astype(np.int64))

    # ------------------------------------------------------------------ main loop
    def run(self) -> EngineResult:
        month_starts = {
            epoch_day(add_months_date(self.start.replace(day=1), m)) for m in range(self.months + 2)
        }
        for d in range(self.n_days):
            day = self.start_day + d
            if d > 0 and (day + 3) % 7 == 0:  # epoch day 4 (1970-01-05) was a Monday
                self._weekly(d, day)
            if d == 0:
                self._update_hazard(day)
            if day in month_starts or d == 0:
                self._truth_snapshot(day)
            if day == self.rise_day:
                hit = np.flatnonzero(
                    ((self.status == ACTIVE) | (self.status == PAUSED))
                    & self.cat.rises[np.maximum(self.offer, 0)]
                    & (self.pv == 0)
                )
                self.price_shock[hit] += 1.0
                tk = hit[self.rng.random(hit.size) < 0.04]
                if tk.size:
                    self._ticket(tk, self._times(tk, day), np.zeros(tk.size, dtype=np.int64))
            self._signups(d, day)
            self._resumes(day)
            self._pending_cancellations(day)
            self._trial_cancellations(d, day)
            self._charges(day)
            self._retries(day)
            self._behaviour(d, day)
            self._one_time(d, day)
            st = self.status
            self.active_days += (st == ACTIVE) | (st == TRIAL) | (st == DUNNING)
        return self._finish()

    def _finish(self) -> EngineResult:
        rng = self.rng
        tables = self.buf.finish()
        empty = np.zeros(0, dtype=np.int64)
        ps = tables.get("payment.succeeded") or {
            k: empty for k in ("ts", "cust", "payment_id", "amount_minor", "currency")
        }
        already = (
            np.concatenate(self.refunded_payments)
            if self.refunded_payments
            else np.zeros(0, dtype=np.int64)
        )
        u = rng.random(ps["ts"].size)
        free = ~np.isin(ps["payment_id"], already)
        extra = EventBuffer()
        ref = np.flatnonzero(free & (u < 0.004))
        if ref.size:
            extra.add(
                "payment.refunded",
                ps["ts"][ref] + rng.integers(3600, 10 * SEC_DAY, ref.size),
                ps["cust"][ref],
                payment_id=ps["payment_id"][ref],
                refund_id=self._ids("refund_seq", ref.size),
                amount_minor=ps["amount_minor"][ref],
                currency=ps["currency"][ref],
                reason=rng.choice(3, size=ref.size, p=[0.6, 0.15, 0.25]),
            )
        cb = np.flatnonzero(free & (u >= 0.004) & (u < 0.0055))
        if cb.size:
            extra.add(
                "payment.chargeback",
                ps["ts"][cb] + rng.integers(20, 60, cb.size) * SEC_DAY,
                ps["cust"][cb],
                payment_id=ps["payment_id"][cb],
                amount_minor=ps["amount_minor"][cb],
                currency=ps["currency"][cb],
                reason=np.where(rng.random(cb.size) < 0.2, -1, rng.choice(3, size=cb.size)),
            )
        for etype, cols in extra.finish().items():
            if etype in tables:
                tables[etype] = {k: np.concatenate([tables[etype][k], cols[k]]) for k in cols}
            else:
                tables[etype] = cols
        r = {
            k: (np.concatenate(v) if v else np.zeros(0, dtype=np.int64))
            for k, v in self.truth_rows.items()
        }
        churned = (self.status == NONE) & self.had_sub
        truth_customers = {
            "cust": np.arange(self.n, dtype=np.int64),
            "signup_day": self.signup_day,
            "pass_only": self.pass_only,
            "country": self.country,
            "platform": self.platform,
            "channel": self.channel,
            "first_offer": self.first_offer,
            "n_subscriptions": self.n_subs,
            "churned": churned,
            "churn_day": np.where(churned, self.end_day, -1),
            "churn_type": np.where(churned, self.end_type, -1),
            "status": self.status.astype(np.int64),
            "frailty": self.frailty,
            "payment_risk": self.pay_risk,
            "tech_trouble": self.tech,
            "price_sensitivity": self.price_sens,
            "engagement_mean": self.eng_mu,
        }
        return EngineResult(
            tables=tables,
            published=self.cat.published,
            catalogue=self.cat,
            truth_monthly=r,
            truth_customers=truth_customers,
            start_ts=self.start_ts,
            end_ts=self.end_ts,
        )
