"""Support tickets: opened and resolved, with the customer's satisfaction score."""

from __future__ import annotations

from .customers import get_customer
from .errors import InvalidInput, InvalidTransition, NotFound
from .ids import new_id
from .schema import SupportTicket
from .unit import Unit

CHANNELS = ("email", "chat", "phone", "social", "in_app")
CATEGORIES = ("billing", "technical", "content", "account", "cancellation", "other")
PRIORITIES = ("low", "normal", "high", "urgent")


def open_ticket(
    u: Unit,
    *,
    customer_id: str,
    channel: str,
    category: str,
    priority: str = "normal",
    subject: str | None = None,
) -> SupportTicket:
    get_customer(u, customer_id, lock=True)  # no subject written beside an erasure
    for name, value, allowed in (
        ("channel", channel, CHANNELS),
        ("category", category, CATEGORIES),
        ("priority", priority, PRIORITIES),
    ):
        if value not in allowed:
            raise InvalidInput(f"{name}: must be one of {', '.join(allowed)}")
    ticket = SupportTicket(
        id=new_id("t"),
        customer_id=customer_id,
        channel=channel,
        category=category,
        priority=priority,
        subject=subject,
        status="open",
        opened_at=u.now,
    )
    u.session.add(ticket)
    u.emit(
        "support.ticket_opened",
        customer_id,
        {"ticket_id": ticket.id, "channel": channel, "category": category, "priority": priority},
    )
    u.audit("ticket.open", "ticket", ticket.id)
    return ticket


def resolve_ticket(u: Unit, ticket_id: str, *, csat: int | None = None) -> SupportTicket:
    ticket = u.session.get(SupportTicket, ticket_id, with_for_update=True)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} not found")
    if ticket.status != "open":
        raise InvalidTransition(f"cannot resolve ticket {ticket_id}: it is {ticket.status}")
    if csat is not None and not 1 <= csat <= 5:
        raise InvalidInput("csat: must be 1 to 5")
    ticket.status = "resolved"
    ticket.resolved_at = u.now
    ticket.csat = csat
    minutes = max(0, int((u.now - ticket.opened_at).total_seconds() // 60))
    data = {"ticket_id": ticket.id, "resolution_minutes": minutes}
    u.emit("support.ticket_resolved", ticket.customer_id, data | ({"csat": csat} if csat else {}))
    u.audit("ticket.resolve", "ticket", ticket.id)
    return ticket
