"""Retention campaigns and support tickets."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from ... import campaigns, support
from ...schema import Campaign
from ...unit import Unit
from ..context import Context, IdempotentContext
from ..schemas import (
    CampaignCreate,
    CampaignOut,
    CampaignsOut,
    TicketCreate,
    TicketOut,
    TicketResolve,
)
from . import ERRORS, CampaignId, TicketId

router = APIRouter(responses=ERRORS)


def campaign_out(u: Unit, campaign_id: str) -> CampaignOut:
    campaign, groups = campaigns.campaign_result(u, campaign_id)
    result = [
        {
            "group": g.group,
            "members": g.members,
            "with_subscription": g.with_subscription,
            "still_live": g.still_live,
            "churn_rate": g.churn_rate,
        }
        for g in groups
    ]
    return CampaignOut.model_validate(
        {**{k: getattr(campaign, k) for k in CampaignOut.model_fields if k != "campaign_result"},
         "campaign_result": result}
    )  # fmt: skip


@router.post(
    "/campaigns",
    status_code=201,
    response_model=CampaignOut,
    tags=["campaigns"],
    summary="Launch a campaign: a coupon for a treatment group, a control group",
)
def launch_campaign(body: CampaignCreate, ctx: IdempotentContext):
    def work(u: Unit) -> CampaignOut:
        campaign = campaigns.launch_campaign(u, **body.model_dump())
        return campaign_out(u, campaign.id)

    return ctx.write(work, 201)


@router.get("/campaigns", response_model=CampaignsOut, tags=["campaigns"], summary="Every campaign")
def list_campaigns(ctx: Context):
    def work(u: Unit) -> CampaignsOut:
        rows = u.session.scalars(
            select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id)
        ).all()
        return CampaignsOut.model_validate({"campaigns": rows})

    return ctx.read(work)


@router.get(
    "/campaigns/{campaign_id}",
    response_model=CampaignOut,
    tags=["campaigns"],
    summary="A campaign and its result so far",
)
def get_campaign(campaign_id: CampaignId, ctx: Context):
    return ctx.read(lambda u: campaign_out(u, campaign_id))


@router.post(
    "/tickets",
    status_code=201,
    response_model=TicketOut,
    tags=["tickets"],
    summary="Open a support ticket",
)
def open_ticket(body: TicketCreate, ctx: IdempotentContext):
    return ctx.write(
        lambda u: TicketOut.model_validate(support.open_ticket(u, **body.model_dump())), 201
    )


@router.post(
    "/tickets/{ticket_id}/resolve",
    response_model=TicketOut,
    tags=["tickets"],
    summary="Resolve a ticket (with the customer's satisfaction score)",
)
def resolve_ticket(ticket_id: TicketId, ctx: IdempotentContext, body: TicketResolve | None = None):
    csat = body.csat if body else None
    return ctx.write(
        lambda u: TicketOut.model_validate(support.resolve_ticket(u, ticket_id, csat=csat))
    )
