"""Retention campaigns: a coupon offered to a list of customers, with a random control group
that gets nothing, so that the campaign's effect can be measured. Every member's assignment is
recorded as `retention.action_taken` (both groups, intent to treat)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from sqlalchemy import Select, select

from .catalog import get_coupon
from .customers import get_customer
from .errors import Conflict, InvalidInput, NotFound
from .ids import new_id
from .schema import Campaign, CampaignMember, Subscription
from .subscriptions import ALLOWED, apply_coupon
from .unit import Unit

MAX_MEMBERS = 100_000


def _live(customer_id: str) -> Select:
    """The customer's subscriptions a coupon can go to, the newest first."""
    return (
        select(Subscription)
        .where(
            Subscription.customer_id == customer_id,
            Subscription.status.in_(ALLOWED["apply_coupon"]),
        )
        .order_by(Subscription.started_at.desc(), Subscription.id)
    )


def _live_subscription(u: Unit, customer_id: str) -> Subscription | None:
    return u.session.scalar(_live(customer_id).limit(1))


def assign_groups(customer_ids: list[str], control_share: float, seed: int) -> dict[str, str]:
    """Exactly round(n × share) members in control, chosen by a seeded shuffle."""
    members = sorted(set(customer_ids))
    random.Random(seed).shuffle(members)
    n_control = round(len(members) * control_share)
    return {c: ("control" if i < n_control else "treatment") for i, c in enumerate(members)}


def launch_campaign(
    u: Unit,
    *,
    name: str,
    coupon_id: str,
    customer_ids: list[str],
    control_share: float = 0.2,
    seed: int | None = None,
    campaign_id: str | None = None,
) -> Campaign:
    if not customer_ids:
        raise InvalidInput("customer_ids: a campaign needs at least one customer")
    if len(set(customer_ids)) > MAX_MEMBERS:
        raise InvalidInput(f"customer_ids: at most {MAX_MEMBERS:,} customers per campaign")
    if not 0 <= control_share < 1:
        raise InvalidInput("control_share: must be at least 0 and below 1")
    campaign_id = campaign_id or new_id("camp")
    if u.session.get(Campaign, campaign_id) is not None:
        raise Conflict(f"campaign {campaign_id} exists already")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    groups = assign_groups(customer_ids, control_share, seed)
    for customer_id in sorted(groups):  # one lock order: concurrent launches never deadlock
        treat = groups[customer_id] == "treatment"
        get_customer(u, customer_id, lock=treat)
        if treat:  # the coupon's subscriptions, locked before the time is read (Unit.now)
            u.session.scalars(_live(customer_id).with_for_update()).all()
    coupon = get_coupon(u, coupon_id, lock=True)
    treated = sum(g == "treatment" for g in groups.values())
    if coupon.max_redemptions is not None and coupon.redemptions + treated > coupon.max_redemptions:
        raise Conflict(
            f"coupon {coupon.id} has {coupon.max_redemptions - coupon.redemptions} redemptions "
            f"left, the treatment group has {treated} customers"
        )
    campaign = Campaign(
        id=campaign_id,
        name=name,
        action="coupon_offered",
        coupon_id=coupon.id,
        control_share=control_share,
        seed=seed,
        created_by=u.actor,
        created_at=u.now,
    )
    u.session.add(campaign)
    u.session.flush()
    for customer_id, group in groups.items():
        sub = _live_subscription(u, customer_id)
        member = CampaignMember(
            campaign_id=campaign.id,
            customer_id=customer_id,
            group=group,
            subscription_id=sub.id if sub else None,
        )
        u.emit(
            "retention.action_taken",
            customer_id,
            {"campaign_id": campaign.id, "action": "coupon_offered", "group": group,
             "coupon_id": coupon.id},
        )  # fmt: skip
        if group == "treatment":
            if sub is None:
                member.note = "no live subscription: coupon not applied"
            else:
                apply_coupon(u, sub.id, coupon_id=coupon.id, campaign_id=campaign.id)
                member.coupon_applied = True
        u.session.add(member)
    u.audit(
        "campaign.launch", "campaign", campaign.id, members=len(groups), treatment=treated,
        coupon_id=coupon.id,
    )  # fmt: skip
    return campaign


@dataclass(frozen=True)
class GroupResult:
    group: str
    members: int
    with_subscription: int
    still_live: int

    @property
    def churn_rate(self) -> float | None:
        if not self.with_subscription:
            return None
        return 1 - self.still_live / self.with_subscription


def campaign_result(u: Unit, campaign_id: str) -> tuple[Campaign, list[GroupResult]]:
    """Members per group and how many of those who had a subscription at launch still have
    it now (the warehouse measures churn properly; this is the operational view)."""
    campaign = u.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} not found")
    rows = u.session.execute(
        select(CampaignMember.group, CampaignMember.subscription_id, Subscription.status)
        .outerjoin(Subscription, Subscription.id == CampaignMember.subscription_id)
        .where(CampaignMember.campaign_id == campaign_id)
    ).all()
    out = []
    for group in ("treatment", "control"):
        mine = [r for r in rows if r[0] == group]
        out.append(
            GroupResult(
                group,
                len(mine),
                sum(r[1] is not None for r in mine),
                sum(r[2] is not None and r[2] != "ended" for r in mine),
            )
        )
    return campaign, out
