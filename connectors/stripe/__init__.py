"""Stripe: webhook verification with the official SDK, and the translation of Stripe events and
API objects into contract events (MRR rules of METRICS.md, "Data from providers").

Event ids (`stripe:<provider ids>:<change>`, `connectors.translation.derived_event_id`)
------------------------------------------------------------------------------------------
A fact both a webhook and a backfill can see takes its id and its body from the Stripe object
alone (never from the event envelope), so the two paths give byte-identical events and the
loader keeps one:

| fact | event_id | occurred_at |
|---|---|---|
| offer of a recurring price | `stripe:<price>:offer:<digest of the body>` | price `created` |
| customer with a known country | `stripe:<cus>:created:<country>` | customer `created` |
| subscription start | `stripe:<sub>:started` | `start_date` |
| cancellation request (scheduled or immediate) | `stripe:<sub>:cancelled:<canceled_at>` | `canceled_at` |
| end of access | `stripe:<sub>:ended` | `ended_at` |
| coupon (on a subscription, a discount event, an invoice) | `stripe:<discount's sub or cus>:coupon:<coupon>:<start>` | discount `start` |
| renewal invoice (finalized) | `stripe:<in>:renewed` | `status_transitions.finalized_at` |
| invoice paid | `stripe:<in>:paid` | `status_transitions.paid_at` |
| standalone charge paid / failed | `stripe:<ch>:paid`, `stripe:<ch>:failed` | charge `created` |
| refund | `stripe:<ch>:refund:<re>` | refund `created` |
| dispute (chargeback) | `stripe:<dp>:chargeback` | dispute `created` |

Facts only events can see use the Stripe event id: a price, quantity or discount change
(`customer.subscription.updated` with those `previous_attributes`: `stripe:<evt>:changed`,
effective when the event was created), a withdrawn cancellation
(`stripe:<sub>:reactivated:<evt>`), a pause or resume (`stripe:<sub>:paused:<evt>`,
`…:resumed:<evt>`), a customer's new country (`stripe:<evt>:updated`) and a failed payment
attempt (`stripe:<in>:failed:<attempt_count>`, at the event's time: an invoice keeps only its
last attempt count, so a backfill states no failures; the importer's 30 days of events do).
A backfill's `subscription.started` is rebuilt from the subscription's creating invoice
(`billing_reason` subscription_create: its lines' prices and quantities, its discount, its first
period), so it equals the webhook's even after later upgrades; without that invoice it states
the subscription as it is now. A subscription a backfill finds paused gets
`stripe:<sub>:paused:as_of:<as_of>` (a no-op after the webhook's own pause).

Mapping choices
---------------
- Platform `web` for every Stripe customer and subscription (Stripe bills on the web).
- One contract subscription per Stripe subscription; price = Σ item price × quantity (tiered
  prices from their tiers), `offer_id` = the first item's price id, `billing_period` =
  `P<interval_count><D|W|M|Y>` of the items' shared interval. A subscription whose price has no
  recurring interval is untranslatable (`price_without_interval`), and so is one billed every
  more than 999 units (`interval_out_of_range`, e.g. 1095 days).
- Money: Stripe's integer amounts are in the currency's smallest unit as Stripe defines it
  (zero-decimal JPY/KRW… whole units, three-decimal BHD/KWD… thousandths), which is the
  contract's ISO 4217 minor unit except ISK (Stripe sends two decimals, rescaled). Currencies
  without ECB rates (BHD, KWD among them) are untranslatable (`currency_without_rates`).
- Trials: `trial_end` after the start → `trial_ends_at` (trial MRR until then).
- Coupons: `repeating` and `forever` reduce MRR while on the subscription (`discount_minor`,
  percent half-up or amount, at most the price); `once` reduces one invoice, not MRR; every
  discount is also a `coupon.redeemed` (`duration` once / forever / `P<n>M`). A discount's end
  reaches MRR through the `customer.subscription.updated` Stripe sends with it (a
  `subscription.changed`) and through the next renewal invoice.
- `cancel_at_period_end` → `subscription.cancelled` effective at `cancel_at` or the period end
  (scheduled churn); back to false → `subscription.reactivated`; the end of access
  (`customer.subscription.deleted`, status canceled) → `subscription.ended`.
  `cancellation_details.feedback` gives the reason (too_expensive, unused → not_using,
  switched_service, low_quality / missing_features → content, too_complex → technical,
  customer_service / other → other), else `reason` payment_failed → payment_failed, else
  unknown; `initiated_by` customer for cancellation_requested, system for payment_failed /
  payment_disputed, merchant when Stripe gives no reason. `ended_reason` payment_failed for
  payment_failed and incomplete_expired, merchant for payment_disputed, else cancelled.
- `pause_collection` set / cleared and `customer.subscription.paused` / `.resumed` →
  `subscription.paused` / `.resumed` (MRR 0 while paused).
- `past_due` / `unpaid` are dunning: the subscription stays live until Stripe ends it.
  `invoice.payment_failed` → `payment.failed` with `attempt` = `attempt_count` and the decline
  code (expanded payment intent or charge, else the invoice's `last_finalization_error`):
  insufficient_funds, expired_card → card_expired, do_not_honor, fraudulent / stolen / lost →
  fraud_suspected, authentication_required, processing_error → technical, else other.
  A later `invoice.paid` is the recovering `payment.succeeded`.
- Renewals: a finalized `subscription_cycle` invoice → `subscription.renewed` for its period with
  its recurring lines' amounts. Proration lines (upgrades, downgrades) are revenue, not MRR: the
  new price arrives as the `subscription.changed` of the update and the next renewal.
- Metered prices: they add nothing to a subscription's price at start or change; MRR = the
  amount of the subscription's last finalized renewal invoice line for that price (the
  `subscription.renewed` of that invoice carries it), so metered MRR follows usage one invoice
  late and a change event resets it to the licensed price until the next invoice.
- One-off invoices (no subscription) → `payment.succeeded` with `purchase_id` = the invoice id:
  cash revenue, no MRR, and no `purchase.completed` (Stripe does not say whether it sold a pass,
  a pay-per-view or a rental). Charges of invoices are the invoice's facts; a charge with
  `invoice: null` is its own purchase (`purchase_id` = charge id).
- Refunds come from their charge (`charge.refunded`, the backfill's refunds joined to their
  charges): Stripe's refund object names no customer, so `refund.*` events are ignored. A charge
  refunded by refunds it does not list (API versions from 2022-11-15 leave `charge.refunds` out)
  is untranslatable (`refunds_not_listed`) until a backfill lists them. Disputes likewise: without an expanded
  charge or the charge in the same backfill a dispute is untranslatable
  (`dispute_without_customer`); inquiries and warnings (`warning_*`) move no money and are ignored.
- Catalogue: `offer.published` per recurring price (offer_id = price id, title = nickname, else
  product name or id); one-time prices and `product.*` events are ignored (a renamed product
  reaches the offers with its prices' next `offer.published`).
- Customers: `customer.created` when the country is known (address, shipping, or in a backfill
  an invoice's `customer_address`); the contract requires one, so a customer without it appears
  only through their subscriptions (country unknown). `customer.deleted` is not an erasure
  request and is ignored.
"""

from connectors.stripe.translate import provider_view, translate_event, translate_objects
from connectors.stripe.verify import SignatureError, verify_webhook

SOURCE = "stripe"

__all__ = [
    "SOURCE",
    "SignatureError",
    "provider_view",
    "translate_event",
    "translate_objects",
    "verify_webhook",
]
