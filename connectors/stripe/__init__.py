"""Stripe: webhook verification with the official SDK, and the translation of Stripe events and
API objects into contract events (MRR rules of METRICS.md, "Data from providers")."""

from connectors.stripe.verify import SignatureError, verify_webhook

SOURCE = "stripe"

__all__ = ["SOURCE", "SignatureError", "verify_webhook"]
