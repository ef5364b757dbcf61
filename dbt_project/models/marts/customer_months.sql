-- Point-in-time customer-month table for churn models. Grain: customer x month_end for every month end
-- (int_months; the as-of date for the as-of month) at which the customer had a live subscription
-- (trialing, paying or paused).
--
-- NO LEAKAGE: every feature of a row uses only events that occurred by the end of month_end (event
-- date <= month_end; "one second after month_end" is the next day and never counts):
--   subscription state (mrr, offer, billing_period, platform, currency, discount, trial / paused,
--     tenure, price changes)  int_subscription_states_pit: a change takes effect no earlier than the
--     day it occurred (a backdated subscription.changed / renewed counts from the day it was known);
--     states are joined to month ends by valid_from <= month_end < valid_to.
--   coupon_expiring_30d       the scheduled end of a coupon redeemed by month_end (its terms are known
--     at redemption), falling in (month_end, month_end + 30 days]
--   engagement                int_customer_engagement_weekly is keyed by the week AND month of
--     occurred_at, so rows with month <= the row's month hold exactly the activity reported by
--     month_end; windows are calendar weeks (Monday) ending with the week containing month_end
--   payments / tickets / CSAT events with occurred_at date in (month_end - N days, month_end];
--     a recovery counts when its successful payment occurred by month_end
--   pending cancellation      the last of cancelled / reactivated / ended occurred by month_end
--     and days to its effective date (effective_at is known at the request)
--   in dunning                a failed renewal in the dunning window before month_end, not recovered by it
--   days to trial end         trial_ends_at of the start event of a subscription trialing at month_end
--   past churns / reactivations  fct_mrr_movements dated <= month_end
-- LABELS (the only columns looking ahead): churned_within_Nd = a customer `churn` movement in
-- (month_end, month_end + N days]; label_observable_Nd = month_end + N days <= the as-of date (when
-- false the label is not yet known and must not be used for training).
--
-- INCREMENTAL: a new batch rebuilds the rows of the customers with new events (every month) and
-- every customer's row of the as-of month (macro scoped_build; the SQL is customer_months_sql). New
-- engagement and support events dated in the as-of month only change the as-of month: they do not
-- make their customer's earlier months rebuilt (tickets, CSAT and watch time only look back). The
-- labels of the other customers cannot change (no new movement), only whether they are observable
-- yet: the post-hook re-derives label_observable_Nd from the new as-of date where one was false.
{{ incremental_by_customer(
    rebuild_recent={'column': 'month', 'days': 0, 'forward_families': ['engagement', 'support']},
    post_hooks=["{{ refresh_label_observability() }}"],
) }}
{{ scoped_build(customer_months_sql) }}
